//! Credentials handed to other processes: the AWS CLI environment (checked
//! with the real `aws` from PyPI), snapshot files (format, mode, no
//! clobbering, errors), and snapshots read and written by the Python
//! package.

use std::path::PathBuf;
use std::time::Duration;

use bsm::{Error, SessionManager, Snapshot};
#[cfg(unix)]
use bsm_tests::mode;
use bsm_tests::{isolated, manager, moto, temp_dir};

fn aws_caller_arn(env: &bsm::AwsCliEnv) -> String {
    let mut cmd = isolated("aws");
    cmd.args(["sts", "get-caller-identity", "--output", "json"]);
    env.apply(&mut cmd);
    let out = cmd
        .output()
        .expect("the AWS CLI from the test virtualenv runs");
    assert!(
        out.status.success(),
        "aws failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Arn"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_aws_cli_sees_the_managers_principal() {
    let bsm = manager(&moto().endpoint()).await;
    let env = bsm.aws_cli_env().await.unwrap();
    assert_eq!(aws_caller_arn(&env), bsm.principal_arn().await.unwrap());

    let role = bsm
        .assume_role("arn:aws:iam::123456789012:role/cli")
        .role_session_name("cli-handoff")
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    let env = role.aws_cli_env().await.unwrap();
    assert!(env.get("AWS_SESSION_TOKEN").is_some());
    let arn = aws_caller_arn(&env);
    assert_eq!(
        arn,
        "arn:aws:sts::123456789012:assumed-role/cli/cli-handoff"
    );
    assert_eq!(arn, role.principal_arn().await.unwrap());
}

#[tokio::test]
async fn aws_cli_env_follows_the_python_rules() {
    let bsm = manager(&moto().endpoint()).await;
    let env = bsm.aws_cli_env().await.unwrap();
    let vars: Vec<_> = env.vars().collect();
    assert_eq!(
        vars,
        [
            ("AWS_ACCESS_KEY_ID", Some("testing")),
            ("AWS_SECRET_ACCESS_KEY", Some("testing")),
            ("AWS_SESSION_TOKEN", None),
            ("AWS_SECURITY_TOKEN", None),
            ("AWS_CREDENTIAL_EXPIRATION", None),
            ("AWS_ACCOUNT_ID", None),
            ("AWS_CREDENTIAL_SCOPE", None),
            ("AWS_ACCESS_KEY", None),
            ("AWS_SECRET_KEY", None),
            ("AMAZON_ACCESS_KEY_ID", None),
            ("AMAZON_SECRET_ACCESS_KEY", None),
            ("AMAZON_SESSION_TOKEN", None),
            ("AWS_PROFILE", None),
            ("AWS_DEFAULT_PROFILE", None),
            ("AWS_ROLE_ARN", None),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", None),
            ("AWS_ROLE_SESSION_NAME", None),
            ("AWS_CREDENTIAL_FILE", None),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", None),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", None),
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", None),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", None),
            ("AWS_REGION", Some("us-east-1")),
            ("AWS_DEFAULT_REGION", Some("us-east-1")),
            ("AWS_ENDPOINT_URL", Some(moto().endpoint().as_str())),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", Some("false")),
        ]
    );

    let secret = "wJalrXUtnFEMI/K7MDENG/SECRETHANDOFF";
    let with_token = SessionManager::builder()
        .credentials("AKIATOKEN00000000001", secret, Some("TOKENHANDOFF".into()))
        .build()
        .await
        .unwrap();
    let env = with_token.aws_cli_env().await.unwrap();
    assert_eq!(env.get("AWS_SESSION_TOKEN"), Some("TOKENHANDOFF"));
    assert_eq!(
        env.get("AWS_SECURITY_TOKEN"),
        Some("TOKENHANDOFF"),
        "botocore reads AWS_SECURITY_TOKEN first: it must be the same token"
    );
    let debug = format!("{env:?}");
    assert!(
        !debug.contains(secret) && !debug.contains("TOKENHANDOFF"),
        "{debug}"
    );
    let mut cmd = std::process::Command::new("env");
    env.apply(&mut cmd);
    let removed: Vec<_> = cmd
        .get_envs()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.to_owned())
        .collect();
    assert!(removed.contains(&"AWS_PROFILE".into()));

    let dir = temp_dir("bsm-handoff");
    std::fs::write(
        dir.join("credentials"),
        "[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = devsecret\n",
    )
    .unwrap();
    std::fs::write(dir.join("config"), "").unwrap();
    let dev = SessionManager::builder()
        .profile_name("dev")
        .profile_file_paths(dir.join("config"), dir.join("credentials"))
        .build()
        .await
        .unwrap();
    let env = dev.aws_cli_env().await.unwrap();
    assert_eq!(env.get("AWS_PROFILE"), Some("dev"));
    assert_eq!(
        env.get("AWS_DEFAULT_PROFILE"),
        Some("dev"),
        "botocore reads AWS_DEFAULT_PROFILE first"
    );
    let config = dir.join("config").display().to_string();
    let credentials = dir.join("credentials").display().to_string();
    assert_eq!(env.get("AWS_CONFIG_FILE"), Some(config.as_str()));
    assert_eq!(
        env.get("AWS_SHARED_CREDENTIALS_FILE"),
        Some(credentials.as_str())
    );
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        assert_eq!(env.get(var), None, "{var} is removed");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn temp_snapshot_writes_0600_never_clobbers_and_cleans_up() {
    let bsm = manager(&moto().endpoint()).await;
    let dir = temp_dir("bsm-handoff");
    let path = dir.join("snap.json");
    {
        let guard = bsm.temp_snapshot(&path).await.unwrap();
        assert_eq!(guard.path(), path);
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!(
                r#"{{"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing", "default_client_kwargs": {{"endpoint_url": "{}"}}}}"#,
                moto().endpoint()
            )
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["snap.json"], "no temporary file is left behind");
    }
    assert!(!path.exists(), "the guard deletes the file");

    // An existing file is never lost.
    std::fs::write(&path, "precious").unwrap();
    let err = bsm.temp_snapshot(&path).await.unwrap_err();
    assert!(
        matches!(&err, Error::Snapshot { path: p, .. } if p == &path),
        "{err:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    std::fs::remove_file(&path).unwrap();

    // A panic inside the scope still removes the file.
    let guard = bsm.temp_snapshot(&path).await.unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("boom inside the snapshot scope");
    }));
    assert!(result.is_err());
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn concurrent_writers_of_one_new_path_make_one_file_and_clobber_nothing() {
    let dir = temp_dir("bsm-race");
    let path = dir.join("snap.json");
    let snapshots: Vec<Snapshot> = (0..8)
        .map(|i| Snapshot {
            region_name: None,
            aws_access_key_id: format!("AKIARACE{i:012}"),
            aws_secret_access_key: format!("secret-{i}"),
            aws_session_token: None,
            endpoint_url: None,
            expiration: None,
        })
        .collect();
    let barrier = std::sync::Barrier::new(8);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = snapshots
            .iter()
            .map(|snap| {
                let (barrier, path) = (&barrier, &path);
                scope.spawn(move || {
                    barrier.wait();
                    snap.write_new(path).is_ok()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|ok| **ok).count(),
        1,
        "exactly one writer wins"
    );
    let winner = results.iter().position(|ok| *ok).unwrap();
    assert_eq!(
        Snapshot::read(&path).unwrap(),
        snapshots[winner],
        "the file is the winner's, whole"
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["snap.json"], "no temporary file is left behind");
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[tokio::test]
async fn snapshots_are_read_only_from_the_users_own_small_regular_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("bsm-openssh");
    let good = Snapshot {
        region_name: Some("us-east-1".into()),
        aws_access_key_id: "AKIAOWNFILE000000001".into(),
        aws_secret_access_key: "own-secret".into(),
        aws_session_token: None,
        endpoint_url: None,
        expiration: None,
    };
    let real = dir.join("real.json");
    good.write_new(&real).unwrap();
    assert_eq!(Snapshot::read(&real).unwrap(), good);

    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let big = dir.join("big.json");
    std::fs::write(&big, " ".repeat(70 * 1024) + &good.to_json()).unwrap();
    let others = dir.join("others.json");
    good.write_new(&others).unwrap();
    // Owned by another user (the tests run as root here; elsewhere chown
    // fails and that row is skipped).
    let chowned = std::os::unix::fs::chown(&others, Some(65_534), Some(65_534)).is_ok();
    let mut rows: Vec<(&str, std::path::PathBuf, &str)> = vec![
        ("symlink", link, "symbolic link"),
        ("oversized", big, "over 65536 bytes"),
        ("a device", "/dev/zero".into(), "not a regular file"),
        ("a directory", dir.clone(), "directory"),
    ];
    if chowned {
        rows.push(("another user's", others, "belongs to user id 65534"));
    }
    for (name, path, want) in rows {
        let err = Snapshot::read(&path).unwrap_err();
        let chain = bsm_tests::error_chain(&err);
        assert!(
            matches!(&err, Error::Snapshot { path: p, .. } if p == &path),
            "{name}: {err:?}"
        );
        assert!(chain.contains(want), "{name}: {chain}");
    }
    // Readable by others (as the Python package writes it): read, with a warning.
    let loose = dir.join("loose.json");
    std::fs::write(&loose, good.to_json()).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warnings = |path: &std::path::Path| {
        bsm_tests::capture::on_this_thread(|captured| {
            assert_eq!(Snapshot::read(path).unwrap(), good);
            captured
                .events()
                .iter()
                .filter(|e| e.level == tracing::Level::WARN)
                .map(|e| e.field("message").unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        })
    };
    let loose_warnings = warnings(&loose);
    assert_eq!(loose_warnings.len(), 1, "{loose_warnings:?}");
    assert!(
        loose_warnings[0].contains("readable by other users"),
        "{loose_warnings:?}"
    );
    assert_eq!(warnings(&real), Vec::<String>::new(), "0600: no warning");
    // Exactly the largest size read is still read.
    let largest = dir.join("largest.json");
    let json = good.to_json();
    std::fs::write(&largest, " ".repeat(64 * 1024 - json.len()) + &json).unwrap();
    std::fs::set_permissions(&largest, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(std::fs::metadata(&largest).unwrap().len(), 65_536);
    assert_eq!(Snapshot::read(&largest).unwrap(), good);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_snapshot_guard_deletes_only_the_file_it_wrote() {
    let bsm = manager(&moto().endpoint()).await;
    let dir = temp_dir("bsm-guard");
    let path = dir.join("snap.json");
    let guard = bsm.temp_snapshot(&path).await.unwrap();
    // Another process replaces the file meanwhile.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "someone else's file").unwrap();
    drop(guard);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "someone else's file",
        "left alone"
    );
    std::fs::remove_file(&path).unwrap();

    // A relative path is made absolute when written: a change of directory
    // before the guard drops does not make it delete another file.
    let previous = std::env::current_dir().unwrap();
    std::env::set_current_dir(&dir).unwrap();
    let guard = bsm.temp_snapshot("relative.json").await;
    std::env::set_current_dir(&previous).unwrap();
    let guard = guard.unwrap();
    assert_eq!(guard.path(), dir.join("relative.json"));
    std::fs::write(previous.join("relative.json"), "not the snapshot").unwrap_or(());
    drop(guard);
    assert!(!dir.join("relative.json").exists(), "the snapshot is gone");
    let _ = std::fs::remove_file(previous.join("relative.json"));

    // Gone already: nothing to say. Not checkable (its folder replaced by a
    // file): one warning.
    let warnings_on_drop = |guard: bsm::SnapshotGuard| {
        bsm_tests::capture::on_this_thread(|captured| {
            drop(guard);
            captured
                .events()
                .iter()
                .filter(|e| e.level == tracing::Level::WARN)
                .count()
        })
    };
    let gone = bsm.temp_snapshot(dir.join("gone.json")).await.unwrap();
    std::fs::remove_file(dir.join("gone.json")).unwrap();
    assert_eq!(warnings_on_drop(gone), 0, "already gone: no warning");
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let hidden = bsm.temp_snapshot(sub.join("snap.json")).await.unwrap();
    std::fs::remove_dir_all(&sub).unwrap();
    std::fs::write(&sub, "a file where the folder was").unwrap();
    assert_eq!(warnings_on_drop(hidden), 1, "cannot check: one warning");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_snapshot_files_are_typed_errors_naming_the_path() {
    let dir = temp_dir("bsm-handoff");
    let good = Snapshot {
        region_name: None,
        aws_access_key_id: "AKIA".into(),
        aws_secret_access_key: "s".into(),
        aws_session_token: None,
        endpoint_url: None,
        expiration: None,
    };
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("missing.json", None),
        ("malformed.json", Some("{\"region_name\": ")),
        (
            "unknown-key.json",
            Some(
                r#"{"region_name": null, "aws_access_key_id": "a", "aws_secret_access_key": "b", "expiry": 1}"#,
            ),
        ),
        (
            "no-secret.json",
            Some(r#"{"region_name": null, "aws_access_key_id": "a"}"#),
        ),
    ];
    for (name, content) in cases {
        let path = dir.join(name);
        if let Some(c) = content {
            std::fs::write(&path, c).unwrap();
        }
        let err = SessionManager::from_snapshot_file(&path).await.unwrap_err();
        assert!(
            matches!(&err, Error::Snapshot { path: p, .. } if p == &path),
            "{name}: {err:?}"
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        if let Some(c) = content {
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                c,
                "reading changes nothing"
            );
        }
    }
    let err = Snapshot::read(&dir).unwrap_err();
    assert!(
        matches!(err, Error::Snapshot { .. }),
        "a directory: {err:?}"
    );
    for target in [
        dir.clone(),
        PathBuf::from("/proc/bsm-snapshot.json"),
        dir.join("missing.json/x"),
    ] {
        let err = good.write_new(&target).unwrap_err();
        assert!(
            matches!(&err, Error::Snapshot { path, .. } if path == &target),
            "{target:?}: {err:?}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn snapshots_cross_to_python_and_back() {
    let bsm = manager(&moto().endpoint()).await;
    let role = bsm
        .assume_role("arn:aws:iam::999988887777:role/interop")
        .role_session_name("rust-wrote")
        .duration(Duration::from_secs(900))
        .send()
        .await
        .unwrap();
    let dir = temp_dir("bsm-handoff");
    let path = dir.join("from-rust.json");
    let _guard = role.temp_snapshot(&path).await.unwrap();
    // The endpoint comes from the snapshot alone (no AWS_ENDPOINT_URL
    // here): `default_client_kwargs`, which the Python package passes to
    // every client; its `is_expired()` still works.
    let out = isolated("python")
        .env_remove("AWS_ENDPOINT_URL")
        .arg("-c")
        .arg(
            "import sys\nfrom boto_session_manager.api import BotoSesManager\n\
             bsm = BotoSesManager.from_snapshot_file(sys.argv[1])\n\
             assert not bsm.is_expired()\n\
             print(bsm.sts_client.get_caller_identity()['Arn'])",
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        role.principal_arn().await.unwrap()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "arn:aws:sts::999988887777:assumed-role/interop/rust-wrote"
    );

    let py_path = dir.join("from-python.json");
    let out = isolated("python")
        .arg("-c")
        .arg(
            "import sys, json, pathlib\nfrom boto_session_manager.api import BotoSesManager\n\
             bsm = BotoSesManager(aws_access_key_id='testing', aws_secret_access_key='testing', region_name='eu-west-1')\n\
             role = bsm.assume_role('arn:aws:iam::999988887777:role/interop', role_session_name='python-wrote')\n\
             pathlib.Path(sys.argv[1]).write_text(json.dumps(role.to_snapshot()))\n\
             print(role.sts_client.get_caller_identity()['Arn'])",
        )
        .arg(&py_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python_arn = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let snap = Snapshot::read(&py_path).unwrap();
    assert_eq!(snap.region_name.as_deref(), Some("eu-west-1"));
    assert_eq!(
        std::fs::read_to_string(&py_path).unwrap(),
        snap.to_json(),
        "byte-identical formats"
    );
    let from_python = SessionManager::builder()
        .snapshot(&snap)
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .unwrap();
    assert_eq!(from_python.principal_arn().await.unwrap(), python_arn);
    assert_eq!(
        python_arn,
        "arn:aws:sts::999988887777:assumed-role/interop/python-wrote"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A snapshot carries the endpoint and, when it is fixed, the expiry: the
/// manager read back from the file talks to the same endpoint and ends
/// when the credentials do. The expiry is in `PATH.expiry` beside it (0600,
/// removed with the snapshot), and is not taken from an expiry file of
/// other keys.
#[tokio::test]
async fn a_snapshot_keeps_the_endpoint_and_the_expiry() {
    let bsm = manager(&moto().endpoint()).await;
    let role = bsm
        .assume_role("arn:aws:iam::999988887777:role/carried")
        .role_session_name("carried")
        .duration(Duration::from_secs(900))
        .send()
        .await
        .unwrap();
    let end = role.expiration_time().expect("a one-shot role's end");
    let dir = temp_dir("bsm-snapshot-carried");
    let path = dir.join("snap.json");
    let sidecar = dir.join("snap.json.expiry");
    {
        let guard = role.temp_snapshot(&path).await.unwrap();
        #[cfg(unix)]
        assert_eq!(mode(&sidecar), 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with(&format!(
                ", \"default_client_kwargs\": {{\"endpoint_url\": \"{}\"}}}}",
                moto().endpoint()
            )),
            "{text}"
        );
        let child = SessionManager::from_snapshot_file(guard.path())
            .await
            .unwrap();
        assert_eq!(child.endpoint_url(), Some(moto().endpoint().as_str()));
        let got = child.expiration_time().expect("the expiry came along");
        let secs =
            |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs(got), secs(end));
        assert_eq!(
            child.principal_arn().await.unwrap(),
            "arn:aws:sts::999988887777:assumed-role/carried/carried",
            "the child talks to moto, from the snapshot's endpoint"
        );
    }
    assert!(!path.exists() && !sidecar.exists(), "both removed");

    // An expiry file of other keys (a snapshot written over by the Python
    // package, say) is not taken.
    let snap = role.to_snapshot().await.unwrap();
    snap.write_new(&path).unwrap();
    let other = Snapshot {
        aws_access_key_id: "AKIAOTHERKEYS0000001".into(),
        ..snap.clone()
    };
    other.write_replace(dir.join("other.json")).unwrap();
    std::fs::rename(dir.join("other.json.expiry"), &sidecar).unwrap();
    assert_eq!(Snapshot::read(&path).unwrap().expiration, None);
    let _ = std::fs::remove_dir_all(dir);
}
