//! The session cache of `bsm export` and `bsm exec`, end to end with the
//! real AWS CLI running bsm as its `credential_process`, counted at the
//! recording proxy in front of moto's STS: one `AssumeRole` for five
//! commands, five with `--no-cache`; an untrusted cache file is not used;
//! concurrent runs leave one whole file; `bsm cache clear`; MFA sessions.

use std::path::{Path, PathBuf};
use std::process::Command;

use bsm_tests::{Proxy, isolate, isolated, moto, temp_dir};

const ROLE: &str = "arn:aws:iam::123456789012:role/bsm-cached";

/// A config whose `viabsm` profile runs bsm as its `credential_process`
/// through `endpoint`, with `extra` options.
fn config(dir: &Path, endpoint: &str, extra: &str) -> (PathBuf, PathBuf) {
    let (config, credentials) = (dir.join("config"), dir.join("credentials"));
    std::fs::write(
        &credentials,
        "[src]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile viabsm]\nregion = us-east-1\ncredential_process = {} --profile src --region us-east-1 \
             --endpoint-url {endpoint} --role-arn {ROLE} --session-name cached {extra} export --format process\n",
            env!("CARGO_BIN_EXE_bsm"),
        ),
    )
    .unwrap();
    (config, credentials)
}

/// `aws sts get-caller-identity --profile viabsm` with `cache` as bsm's
/// cache home.
fn aws_caller(files: &(PathBuf, PathBuf), cache: &Path) -> String {
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
        .env("AWS_CONFIG_FILE", &files.0)
        .env("AWS_SHARED_CREDENTIALS_FILE", &files.1)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `bsm ... export --format process` straight, with `cache` as cache home:
/// its success and stderr.
fn bsm_export(
    files: &(PathBuf, PathBuf),
    endpoint: &str,
    cache: &Path,
    extra: &[&str],
) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    let out = cmd
        .env("AWS_CONFIG_FILE", &files.0)
        .env("AWS_SHARED_CREDENTIALS_FILE", &files.1)
        .env("XDG_CACHE_HOME", cache)
        .args([
            "--profile",
            "src",
            "--region",
            "us-east-1",
            "--endpoint-url",
            endpoint,
        ])
        .args(["--role-arn", ROLE, "--session-name", "cached"])
        .args(extra)
        .args(["export", "--format", "process"])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cached_files(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache.join("bsm"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[test]
fn five_cli_commands_share_one_assume_role_and_no_cache_sends_five() {
    let want = "arn:aws:sts::123456789012:assumed-role/bsm-cached/cached";
    let dir = temp_dir("bsm-cache-five");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    for _ in 0..5 {
        assert_eq!(aws_caller(&files, &cache), want);
    }
    assert_eq!(proxy.count("AssumeRole"), 1, "five commands, one session");
    let cached = cached_files(&cache);
    assert_eq!(cached.len(), 1, "{cached:?}");
    #[cfg(unix)]
    {
        assert_eq!(bsm_tests::mode(&cache.join("bsm")), 0o700);
        assert_eq!(bsm_tests::mode(&cached[0]), 0o600);
    }
    let name = cached[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        !name.contains("bsm-cached") && !name.contains("testing") && name.len() == 64 + 5,
        "the key is a hash: {name}"
    );

    let proxy = Proxy::start(moto().addr());
    let files = config(&dir, &proxy.endpoint(), "--no-cache");
    for _ in 0..5 {
        assert_eq!(aws_caller(&files, &cache), want);
    }
    assert_eq!(proxy.count("AssumeRole"), 5, "--no-cache: one each");
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[test]
fn an_untrusted_cache_file_is_not_used() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("bsm-cache-trust");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    let (ok, stderr) = bsm_export(&files, &proxy.endpoint(), &cache, &[]);
    assert!(ok, "{stderr}");
    assert_eq!(proxy.count("AssumeRole"), 1);
    let file = cached_files(&cache).pop().unwrap();

    // Readable by others: not used, with a warning.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, stderr) = bsm_export(&files, &proxy.endpoint(), &cache, &[]);
    assert!(ok, "{stderr}");
    assert_eq!(proxy.count("AssumeRole"), 2, "the 0644 file was not used");
    assert!(
        stderr.contains("bsm: warning: not using the cached session"),
        "{stderr}"
    );
    assert!(stderr.contains("lets other users in"), "{stderr}");
    assert_eq!(bsm_tests::mode(&file), 0o600, "rewritten 0600");

    // Another user's: not used either (tests run as root here; elsewhere
    // chown fails and this part is skipped).
    if std::os::unix::fs::chown(&file, Some(65_534), Some(65_534)).is_ok() {
        let (ok, stderr) = bsm_export(&files, &proxy.endpoint(), &cache, &[]);
        assert!(ok, "{stderr}");
        assert_eq!(
            proxy.count("AssumeRole"),
            3,
            "another user's file was not used"
        );
        assert!(stderr.contains("belongs to user id 65534"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A cache folder that is a symbolic link (to a private folder, even) is
/// not used: whoever can change the link can read the sessions.
#[cfg(unix)]
#[test]
fn a_symlinked_cache_folder_is_not_used() {
    let dir = temp_dir("bsm-cache-symlink");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::DirBuilder::new().create(&elsewhere).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::os::unix::fs::symlink(&elsewhere, cache.join("bsm")).unwrap();
    let files = config(&dir, &proxy.endpoint(), "");
    for _ in 0..2 {
        let (ok, stderr) = bsm_export(&files, &proxy.endpoint(), &cache, &[]);
        assert!(ok, "{stderr}");
        assert!(
            stderr.contains("not using the cache folder") && stderr.contains("not a folder"),
            "{stderr}"
        );
    }
    assert_eq!(proxy.count("AssumeRole"), 2, "no cache: each run asked");
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the link"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A cache folder other users can enter is not used (its sessions could be
/// swapped or read): a warning, and every run asks STS.
#[cfg(unix)]
#[test]
fn a_cache_folder_open_to_others_is_not_used() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("bsm-cache-open");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    std::fs::create_dir_all(cache.join("bsm")).unwrap();
    std::fs::set_permissions(cache.join("bsm"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let files = config(&dir, &proxy.endpoint(), "");
    for _ in 0..2 {
        let (ok, stderr) = bsm_export(&files, &proxy.endpoint(), &cache, &[]);
        assert!(ok, "{stderr}");
        assert!(
            stderr.contains("not using the cache folder")
                && stderr.contains("mode 777 lets other users in"),
            "{stderr}"
        );
    }
    assert_eq!(proxy.count("AssumeRole"), 2, "no cache: each run asked");
    assert!(cached_files(&cache).is_empty(), "nothing written there");
    let _ = std::fs::remove_dir_all(dir);
}

/// A FIFO where a cached session should be is refused at once (a miss,
/// with a warning) and replaced by a real file: never waited on.
#[cfg(unix)]
#[test]
fn a_fifo_in_the_cache_is_refused_at_once() {
    let dir = temp_dir("bsm-cache-fifo");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    assert!(bsm_export(&files, &proxy.endpoint(), &cache, &[]).0);
    let file = cached_files(&cache).pop().unwrap();
    std::fs::remove_file(&file).unwrap();
    let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    let child = cmd
        .env("AWS_CONFIG_FILE", &files.0)
        .env("AWS_SHARED_CREDENTIALS_FILE", &files.1)
        .env("XDG_CACHE_HOME", &cache)
        .args(["--profile", "src", "--region", "us-east-1"])
        .args(["--endpoint-url", &proxy.endpoint(), "--role-arn", ROLE])
        .args(["--session-name", "cached", "export", "--format", "process"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = bsm_tests::wait_at_most(child, std::time::Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert_eq!(proxy.count("AssumeRole"), 2, "a miss");
    assert!(
        std::fs::symlink_metadata(&file).unwrap().is_file(),
        "replaced by a file"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A refresh window longer than any session (the largest number there is)
/// means "always take a new one": the second run is a miss, not a panic.
#[test]
fn a_refresh_window_past_any_session_takes_a_new_one() {
    let dir = temp_dir("bsm-cache-window");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    for _ in 0..2 {
        let (ok, stderr) = bsm_export(
            &files,
            &proxy.endpoint(),
            &cache,
            &["--refresh-window", "18446744073709551615"],
        );
        assert!(ok && !stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(proxy.count("AssumeRole"), 2, "each run took a new session");
    let _ = std::fs::remove_dir_all(dir);
}

/// Session tokens of real roles run to kilobytes (session tags, policies):
/// a cached entry of 8 KiB is used; one over the 64 KiB cap is not.
#[test]
fn a_large_cached_session_is_used_and_a_huge_one_is_not() {
    let dir = temp_dir("bsm-cache-large");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    assert!(bsm_export(&files, &proxy.endpoint(), &cache, &[]).0);
    let file = cached_files(&cache).pop().unwrap();
    let entry = std::fs::read_to_string(&file).unwrap();
    // Whitespace keeps the JSON (and the session) the same.
    let padded = |n: usize| format!("{}{}", entry.trim_end(), " ".repeat(n));
    std::fs::write(&file, padded(8 * 1024)).unwrap();
    let (ok, stderr) = bsm_export(&files, &proxy.endpoint(), &cache, &[]);
    assert!(ok, "{stderr}");
    assert_eq!(proxy.count("AssumeRole"), 1, "the 8 KiB entry was a hit");
    std::fs::write(&file, padded(64 * 1024)).unwrap();
    let (ok, stderr) = bsm_export(&files, &proxy.endpoint(), &cache, &[]);
    assert!(ok, "{stderr}");
    assert_eq!(
        proxy.count("AssumeRole"),
        2,
        "the entry over 64 KiB was not"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// With no usable cache home (`XDG_CACHE_HOME` relative, `HOME` empty), no
/// cache is made in the current folder: each run asks STS.
#[test]
fn a_relative_or_empty_cache_home_makes_no_cache_in_the_current_folder() {
    let dir = temp_dir("bsm-cache-nohome");
    let proxy = Proxy::start(moto().addr());
    let files = config(&dir, &proxy.endpoint(), "");
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap();
    for (xdg, home) in [(Some("relative"), "/nonexistent-home"), (None, "")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
        isolate(&mut cmd);
        cmd.env_remove("XDG_CACHE_HOME");
        if let Some(x) = xdg {
            cmd.env("XDG_CACHE_HOME", x);
        }
        let out = cmd
            .current_dir(&work)
            .env("HOME", home)
            .env("AWS_CONFIG_FILE", &files.0)
            .env("AWS_SHARED_CREDENTIALS_FILE", &files.1)
            .args(["--profile", "src", "--region", "us-east-1"])
            .args(["--endpoint-url", &proxy.endpoint(), "--role-arn", ROLE])
            .args(["--session-name", "cached", "export", "--format", "process"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert!(
        left.is_empty(),
        "nothing made in the current folder: {left:?}"
    );
    assert_eq!(proxy.count("AssumeRole"), 2, "no cache: each run asked");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn concurrent_runs_on_an_empty_cache_leave_one_whole_file() {
    let dir = temp_dir("bsm-cache-race");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    let endpoint = proxy.endpoint();
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| bsm_export(&files, &endpoint, &cache, &[])))
            .collect();
        for r in runs {
            let (ok, stderr) = r.join().unwrap();
            assert!(ok, "{stderr}");
        }
    });
    let cached = cached_files(&cache);
    assert_eq!(cached.len(), 1, "one file, no temporary left: {cached:?}");
    let entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cached[0]).unwrap()).unwrap();
    assert_eq!(entry["Version"], 1);
    assert!(entry["SessionToken"].is_string() && entry["Expiration"].is_string());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cache_clear_removes_the_sessions() {
    let dir = temp_dir("bsm-cache-clear");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    assert!(bsm_export(&files, &proxy.endpoint(), &cache, &[]).0);
    assert_eq!(cached_files(&cache).len(), 1);
    // Not a session: left alone.
    let other = cache.join("bsm/notes.txt");
    std::fs::write(&other, "mine").unwrap();
    let mut clear = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut clear);
    let out = clear
        .env("XDG_CACHE_HOME", &cache)
        .args(["cache", "clear"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed 1 cached session"));
    assert_eq!(cached_files(&cache), [other], "only the session went");
    assert!(bsm_export(&files, &proxy.endpoint(), &cache, &[]).0);
    assert_eq!(proxy.count("AssumeRole"), 2, "asked again after the clear");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_mfa_session_takes_one_code_for_many_roles() {
    let dir = temp_dir("bsm-cache-mfa");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    let serial = "arn:aws:iam::123456789012:mfa/alice";
    let (ok, stderr) = bsm_export(
        &files,
        &proxy.endpoint(),
        &cache,
        &[
            "--mfa-serial",
            serial,
            "--mfa-code",
            "123456",
            "--mfa-session",
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(proxy.count("GetSessionToken"), 1);
    let session = proxy
        .requests()
        .into_iter()
        .find(|r| r.action() == "GetSessionToken")
        .unwrap();
    assert_eq!(session.param("TokenCode").as_deref(), Some("123456"));
    // A second role: no code given and no terminal, so only the cached
    // MFA session can make this work.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    let out = cmd
        .env("AWS_CONFIG_FILE", &files.0)
        .env("AWS_SHARED_CREDENTIALS_FILE", &files.1)
        .env("XDG_CACHE_HOME", &cache)
        .args([
            "--profile",
            "src",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &proxy.endpoint(),
        ])
        .args([
            "--role-arn",
            "arn:aws:iam::123456789012:role/second",
            "--mfa-serial",
            serial,
            "--mfa-session",
        ])
        .args(["export", "--format", "process"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        proxy.count("GetSessionToken"),
        1,
        "the MFA session was reused"
    );
    let assumes: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == "AssumeRole")
        .collect();
    assert_eq!(assumes.len(), 2);
    for a in &assumes {
        assert_eq!(a.param("TokenCode"), None, "no code with the roles");
        assert!(
            !a.header("authorization")
                .unwrap()
                .contains("Credential=testing/"),
            "signed by the MFA session, not the long-lived keys"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// An MFA session whose answer cannot be read (a 200 with an expiry that
/// is not a time) fails with a line that names the operation and keeps
/// the answer, which holds a secret key and a token, off stderr.
#[test]
fn an_unreadable_mfa_session_answer_is_not_printed() {
    let dir = temp_dir("bsm-cache-mfa-unreadable");
    let proxy = Proxy::start(moto().addr());
    proxy.fail_all(
        Some("GetSessionToken"),
        bsm_tests::Fault::Respond(
            200,
            "<GetSessionTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetSessionTokenResult><Credentials>\
             <AccessKeyId>ASIAUNREADABLE000001</AccessKeyId>\
             <SecretAccessKey>MfaSessionSecretNeverPrinted</SecretAccessKey>\
             <SessionToken>MfaSessionTokenNeverPrinted</SessionToken>\
             <Expiration>not-a-time</Expiration>\
             </Credentials></GetSessionTokenResult></GetSessionTokenResponse>",
        ),
    );
    let cache = dir.join("cache-home");
    let files = config(&dir, &proxy.endpoint(), "");
    let (ok, stderr) = bsm_export(
        &files,
        &proxy.endpoint(),
        &cache,
        &[
            "--mfa-serial",
            "arn:aws:iam::123456789012:mfa/alice",
            "--mfa-code",
            "123456",
            "--mfa-session",
        ],
    );
    assert!(!ok);
    assert!(proxy.count("GetSessionToken") >= 1, "the answer was served");
    assert!(stderr.contains("GetSessionToken"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for secret in [
        "MfaSessionSecretNeverPrinted",
        "MfaSessionTokenNeverPrinted",
    ] {
        assert!(!stderr.contains(secret), "{secret} on stderr: {stderr}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Whether `bsm ... export --format process` (with `env` and `extra`)
/// finished within `limit`; its output if it did.
fn export_within(
    files: &(PathBuf, PathBuf),
    cache: &Path,
    env: &[(&str, &std::ffi::OsStr)],
    extra: &[&str],
    limit: std::time::Duration,
) -> Option<std::process::Output> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    // The endpoint is the test's to give.
    cmd.env_remove("AWS_ENDPOINT_URL")
        .env("AWS_CONFIG_FILE", &files.0)
        .env("AWS_SHARED_CREDENTIALS_FILE", &files.1)
        .env("XDG_CACHE_HOME", cache)
        .args(["--region", "us-east-1", "--role-arn", ROLE])
        .args(["--session-name", "cached"])
        .args(extra)
        .args(["export", "--format", "process"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
}

/// A cache hit of `export --format process` builds nothing it does not
/// print: no TLS roots are read (they are a FIFO here, which any reader
/// would wait on for ever; a miss does wait on it, the control), and the
/// source's `credential_process` (counted in a file) does not run.
#[cfg(unix)]
#[test]
fn a_cache_hit_reads_no_tls_roots_and_runs_no_source() {
    let dir = temp_dir("bsm-cache-hit");
    let proxy = Proxy::start(moto().addr());
    let cache = dir.join("cache-home");
    let (script, runs) = bsm_tests::sources::process_script(
        &dir,
        &bsm_tests::sources::User {
            key_id: "testing".into(),
            secret: "testing".into(),
            arn: String::new(),
        },
        None,
    );
    let files = (dir.join("config"), dir.join("credentials"));
    std::fs::write(
        &files.0,
        format!("[profile src]\ncredential_process = {}\n", script.display()),
    )
    .unwrap();
    std::fs::write(&files.1, "").unwrap();
    let source = ["--profile", "src", "--endpoint-url", &proxy.endpoint()];
    let limit = std::time::Duration::from_secs(30);
    let out = export_within(&files, &cache, &[], &source, limit).expect("a miss answers");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        (bsm_tests::sources::lines(&runs), proxy.count("AssumeRole")),
        (1, 1)
    );

    let fifo = dir.join("roots.pem");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::fs::create_dir_all(dir.join("no-roots")).unwrap();
    let roots: [(&str, &std::ffi::OsStr); 2] = [
        ("SSL_CERT_FILE", fifo.as_os_str()),
        ("SSL_CERT_DIR", dir.join("no-roots").into_os_string().leak()),
    ];
    let hit = export_within(&files, &cache, &roots, &source, limit).expect("a hit answers");
    assert!(
        hit.status.success(),
        "{}",
        String::from_utf8_lossy(&hit.stderr)
    );
    assert_eq!(hit.stdout, out.stdout, "the cached session");
    assert_eq!(
        bsm_tests::sources::lines(&runs),
        1,
        "the source did not run"
    );
    assert_eq!(proxy.count("AssumeRole"), 1);
    let mut miss = source.to_vec();
    miss.push("--no-cache");
    assert!(
        export_within(
            &files,
            &cache,
            &roots,
            &miss,
            std::time::Duration::from_secs(5)
        )
        .is_none(),
        "the control: a miss reads the roots (and waits on the FIFO)"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The cache key is made of the endpoint in effect, wherever it comes from:
/// a session of one endpoint (an emulator) is never served for another.
#[test]
fn a_session_is_kept_for_the_endpoint_it_came_from() {
    let dir = temp_dir("bsm-cache-endpoint");
    let (a, b) = (Proxy::start(moto().addr()), Proxy::start(moto().addr()));
    let cache = dir.join("cache-home");
    let files = (dir.join("config"), dir.join("credentials"));
    std::fs::write(
        &files.1,
        "[src]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let limit = std::time::Duration::from_secs(30);
    let run = |env: &[(&str, &std::ffi::OsStr)]| {
        let out = export_within(&files, &cache, env, &["--profile", "src"], limit).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (a_url, b_url) = (a.endpoint(), b.endpoint());
    std::fs::write(&files.0, "[profile src]\n").unwrap();
    for (name, url) in [
        ("AWS_ENDPOINT_URL", &a_url),
        ("AWS_ENDPOINT_URL", &b_url),
        ("AWS_ENDPOINT_URL_STS", &a_url),
    ] {
        run(&[(name, std::ffi::OsStr::new(url))]);
    }
    assert_eq!((a.count("AssumeRole"), b.count("AssumeRole")), (2, 1));
    // The profile's endpoint_url, changed between two runs.
    for url in [&a_url, &b_url] {
        std::fs::write(&files.0, format!("[profile src]\nendpoint_url = {url}\n")).unwrap();
        run(&[]);
    }
    assert_eq!((a.count("AssumeRole"), b.count("AssumeRole")), (3, 2));
    run(&[]);
    assert_eq!(
        (a.count("AssumeRole"), b.count("AssumeRole")),
        (3, 2),
        "and the same one hits"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The MFA code can stay off the command line, which every local user's
/// `ps` reads: from `BSM_MFA_CODE`, or from standard input with
/// `--mfa-code -`; it reaches STS either way.
#[test]
fn the_mfa_code_can_come_from_the_environment_or_standard_input() {
    use std::io::Write as _;
    let dir = temp_dir("bsm-cache-mfa-code");
    let proxy = Proxy::start(moto().addr());
    let files = config(&dir, &proxy.endpoint(), "");
    let serial = "arn:aws:iam::123456789012:mfa/alice";
    for (how, code) in [("env", "246810"), ("stdin", "135791")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
        isolate(&mut cmd);
        cmd.env("AWS_CONFIG_FILE", &files.0)
            .env("AWS_SHARED_CREDENTIALS_FILE", &files.1)
            .args(["--profile", "src", "--region", "us-east-1"])
            .args(["--endpoint-url", &proxy.endpoint(), "--role-arn", ROLE])
            .args(["--mfa-serial", serial, "--no-cache"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if how == "env" {
            cmd.env("BSM_MFA_CODE", code);
        } else {
            cmd.args(["--mfa-code", "-"]);
        }
        let mut child = cmd.args(["export", "--format", "process"]).spawn().unwrap();
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(code),
            "{how}: in argv"
        );
        if how == "stdin" {
            writeln!(child.stdin.take().unwrap(), "{code}").unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sent = proxy
            .requests()
            .into_iter()
            .rfind(|r| r.action() == "AssumeRole")
            .unwrap();
        assert_eq!(sent.param("TokenCode").as_deref(), Some(code), "{how}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
