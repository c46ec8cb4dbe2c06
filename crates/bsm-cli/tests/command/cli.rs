//! The `bsm` binary end to end against moto: whoami, exec, every export
//! format, `credential_process` used by the real AWS CLI, snapshots, and
//! failures as one line on stderr.

use std::process::{Command, Output};

#[cfg(unix)]
use bsm_tests::mode;
use bsm_tests::{isolate, isolate_in_an_empty_home, isolated, moto, temp_dir, venv_bin};

const SECRET: &str = "cliSecretKey/EXAMPLE+never-printed";

/// `bsm` with static test keys in its environment and moto as endpoint.
fn bsm() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    cmd.env("AWS_ACCESS_KEY_ID", "AKIACLITEST000000001")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("PATH", path_with_venv());
    cmd
}

fn path_with_venv() -> std::ffi::OsString {
    let bin = venv_bin("aws").parent().unwrap().to_path_buf();
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("bsm runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains(SECRET), "secret on stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out, stdout, stderr)
}

#[test]
fn whoami_prints_the_masked_lines() {
    let (out, stdout, _) = run(bsm().args(["--endpoint-url", &moto().endpoint(), "whoami"]));
    assert!(out.status.success());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert_eq!(lines[1], "AWS Account Id = 12********12");
    assert_eq!(
        lines[2],
        "Principal Arn = arn:aws:sts::12********12:user/moto"
    );
    assert_eq!(lines[4], "AWS Region = us-east-1");
    assert!(!stdout.contains(SECRET));

    let (out, stdout, _) =
        run(bsm().args(["--endpoint-url", &moto().endpoint(), "whoami", "--no-mask"]));
    assert!(out.status.success());
    assert!(
        stdout.contains("AWS Account Id = 123456789012\n"),
        "{stdout}"
    );
}

#[test]
fn exec_passes_the_environment_and_the_exit_code() {
    let (out, _, _) = run(bsm().args([
        "--endpoint-url",
        &moto().endpoint(),
        "exec",
        "--",
        "sh",
        "-c",
        "test \"$AWS_ACCESS_KEY_ID\" = AKIACLITEST000000001 && test \"$AWS_DEFAULT_REGION\" = us-east-1 && exit 7",
    ]));
    assert_eq!(out.status.code(), Some(7));

    // The real AWS CLI under an assumed role.
    let (out, stdout, stderr) = run(bsm().args([
        "--endpoint-url",
        &moto().endpoint(),
        "--role-arn",
        "arn:aws:iam::999988887777:role/exec",
        "--session-name",
        "exec-session",
        "exec",
        "--",
        "aws",
        "sts",
        "get-caller-identity",
        "--output",
        "text",
        "--query",
        "Arn",
    ]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "arn:aws:sts::999988887777:assumed-role/exec/exec-session"
    );

    let (out, _, stderr) = run(bsm().args([
        "--endpoint-url",
        &moto().endpoint(),
        "exec",
        "--",
        "no-such-program-bsm",
    ]));
    assert_eq!(out.status.code(), Some(127), "not found: 127, as shells");
    assert_eq!(
        stderr,
        "bsm: error: cannot run `no-such-program-bsm`: command not found\n"
    );

    let dir = temp_dir("bsm-cli-exec");
    let script = dir.join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    let (out, _, stderr) = run(bsm()
        .args(["--endpoint-url", &moto().endpoint(), "exec", "--"])
        .arg(&script));
    assert_eq!(
        out.status.code(),
        Some(126),
        "not executable: 126: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_nested_exec_is_refused_unless_asked_for() {
    let ep = moto().endpoint();
    let inner = format!(
        "{} --endpoint-url {ep} exec -- true",
        env!("CARGO_BIN_EXE_bsm")
    );
    let (out, _, stderr) =
        run(bsm().args(["--endpoint-url", &ep, "exec", "--", "sh", "-c", &inner]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already inside `bsm exec`"), "{stderr}");
    let inner = format!(
        "{} --endpoint-url {ep} exec --nested -- true",
        env!("CARGO_BIN_EXE_bsm")
    );
    let (out, _, stderr) =
        run(bsm().args(["--endpoint-url", &ep, "exec", "--", "sh", "-c", &inner]));
    assert!(out.status.success(), "{stderr}");
}

#[cfg(unix)]
#[test]
fn exec_becomes_the_command_so_signals_reach_it() {
    let dir = temp_dir("bsm-cli-signal");
    let (ready, got) = (dir.join("ready"), dir.join("got"));
    let script = format!(
        "trap 'echo TERM > {got}; exit 3' TERM; trap 'echo INT > {got}; exit 4' INT; \
         echo $$ > {ready}; while :; do sleep 0.05; done",
        got = got.display(),
        ready = ready.display()
    );
    for (signal, name, code) in [(libc::SIGTERM, "TERM", 3), (libc::SIGINT, "INT", 4)] {
        let _ = std::fs::remove_file(&ready);
        let mut cmd = bsm();
        // A test run started as a background job of a shell has SIGINT
        // ignored, and a shell cannot trap a signal ignored on entry: start
        // from the default disposition, as a terminal session does.
        // SAFETY: signal(2) only, between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd
            .args([
                "--endpoint-url",
                &moto().endpoint(),
                "exec",
                "--",
                "sh",
                "-c",
                &script,
            ])
            .spawn()
            .unwrap();
        // The shell makes the file before it writes the PID: wait for a
        // whole line (seen here: an empty file read in between).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let pid: u32 = loop {
            let line = std::fs::read_to_string(&ready).unwrap_or_default();
            if let Some(pid) = line.strip_suffix('\n').and_then(|l| l.trim().parse().ok()) {
                break pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the command never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(
            pid,
            child.id(),
            "bsm replaced itself with the command: one PID"
        );
        // SAFETY: kill(2) on the PID of a child this test started.
        unsafe {
            libc::kill(i32::try_from(pid).unwrap(), signal);
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "the command's own exit status");
        assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), name);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn exec_hands_over_one_identity_whatever_the_parent_environment_holds() {
    let dir = temp_dir("bsm-cli-poison");
    let (config, credentials, token) = (
        dir.join("config"),
        dir.join("credentials"),
        dir.join("token"),
    );
    std::fs::write(&config, "[profile base]\nregion = us-east-1\n").unwrap();
    std::fs::write(
        &credentials,
        "[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    std::fs::write(&token, "stale.web.identity").unwrap();
    let proxy = bsm_tests::Proxy::start(moto().addr());
    let (out, stdout, stderr) = run(bsm()
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        // What aws-vault, EKS and ECS leave in a shell.
        .env("AWS_SECURITY_TOKEN", "stale-security-token")
        .env("AWS_SESSION_TOKEN", "stale-session-token")
        .env("AWS_CREDENTIAL_EXPIRATION", "2001-01-01T00:00:00Z")
        .env("AWS_DEFAULT_PROFILE", "ghost")
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/pod")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://127.0.0.1:9/creds",
        )
        .args([
            "--profile",
            "base",
            "--endpoint-url",
            &proxy.endpoint(),
            "--role-arn",
            "arn:aws:iam::123456789012:role/handed",
            "--session-name",
            "clean",
            "exec",
            "--",
            "aws",
            "sts",
            "get-caller-identity",
            "--output",
            "text",
            "--query",
            "Arn",
        ]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "arn:aws:sts::123456789012:assumed-role/handed/clean"
    );
    // moto takes any token: the proxy shows which one the child sent.
    let assumed = proxy
        .requests()
        .iter()
        .find(|r| r.action() == "AssumeRole")
        .map(|r| r.response.clone())
        .unwrap();
    let start = assumed.find("<SessionToken>").unwrap() + "<SessionToken>".len();
    let end = start + assumed[start..].find("</SessionToken>").unwrap();
    let child = proxy
        .requests()
        .into_iter()
        .rfind(|r| r.action() == "GetCallerIdentity")
        .unwrap();
    assert_eq!(
        child.header("x-amz-security-token"),
        Some(&assumed[start..end]),
        "the child signed with the handed-over token, not the stale one"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Keys mode: the child gets the keys and no way back to the parent's own
/// identity. A program in the child that asks the container endpoint
/// directly (botocore's `ContainerProvider`, as a tool that wants "the
/// task role" would) finds none, and the parent's endpoint, a loopback
/// stand-in of the EKS Pod Identity agent, counts no request.
#[tokio::test]
async fn exec_leaves_the_command_no_way_back_to_the_parents_identity() {
    use bsm_tests::sources::{FakeServer, iam_user, in_an_hour};
    let pod = iam_user("cli-parent-pod").await;
    let agent = FakeServer::container(&pod, "parent-pod-token", in_an_hour());
    let dir = temp_dir("bsm-cli-way-back");
    let (token_file, key_file) = (dir.join("token"), dir.join("ec2-keys"));
    std::fs::write(&token_file, "parent-pod-token").unwrap();
    std::fs::write(
        &key_file,
        "AWSAccessKeyId=AKIAPARENTFILE000001\nAWSSecretKey=x\n",
    )
    .unwrap();
    // The relative URI would be fetched from 169.254.170.2: never asked
    // for while it is there.
    let probe = "import os\n\
                 for v in ['AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN', \
                 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', \
                 'AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'AWS_CREDENTIAL_SCOPE', 'AWS_CREDENTIAL_FILE', \
                 'AMAZON_SESSION_TOKEN', 'AMAZON_ACCESS_KEY_ID']:\n\
                 \x20   if v in os.environ:\n\
                 \x20       print(v)\n\
                 if 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI' not in os.environ:\n\
                 \x20   from botocore.credentials import ContainerProvider\n\
                 \x20   c = ContainerProvider().load()\n\
                 \x20   print('container:', None if c is None else c.access_key)\n";
    let (out, stdout, stderr) = run(bsm()
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials", agent.endpoint()),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "parent-pod-token")
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
        .env(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/task",
        )
        .env("AWS_ACCESS_KEY", "AKIAGOALIAS000000001")
        .env("AWS_SECRET_KEY", "go-alias-secret")
        .env("AWS_CREDENTIAL_SCOPE", "us-west-2")
        .env("AWS_CREDENTIAL_FILE", &key_file)
        .env("AMAZON_SESSION_TOKEN", "parent-ruby-token")
        .env("AMAZON_ACCESS_KEY_ID", "AKIARUBYPARENT000001")
        .args(["--endpoint-url", &moto().endpoint(), "exec", "--"])
        .arg(venv_bin("python"))
        .args(["-c", probe]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["container: None"],
        "no container endpoint, Go or Ruby key names, credential scope or EC2 key file in the child"
    );
    assert_eq!(agent.hits().len(), 0, "the parent's agent was never asked");
    let _ = std::fs::remove_dir_all(dir);
}

/// A secret with every character a shell could take for syntax.
const NASTY: &str = "q'u\"o$HOME`id`\\back\nnew line;|&*?~!%^{}()<>#";

fn export_with(secret: &str, format: &str) -> String {
    let (out, stdout, stderr) = run(bsm()
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", secret)
        .args([
            "--endpoint-url",
            &moto().endpoint(),
            "export",
            "--format",
            format,
        ]));
    assert!(out.status.success(), "{format}: {stderr}");
    stdout
}

#[test]
fn export_formats() {
    let export = |format| export_with(SECRET, format);
    let env = export("env");
    assert!(
        env.contains("export AWS_ACCESS_KEY_ID='AKIACLITEST000000001'\n"),
        "{env}"
    );
    assert!(env.contains(&format!("export AWS_SECRET_ACCESS_KEY='{SECRET}'\n")));
    assert!(env.contains("unset AWS_PROFILE\n") && env.contains("unset AWS_DEFAULT_PROFILE\n"));
    assert!(env.contains("export AWS_DEFAULT_REGION='us-east-1'\n"));
    let plain = export("env-no-export");
    assert!(
        plain.contains("AWS_REGION='us-east-1'\n") && !plain.contains("export "),
        "{plain}"
    );
    let fish = export("fish");
    assert!(
        fish.contains("set -gx AWS_ACCESS_KEY_ID 'AKIACLITEST000000001';\n")
            && fish.contains("set -e AWS_PROFILE;\n")
    );
    let ps = export("powershell");
    assert!(ps.contains("$Env:AWS_REGION = 'us-east-1'\n"), "{ps}");
    let cmd = export("windows-cmd");
    assert!(
        cmd.contains("set \"AWS_REGION=us-east-1\"\n") && cmd.contains("set AWS_PROFILE=\n"),
        "{cmd}"
    );
    let json = export("json");
    let snap = bsm::Snapshot::from_json(json.trim()).unwrap();
    assert_eq!(snap.aws_access_key_id, "AKIACLITEST000000001");
    let process: serde_json::Value = serde_json::from_str(&export("process")).unwrap();
    assert_eq!(process["Version"], 1);
    assert_eq!(process["AccessKeyId"], "AKIACLITEST000000001");
    assert_eq!(process["SecretAccessKey"], SECRET);

    // cmd.exe cannot carry such a value: refused, not mangled.
    let (out, stdout, stderr) = run(bsm().env("AWS_SECRET_ACCESS_KEY", NASTY).args([
        "--endpoint-url",
        &moto().endpoint(),
        "export",
        "--format",
        "windows-cmd",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.is_empty() && stderr.contains("cmd.exe cannot carry"),
        "{stderr}"
    );
}

/// Each format through its real shell, where the machine has it: the
/// variables read back are the bytes bsm was given (secret and token with
/// quotes, `$`, backticks, backslashes and a newline), and the removed ones
/// are gone.
#[test]
fn exports_round_trip_through_real_shells() {
    let dir = temp_dir("bsm-cli-shells");
    let read_back =
        r#"printf '%s|%s|%s' "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "${AWS_PROFILE-unset}""#;
    let mut shells = vec![
        ("sh", "env", format!(". {{}}; {read_back}")),
        ("bash", "env", format!(". {{}}; {read_back}")),
        ("sh", "env-no-export", format!(". {{}}; {read_back}")),
    ];
    let has_fish = Command::new("fish").arg("--version").output().is_ok();
    if has_fish {
        shells.push((
            "fish",
            "fish",
            "source {}; printf '%s|%s|%s' $AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN (set -q AWS_PROFILE; and echo $AWS_PROFILE; or echo unset)".to_owned(),
        ));
    } else {
        println!("fish is not installed: its round trip is not checked here");
    }
    println!("PowerShell is not installable on this machine: its format is checked by text only");
    for (shell, format, script) in shells {
        let file = dir.join(format!("{shell}-{format}.txt"));
        std::fs::write(&file, export_with(NASTY, format)).unwrap();
        let out = Command::new(shell)
            .arg("-c")
            .arg(script.replace("{}", &file.display().to_string()))
            .env("AWS_PROFILE", "outer")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{NASTY}|{NASTY}|unset"),
            "{shell} reads back what bsm was given"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn credential_process_works_from_the_aws_cli() {
    let dir = temp_dir("bsm-cli");
    let config = dir.join("config");
    let credentials = dir.join("credentials");
    std::fs::write(
        &credentials,
        "[src]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile viabsm]\nregion = us-east-1\ncredential_process = {} --profile src --region us-east-1 \
             --endpoint-url {} --role-arn arn:aws:iam::123456789012:role/proc --session-name via-process \
             export --format process\n",
            env!("CARGO_BIN_EXE_bsm"),
            moto().endpoint()
        ),
    )
    .unwrap();
    let out = isolated("aws")
        .args([
            "sts",
            "get-caller-identity",
            "--profile",
            "viabsm",
            "--output",
            "text",
            "--query",
            "Arn",
        ])
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "arn:aws:sts::123456789012:assumed-role/proc/via-process"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A config whose `mfa` profile runs bsm as its `credential_process`,
/// assuming a role with an MFA device through `endpoint`.
fn mfa_profile(dir: &std::path::Path, endpoint: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (config, credentials) = (dir.join("config"), dir.join("credentials"));
    std::fs::write(
        &credentials,
        "[src]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile mfa]\nregion = us-east-1\ncredential_process = {} --profile src --region us-east-1 \
             --endpoint-url {endpoint} --role-arn arn:aws:iam::123456789012:role/mfa --session-name with-mfa \
             --mfa-serial arn:aws:iam::123456789012:mfa/alice export --format process\n",
            env!("CARGO_BIN_EXE_bsm"),
        ),
    )
    .unwrap();
    (config, credentials)
}

#[cfg(unix)]
#[test]
fn the_mfa_prompt_of_a_credential_process_is_on_the_terminal() {
    let dir = temp_dir("bsm-cli-mfa");
    let proxy = bsm_tests::Proxy::start(moto().addr());
    let (config, credentials) = mfa_profile(&dir, &proxy.endpoint());
    let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
    let mut cmd = isolated("python");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/answer_on_tty.py"
    ))
    .arg(&stdout)
    .arg(&stderr)
    .arg("654321")
    .arg(venv_bin("aws"))
    .args([
        "sts",
        "get-caller-identity",
        "--profile",
        "mfa",
        "--output",
        "text",
        "--query",
        "Arn",
    ])
    .env("AWS_CONFIG_FILE", &config)
    .env("AWS_SHARED_CREDENTIALS_FILE", &credentials);
    let out = cmd.output().unwrap();
    let terminal = String::from_utf8_lossy(&out.stdout).into_owned();
    let (stdout, stderr) = (
        std::fs::read_to_string(&stdout)
            .unwrap_or_else(|e| panic!("{e}: {terminal} {}", String::from_utf8_lossy(&out.stderr))),
        std::fs::read_to_string(&stderr).unwrap_or_default(),
    );
    assert!(
        out.status.success(),
        "terminal: {terminal}\nstderr: {stderr}"
    );
    assert!(
        terminal.contains("MFA code for arn:aws:iam::123456789012:mfa/alice: "),
        "the prompt is on the terminal: {terminal}"
    );
    assert_eq!(
        stdout.trim(),
        "arn:aws:sts::123456789012:assumed-role/mfa/with-mfa",
        "the CLI's stdout is its own"
    );
    assert!(
        !stderr.contains("MFA"),
        "nothing of bsm's on the CLI's stderr: {stderr}"
    );
    let sent = proxy
        .requests()
        .into_iter()
        .find(|r| r.action() == "AssumeRole")
        .unwrap();
    assert_eq!(
        sent.param("TokenCode").as_deref(),
        Some("654321"),
        "the code typed was sent"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[test]
fn without_a_terminal_the_mfa_prompt_fails_at_once() {
    let dir = temp_dir("bsm-cli-mfa");
    let (config, credentials) = mfa_profile(&dir, &moto().endpoint());
    let started = std::time::Instant::now();
    // setsid: no controlling terminal at all.
    let out = Command::new("setsid")
        .arg(venv_bin("aws"))
        .args(["sts", "get-caller-identity", "--profile", "mfa"])
        .env_clear()
        .env("PATH", path_with_venv())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no terminal to ask on: give it with --mfa-code"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "no hang"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn snapshot_save_and_show() {
    let dir = temp_dir("bsm-cli");
    let path = dir.join("snap.json");
    let p = path.to_str().unwrap();
    let (out, _, stderr) =
        run(bsm().args(["--endpoint-url", &moto().endpoint(), "snapshot", "save", p]));
    assert!(out.status.success(), "{stderr}");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.starts_with(
        r#"{"region_name": "us-east-1", "aws_access_key_id": "AKIACLITEST000000001""#
    ));

    let (out, stdout, _) = run(bsm().args(["snapshot", "show", p]));
    assert!(out.status.success());
    assert!(!stdout.contains(SECRET), "{stdout}");
    assert!(
        stdout.contains("aws_access_key_id = AKIA***0001"),
        "{stdout}"
    );

    // Saving again refuses and keeps the file.
    let (out, _, stderr) =
        run(bsm().args(["--endpoint-url", &moto().endpoint(), "snapshot", "save", p]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
    // --force replaces it (other keys this time), atomically.
    let (out, _, _) = run(bsm()
        .env("AWS_ACCESS_KEY_ID", "AKIACLIFORCED0000001")
        .args([
            "--endpoint-url",
            &moto().endpoint(),
            "snapshot",
            "save",
            "--force",
            p,
        ]));
    assert!(out.status.success());
    // Compared by key id: a failure message must not print the secret.
    let key_id = |text: &str| bsm::Snapshot::from_json(text).unwrap().aws_access_key_id;
    let replaced = std::fs::read_to_string(&path).unwrap();
    assert_eq!(key_id(&written), "AKIACLITEST000000001");
    assert_eq!(
        key_id(&replaced),
        "AKIACLIFORCED0000001",
        "--force wrote the new snapshot"
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_credentials_in_an_empty_home_say_what_was_tried_and_what_to_do() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate_in_an_empty_home(&mut cmd);
    let (out, stdout, stderr) = run(cmd.args(["whoami"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty());
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines[0], "bsm: error: cannot resolve AWS credentials: no credentials found in chain",
        "{stderr}"
    );
    for source in [
        "Environment",
        "Profile",
        "WebIdentityToken",
        "EcsContainer",
        "Ec2InstanceMetadata",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("  tried {source}: "))),
            "one line for {source}: {stderr}"
        );
    }
    assert!(lines.last().unwrap().starts_with("  to fix: "), "{stderr}");

    let dir = temp_dir("bsm-cli-noprofile");
    std::fs::write(dir.join("config"), "[profile other]\n").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    let (out, _, stderr) =
        run(cmd
            .env("AWS_CONFIG_FILE", dir.join("config"))
            .args(["--profile", "ghost", "whoami"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with(&format!(
            "bsm: error: profile `ghost` not found in {} or {}\n",
            dir.join("config").display(),
            bsm_tests::lived_in::home()
                .join(".aws/credentials")
                .display()
        )),
        "names the profile and the files: {stderr}"
    );
    assert!(
        stderr.contains("  to fix: `aws configure list-profiles`"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `snapshot show` of a FIFO (or a device) fails at once, naming the
/// path: never waits for a writer.
#[cfg(unix)]
#[test]
fn snapshot_show_of_a_fifo_fails_at_once() {
    let dir = temp_dir("bsm-cli-fifo");
    let fifo = dir.join("snap.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for path in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let mut child = bsm()
            .args(["snapshot", "show"])
            .arg(path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("snapshot show {} hung", path.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Warnings reach the person (the library logs them through `tracing`):
/// a snapshot file others can read is shown, with a warning on stderr.
#[cfg(unix)]
#[test]
fn warnings_reach_stderr() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("bsm-cli-warn");
    let path = dir.join("snap.json");
    std::fs::write(
        &path,
        r#"{"region_name": null, "aws_access_key_id": "AKIALOOSE00000000001", "aws_secret_access_key": "s"}"#,
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, stdout, stderr) = run(bsm().args(["snapshot", "show"]).arg(&path));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("AKIA"), "{stdout}");
    assert!(
        stderr.starts_with("bsm: warning: snapshot file is readable by other users"),
        "{stderr}"
    );
    let (out, _, stderr) = run(bsm()
        .env("BSM_LOG", "off")
        .args(["snapshot", "show"])
        .arg(&path));
    assert!(out.status.success());
    assert_eq!(stderr, "", "BSM_LOG=off silences it");
    let (out, _, stderr) = run(bsm().env("BSM_LOG", "loud").arg("whoami"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("BSM_LOG is `loud`"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `-vv whoami` exits 0 and says its last event: the manager's cache
/// generation is dropped while the main thread's thread-locals are torn
/// down at exit, and logging it there aborted the process (exit 134) when
/// the log layer kept its buffer in a thread-local.
#[test]
fn very_verbose_whoami_exits_cleanly_with_its_last_event() {
    for args in [&["-vv"][..], &["-vvv"][..]] {
        let (out, stdout, stderr) =
            run(bsm()
                .args(args)
                .args(["--endpoint-url", &moto().endpoint(), "whoami"]));
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stdout.contains("AWS Account Id = 12********12"), "{stdout}");
        assert!(
            stderr.contains("bsm: debug: cache generation dropped generation=0"),
            "the drop at exit is written: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// At the most verbose level bsm says what it does, and still prints no
/// secret: not the role's secret key or session token (read back from
/// `export`'s own output), not the source's secret.
#[test]
fn no_level_prints_a_secret() {
    for verbose in [true, false] {
        let mut cmd = bsm();
        if verbose {
            cmd.arg("-vvv");
        } else {
            cmd.env("BSM_LOG", "trace");
        }
        let (out, stdout, stderr) = run(cmd
            .arg("--no-cache")
            .args(["--endpoint-url", &moto().endpoint()])
            .args(["--role-arn", "arn:aws:iam::123456789012:role/loud"])
            .args(["export", "--format", "process"]));
        assert!(out.status.success(), "{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        for field in ["SecretAccessKey", "SessionToken"] {
            let secret = json[field].as_str().unwrap();
            assert!(!stderr.contains(secret), "{field} on stderr: {stderr}");
        }
        assert!(
            stderr.contains("bsm: debug: calling STS AssumeRole"),
            "the level took effect: {stderr}"
        );
    }
}

/// A pipe as the config file (a FIFO nobody writes, or `<(cat config)`)
/// is refused at once, naming it, instead of waited on.
#[cfg(unix)]
#[test]
fn a_pipe_as_the_config_file_is_refused_at_once() {
    let dir = temp_dir("bsm-cli-fifo-config");
    let fifo = dir.join("config");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let child = bsm()
        .env("AWS_CONFIG_FILE", &fifo)
        .args(["--profile", "dev", "whoami"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = bsm_tests::wait_at_most(child, std::time::Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "invalid profile files `{}`: is a pipe or a socket",
            fifo.display()
        )),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Output into a pipe whose reader is gone (`bsm whoami | head -1`) ends
/// quietly with success; into a full device (`/dev/full`) it is one error
/// line and exit 1. Never a panic.
#[cfg(target_os = "linux")]
#[test]
fn output_to_a_closed_pipe_or_a_full_device_is_no_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let (out, _, stderr) = run(bsm()
        .args(["--endpoint-url", &moto().endpoint(), "whoami", "--explain"])
        .stdout(writer));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "quiet");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let (out, _, stderr) = run(bsm()
        .args([
            "--endpoint-url",
            &moto().endpoint(),
            "export",
            "--format",
            "json",
        ])
        .stdout(full));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "bsm: error: cannot write to standard output: No space left on device (os error 28)\n"
    );
}

#[test]
fn bad_input_is_one_line_on_stderr() {
    for args in [
        vec!["--role-arn", "not-an-arn", "whoami"],
        vec![
            "--role-arn",
            "arn:aws:iam::123456789012:role/x",
            "--duration",
            "60",
            "whoami",
        ],
        vec!["--region", "", "whoami"],
        vec![
            "--region",
            "eu-west-1\rcredential_process = sh -c id",
            "whoami",
        ],
        vec!["--profile", "dev\n[default]", "whoami"],
        vec!["snapshot", "show", "/nonexistent/bsm.json"],
    ] {
        let (out, stdout, stderr) = run(bsm()
            .args(["--endpoint-url", &moto().endpoint()])
            .args(&args));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("bsm: error: "), "{stderr}");
    }
}

/// A query value of a URL, percent-decoded.
fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

const SIGNIN_TOKEN: &str = "StandInSigninToken-kept-off-stderr";

/// The access key ids STS handed out through `proxy` (federation tokens
/// and roles), read from the answers it recorded.
fn keys_handed_out(proxy: &bsm_tests::Proxy) -> Vec<(String, String)> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| matches!(r.action().as_str(), "GetFederationToken" | "AssumeRole"))
        .filter_map(|r| {
            let start = r.response.find("<AccessKeyId>")? + "<AccessKeyId>".len();
            let end = start + r.response[start..].find("</AccessKeyId>")?;
            Some((r.action(), r.response[start..end].to_owned()))
        })
        .collect()
}

/// A stand-in of the AWS federation endpoint on loopback: it answers
/// `getSigninToken` with a sign-in token when the `Session` JSON holds a
/// whole session of keys STS handed out through `proxy`; anything else gets
/// a 400 whose body must never reach the person.
fn federation_stand_in(proxy: std::sync::Arc<bsm_tests::Proxy>) -> bsm_tests::sources::FakeServer {
    bsm_tests::sources::FakeServer::start(move |hit| {
        let session = query_value(&hit.path, "Session").unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&session).unwrap_or_default();
        let id = json["sessionId"].as_str().unwrap_or_default().to_owned();
        let whole = ["sessionKey", "sessionToken"]
            .iter()
            .all(|k| json[k].as_str().is_some_and(|v| !v.is_empty()));
        let action = query_value(&hit.path, "Action").unwrap_or_default();
        let known = keys_handed_out(&proxy).iter().any(|(_, k)| *k == id);
        if action == "getSigninToken" && whole && known {
            (
                200,
                vec![],
                format!("{{\"SigninToken\": \"{SIGNIN_TOKEN}\"}}"),
            )
        } else {
            (400, vec![], "BODY-OF-A-REFUSAL".into())
        }
    })
}

/// The `sessionId` the endpoint was last sent, and its `SessionDuration`.
fn last_session(stand_in: &bsm_tests::sources::FakeServer) -> (String, Option<String>) {
    let hit = stand_in.hits().pop().expect("the endpoint was asked");
    let session = query_value(&hit.path, "Session").unwrap();
    let json: serde_json::Value = serde_json::from_str(&session).unwrap();
    (
        json["sessionId"].as_str().unwrap().to_owned(),
        query_value(&hit.path, "SessionDuration"),
    )
}

/// `bsm console`: an IAM user's keys become a federation token first (one
/// `GetFederationToken`, counted at the proxy), a role's credentials go as
/// they are; the endpoint gets the session of exactly those keys; the URL
/// goes to `$BROWSER` (a script that records it) or, with `--print`, to
/// stdout only; the sign-in token is never on stderr.
#[cfg(unix)]
#[test]
fn console_signs_in_with_a_federation_token_or_the_roles_session() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("bsm-cli-console");
    let proxy = std::sync::Arc::new(bsm_tests::Proxy::start(moto().addr()));
    let stand_in = federation_stand_in(std::sync::Arc::clone(&proxy));
    let federation = format!("{}/federation", stand_in.endpoint());
    let browser = dir.join("browser.sh");
    let opened = dir.join("opened");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            opened.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o700)).unwrap();
    let console = |extra: &[&str]| {
        let mut cmd = bsm();
        cmd.env("BSM_FEDERATION_URL", &federation)
            .env("BROWSER", &browser)
            .args(["--endpoint-url", &proxy.endpoint()])
            .args(extra)
            .arg("console");
        cmd
    };
    let opened_urls = || {
        std::fs::read_to_string(&opened)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };

    // The IAM user's keys: a federation token, then the browser.
    let (out, stdout, stderr) = run(&mut console(&[]));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "", "the URL goes to the browser only");
    assert!(!stderr.contains(SIGNIN_TOKEN), "{stderr}");
    assert_eq!(proxy.count("GetFederationToken"), 1);
    let handed = keys_handed_out(&proxy);
    assert_eq!(handed.len(), 1);
    assert_eq!(last_session(&stand_in), (handed[0].1.clone(), None));
    let urls = opened_urls();
    assert_eq!(urls.len(), 1, "{urls:?}");
    let url = &urls[0];
    assert!(
        url.starts_with(&format!("{federation}?Action=login&")),
        "{url}"
    );
    assert_eq!(query_value(url, "Issuer").as_deref(), Some("bsm"));
    assert_eq!(
        query_value(url, "Destination").as_deref(),
        Some("https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1")
    );
    assert_eq!(
        query_value(url, "SigninToken").as_deref(),
        Some(SIGNIN_TOKEN)
    );

    // A role's session goes as it is, for the duration given; --print
    // prints the URL and opens nothing.
    let role = [
        "--role-arn",
        "arn:aws:iam::123456789012:role/console",
        "--no-cache",
    ];
    let (out, stdout, stderr) = run(console(&role).args(["--print", "--duration", "3600"]));
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(SIGNIN_TOKEN), "{stderr}");
    assert_eq!(
        query_value(stdout.trim(), "SigninToken").as_deref(),
        Some(SIGNIN_TOKEN)
    );
    assert_eq!(
        proxy.count("GetFederationToken"),
        1,
        "no federation token for a role"
    );
    let role_key = keys_handed_out(&proxy).pop().unwrap();
    assert_eq!(role_key.0, "AssumeRole");
    assert_eq!(last_session(&stand_in), (role_key.1, Some("3600".into())));
    assert_eq!(opened_urls().len(), 1, "--print opened nothing");

    let _ = std::fs::remove_dir_all(dir);
}

/// A destination of the user's is where the console opens; durations out
/// of range and a destination that is not `https://` are refused before
/// any request.
#[test]
fn console_takes_a_destination_and_refuses_bad_input_before_any_request() {
    let proxy = std::sync::Arc::new(bsm_tests::Proxy::start(moto().addr()));
    let stand_in = federation_stand_in(std::sync::Arc::clone(&proxy));
    let federation = format!("{}/federation", stand_in.endpoint());
    let role = [
        "--role-arn",
        "arn:aws:iam::123456789012:role/console",
        "--no-cache",
    ];
    let console = |extra: &[&str]| {
        let mut cmd = bsm();
        cmd.env("BSM_FEDERATION_URL", &federation)
            .env("BROWSER", "false")
            .args(["--endpoint-url", &proxy.endpoint()])
            .args(role)
            .args(["console", "--print"])
            .args(extra);
        cmd
    };
    let (out, stdout, _) = run(&mut console(&[
        "--destination",
        "https://us-east-1.console.aws.amazon.com/s3/home",
    ]));
    assert!(out.status.success());
    assert_eq!(
        query_value(stdout.trim(), "Destination").as_deref(),
        Some("https://us-east-1.console.aws.amazon.com/s3/home")
    );
    let asked = stand_in.hits().len();
    for (extra, want) in [
        (&["--duration", "60"][..], "invalid duration `60 s`"),
        (&["--duration", "43201"][..], "invalid duration `43201 s`"),
        (
            &["--destination", "http://example.com/"][..],
            "invalid console destination",
        ),
    ] {
        let (out, stdout, stderr) = run(&mut console(extra));
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(
            stdout.is_empty() && stderr.contains(want),
            "{extra:?}: {stderr}"
        );
    }
    assert_eq!(stand_in.hits().len(), asked, "no request for bad input");
}

/// The endpoint's bad answers (a 400, an HTML page, JSON without a token,
/// nothing listening) are one line each, naming the endpoint and what was
/// wrong, never the answer's body; nothing reaches stdout or the browser.
#[test]
fn bad_answers_of_the_federation_endpoint_are_typed_and_not_echoed() {
    use bsm_tests::sources::FakeServer;
    let answers = [
        FakeServer::start(|_| (400, vec![], "BODY-MARKER refused".into())),
        FakeServer::start(|_| (200, vec![], "<html>BODY-MARKER sign in</html>".into())),
        FakeServer::start(|_| (200, vec![], r#"{"BODY-MARKER": "no token"}"#.into())),
    ];
    let mut endpoints: Vec<(String, &str)> = answers
        .iter()
        .zip([
            "answered HTTP 400",
            "not JSON with a SigninToken",
            "not JSON with a SigninToken",
        ])
        .map(|(s, why)| (format!("{}/federation", s.endpoint()), why))
        .collect();
    endpoints.push((
        format!("{}/federation", bsm_tests::DEAD_ENDPOINT),
        "cannot reach it",
    ));
    for (federation, why) in endpoints {
        let (out, stdout, stderr) = run(bsm()
            .env("BSM_FEDERATION_URL", &federation)
            .env("BROWSER", "false")
            .args(["--endpoint-url", &moto().endpoint()])
            .args([
                "--role-arn",
                "arn:aws:iam::123456789012:role/console",
                "--no-cache",
            ])
            .args(["console"]));
        assert_eq!(out.status.code(), Some(1), "{federation}: {stderr}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "bsm: error: console sign-in at `{federation}` failed: "
            )),
            "{stderr}"
        );
        assert!(stderr.contains(why), "{why}: {stderr}");
        assert!(!stderr.contains("BODY-MARKER"), "{stderr}");
    }
}
