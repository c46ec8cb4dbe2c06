//! `bsm keys` and `--keys NAME` against moto, in each Linux store: this
//! binary's own Secret Service (gnome-keyring on a private bus) and the
//! kernel's keyutils. The secret goes in on stdin and never comes out:
//! not in the running command's argv or environment, stdout, stderr, or
//! the debug log. And a `credential_process` that calls bsm back for its
//! own profile is refused at once, counted by the script it runs.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bsm_tests::keyring::{keyutils, secret_service};
use bsm_tests::sources::{User, iam_user};
use bsm_tests::{Proxy, isolate, lived_in, moto, temp_dir, unique};

/// `bsm` in the lived-in home, whose `[default]` profile and environment
/// keys belong to other principals, with the store `store` chooses.
fn bsm(store: fn(&mut Command) -> &mut Command) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    cmd.env("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENTKEY01")
        .env("AWS_SECRET_ACCESS_KEY", "environment-secret")
        .env("AWS_REGION", "us-east-1")
        .env("BSM_LOG", "debug");
    store(&mut cmd);
    cmd
}

fn secret_service_store(cmd: &mut Command) -> &mut Command {
    secret_service().apply(cmd)
}

/// Runs `cmd`; its stdout and stderr, checked for the secret.
fn run(cmd: &mut Command, secret: &str) -> (bool, String, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("bsm runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "the secret came out: {stdout} {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.success(), stdout, stderr)
}

/// `bsm keys add NAME --stdin` through `proxy`, which holds its check
/// (`GetCallerIdentity`) for a second: meanwhile, with the secret read, the
/// running command's argv and environment are read from /proc.
fn add(store: fn(&mut Command) -> &mut Command, name: &str, user: &User, proxy: &Proxy) -> String {
    proxy.fail_next(
        Some("GetCallerIdentity"),
        1,
        bsm_tests::Fault::Delay(Duration::from_secs(1)),
    );
    let mut child = bsm(store)
        .args([
            "--endpoint-url",
            &proxy.endpoint(),
            "keys",
            "add",
            name,
            "--stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}\n{}", user.key_id, user.secret).unwrap();
    drop(stdin);
    let asked = Instant::now();
    while proxy.count("GetCallerIdentity") == 0 && asked.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // (A reader that is not root cannot open environ at all: bsm is not
    // dumpable while it holds keys.)
    for part in ["cmdline", "environ"] {
        let seen = match std::fs::read(format!("/proc/{}/{part}", child.id())) {
            Ok(seen) => seen,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => continue,
            Err(e) => panic!("/proc/PID/{part}: {e}"),
        };
        assert!(
            !seen.is_empty(),
            "bsm is gone before /proc/PID/{part} was read"
        );
        assert!(
            !String::from_utf8_lossy(&seen).contains(&user.secret),
            "the secret is in /proc/PID/{part}"
        );
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains(&user.secret) && !stderr.contains(&user.secret));
    stderr.into_owned()
}

/// The access key ids that signed the `action` requests `proxy` passed.
fn signers(proxy: &Proxy, action: &str) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == action)
        .filter_map(|r| {
            let auth = r.header("authorization")?;
            let id = auth.split("Credential=").nth(1)?.split('/').next()?;
            Some(id.to_owned())
        })
        .collect()
}

fn each_store_adds_lists_uses_and_removes(store: fn(&mut Command) -> &mut Command, backend: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let user = rt.block_on(iam_user("keys"));
    let name = unique("keys");
    let proxy = rt.block_on(async { Proxy::start(moto().addr()) });

    let said = add(store, &name, &user, &proxy);
    let masked = format!(
        "{}***{}",
        &user.key_id[..4],
        &user.key_id[user.key_id.len() - 4..]
    );
    assert!(
        said.contains(&format!("stored keys `{name}` ({masked})")),
        "{said}"
    );
    assert!(said.contains(&format!("in {backend}")), "{said}");
    // Checked with exactly one request, signed with the new key.
    let asked: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == "GetCallerIdentity")
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0]
            .header("authorization")
            .is_some_and(|a| a.contains(&format!("Credential={}/", user.key_id))),
        "{asked:?}"
    );

    let (ok, listed, _) = run(bsm(store).args(["keys", "list"]), &user.secret);
    assert!(ok);
    assert!(listed.contains(&format!("{name}\t{masked}\n")), "{listed}");
    assert!(!listed.contains(&user.key_id), "{listed}");

    // The stored keys win over the environment's keys and [default].
    let (ok, who, stderr) = run(
        bsm(store).args(["--keys", &name, "whoami", "--no-mask"]),
        &user.secret,
    );
    assert!(ok, "{stderr}");
    assert!(
        who.contains(&format!("Principal Arn = {}\n", user.arn)),
        "{who}"
    );
    assert!(!who.contains(lived_in::DEFAULT));

    // A child gets a session of the stored keys (one GetSessionToken,
    // signed with them, then the session cache), not the keys themselves...
    let child_keys = "printf '%s %s' \"$AWS_ACCESS_KEY_ID\" \"${AWS_SESSION_TOKEN:+token}\"";
    let through = |extra: &[&str]| {
        let mut cmd = bsm(store);
        cmd.args(["--keys", &name, "--endpoint-url", &proxy.endpoint()])
            .args(extra);
        let (ok, seen, stderr) = run(
            cmd.args(["exec", "--", "sh", "-c", child_keys]),
            &user.secret,
        );
        assert!(ok, "{stderr}");
        seen
    };
    let session = through(&[]);
    assert!(session.ends_with(" token"), "{session}");
    assert!(!session.contains(&user.key_id), "{session}");
    assert_eq!(through(&[]), session, "the session was not the cached one");
    assert_eq!(signers(&proxy, "GetSessionToken"), [user.key_id.as_str()]);
    // ... unless asked for.
    assert_eq!(through(&["--no-session"]), format!("{} ", user.key_id));
    let (ok, _, stderr) = run(
        bsm(store).args(["--keys", &name, "--no-session", "snapshot", "save"]),
        &user.secret,
    );
    assert!(
        !ok && stderr.contains("would put them in a file"),
        "{stderr}"
    );

    // A name already stored is kept unless --replace.
    let mut again = bsm(store);
    again.args(["keys", "add", &name, "--stdin"]);
    let (ok, _, stderr) = run(&mut again, &user.secret);
    assert!(!ok && stderr.contains("already stored"), "{stderr}");

    let (ok, _, stderr) = run(bsm(store).args(["keys", "remove", &name]), &user.secret);
    assert!(
        ok && stderr.contains(&format!("removed keys `{name}` ({masked})")),
        "{stderr}"
    );
    let (_, listed, _) = run(bsm(store).args(["keys", "list"]), &user.secret);
    assert!(!listed.contains(&name), "{listed}");
    let (ok, _, stderr) = run(bsm(store).args(["--keys", &name, "whoami"]), &user.secret);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "bsm: error: keychain `{backend}`, keys `{name}`: no keys stored under this name"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "  to fix: `bsm keys list` shows the names {backend} holds"
        )),
        "{stderr}"
    );
}

#[test]
fn the_secret_service_adds_lists_uses_and_removes_keys() {
    each_store_adds_lists_uses_and_removes(secret_service_store, "secret-service");
}

#[test]
fn keyutils_adds_lists_uses_and_removes_keys() {
    each_store_adds_lists_uses_and_removes(keyutils, "keyutils");
}

/// A config with a `loop` profile whose `credential_process` (a script
/// that counts its runs in the returned file) runs bsm for `loop` again,
/// and a `stored` profile whose `credential_process` is `bsm --keys NAME`.
fn loop_config(
    name: &str,
    proxy: &Proxy,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = temp_dir("bsm-keys-process");
    let runs = dir.join("runs");
    // Counts each run at the source, then runs bsm for `loop`'s own
    // profile: without the guard, without end (the script gives up after
    // 6 runs, so a regression fails here instead of running away).
    let looping = dir.join("looping.sh");
    std::fs::write(
        &looping,
        format!(
            "#!/bin/sh\necho run >> '{r}'\n[ \"$(wc -l < '{r}')\" -gt 5 ] && exit 1\n\
             exec '{}' --profile loop export --format process\n",
            env!("CARGO_BIN_EXE_bsm"),
            r = runs.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&looping, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile loop]\nregion = us-east-1\ncredential_process = {}\n\n\
             [profile stored]\nregion = us-east-1\ncredential_process = {} --keys {name} --endpoint-url {} \
             export --format process\n",
            looping.display(),
            env!("CARGO_BIN_EXE_bsm"),
            proxy.endpoint(),
        ),
    )
    .unwrap();

    (dir, config, runs)
}

#[test]
fn stored_keys_serve_as_a_credential_process_and_a_loop_back_is_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let user = rt.block_on(iam_user("keys-process"));
    let name = unique("keys-process");
    let proxy = rt.block_on(async { Proxy::start(moto().addr()) });
    add(secret_service_store, &name, &user, &proxy);

    let (dir, config, runs) = loop_config(&name, &proxy);

    let started = Instant::now();
    let mut child = bsm(secret_service_store)
        .args(["--profile", "loop", "whoami"])
        .env("AWS_CONFIG_FILE", &config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        panic!("bsm still runs after 60 s: the loop was not stopped");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("profile `loop` calls bsm back while bsm resolves it (loop -> loop)"),
        "{stderr}"
    );
    assert_eq!(
        bsm_tests::sources::lines(&runs),
        1,
        "the script ran more than once"
    );

    // A profile whose credential_process is `bsm --keys NAME`: bsm and the
    // AWS CLI both get a session of the stored keys, asked for once (signed
    // with them), then served from the session cache.
    let (ok, who, stderr) = run(
        bsm(secret_service_store)
            .args(["--profile", "stored", "whoami", "--no-mask"])
            .env("AWS_CONFIG_FILE", &config),
        &user.secret,
    );
    assert!(ok, "{stderr}");
    let mut aws = bsm_tests::isolated("aws");
    secret_service().apply(&mut aws);
    let out = aws
        .args([
            "sts",
            "get-caller-identity",
            "--profile",
            "stored",
            "--output",
            "text",
            "--query",
            "Arn",
        ])
        .env("AWS_CONFIG_FILE", &config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let arn = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        who.contains(&format!("Principal Arn = {arn}\n")),
        "{who} {arn}"
    );
    // Every SDK of the handoff matrix through the same profile: the same
    // principal, and still the one session.
    let programs = crate::handoff_matrix::Programs::find();
    for client in crate::handoff_matrix::CLIENTS {
        let mut cmd = programs
            .client(client, Some("stored"))
            .unwrap_or_else(|e| panic!("{}: {e}", client.name()));
        isolate(&mut cmd);
        secret_service().apply(&mut cmd);
        let out = cmd
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            client.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            arn,
            "{}",
            client.name()
        );
    }
    assert_eq!(signers(&proxy, "GetSessionToken"), [user.key_id.as_str()]);

    run(
        bsm(secret_service_store).args(["keys", "remove", &name]),
        &user.secret,
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_session_cache_is_keyed_by_the_stored_key_id() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (first, second) =
        rt.block_on(async { (iam_user("keys-cache").await, iam_user("keys-cache").await) });
    let name = unique("keys-cache");
    let proxy = rt.block_on(async { Proxy::start(moto().addr()) });
    add(keyutils, &name, &first, &proxy);
    let role = format!("arn:aws:iam::123456789012:role/{}", unique("cached"));
    // `export --format process` of the stored keys, with `extra` options.
    let export_with = |extra: &[&str], secret: &str| {
        let mut cmd = bsm(keyutils);
        cmd.args(["--keys", &name, "--endpoint-url", &proxy.endpoint()])
            .args(extra)
            .args(["export", "--format", "process"]);
        let (ok, json, stderr) = run(&mut cmd, secret);
        assert!(ok, "{stderr}");
        json
    };
    let export = |secret: &str| export_with(&["--role-arn", &role], secret);
    let session = |secret: &str| export_with(&[], secret);
    let first_session = session(&first.secret);
    assert_eq!(session(&first.secret), first_session);
    assert_eq!(signers(&proxy, "GetSessionToken"), [first.key_id.as_str()]);
    let once = export(&first.secret);
    assert_eq!(
        export(&first.secret),
        once,
        "the second export was not the cached session"
    );
    assert_eq!(signers(&proxy, "AssumeRole"), [first.key_id.as_str()]);

    // Other keys under the same name: a new session, asked with them.
    let mut replace = bsm(keyutils);
    replace
        .args([
            "--endpoint-url",
            &proxy.endpoint(),
            "keys",
            "add",
            &name,
            "--stdin",
            "--replace",
        ])
        .stdin(Stdio::piped());
    let mut child = replace
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        child.stdin.take().unwrap(),
        "{}\n{}",
        second.key_id,
        second.secret
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert_ne!(export(&second.secret), once);
    assert_ne!(session(&second.secret), first_session);
    assert_eq!(
        signers(&proxy, "GetSessionToken"),
        [first.key_id.as_str(), second.key_id.as_str()]
    );
    assert_eq!(
        signers(&proxy, "AssumeRole"),
        [first.key_id.as_str(), second.key_id.as_str()]
    );
    run(
        bsm(keyutils).args(["keys", "remove", &name]),
        &second.secret,
    );
}
