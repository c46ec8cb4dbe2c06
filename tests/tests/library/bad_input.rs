//! Bad input, table-driven: every row is a typed error naming the input, no
//! panic, and no file in the scratch folder changed. (A malformed or
//! unreachable manifest for `cargo xtask regen` is covered by xtask's own
//! tests, which check that no file is written.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bsm::aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use bsm::{Error, Input, SessionManager, Snapshot};
use bsm_tests::{manager, moto, unique};

/// Every file under `dir` and its content.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(tree(&path));
        } else {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    out
}

/// What kind of error a row must give, and the input it must name.
enum Want {
    Invalid(Input),
    Credentials(&'static str),
    ProfileNotFound(&'static str),
    Snapshot(PathBuf),
}

// One table, read top to bottom.
#[allow(clippy::too_many_lines)]
#[tokio::test]
async fn every_bad_input_is_a_typed_error_and_changes_nothing() {
    let dir = std::env::temp_dir().join(unique("bsm-bad-input"));
    std::fs::create_dir_all(dir.join("a-directory.json")).unwrap();
    std::fs::write(dir.join("config"), "[profile nokeys]\nregion = us-east-1\n").unwrap();
    std::fs::write(
        dir.join("credentials"),
        "[other]\naws_access_key_id = AKIA\naws_secret_access_key = s\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("malformed.json"),
        "{\"region_name\": \"us-east-1\",",
    )
    .unwrap();
    std::fs::write(
        dir.join("unknown-key.json"),
        r#"{"region_name": null, "aws_access_key_id": "a", "aws_secret_access_key": "b", "color": "red"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("no-secret.json"),
        r#"{"region_name": null, "aws_access_key_id": "a"}"#,
    )
    .unwrap();
    let unwritable = PathBuf::from("/proc/bsm-bad-input/snapshot.json");
    let files = EnvConfigFiles::builder()
        .with_file(EnvConfigFileKind::Config, dir.join("config"))
        .with_file(EnvConfigFileKind::Credentials, dir.join("credentials"))
        .build();
    let before = tree(&dir);

    let bsm = manager(&moto().endpoint()).await;
    let role = "arn:aws:iam::123456789012:role/ok";
    let profile = |name: &str| {
        SessionManager::builder()
            .profile_name(name)
            .profile_files(files.clone())
            .region("us-east-1")
    };
    let snapshot = Snapshot {
        region_name: None,
        aws_access_key_id: "AKIA".into(),
        aws_secret_access_key: "s".into(),
        aws_session_token: None,
        endpoint_url: None,
        expiration: None,
    };
    // Each row runs on its own, and the folder is compared right after it.
    let mut checked = 0;
    macro_rules! row {
        ($name:expr, $call:expr, $want:expr $(,)?) => {{
            let result: Result<SessionManager, Error> = $call;
            check($name, result, $want);
            assert_eq!(tree(&dir), before, "{}: a file changed", $name);
            checked += 1;
        }};
    }
    row!(
        "malformed role ARN",
        bsm.assume_role("arn:aws:iam:role").send().await,
        Want::Invalid(Input::RoleArn)
    );
    row!(
        "duration too short",
        bsm.assume_role(role)
            .duration(Duration::from_secs(60))
            .send()
            .await,
        Want::Invalid(Input::Duration)
    );
    row!(
        "duration too long",
        bsm.assume_role(role)
            .duration(Duration::from_secs(86_400))
            .send()
            .await,
        Want::Invalid(Input::Duration)
    );
    row!(
        "empty session name",
        bsm.assume_role(role).role_session_name("").send().await,
        Want::Invalid(Input::RoleSessionName)
    );
    row!(
        "invalid session name",
        bsm.assume_role(role).role_session_name("a b").send().await,
        Want::Invalid(Input::RoleSessionName)
    );
    row!(
        "unknown profile",
        profile("nope").build().await,
        Want::ProfileNotFound("nope")
    );
    row!(
        "profile without credentials",
        profile("nokeys").build().await,
        Want::Credentials("nokeys")
    );
    row!(
        "empty region",
        SessionManager::builder().region("").build().await,
        Want::Invalid(Input::Region)
    );
    row!(
        "missing snapshot",
        SessionManager::from_snapshot_file(&dir.join("missing.json")).await,
        Want::Snapshot(dir.join("missing.json"))
    );
    row!(
        "snapshot is a directory",
        SessionManager::from_snapshot_file(&dir.join("a-directory.json")).await,
        Want::Snapshot(dir.join("a-directory.json"))
    );
    row!(
        "malformed snapshot",
        SessionManager::from_snapshot_file(&dir.join("malformed.json")).await,
        Want::Snapshot(dir.join("malformed.json"))
    );
    row!(
        "snapshot with an unknown key",
        SessionManager::from_snapshot_file(&dir.join("unknown-key.json")).await,
        Want::Snapshot(dir.join("unknown-key.json"))
    );
    row!(
        "snapshot without a secret",
        SessionManager::from_snapshot_file(&dir.join("no-secret.json")).await,
        Want::Snapshot(dir.join("no-secret.json"))
    );
    row!(
        "unwritable snapshot folder",
        snapshot.write_new(&unwritable).map(|()| bsm.clone()),
        Want::Snapshot(unwritable.clone())
    );
    row!(
        "snapshot over an existing file",
        snapshot
            .write_new(dir.join("malformed.json"))
            .map(|()| bsm.clone()),
        Want::Snapshot(dir.join("malformed.json"))
    );
    row!(
        "profile with a ready SdkConfig",
        SessionManager::builder()
            .sdk_config(bsm.sdk_config())
            .profile_name("other")
            .build()
            .await,
        Want::Invalid(Input::ProfileName)
    );
    assert_eq!(checked, 16);
    let _ = std::fs::remove_dir_all(dir);
}

fn check(name: &str, result: Result<SessionManager, Error>, want: Want) {
    let Err(err) = result else {
        panic!("{name}: expected an error")
    };
    let text = err.to_string();
    match (&err, want) {
        (Error::InvalidInput { input, .. }, Want::Invalid(w)) => {
            assert_eq!(*input, w, "{name}: {text}");
        }
        (
            Error::Credentials {
                profile: Some(p), ..
            },
            Want::Credentials(w),
        ) => {
            assert_eq!(p, w, "{name}");
            assert!(text.contains(w), "{name}: {text}");
        }
        (Error::ProfileNotFound { profile, .. }, Want::ProfileNotFound(w)) => {
            assert_eq!(profile, w, "{name}");
            assert!(text.contains(w), "{name}: {text}");
        }
        (Error::Snapshot { path, .. }, Want::Snapshot(w)) => {
            assert_eq!(path, &w, "{name}");
            assert!(text.contains(&w.display().to_string()), "{name}: {text}");
        }
        (other, _) => panic!("{name}: wrong error kind: {other:?}"),
    }
}
