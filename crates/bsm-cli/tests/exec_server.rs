//! `bsm exec --server`: the command reads the role's credentials from a
//! loopback credential server (none of the key variables in its
//! environment), signals sent to bsm reach it, bsm exits as it did, and the
//! server is gone when it has exited.

use std::process::Command;
use std::time::{Duration, Instant};

use bsm_tests::{Proxy, isolate, moto, temp_dir, venv_bin};

const ROLE: &str = "arn:aws:iam::123456789012:role/bsm-exec-server";

/// A test run started as a background job of a non-interactive shell has
/// SIGINT and SIGQUIT ignored, children inherit that, and a shell cannot
/// trap a signal ignored on entry: give them back the default disposition,
/// as a terminal session has it.
fn default_signal_dispositions() {
    // SAFETY: signal(2) with SIG_DFL installs no handler.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGQUIT, libc::SIG_DFL);
    }
}

fn bsm(endpoint: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    let path = std::env::join_paths(
        std::iter::once(venv_bin("aws").parent().unwrap().to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ),
    )
    .unwrap();
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("PATH", path)
        .args([
            "--endpoint-url",
            endpoint,
            "--role-arn",
            ROLE,
            "--session-name",
            "served",
        ]);
    cmd
}

#[test]
fn the_command_reads_the_role_from_the_server() {
    let proxy = Proxy::start(moto().addr());
    let dir = temp_dir("bsm-exec-server");
    let env_file = dir.join("env");
    let out = bsm(&proxy.endpoint())
        .args(["exec", "--server", "--", "sh", "-c"])
        .arg(format!(
            "env > {}; aws sts get-caller-identity --output text --query Arn",
            env_file.display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "arn:aws:sts::123456789012:assumed-role/bsm-exec-server/served"
    );
    let env = std::fs::read_to_string(&env_file).unwrap();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    let uri = var("AWS_CONTAINER_CREDENTIALS_FULL_URI").expect("the server's URI");
    assert!(
        uri.starts_with("http://127.0.0.1:") && uri.ends_with('/'),
        "{uri}"
    );
    let token = var("AWS_CONTAINER_AUTHORIZATION_TOKEN").expect("a token");
    assert!(
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "256 bits of hex"
    );
    for gone in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        assert_eq!(var(gone), None, "{gone} is not handed over");
    }
    assert!(!stderr.contains(&token), "the token is never printed");
    assert_eq!(proxy.count("AssumeRole"), 1);
    let child = proxy
        .requests()
        .into_iter()
        .rfind(|r| r.action() == "GetCallerIdentity")
        .unwrap();
    assert!(
        !child
            .header("authorization")
            .unwrap()
            .contains("Credential=testing/"),
        "the child signed with the role's key, from the server"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[test]
fn signals_reach_the_command_and_bsm_exits_as_it_did() {
    default_signal_dispositions();
    let dir = temp_dir("bsm-exec-server-signals");
    let (ready, got) = (dir.join("ready"), dir.join("got"));
    let script = format!(
        "trap 'echo TERM > {got}; exit 3' TERM; trap 'echo HUP > {got}; exit 5' HUP; \
         echo $$ > {ready}; while :; do sleep 0.05; done",
        got = got.display(),
        ready = ready.display()
    );
    for (signal, name, code) in [(libc::SIGTERM, "TERM", 3), (libc::SIGHUP, "HUP", 5)] {
        let _ = std::fs::remove_file(&ready);
        let mut child = bsm(&moto().endpoint())
            .args(["exec", "--server", "--", "sh", "-c", &script])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the command never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid: u32 = std::fs::read_to_string(&ready)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_ne!(pid, child.id(), "bsm stays the parent");
        // To bsm, as `docker stop` or a supervisor would.
        // SAFETY: kill(2) on the PID of a child this test started.
        unsafe {
            libc::kill(i32::try_from(child.id()).unwrap(), signal);
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "bsm exits as the command did");
        assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), name);
    }
    // Killed by a signal: 128 + the signal, as shells report it.
    let status = bsm(&moto().endpoint())
        .args(["exec", "--server", "--", "sh", "-c", "kill -KILL $$"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(128 + 9));
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[test]
fn on_a_terminal_ctrl_c_reaches_the_command_once() {
    default_signal_dispositions();
    let dir = temp_dir("bsm-exec-server-tty");
    let (ready, got) = (dir.join("ready"), dir.join("got"));
    let script = format!(
        "trap 'echo INT >> {got}' INT; echo go > {ready}; while :; do sleep 0.05; done",
        got = got.display(),
        ready = ready.display()
    );
    let mut driver = bsm_tests::isolated("python");
    let bsm_cmd = bsm(&moto().endpoint());
    driver
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ctrl_c_on_tty.py"
        ))
        .arg(&ready)
        .arg(bsm_cmd.get_program())
        .args(bsm_cmd.get_args())
        .args(["exec", "--server", "--", "sh", "-c", &script]);
    for (k, v) in bsm_cmd.get_envs() {
        match v {
            Some(v) => driver.env(k, v),
            None => driver.env_remove(k),
        };
    }
    let out = driver.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(128 + 15),
        "SIGTERM to bsm ended the command, and bsm exited as it did: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        "INT\n",
        "Ctrl-C reached the command once, from the terminal, not again from bsm"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_server_is_gone_once_the_command_has_exited() {
    let dir = temp_dir("bsm-exec-server-gone");
    let uri_file = dir.join("uri");
    let status = bsm(&moto().endpoint())
        .args(["exec", "--server", "--", "sh", "-c"])
        .arg(format!(
            "echo $AWS_CONTAINER_CREDENTIALS_FULL_URI > {}",
            uri_file.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let uri = std::fs::read_to_string(&uri_file).unwrap();
    let addr: std::net::SocketAddr = uri
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "nothing listens at {addr} any more"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn server_needs_a_role() {
    let out = Command::new(env!("CARGO_BIN_EXE_bsm"))
        .args(["exec", "--server", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("exec --server needs --role-arn"),
        "{stderr}"
    );
}
