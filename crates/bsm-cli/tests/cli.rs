//! The `bsm` binary end to end against moto: whoami, exec, every export
//! format, `credential_process` used by the real AWS CLI, snapshots, and
//! failures as one line on stderr.

use std::process::{Command, Output};

#[cfg(unix)]
use bsm_tests::mode;
use bsm_tests::{isolate, isolated, moto, temp_dir, venv_bin};

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
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("bsm: error: cannot run `no-such-program-bsm`"),
        "{stderr}"
    );
}

#[test]
fn export_formats() {
    let ep = moto().endpoint();
    let export = |format: &str| {
        let (out, stdout, stderr) =
            run(bsm().args(["--endpoint-url", &ep, "export", "--format", format]));
        assert!(out.status.success(), "{stderr}");
        stdout
    };
    let env = export("env");
    assert!(
        env.contains("export AWS_ACCESS_KEY_ID='AKIACLITEST000000001'\n"),
        "{env}"
    );
    assert!(env.contains(&format!("export AWS_SECRET_ACCESS_KEY='{SECRET}'\n")));
    assert!(env.contains("unset AWS_SESSION_TOKEN\n") && env.contains("unset AWS_PROFILE\n"));
    assert!(env.contains("export AWS_DEFAULT_REGION='us-east-1'\n"));
    let fish = export("fish");
    assert!(
        fish.contains("set -gx AWS_ACCESS_KEY_ID 'AKIACLITEST000000001';\n")
            && fish.contains("set -e AWS_PROFILE;\n")
    );
    let ps = export("powershell");
    assert!(ps.contains("$Env:AWS_REGION = 'us-east-1'\n"), "{ps}");
    let json = export("json");
    let snap = bsm::Snapshot::from_json(json.trim()).unwrap();
    assert_eq!(snap.aws_access_key_id, "AKIACLITEST000000001");
    let process: serde_json::Value = serde_json::from_str(&export("process")).unwrap();
    assert_eq!(process["Version"], 1);
    assert_eq!(process["AccessKeyId"], "AKIACLITEST000000001");
    assert_eq!(process["SecretAccessKey"], SECRET);
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
    let (out, _, _) = run(bsm().args([
        "--endpoint-url",
        &moto().endpoint(),
        "snapshot",
        "save",
        "--force",
        p,
    ]));
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(dir);
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
