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

/// The clients that run under `exec --server` in the tests below, each
/// printing `NAME ARN` (or `NAME error`): boto3, the AWS CLI v1, a Rust
/// program on plain aws-config, and the AWS SDK for JavaScript v3 when
/// `cargo xtask test` has installed it.
fn clients_script() -> String {
    let python = venv_bin("python");
    let aws = venv_bin("aws");
    let rust = std::path::Path::new(env!("CARGO_BIN_EXE_bsm")).with_file_name("sdk_probe");
    let js = std::path::Path::new(env!("CARGO_BIN_EXE_bsm"))
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap()
        .join("js/whoami.mjs");
    let mut script = format!(
        "echo \"boto3 $('{python}' -c 'import boto3; print(boto3.client(\"sts\").get_caller_identity()[\"Arn\"])' 2>&1 | tail -1)\"\n\
         echo \"cli1 $('{aws}' sts get-caller-identity --output text --query Arn 2>&1 | tail -1)\"\n\
         echo \"rust $('{rust}' 2>&1 | tail -1)\"\n",
        python = python.display(),
        aws = aws.display(),
        rust = rust.display(),
    );
    if js.with_file_name("node_modules").exists() {
        script.push_str("echo \"js $(node '");
        script.push_str(&js.display().to_string());
        script.push_str("' 2>&1 | grep -v Warning | tail -1)\"\n");
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the AWS SDK for JavaScript v3 is not installed in {}",
            js.display()
        );
    }
    script
}

/// A copy of the lived-in home with its `.aws` files replaced by these.
fn home_with(config: &str, credentials: &str) -> std::path::PathBuf {
    let home = temp_dir("bsm-exec-server-home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    let process_json = ".aws/lived-in-process.json";
    std::fs::copy(
        bsm_tests::lived_in::home().join(process_json),
        home.join(process_json),
    )
    .unwrap();
    std::fs::write(home.join(".aws/config"), config).unwrap();
    std::fs::write(home.join(".aws/credentials"), credentials).unwrap();
    home
}

const PROCESS: &str = "credential_process = sh -c 'echo run >> \"$HOME/.aws/lived-in-process-runs\"; \
                       cat \"$HOME/.aws/lived-in-process.json\"'\n";
const DEFAULT_KEYS: &str = "[default]\naws_access_key_id = AKIALIVEDINDEFAULT01\n\
                            aws_secret_access_key = lived-in-default-secret/EXAMPLEKEY\n";

/// A user's machine the server must win over: a home, and the parent's
/// variables.
struct Machine {
    name: &'static str,
    home: std::path::PathBuf,
    env: Vec<(&'static str, String)>,
}

/// Every way the user's files or the parent's profile variables could take
/// a command away from the server.
fn machines() -> Vec<Machine> {
    let sso = "[sso-session lived-in]\nsso_start_url = https://lived-in.awsapps.com/start\n\
               sso_region = eu-central-1\n";
    let with_boto = {
        let home = home_with("[default]\nregion = eu-central-1\n", DEFAULT_KEYS);
        std::fs::write(
            home.join(".boto"),
            "[Credentials]\naws_access_key_id = AKIALIVEDINDEFAULT01\n\
             aws_secret_access_key = lived-in-default-secret/EXAMPLEKEY\n",
        )
        .unwrap();
        std::fs::write(
            home.join("ec2-keys"),
            "AWSAccessKeyId=AKIALIVEDINDEFAULT01\nAWSSecretKey=lived-in-default-secret/EXAMPLEKEY\n",
        )
        .unwrap();
        home
    };
    let ec2_keys = with_boto.join("ec2-keys").display().to_string();
    let machine = |name, home, env| Machine { name, home, env };
    vec![
        machine(
            "[default] keys, ~/.boto keys, AWS_CREDENTIAL_FILE",
            with_boto,
            vec![("AWS_CREDENTIAL_FILE", ec2_keys)],
        ),
        machine(
            "[default] credential_process",
            home_with(&format!("[default]\n{PROCESS}"), ""),
            vec![],
        ),
        machine(
            "[default] sso_session",
            home_with(
                &format!(
                    "[default]\nsso_session = lived-in\nsso_account_id = 210987654321\n\
                     sso_role_name = LivedInAdmin\n{sso}"
                ),
                "",
            ),
            vec![],
        ),
        machine(
            "[default] login_session",
            home_with(
                "[default]\nlogin_session = arn:aws:iam::210987654321:user/lived-in-login\n",
                "",
            ),
            vec![],
        ),
        machine(
            "[default] role_arn",
            home_with(
                "[default]\nrole_arn = arn:aws:iam::210987654321:role/lived-in-role\n\
                 source_profile = keys\n",
                "[keys]\naws_access_key_id = AKIALIVEDINDEFAULT01\n\
                 aws_secret_access_key = lived-in-default-secret/EXAMPLEKEY\n",
            ),
            vec![],
        ),
        machine(
            "AWS_PROFILE of a credential_process profile",
            home_with(
                &format!("[profile lived-in-process]\n{PROCESS}"),
                DEFAULT_KEYS,
            ),
            vec![("AWS_PROFILE", "lived-in-process".to_owned())],
        ),
        machine(
            "AWS_DEFAULT_PROFILE of a role profile",
            home_with(
                "[profile lived-in-role]\nrole_arn = arn:aws:iam::210987654321:role/lived-in-role\n\
                 source_profile = default\n",
                DEFAULT_KEYS,
            ),
            vec![("AWS_DEFAULT_PROFILE", "lived-in-role".to_owned())],
        ),
    ]
}

/// Whatever the user's files and the parent's profile variables hold, the
/// command's SDKs read the server: counted at moto's side (no request is
/// signed with a key of the user's files, no role of theirs is assumed)
/// and at the `credential_process` counter (never run).
#[test]
fn the_command_reads_the_server_whatever_the_users_files_hold() {
    let variants = machines();
    let proxy = Proxy::start(moto().addr());
    let script = clients_script();
    let mut failed = Vec::new();
    for Machine { name, home, env } in &variants {
        let mut cmd = bsm(&proxy.endpoint());
        cmd.env("HOME", home);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd
            .args(["exec", "--server", "--", "sh", "-c", &script])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let want = "arn:aws:sts::123456789012:assumed-role/bsm-exec-server/served";
        for line in stdout.lines() {
            if line.split_once(' ').map(|(_, arn)| arn) != Some(want) {
                failed.push(format!("{name}: {line}"));
            }
        }
        if stdout.lines().count() < 3 || !out.status.success() {
            failed.push(format!(
                "{name}: {}; {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        assert_eq!(
            bsm_tests::sources::lines(&home.join(".aws/lived-in-process-runs")),
            0,
            "{name}: the user's credential_process never ran"
        );
    }
    let signed_by_the_user: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| {
            r.header("authorization")
                .is_some_and(|a| a.contains("Credential=AKIALIVEDIN"))
                || r.body.contains("lived-in-role")
        })
        .map(|r| r.action())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(
        signed_by_the_user,
        Vec::<String>::new(),
        "requests with the user's keys or role"
    );
    for m in variants {
        let _ = std::fs::remove_dir_all(m.home);
    }
}

/// The command keeps the manager's settings: region and endpoint, and the
/// retry, CA bundle and STS settings of the profile bsm was started with,
/// as boto3 resolves them; its config holds no secret, lives in a private
/// folder, and is gone when the command has exited.
#[test]
fn the_command_keeps_the_managers_settings_and_no_secret() {
    let dir = temp_dir("bsm-exec-server-settings");
    let config = dir.join("config");
    std::fs::write(
        &config,
        "[profile tuned]\n\
         region = eu-west-3\n\
         retry_mode = adaptive\n\
         max_attempts = 7\n\
         ca_bundle = /etc/ssl/certs/ca-certificates.crt\n\
         sts_regional_endpoints = legacy\n\
         aws_access_key_id = AKIATUNEDPROFILE0001\n\
         aws_secret_access_key = tuned-profile-secret/EXAMPLE\n\
         duration_seconds = 1800\n",
    )
    .unwrap();
    let listing = dir.join("listing");
    let probe = format!(
        "import os, stat, boto3\n\
         s = boto3.Session()\n\
         for k in ['region', 'retry_mode', 'max_attempts', 'ca_bundle', 'sts_regional_endpoints']:\n\
         \x20   print(k, s._session.get_config_variable(k))\n\
         folder = os.path.dirname(os.environ['AWS_CONFIG_FILE'])\n\
         print('folder', oct(stat.S_IMODE(os.stat(folder).st_mode)))\n\
         open('{}', 'w').write(folder + '\\n' + open(os.environ['AWS_CONFIG_FILE']).read())\n",
        listing.display()
    );
    let out = bsm(&moto().endpoint())
        .env("AWS_CONFIG_FILE", &config)
        .env_remove("AWS_REGION")
        .args(["--profile", "tuned", "exec", "--server", "--"])
        .arg(venv_bin("python"))
        .args(["-c", &probe])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        [
            "region eu-west-3",
            "retry_mode adaptive",
            "max_attempts 7",
            "ca_bundle /etc/ssl/certs/ca-certificates.crt",
            "sts_regional_endpoints legacy",
            "folder 0o700",
        ]
    );
    let listing = std::fs::read_to_string(&listing).unwrap();
    let (folder, written) = listing.split_once('\n').unwrap();
    for secret in [
        "AKIATUNEDPROFILE0001",
        "tuned-profile-secret",
        "aws_access_key_id",
        "duration_seconds",
        "testing",
    ] {
        assert!(!written.contains(secret), "{secret} in:\n{written}");
    }
    assert!(
        !std::path::Path::new(folder).exists(),
        "{folder} is removed when the command has exited"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The child's folder goes only where no other user can create, rename or
/// replace anything: a runtime folder others may write to is passed over
/// for `bsm-<uid>` in the temporary folder, and a `bsm-<uid>` that is not
/// the user's own private folder is refused, in one line naming it.
#[cfg(unix)]
#[test]
fn the_childs_folder_is_only_made_in_a_private_parent() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("bsm-exec-server-parent");
    let (runtime, tmp) = (dir.join("runtime"), dir.join("tmp"));
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o777)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let out = bsm(&moto().endpoint())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("TMPDIR", &tmp)
        .args([
            "exec",
            "--server",
            "--",
            "sh",
            "-c",
            "echo \"$AWS_CONFIG_FILE\"",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let parent = tmp.join(format!("bsm-{uid}"));
    assert!(
        config.starts_with(&format!("{}/bsm-child-", parent.display())),
        "{config}"
    );
    assert_eq!(bsm_tests::mode(&parent), 0o700);
    assert_eq!(
        std::fs::read_dir(&runtime).unwrap().count(),
        0,
        "nothing in the open folder"
    );
    // Another user's bsm-<uid> (the tests run as root here; elsewhere
    // chown fails and this part is skipped), then one open to others.
    for (what, prepare) in [
        (
            "belongs to user id 65534",
            Box::new(|p: &std::path::Path| {
                std::os::unix::fs::chown(p, Some(65_534), Some(65_534)).is_ok()
            }) as Box<dyn Fn(&std::path::Path) -> bool>,
        ),
        (
            "lets other users in",
            Box::new(|p: &std::path::Path| {
                std::os::unix::fs::chown(p, Some(uid), None).unwrap();
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
                true
            }),
        ),
    ] {
        if !prepare(&parent) {
            continue;
        }
        let out = bsm(&moto().endpoint())
            .env_remove("XDG_RUNTIME_DIR")
            .env("TMPDIR", &tmp)
            .args(["exec", "--server", "--", "true"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&parent.display().to_string()), "{stderr}");
        assert!(stderr.contains(what), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// CPU time a process has used so far (user + system), from
/// `/proc/PID/stat`, in clock ticks.
#[cfg(target_os = "linux")]
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command name in parentheses: state is field 3, utime 14.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Out of file descriptors, the server pauses between failed accepts
/// instead of spinning: with more connections waiting than bsm may open,
/// it uses well under a tenth of a core (a spinning loop uses a whole
/// one).
#[cfg(target_os = "linux")]
#[test]
fn out_of_file_descriptors_the_server_does_not_spin() {
    let dir = temp_dir("bsm-exec-server-emfile");
    let uri_file = dir.join("uri");
    let cmd = bsm(&moto().endpoint());
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    // bsm with few file descriptors: a shell lowers the limit, then
    // becomes bsm.
    let mut limited = Command::new("sh");
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => limited.env(k, v),
            None => limited.env_remove(k),
        };
    }
    let mut child = limited
        .args(["-c", "ulimit -n 40; exec \"$0\" \"$@\""])
        .arg(program)
        .args(args)
        .args(["exec", "--server", "--", "sh", "-c"])
        .arg(format!(
            "echo $AWS_CONTAINER_CREDENTIALS_FULL_URI > {}; sleep 8",
            uri_file.display()
        ))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&uri_file).map_or(true, |u| u.trim().is_empty()) {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let uri = std::fs::read_to_string(&uri_file).unwrap();
    let addr: std::net::SocketAddr = uri
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let held: Vec<_> = (0..80)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(child.id()) - before;
    drop(held);
    let _ = child.wait();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    println!("{used} ticks in 2 s with {} connections waiting", 80);
    assert!(
        used < 20,
        "{used} clock ticks of CPU in 2 s: the accept loop spins"
    );
    assert!(
        stderr.contains("cannot accept a connection"),
        "said so: {stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `bsm` as a shell command line (each word single-quoted), with the
/// variables of [`bsm`] before it.
#[cfg(unix)]
fn bsm_line(endpoint: &str, rest: &str) -> String {
    let cmd = bsm(endpoint);
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    // env takes its options (-u NAME) before the first NAME=VALUE.
    let mut line = String::from("env");
    for (k, _) in cmd.get_envs().filter(|(_, v)| v.is_none()) {
        line.push_str(" -u ");
        line.push_str(&k.to_string_lossy());
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            line.push(' ');
            line.push_str(&k.to_string_lossy());
            line.push('=');
            line.push_str(&quote(v));
        }
    }
    line.push(' ');
    line.push_str(&quote(cmd.get_program()));
    for a in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(a));
    }
    line.push(' ');
    line.push_str(rest);
    line
}

/// Runs the steps of `job_control_on_tty.py` in an interactive bash on a
/// terminal: the transcript, and whether every awaited text appeared.
#[cfg(unix)]
fn on_a_terminal(steps: &[String]) -> (bool, String) {
    default_signal_dispositions();
    let out = bsm_tests::isolated("python")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/job_control_on_tty.py"
        ))
        .args(steps)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Ctrl-Z stops the command and gives the shell its terminal back, as for
/// any job; `fg` gives it to the command again, which reads from it and
/// finishes; bsm exits as it did.
#[cfg(unix)]
#[test]
fn ctrl_z_stops_the_job_and_fg_continues_it() {
    let line = bsm_line(
        &moto().endpoint(),
        "exec --server -- sh -c 'echo started-$((1+1)); read line; echo got-$((2+2)):$line'",
    );
    // What is awaited is never what was typed (the terminal echoes it):
    // the shell works it out, `$((1+1))`.
    let steps = [
        "send:PS1='P$((2+2))> '\\n".to_owned(),
        "expect:10:P4> ".to_owned(),
        format!("send:{}\\n", line.replace('\\', "\\\\")),
        "expect:60:started-2".to_owned(),
        "send:\\x1a".to_owned(),
        "expect:10:Stopped".to_owned(),
        "expect:10:P4> ".to_owned(),
        "send:echo shell-has-it-$((3+3))\\n".to_owned(),
        "expect:10:shell-has-it-6".to_owned(),
        "send:fg\\n".to_owned(),
        "expect:10:read line".to_owned(),
        "send:typed-after-fg\\n".to_owned(),
        "expect:20:got-4:typed-after-fg".to_owned(),
        "send:echo status-$((5+5))=$?\\n".to_owned(),
        "expect:20:status-10=0".to_owned(),
    ];
    let (ok, transcript) = on_a_terminal(&steps);
    assert!(ok, "{transcript}");
}

/// `bsm exec --server -- CMD &` leaves the shell its terminal: the job
/// runs and ends in the background, and the shell goes on reading what is
/// typed.
#[cfg(unix)]
#[test]
fn a_background_job_leaves_the_shell_its_terminal() {
    let line = bsm_line(
        &moto().endpoint(),
        "exec --server -- sh -c 'sleep 1; echo background-$((1+1))' &",
    );
    let steps = [
        "send:PS1='P$((2+2))> '\\n".to_owned(),
        "expect:10:P4> ".to_owned(),
        format!("send:{}\\n", line.replace('\\', "\\\\")),
        "expect:60:background-2".to_owned(),
        "send:sleep 2; echo still-reads-$((3+3))\\n".to_owned(),
        "expect:20:still-reads-6".to_owned(),
        "send:jobs; echo listed-$((4+4))\\n".to_owned(),
        "expect:10:listed-8".to_owned(),
    ];
    let (ok, transcript) = on_a_terminal(&steps);
    assert!(ok, "{transcript}");
}

/// A SIGTERM that reaches bsm the moment the command starts (the command
/// itself sends it, first thing) is passed on: bsm listens before it
/// starts the command, so it never dies of the signal and leaves the
/// command without its server. Twenty times over, each must end with the
/// command's own trap.
#[cfg(unix)]
#[test]
fn a_signal_the_moment_the_command_starts_reaches_it() {
    default_signal_dispositions();
    for round in 0..20 {
        let mut child = bsm(&moto().endpoint())
            .args(["exec", "--server", "--", "sh", "-c"])
            // Bounded, so that a command bsm left behind ends by itself.
            .arg("trap 'exit 7' TERM; kill -TERM $PPID; i=0; while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("round {round}: bsm did not end");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(7), "round {round}: {status:?}");
    }
}

/// Asked for an MFA code while another job has the terminal (bsm in the
/// background), bsm fails at once saying how to give the code, rather than
/// stop (SIGTTIN) and wait for `fg`.
#[cfg(unix)]
#[test]
fn an_mfa_prompt_in_the_background_fails_at_once() {
    let line = bsm_line(
        &moto().endpoint(),
        "--mfa-serial arn:aws:iam::123456789012:mfa/alice --no-cache whoami &",
    );
    let steps = [
        "send:PS1='P$((2+2))> '\\n".to_owned(),
        "expect:10:P4> ".to_owned(),
        format!("send:{}\\n", line.replace('\\', "\\\\")),
        "expect:60:belongs to another job".to_owned(),
        "send:sleep 1; jobs; echo listed-$((4+4))\\n".to_owned(),
        "expect:20:listed-8".to_owned(),
    ];
    let (ok, transcript) = on_a_terminal(&steps);
    assert!(ok, "{transcript}");
    assert!(!transcript.contains("Stopped"), "{transcript}");
}

/// On a terminal, `exec --server --mfa-serial` asks for the code before
/// the command starts, while bsm has the terminal: the code typed reaches
/// the first `AssumeRole` and the command reads the role. (The prompt used
/// to come with the command's first request, after the terminal went to
/// the command, and bsm stopped on reading it.)
#[cfg(unix)]
#[test]
fn exec_server_asks_for_the_mfa_code_before_the_command_starts() {
    default_signal_dispositions();
    let dir = temp_dir("bsm-exec-server-mfa");
    let proxy = Proxy::start(moto().addr());
    let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
    let cmd = bsm(&proxy.endpoint());
    let mut driver = bsm_tests::isolated("python");
    driver
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/answer_on_tty.py"
        ))
        .arg(&stdout)
        .arg(&stderr)
        .arg("112233")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .args(["--mfa-serial", "arn:aws:iam::123456789012:mfa/alice"])
        .args(["exec", "--server", "--"])
        .arg(venv_bin("aws"))
        .args([
            "sts",
            "get-caller-identity",
            "--output",
            "text",
            "--query",
            "Arn",
        ]);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => driver.env(k, v),
            None => driver.env_remove(k),
        };
    }
    let mut child = driver.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "bsm never finished: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&stdout).unwrap_or_default();
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(status.success(), "{status:?}: {out} {err}");
    assert_eq!(
        out.trim(),
        "arn:aws:sts::123456789012:assumed-role/bsm-exec-server/served"
    );
    let sent = proxy
        .requests()
        .into_iter()
        .find(|r| r.action() == "AssumeRole")
        .unwrap();
    assert_eq!(sent.param("TokenCode").as_deref(), Some("112233"));
    let _ = std::fs::remove_dir_all(dir);
}

/// `exec --server` takes `--mfa-session` and `--mfa-code` as the other
/// commands do: one `GetSessionToken` with the code given, then the role
/// from the MFA session with no code (counted at the proxy); with
/// `--no-cache` the MFA session is not kept, so a second run sends another.
#[test]
fn exec_server_takes_an_mfa_session_and_no_cache() {
    let proxy = Proxy::start(moto().addr());
    let serial = "arn:aws:iam::123456789012:mfa/alice";
    let run = |extra: &[&str]| {
        let out = bsm(&proxy.endpoint())
            .args([
                "--mfa-serial",
                serial,
                "--mfa-code",
                "445566",
                "--mfa-session",
            ])
            .args(extra)
            .args(["exec", "--server", "--"])
            .arg(venv_bin("aws"))
            .args([
                "sts",
                "get-caller-identity",
                "--output",
                "text",
                "--query",
                "Arn",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "arn:aws:sts::123456789012:assumed-role/bsm-exec-server/served"
        );
    };
    run(&["--no-cache"]);
    run(&["--no-cache"]);
    assert_eq!(
        proxy.count("GetSessionToken"),
        2,
        "--no-cache keeps no MFA session"
    );
    let sessions: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == "GetSessionToken")
        .map(|r| r.param("TokenCode"))
        .collect();
    assert_eq!(sessions, [Some("445566".into()), Some("445566".into())]);
    for a in proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == "AssumeRole")
    {
        assert_eq!(a.param("TokenCode"), None, "the role needs no code");
        assert!(
            !a.header("authorization")
                .unwrap()
                .contains("Credential=testing/"),
            "signed by the MFA session"
        );
    }
}
