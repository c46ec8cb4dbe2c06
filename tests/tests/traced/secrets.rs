//! A known secret key and session token never appear in bsm's `Debug`
//! output, errors, or anything bsm logs at TRACE level during a full tour.

use std::time::Duration;

use bsm::SessionManager;
use bsm_tests::{capture, moto, unique};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/KNOWNSECRETKEY01";
const TOKEN: &str = "FwoGZXIvYXdzEKNOWNSESSIONTOKEN0123456789";
const TRUNCATED_SECRET: &str = "SecretOfATruncatedAnswer/0123456789abcdef";
/// An `AssumeRole` answer cut off after the new secret key.
const TRUNCATED: &str = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
    <AssumeRoleResult><Credentials><AccessKeyId>ASIATRUNCATED0000001</AccessKeyId>\
    <SecretAccessKey>SecretOfATruncatedAnswer/0123456789abcdef</SecretAccessKey><Sessi";
const UNREADABLE_SECRET: &str = "SecretOfAnUnreadableAnswer/0123456789abcd";
/// A whole `AssumeRole` answer with an expiration the SDK cannot read: the
/// SDK fails with the raw response (new key and token in its body) kept.
const UNREADABLE: &str = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
    <AssumeRoleResult><Credentials><AccessKeyId>ASIAUNREADABLE000001</AccessKeyId>\
    <SecretAccessKey>SecretOfAnUnreadableAnswer/0123456789abcd</SecretAccessKey>\
    <SessionToken>TokenOfAnUnreadableAnswer</SessionToken>\
    <Expiration>not a date</Expiration></Credentials>\
    <AssumedRoleUser><AssumedRoleId>AROA:s</AssumedRoleId>\
    <Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser>\
    </AssumeRoleResult></AssumeRoleResponse>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_debug_errors_or_logs() {
    let captured = capture::global();
    let builder = SessionManager::builder()
        .credentials("AKIAKNOWNKEY00000001", SECRET, Some(TOKEN.to_owned()))
        .region("us-east-1")
        .endpoint_url(moto().endpoint())
        .configure::<bsm::aws_sdk_s3::Client>(|b| b.force_path_style(true));
    let mut texts = vec![format!("{builder:?}")];
    let bsm = builder.build().await.unwrap();

    // A full tour.
    texts.push(bsm.who_am_i(false).await.unwrap().to_string());
    let bucket = unique("bsm-secrets");
    bsm.s3_client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    bsm.sqs_client().list_queues().send().await.unwrap();
    let role = bsm
        .assume_role("arn:aws:iam::123456789012:role/secrets")
        .duration(Duration::from_secs(900))
        .external_id("external-secret-id")
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    let role_creds = role.credentials().await.unwrap();
    texts.push(role.who_am_i(true).await.unwrap().to_string());
    // The refreshing provider shows which role it assumes.
    let role_config = format!("{:?}", role.sdk_config());
    assert!(
        role_config.contains(
            "RoleProvider { params: AssumeRole { role_arn: \"arn:aws:iam::123456789012:role/secrets\""
        ),
        "{role_config}"
    );
    texts.push(role_config);
    let env = bsm.aws_cli_env().await.unwrap();
    let snapshot = bsm.to_snapshot().await.unwrap();
    let path = std::env::temp_dir()
        .join(unique("bsm-secrets"))
        .with_extension("json");
    drop(bsm.temp_snapshot(&path).await.unwrap());
    bsm.clear_cache();

    texts.extend([
        format!("{bsm:?}"),
        format!("{bsm:#?}"),
        format!("{role:?}"),
        format!("{:?}", bsm.sdk_config()),
        format!("{snapshot:?}"),
        snapshot.masked(),
        format!("{env:?}"),
        format!("{role_creds:?}"),
        format!(
            "{:?}",
            bsm.assume_role("arn:aws:iam::123456789012:role/x")
                .external_id("external-secret-id")
        ),
    ]);
    // Errors, from every kind of failure.
    let errors = errors_of_every_kind(&bsm).await;
    for e in &errors {
        texts.push(format!("{e} {e:?}"));
        let mut cur = std::error::Error::source(e);
        while let Some(s) = cur {
            texts.push(format!("{s} {s:?}"));
            cur = s.source();
        }
    }

    let bsm_events: Vec<capture::Event> = captured
        .events()
        .into_iter()
        .filter(|e| e.target.starts_with("bsm"))
        .collect();
    let test_thread = std::thread::current().name().map(str::to_owned);
    assert!(
        bsm_events.iter().any(|e| e.thread == test_thread),
        "bsm logged during the tour, on this test's thread"
    );
    let logs: Vec<String> = bsm_events.iter().map(capture::Event::text).collect();
    texts.extend(logs);
    let role_secret = role_creds.secret_access_key().to_owned();
    let role_token = role_creds.session_token().unwrap().to_owned();
    for text in &texts {
        for secret in [
            SECRET,
            TOKEN,
            role_secret.as_str(),
            role_token.as_str(),
            "external-secret-id",
            TRUNCATED_SECRET,
            UNREADABLE_SECRET,
            "TokenOfAnUnreadableAnswer",
        ] {
            assert!(!text.contains(secret), "a secret in: {text}");
        }
    }
}

/// The error of an `AssumeRole` answered with `body` (status 200), which
/// must mention `expected`: it must not keep the new key or token the body
/// holds.
async fn assume_role_error_answered_with(body: &'static str, expected: &str) -> bsm::Error {
    let proxy = bsm_tests::Proxy::start(moto().addr());
    proxy.fail_all(Some("AssumeRole"), bsm_tests::Fault::Respond(200, body));
    let through_proxy = SessionManager::builder()
        .credentials("AKIAKNOWNKEY00000001", SECRET, Some(TOKEN.to_owned()))
        .region("us-east-1")
        .endpoint_url(proxy.endpoint())
        .build()
        .await
        .unwrap();
    let err = through_proxy
        .assume_role("arn:aws:iam::123456789012:role/answered")
        .send()
        .await
        .unwrap_err();
    assert!(proxy.count("AssumeRole") >= 1, "the answer was served");
    assert!(
        bsm_tests::error_chain(&err).contains(expected),
        "{expected}: {err:?}"
    );
    err
}

/// Redacted, not empty: what is not secret is still shown.
#[tokio::test]
async fn the_assume_role_builder_shows_what_is_not_secret() {
    let bsm = SessionManager::builder()
        .credentials("AKIAKNOWNKEY00000001", SECRET, None)
        .region("us-east-1")
        .build()
        .await
        .unwrap();
    let role_debug = format!(
        "{:?}",
        bsm.assume_role("arn:aws:iam::123456789012:role/x")
            .external_id("external-secret-id")
            .region("eu-west-1")
    );
    for shown in [
        "AssumeRoleBuilder { params: AssumeRole { role_arn: \"arn:aws:iam::123456789012:role/x\"",
        "external_id: Some(\"<set>\")",
        "region: Some(\"eu-west-1\")",
    ] {
        assert!(role_debug.contains(shown), "{shown} in {role_debug}");
    }
    assert!(!role_debug.contains("external-secret-id"), "{role_debug}");
}

/// An error from every kind of failure: STS answers holding keys, bad
/// input, a missing file, an unreachable endpoint.
async fn errors_of_every_kind(bsm: &SessionManager) -> Vec<bsm::Error> {
    vec![
        assume_role_error_answered_with(TRUNCATED, "incomplete credentials").await,
        assume_role_error_answered_with(UNREADABLE, "STS AssumeRole").await,
        SessionManager::builder()
            .credentials("AKIA", SECRET, Some(String::new()))
            .build()
            .await
            .unwrap_err(),
        bsm.assume_role("bad").send().await.unwrap_err(),
        bsm::Snapshot::read("/nonexistent/bsm.json").unwrap_err(),
        SessionManager::builder()
            .credentials("AKIAKNOWNKEY00000001", SECRET, Some(TOKEN.to_owned()))
            .endpoint_url("http://127.0.0.1:9")
            .region("us-east-1")
            .build()
            .await
            .unwrap()
            .aws_account_id()
            .await
            .map_err(bsm::Error::from)
            .unwrap_err(),
    ]
}
