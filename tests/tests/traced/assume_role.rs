//! Assume role against moto: every parameter reaches the request, one-shot
//! expiry, auto-refresh on a simulated clock (the refresh budget), MFA
//! refresh rules, chaining and cross-account identity, and bad input.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bsm::{Error, Input, SessionManager};
use bsm_tests::{DEAD_ENDPOINT, Proxy, SimClock, error_chain, manager, manager_with_clock, moto};

const ROLE: &str = "arn:aws:iam::123456789012:role/bsm-test";

fn sts_time(xml: &str) -> SystemTime {
    let start = xml.find("<Expiration>").expect("an Expiration") + "<Expiration>".len();
    let end = start + xml[start..].find("</Expiration>").unwrap();
    let dt = bsm::aws_smithy_types::DateTime::from_str(
        &xml[start..end],
        bsm::aws_smithy_types::date_time::Format::DateTime,
    )
    .unwrap();
    SystemTime::try_from(dt).unwrap()
}

#[tokio::test]
async fn every_parameter_reaches_the_request() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let _admin = bsm
        .assume_role(ROLE)
        .role_session_name("deploy")
        .duration(Duration::from_secs(900))
        .tags([("team", "infra")])
        .transitive_tag_keys(["team"])
        .external_id("xyz-external")
        .mfa("arn:aws:iam::123456789012:mfa/alice", "123456")
        .source_identity("alice")
        .policy(policy)
        .policy_arns(["arn:aws:iam::aws:policy/ReadOnlyAccess"])
        .region("eu-west-1")
        .send()
        .await
        .unwrap();
    let sent: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == "AssumeRole")
        .collect();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    for (name, want) in [
        ("RoleArn", ROLE),
        ("RoleSessionName", "deploy"),
        ("DurationSeconds", "900"),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "infra"),
        ("TransitiveTagKeys.member.1", "team"),
        ("ExternalId", "xyz-external"),
        ("SerialNumber", "arn:aws:iam::123456789012:mfa/alice"),
        ("TokenCode", "123456"),
        ("SourceIdentity", "alice"),
        ("Policy", policy),
        (
            "PolicyArns.member.1.arn",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ),
    ] {
        assert_eq!(r.param(name).as_deref(), Some(want), "{name} in {}", r.body);
    }
    assert!(
        r.header("authorization")
            .unwrap()
            .contains("/eu-west-1/sts/"),
        "signed for the region asked"
    );
}

#[tokio::test]
async fn one_shot_assumes_once_and_reports_the_sts_expiry() {
    let proxy = Proxy::start(moto().addr());
    // The manager's clock is an hour behind STS's: only STS's own
    // `Expiration` can match, not a local "now + 900 s".
    let clock = SimClock::new();
    clock.set(SystemTime::now() - Duration::from_secs(3600));
    let bsm = manager_with_clock(&proxy.endpoint(), &clock).await;
    let admin = bsm
        .assume_role(ROLE)
        .duration(Duration::from_secs(900))
        .send()
        .await
        .unwrap();
    assert_eq!(proxy.count("AssumeRole"), 1);
    let returned = sts_time(&proxy.requests()[0].response);
    let got = admin
        .expiration_time()
        .expect("a one-shot manager knows its expiry");
    let diff = got
        .duration_since(returned)
        .unwrap_or_else(|e| e.duration());
    assert!(
        diff <= Duration::from_secs(1),
        "expiry {got:?} vs STS {returned:?}"
    );
    // "Now" is the manager's clock: an hour and 900 s remain on it.
    assert!(!admin.is_expired(Duration::from_secs(4400)));
    assert!(admin.is_expired(Duration::from_secs(4600)));
    assert_eq!(
        admin.credential_source(),
        &bsm::CredentialSource::AssumedRole(ROLE.into())
    );
    assert_eq!(
        admin.endpoint_url(),
        Some(proxy.endpoint().as_str()),
        "the endpoint URL is kept"
    );
    assert_eq!(admin.profile_name(), None);
    // Using it sends no further AssumeRole.
    admin.aws_account_id().await.unwrap();
    admin
        .sts_client()
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(proxy.count("AssumeRole"), 1);
    let arn = admin.principal_arn().await.unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::123456789012:assumed-role/bsm-test/"),
        "{arn}"
    );
}

/// Continuous use for one simulated hour (a request every 10 s); returns how
/// many times `AssumeRole` ran.
async fn refreshes_in_one_hour(duration: u64) -> usize {
    let clock = SimClock::new();
    let proxy = Proxy::start(moto().addr());
    let bsm = manager_with_clock(&proxy.endpoint(), &clock).await;
    let role = bsm
        .assume_role(ROLE)
        .duration(Duration::from_secs(duration))
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        proxy.requests().len(),
        0,
        "auto-refresh sends nothing at send()"
    );
    assert_eq!(
        role.expiration_time(),
        None,
        "an auto-refreshing manager does not expire"
    );
    let sts = role.sts_client();
    for _ in 0..=360 {
        sts.get_caller_identity().send().await.unwrap();
        clock.advance(Duration::from_secs(10));
    }
    assert_eq!(proxy.count("GetCallerIdentity"), 361);
    assert_eq!(
        role.expiration_time(),
        None,
        "still no expiry after refreshes"
    );
    // The proxy is the manager's endpoint URL: every refresh went there.
    proxy.count("AssumeRole")
}

#[tokio::test]
async fn auto_refresh_stays_within_the_budget_at_900_s() {
    let n = refreshes_in_one_hour(900).await;
    // Default buffer 300 s: one AssumeRole per at least 900 - 300 = 600 s
    // (the SDK's cache jitters its buffer down to half), plus the first.
    println!("AssumeRole calls in one simulated hour at 900 s: {n}");
    assert!((5..=7).contains(&n), "{n} AssumeRole calls in an hour");
}

#[tokio::test]
async fn auto_refresh_stays_within_the_budget_at_3600_s() {
    let n = refreshes_in_one_hour(3600).await;
    println!("AssumeRole calls in one simulated hour at 3600 s: {n}");
    assert_eq!(
        n, 2,
        "the first, and one refresh 300 s before the end of the hour"
    );
}

#[tokio::test]
async fn a_fixed_mfa_code_is_not_reused_for_a_refresh() {
    let captured = bsm_tests::capture::global();
    let clock = SimClock::new();
    let proxy = Proxy::start(moto().addr());
    let bsm = manager_with_clock(&proxy.endpoint(), &clock).await;
    let role = bsm
        .assume_role(ROLE_MFA)
        .duration(Duration::from_secs(900))
        .mfa("arn:aws:iam::123456789012:mfa/alice", "123456")
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    let first = role.credentials().await.unwrap();
    // Inside the refresh window, past where the identity cache asks the
    // provider whatever its jitter: served, and the refresh, which cannot
    // send the spent code, fails with one warning.
    clock.advance(Duration::from_secs(760));
    let served = role.credentials().await.unwrap();
    assert_eq!(served.access_key_id(), first.access_key_id());
    let warned = || {
        captured
            .events()
            .iter()
            .filter(|e| {
                e.level == tracing::Level::WARN
                    && e.field("role_arn") == Some(ROLE_MFA)
                    && e.field("error").is_some_and(|m| m.contains("fixed value"))
            })
            .count()
    };
    assert!(
        bsm_tests::eventually(Duration::from_secs(10), || warned() == 1).await,
        "one warning naming the role and why"
    );
    // A new cache generation cannot send it either: the last credentials
    // are served while they are valid.
    role.clear_cache();
    let after_clear = role.credentials().await.unwrap();
    assert_eq!(after_clear.access_key_id(), first.access_key_id());
    assert_eq!(proxy.count("AssumeRole"), 1, "the fixed code was sent once");
    // Expired, from the very instant of the expiry on: the error says why.
    clock.set(first.expiry().expect("STS gave an expiry"));
    let err = role.credentials().await.unwrap_err();
    let chain = error_chain(&err);
    assert!(
        chain.contains(&format!("cannot assume role `{ROLE_MFA}`")),
        "{chain}"
    );
    assert!(chain.contains("fixed value"), "{chain}");
    assert_eq!(proxy.count("AssumeRole"), 1);
}

#[tokio::test]
async fn from_the_expiry_instant_on_a_caller_waits_for_new_credentials() {
    let clock = SimClock::new();
    let proxy = Proxy::start(moto().addr());
    let bsm = manager_with_clock(&proxy.endpoint(), &clock).await;
    let role = bsm_tests::refreshing_role(&bsm, ROLE).await;
    let first = role.credentials().await.unwrap();
    // No call inside the refresh window: the first credentials are still
    // the provider's when the clock reaches their very end.
    clock.set(first.expiry().expect("STS gave an expiry"));
    let next = role.credentials().await.unwrap();
    assert_ne!(
        next.access_key_id(),
        first.access_key_id(),
        "credentials are not served at their expiry instant"
    );
    assert_eq!(proxy.count("AssumeRole"), 2);
}

const ROLE_MFA: &str = "arn:aws:iam::123456789012:role/bsm-test-fixed-mfa";

#[tokio::test]
async fn an_mfa_callback_gives_a_fresh_code_per_refresh() {
    let clock = SimClock::new();
    let proxy = Proxy::start(moto().addr());
    let bsm = manager_with_clock(&proxy.endpoint(), &clock).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let role = bsm
        .assume_role(ROLE)
        .duration(Duration::from_secs(900))
        .mfa_token_provider("arn:aws:iam::123456789012:mfa/alice", move || {
            Ok(format!(
                "{:06}",
                100_000 + counter.fetch_add(1, Ordering::SeqCst)
            ))
        })
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    role.credentials().await.unwrap();
    // Past the identity cache's jittered refresh point (150 to 300 s before
    // the end), still before the end.
    clock.advance(Duration::from_secs(760));
    // Still valid: served at once, and the refresh (with a fresh code) runs
    // in the background.
    role.credentials().await.unwrap();
    assert!(
        bsm_tests::eventually(Duration::from_secs(10), || calls.load(Ordering::SeqCst)
            == 2)
        .await,
        "the refresh asked the callback for a second code"
    );
    assert!(
        bsm_tests::eventually(Duration::from_secs(10), || proxy.count("AssumeRole") == 2).await
    );
    let codes: Vec<_> = proxy
        .requests()
        .iter()
        .filter_map(|r| r.param("TokenCode"))
        .collect();
    assert_eq!(codes, ["100000", "100001"]);
}

#[tokio::test]
async fn chaining_and_cross_account_identity() {
    let proxy = Proxy::start(moto().addr());
    let hook_proxy = Proxy::start(moto().addr());
    let bsm = SessionManager::builder()
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(proxy.endpoint())
        .configure::<bsm::aws_sdk_sqs::Client>({
            let ep = hook_proxy.endpoint();
            move |b| b.endpoint_url(ep.clone())
        })
        .build()
        .await
        .unwrap();
    let other = bsm
        .assume_role("arn:aws:iam::999988887777:role/cross")
        .role_session_name("cross-session")
        .send()
        .await
        .unwrap();
    assert_eq!(other.aws_account_id().await.unwrap(), "999988887777");
    assert_eq!(
        other.principal_arn().await.unwrap(),
        "arn:aws:sts::999988887777:assumed-role/cross/cross-session"
    );
    // Chained: the assumed manager assumes again, back into the first account.
    let back = other
        .assume_role("arn:aws:iam::123456789012:role/back")
        .role_session_name("chained")
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    assert_eq!(back.aws_account_id().await.unwrap(), "123456789012");
    assert_eq!(
        back.principal_arn().await.unwrap(),
        "arn:aws:sts::123456789012:assumed-role/back/chained"
    );
    // moto's AssumeRole ignores who signs: the chain shows at the proxy,
    // where the second AssumeRole is signed with the first role's key.
    let assumes: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.action() == "AssumeRole")
        .collect();
    assert_eq!(assumes.len(), 2);
    let body = &assumes[0].response;
    let start = body.find("<AccessKeyId>").unwrap() + "<AccessKeyId>".len();
    let first_key = &body[start..start + body[start..].find("</AccessKeyId>").unwrap()];
    assert_eq!(
        first_key,
        other.credentials().await.unwrap().access_key_id()
    );
    let signer = assumes[1].header("authorization").unwrap();
    assert!(
        signer.contains(&format!("Credential={first_key}/")),
        "the second hop is signed by the first role: {signer}"
    );
    assert!(
        assumes[0]
            .header("authorization")
            .unwrap()
            .contains("Credential=testing/"),
        "the first hop by the source's keys"
    );
    // The per-service hook travels with the assumed managers.
    back.sqs_client().list_queues().send().await.unwrap();
    assert_eq!(hook_proxy.count("ListQueues"), 1);
    assert_eq!(proxy.count("ListQueues"), 0);
}

#[tokio::test]
async fn bad_input_fails_before_any_request() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    let cases: Vec<(bsm::AssumeRoleBuilder, Input)> = vec![
        (bsm.assume_role("admin"), Input::RoleArn),
        (
            bsm.assume_role("arn:aws:iam::1234:role/admin"),
            Input::RoleArn,
        ),
        (
            bsm.assume_role("arn:aws:iam::123456789012:user/alice"),
            Input::RoleArn,
        ),
        (
            bsm.assume_role(ROLE).duration(Duration::from_secs(899)),
            Input::Duration,
        ),
        (
            bsm.assume_role(ROLE).duration(Duration::from_secs(43_201)),
            Input::Duration,
        ),
        (
            bsm.assume_role(ROLE).role_session_name(""),
            Input::RoleSessionName,
        ),
        (
            bsm.assume_role(ROLE).role_session_name("has space"),
            Input::RoleSessionName,
        ),
        (
            bsm.assume_role(ROLE).role_session_name("a/b"),
            Input::RoleSessionName,
        ),
        (
            bsm.assume_role(ROLE)
                .refresh_buffer(Duration::from_secs(1800)),
            Input::RefreshBuffer,
        ),
        (
            bsm.assume_role(ROLE)
                .mfa("arn:aws:iam::123456789012:mfa/alice", "12ab"),
            Input::MfaCode,
        ),
        (bsm.assume_role(ROLE).region(""), Input::Region),
    ];
    for (builder, want) in cases {
        let err = builder.send().await.unwrap_err();
        match &err {
            Error::InvalidInput { input, .. } => assert_eq!(*input, want, "{err}"),
            other => panic!("expected InvalidInput for {want}, got {other:?}"),
        }
    }
    assert_eq!(proxy.requests().len(), 0, "no request for bad input");
}

#[tokio::test]
async fn sts_errors_carry_the_role_arn() {
    let bsm = manager(DEAD_ENDPOINT).await;
    let err = bsm.assume_role(ROLE).send().await.unwrap_err();
    match &err {
        Error::AssumeRole { role_arn, .. } => assert_eq!(role_arn, ROLE),
        other => panic!("expected AssumeRole, got {other:?}"),
    }
    // What failed and why, in one line; the kind and the io::Error below.
    assert_eq!(
        err.to_string(),
        format!(
            "cannot assume role `{ROLE}`: STS AssumeRole failed: cannot connect: Connection refused (os error 111)"
        )
    );
    assert_eq!(err.service_kind(), Some(bsm::ServiceErrorKind::Connection));
    assert_eq!(
        err.find::<std::io::Error>().map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    assert!(error_chain(&err).contains("STS AssumeRole failed"));
}

/// An MFA session: one `GetSessionToken` with the code, counted at the
/// proxy; a manager whose credentials end with the session; bad input is
/// refused before any request.
#[tokio::test]
async fn an_mfa_session_sends_one_get_session_token_and_ends_with_it() {
    let proxy = bsm_tests::Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    let serial = "arn:aws:iam::123456789012:mfa/alice";
    let before = std::time::SystemTime::now();
    let mfa = bsm
        .mfa_session(serial, "123456", Duration::from_secs(1800))
        .await
        .unwrap();
    assert_eq!(proxy.count("GetSessionToken"), 1);
    let sent = proxy
        .requests()
        .into_iter()
        .find(|r| r.action() == "GetSessionToken")
        .unwrap();
    assert_eq!(sent.param("SerialNumber").as_deref(), Some(serial));
    assert_eq!(sent.param("TokenCode").as_deref(), Some("123456"));
    assert_eq!(sent.param("DurationSeconds").as_deref(), Some("1800"));
    assert_eq!(
        mfa.credential_source(),
        &bsm::CredentialSource::MfaSession(serial.into())
    );
    let end = mfa.expiration_time().expect("the session's end");
    assert!(
        end > before && end <= before + Duration::from_secs(1800 + 60),
        "{end:?}"
    );
    assert_ne!(
        mfa.credentials().await.unwrap().access_key_id(),
        "testing",
        "the session's own key"
    );
    for (serial, code, secs, what) in [
        ("", "123456", 1800, Input::MfaSerial),
        (serial, "12345", 1800, Input::MfaCode),
        (serial, "12345a", 1800, Input::MfaCode),
        (serial, "123456", 899, Input::MfaSessionDuration),
        (serial, "123456", 129_601, Input::MfaSessionDuration),
    ] {
        let err = bsm
            .mfa_session(serial, code, Duration::from_secs(secs))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, bsm::Error::InvalidInput { input, .. } if *input == what),
            "{err:?}"
        );
        assert!(!err.to_string().contains(code) || code.is_empty(), "{err}");
    }
    assert_eq!(
        proxy.count("GetSessionToken"),
        1,
        "no request for bad input"
    );
    // An IAM user's session can open no console: the federation endpoint
    // refuses it and STS makes no federation token from it. Said before
    // anything is sent to the endpoint.
    let err = mfa.console_url().send().await.unwrap_err();
    assert!(matches!(err, Error::ConsoleSignIn { .. }), "{err:?}");
    assert!(err.to_string().contains("an IAM user's session"), "{err}");
    assert_eq!(proxy.count("GetFederationToken"), 0);
}

/// Role chaining: assumed with a role's credentials, a role gets at most
/// 3600 s from STS (moto does not enforce it; AWS refuses more). bsm caps
/// a longer duration at 3600 s with one warning; from an IAM user's keys
/// the duration asked for is sent as it is. Counted at the proxy.
#[tokio::test]
async fn a_chained_role_is_capped_at_an_hour_with_a_warning() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    let sent = |proxy: &Proxy| {
        proxy
            .requests()
            .into_iter()
            .filter(|r| r.action() == "AssumeRole")
            .map(|r| r.param("DurationSeconds").unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let first = bsm
        .assume_role(ROLE)
        .duration(Duration::from_secs(7200))
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&proxy), ["7200"], "from an IAM user's keys: as asked");
    let captured = bsm_tests::capture::global();
    let before = captured.events().len();
    let chained = first
        .assume_role("arn:aws:iam::123456789012:role/second")
        .duration(Duration::from_secs(7200))
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&proxy), ["7200", "3600"], "chained: capped");
    let warnings: Vec<String> = captured.events()[before..]
        .iter()
        .filter(|e| {
            e.level == tracing::Level::WARN
                && e.field("role_arn") == Some("arn:aws:iam::123456789012:role/second")
        })
        .map(bsm_tests::capture::Event::text)
        .filter(|t| t.contains("role chaining"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let end = chained.expiration_time().unwrap();
    let left = end.duration_since(SystemTime::now()).unwrap();
    assert!(left <= Duration::from_secs(3600), "{left:?}");
    // 3600 s or less is sent as it is, chained or not.
    first
        .assume_role("arn:aws:iam::123456789012:role/third")
        .duration(Duration::from_secs(1800))
        .send()
        .await
        .unwrap();
    assert_eq!(sent(&proxy), ["7200", "3600", "1800"]);
}
