//! Rotating stored keys against moto enforcing IAM auth, counted at moto:
//! the old key refused afterwards, the new one working and the only key of
//! the user, the store holding it; and faults after each step (the store
//! refusing the new key; IAM refusing to delete the old one) leave a
//! working stored key and no key at IAM that the store does not name.

use std::process::{Command, Stdio};
use std::time::Duration;

use bsm::SessionManager;
use bsm::keychain::KeyStore;
use bsm_tests::keyring::{FailingStore, keyutils, secret_service};
use bsm_tests::sources::{User, iam_user_with_policy};
use bsm_tests::{Fault, Proxy, isolate, moto, unique};

use crate::{enforce_auth_now, turn};

/// An IAM user allowed to manage its own keys and to ask who it is, with
/// one key (made while auth is off).
async fn rotating_user() -> (String, User) {
    iam_user_with_policy(
        "rotating",
        Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:DeleteAccessKey","iam:ListAccessKeys","sts:GetCallerIdentity"],"Resource":"*"}]}"#,
        ),
    )
    .await
}

/// A [`rotating_user`] whose key `bsm keys add` stored under a new name
/// in `store`; moto enforces auth from here on.
async fn stored_rotating_user(
    store: fn(&mut Command) -> &mut Command,
    prefix: &str,
) -> (String, User, String) {
    let (user_name, user) = rotating_user().await;
    enforce_auth_now();
    let name = unique(prefix);
    let (ok, _, stderr) = run(
        bsm(store, &moto().endpoint()).args(["keys", "add", &name, "--stdin"]),
        &format!("{}\n{}\n", user.key_id, user.secret),
        &[user.secret.as_str()],
    );
    assert!(ok, "{stderr}");
    (user_name, user, name)
}

async fn with_key(endpoint: &str, id: &str, secret: &str) -> SessionManager {
    SessionManager::builder()
        .credentials(id, secret, None)
        .region("us-east-1")
        .endpoint_url(endpoint)
        .build()
        .await
        .unwrap()
}

/// The user's key ids at IAM, asked with `id`/`secret`.
async fn keys_at_iam(user: &str, id: &str, secret: &str) -> Vec<String> {
    let mut ids: Vec<String> = with_key(&moto().endpoint(), id, secret)
        .await
        .iam_client()
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key_metadata
        .into_iter()
        .filter_map(|k| k.access_key_id)
        .collect();
    ids.sort();
    ids
}

/// The error code moto answers `GetCallerIdentity` signed with this key
/// with; `None` when it works.
async fn refusal(id: &str, secret: &str) -> Option<String> {
    match with_key(&moto().endpoint(), id, secret)
        .await
        .identity()
        .await
    {
        Ok(_) => None,
        Err(e) => Some(e.code().unwrap_or("no code").to_owned()),
    }
}

fn bsm(store: fn(&mut Command) -> &mut Command, endpoint: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    cmd.args(["--region", "us-east-1", "--endpoint-url", endpoint])
        // Every event at every level goes to stderr, which `run` checks
        // for the secrets.
        .env("BSM_LOG", "trace");
    store(&mut cmd);
    cmd
}

fn secret_service_store(cmd: &mut Command) -> &mut Command {
    secret_service().apply(cmd)
}

/// Runs `cmd` with `input` on stdin: success, stdout, stderr; no secret
/// of `secrets` in either.
fn run(cmd: &mut Command, input: &str, secrets: &[&str]) -> (bool, String, String) {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    for s in secrets {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "a secret came out: {stderr}"
        );
    }
    (out.status.success(), stdout, stderr)
}

/// The keys `bsm --keys NAME --no-session export --format process` hands
/// out: the stored keys themselves.
fn exported(store: fn(&mut Command) -> &mut Command, name: &str) -> (String, String) {
    let out = bsm(store, &moto().endpoint())
        .args([
            "--keys",
            name,
            "--no-session",
            "export",
            "--format",
            "process",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        json["AccessKeyId"].as_str().unwrap().to_owned(),
        json["SecretAccessKey"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_nothing_is_stored() {
    let _turn = turn().await;
    let (_, user) = rotating_user().await;
    enforce_auth_now();
    let name = unique("wrong");
    let wrong = "wrong-secret/EXAMPLE";
    let (ok, _, stderr) = run(
        bsm(secret_service_store, &moto().endpoint()).args(["keys", "add", &name, "--stdin"]),
        &format!("{}\n{wrong}\n", user.key_id),
        &[wrong, &user.secret],
    );
    assert!(!ok);
    assert!(
        stderr.contains("STS GetCallerIdentity failed: SignatureDoesNotMatch"),
        "{stderr}"
    );
    let (_, listed, _) = run(
        bsm(secret_service_store, &moto().endpoint()).args(["keys", "list"]),
        "",
        &[],
    );
    assert!(!listed.contains(&name), "{listed}");
}

#[tokio::test]
async fn rotate_stores_a_new_key_and_moto_refuses_the_old_one() {
    let _turn = turn().await;
    let (user_name, user, name) = stored_rotating_user(secret_service_store, "rotate").await;
    let secrets = [user.secret.as_str()];

    let (ok, _, stderr) = run(
        bsm(secret_service_store, &moto().endpoint())
            .args(["keys", "rotate", &name, "--wait", "10"]),
        "",
        &secrets,
    );
    assert!(ok, "{stderr}");
    let (new_id, new_secret) = exported(secret_service_store, &name);
    assert_ne!(new_id, user.key_id);
    assert!(
        stderr.contains(&format!(
            "rotated keys `{name}`: {} deleted, {} stored in secret-service",
            bsm::mask::mask_access_key_id(&user.key_id),
            bsm::mask::mask_access_key_id(&new_id)
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(&new_secret), "{stderr}");
    assert_eq!(
        refusal(&user.key_id, &user.secret).await.as_deref(),
        Some("InvalidClientTokenId")
    );
    assert_eq!(refusal(&new_id, &new_secret).await, None);
    assert_eq!(
        keys_at_iam(&user_name, &new_id, &new_secret)
            .await
            .join(","),
        new_id
    );
    run(
        bsm(secret_service_store, &moto().endpoint()).args(["keys", "remove", &name]),
        "",
        &[],
    );
}

#[tokio::test]
async fn a_rotation_that_cannot_delete_the_old_key_is_finished_by_the_next() {
    let _turn = turn().await;
    let (user_name, user, name) = stored_rotating_user(keyutils, "undeleted").await;
    let secrets = [user.secret.as_str()];

    let proxy = Proxy::start(moto().addr());
    proxy.fail_all(Some("DeleteAccessKey"), Fault::Unavailable);
    let (ok, _, stderr) = run(
        bsm(keyutils, &proxy.endpoint()).args(["keys", "rotate", &name, "--wait", "1"]),
        "",
        &secrets,
    );
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "the old key {} is still active at IAM: rotate again to delete it",
            user.key_id
        )),
        "{stderr}"
    );
    // The new key is stored and works; IAM has both, and the store names
    // the old one.
    let (new_id, new_secret) = exported(keyutils, &name);
    assert_ne!(new_id, user.key_id);
    assert_eq!(refusal(&new_id, &new_secret).await, None);
    let mut both = vec![user.key_id.clone(), new_id.clone()];
    both.sort();
    assert_eq!(keys_at_iam(&user_name, &new_id, &new_secret).await, both);
    let (_, listed, _) = run(
        bsm(keyutils, &moto().endpoint()).args(["keys", "list"]),
        "",
        &[],
    );
    assert!(listed.contains("rotation unfinished"), "{listed}");

    proxy.clear_faults();
    let (ok, _, stderr) = run(
        bsm(keyutils, &proxy.endpoint()).args(["keys", "rotate", &name, "--wait", "5"]),
        "",
        &secrets,
    );
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("finished rotating keys `{name}`")),
        "{stderr}"
    );
    assert_eq!(proxy.count("CreateAccessKey"), 1, "a second key was made");
    assert_eq!(
        keys_at_iam(&user_name, &new_id, &new_secret)
            .await
            .join(","),
        new_id
    );
    assert_eq!(
        refusal(&user.key_id, &user.secret).await.as_deref(),
        Some("InvalidClientTokenId")
    );
    assert_eq!(exported(keyutils, &name).0, new_id);
    run(
        bsm(keyutils, &moto().endpoint()).args(["keys", "remove", &name]),
        "",
        &[],
    );
}

/// The `AccessKeyId`s of the `DeleteAccessKey` requests moto answered with
/// success through `proxy`.
fn deleted(proxy: &Proxy) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == "DeleteAccessKey" && r.status == 200)
        .filter_map(|r| r.param("AccessKeyId"))
        .collect()
}

/// The key ids `CreateAccessKey` answered through `proxy`.
fn created(proxy: &Proxy) -> Vec<String> {
    proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == "CreateAccessKey" && r.status == 200)
        .filter_map(|r| {
            let (_, rest) = r.response.split_once("<AccessKeyId>")?;
            Some(rest.split_once('<')?.0.to_owned())
        })
        .collect()
}

/// A rotating user whose key is stored as `dev` in a [`FailingStore`], and
/// a proxy in front of moto (auth enforced from here on).
async fn in_a_failing_store() -> (String, User, std::sync::Arc<FailingStore>, KeyStore, Proxy) {
    let (user_name, user) = rotating_user().await;
    enforce_auth_now();
    let failing = FailingStore::new();
    let store = KeyStore::from_store(failing.clone());
    store
        .put(
            "dev",
            &bsm::keychain::StoredKeys::new(&user.key_id, &user.secret).unwrap(),
        )
        .unwrap();
    (user_name, user, failing, store, Proxy::start(moto().addr()))
}

/// A rotation of `dev` through `proxy`, quick to give up.
fn rotate(store: &KeyStore, proxy: &Proxy) -> bsm::RotateKeys {
    let endpoint = proxy.endpoint();
    store
        .rotate("dev")
        .configure(move |b| b.region("us-east-1").endpoint_url(&endpoint))
        .wait_at_most(Duration::from_secs(2))
        .poll_every(Duration::from_millis(200))
}

#[tokio::test]
async fn a_store_that_fails_between_the_steps_loses_nothing_and_leaves_no_orphan() {
    let _turn = turn().await;
    let (user_name, user, failing, store, proxy) = in_a_failing_store().await;
    let at_iam = || keys_at_iam(&user_name, &user.key_id, &user.secret);

    // Between create and store: the mark is written, the new key is not.
    // The new key is deleted with the old one; the mark cannot be cleared.
    failing.fail_after(1);
    let err = rotate(&store, &proxy).send().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, bsm::Error::KeyRotation { .. }), "{err:?}");
    assert!(
        text.contains("could not be stored and was deleted at IAM"),
        "{text}"
    );
    assert!(
        text.contains(&format!("the stored key {} is unchanged", user.key_id)),
        "{text}"
    );
    assert_eq!(
        deleted(&proxy),
        created(&proxy),
        "deleted another key than the new one"
    );
    assert_eq!(created(&proxy).len(), 1);
    assert_eq!(at_iam().await.join(","), user.key_id);
    assert_eq!(refusal(&user.key_id, &user.secret).await, None);
    let kept = store.get("dev").unwrap();
    assert_eq!(kept.access_key_id(), user.key_id);
    assert_eq!(kept.creating_after(), Some(&[user.key_id.clone()][..]));

    // As if bsm died between create and store: the new key stays at IAM
    // (IAM will not delete it), named by nothing but the mark.
    // (Its writes: the first mark cleared, a new mark, the new key: fails.)
    proxy.fail_all(Some("DeleteAccessKey"), Fault::Unavailable);
    failing.fail_after(2);
    let err = rotate(&store, &proxy).send().await.unwrap_err();
    assert!(err.to_string().contains("nor deleted at IAM"), "{err}");
    let orphan = created(&proxy).pop().unwrap();
    let mut both = vec![user.key_id.clone(), orphan.clone()];
    both.sort();
    assert_eq!(at_iam().await, both);

    // The next rotation deletes the orphan first, then rotates.
    proxy.clear_faults();
    failing.fail_after(usize::MAX / 2);
    let done = rotate(&store, &proxy).send().await.unwrap();
    assert!(deleted(&proxy).contains(&orphan), "{:?}", deleted(&proxy));
    let new = store.get("dev").unwrap().credentials();
    assert_eq!(new.access_key_id(), done.new_access_key_id);
    assert_ne!(done.new_access_key_id, orphan);
    assert_eq!(
        keys_at_iam(&user_name, new.access_key_id(), new.secret_access_key())
            .await
            .join(","),
        done.new_access_key_id
    );
    assert_eq!(
        refusal(&user.key_id, &user.secret).await.as_deref(),
        Some("InvalidClientTokenId")
    );
}

#[tokio::test]
async fn a_failed_promotion_keeps_both_keys_and_the_next_rotation_finishes() {
    let _turn = turn().await;
    let (user_name, user, failing, store, proxy) = in_a_failing_store().await;
    let new = store.get("dev").unwrap().credentials();
    assert_eq!(new.access_key_id(), user.key_id);
    // Between store and the promotion (its writes: the mark, the new key,
    // the promotion: fails): both keys work and are stored; the new one is
    // not deleted, and the next rotation finishes from it.
    failing.fail_after(2);
    let err = rotate(&store, &proxy).send().await.unwrap_err();
    assert!(
        err.to_string().contains("works and is stored as pending"),
        "{err}"
    );
    let kept = store.get("dev").unwrap();
    let pending = kept.pending_access_key_id().unwrap().to_owned();
    assert_eq!(kept.access_key_id(), new.access_key_id());
    let mut both = vec![new.access_key_id().to_owned(), pending.clone()];
    both.sort();
    assert_eq!(
        keys_at_iam(&user_name, new.access_key_id(), new.secret_access_key()).await,
        both
    );
    failing.fail_after(usize::MAX / 2);
    let done = rotate(&store, &proxy).send().await.unwrap();
    assert!(done.resumed);
    assert_eq!(done.new_access_key_id, pending);
    let last = store.get("dev").unwrap().credentials();
    assert_eq!(last.access_key_id(), pending);
    assert_eq!(
        keys_at_iam(&user_name, last.access_key_id(), last.secret_access_key())
            .await
            .join(","),
        pending
    );
    assert_eq!(
        refusal(new.access_key_id(), new.secret_access_key())
            .await
            .as_deref(),
        Some("InvalidClientTokenId")
    );
}

#[tokio::test]
async fn a_rotation_killed_after_iam_made_the_key_leaves_no_orphan() {
    let _turn = turn().await;
    let (user_name, user, name) = stored_rotating_user(secret_service_store, "killed").await;
    let secrets = [user.secret.as_str()];

    // IAM makes the key; its answer is held back, and bsm is killed
    // (SIGKILL: no handler, no clean-up) before it can store the key.
    let proxy = Proxy::start(moto().addr());
    proxy.fail_next(
        Some("CreateAccessKey"),
        1,
        Fault::AnswerLate(Duration::from_secs(60)),
    );
    let mut child = bsm(secret_service_store, &proxy.endpoint())
        .args(["keys", "rotate", &name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let made = bsm_tests::eventually(Duration::from_secs(30), || created(&proxy).len() == 1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(made, "CreateAccessKey was not answered by moto");
    let orphan = created(&proxy).pop().unwrap();
    let mut both = vec![user.key_id.clone(), orphan.clone()];
    both.sort();
    assert_eq!(
        keys_at_iam(&user_name, &user.key_id, &user.secret).await,
        both
    );
    assert_eq!(exported(secret_service_store, &name).0, user.key_id);
    let (_, listed, _) = run(
        bsm(secret_service_store, &moto().endpoint()).args(["keys", "list"]),
        "",
        &[],
    );
    assert!(
        listed.contains(&format!("{name}\t")) && listed.contains("rotation unfinished"),
        "{listed}"
    );

    // The next rotation deletes the orphan, then rotates.
    let (ok, _, stderr) = run(
        bsm(secret_service_store, &proxy.endpoint())
            .args(["keys", "rotate", &name, "--wait", "10"]),
        "",
        &secrets,
    );
    assert!(ok, "{stderr}");
    assert!(deleted(&proxy).contains(&orphan), "{:?}", deleted(&proxy));
    let (new_id, new_secret) = exported(secret_service_store, &name);
    assert!(new_id != orphan && new_id != user.key_id);
    assert_eq!(
        keys_at_iam(&user_name, &new_id, &new_secret)
            .await
            .join(","),
        new_id
    );
    assert_eq!(
        refusal(&user.key_id, &user.secret).await.as_deref(),
        Some("InvalidClientTokenId")
    );
    run(
        bsm(secret_service_store, &moto().endpoint()).args(["keys", "remove", &name]),
        "",
        &[],
    );
}

#[tokio::test]
async fn a_key_the_user_made_long_after_an_interrupted_rotation_is_left_alone() {
    let _turn = turn().await;
    let (user_name, user, failing, store, proxy) = in_a_failing_store().await;
    // A rotation that asked for its key an hour ago and died; since then
    // the user made a second key of their own.
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    failing.set_raw(
        "dev",
        &format!(
            r#"{{"Version":1,"AccessKeyId":"{}","SecretAccessKey":"{}","CreatingAt":"{an_hour_ago}","CreatingAfter":"{}"}}"#,
            user.key_id, user.secret, user.key_id
        ),
    );
    let own = with_key(&moto().endpoint(), &user.key_id, &user.secret)
        .await
        .iam_client()
        .create_access_key()
        .user_name(&user_name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    // The rotation may go on or stop (IAM allows two keys); the user's key
    // stays either way.
    let _ = rotate(&store, &proxy).send().await;
    assert!(!deleted(&proxy).contains(&own), "{:?}", deleted(&proxy));
    let kept = store.get("dev").unwrap();
    assert_eq!(kept.creating_after(), None, "the note was not cleared");
    let current = kept.credentials();
    assert!(
        keys_at_iam(
            &user_name,
            current.access_key_id(),
            current.secret_access_key()
        )
        .await
        .contains(&own)
    );
}
