//! Faults injected by the proxy in front of moto: transient ones are retried
//! by the SDK, persistent ones give a typed error that is not cached, and an
//! auto-refreshing role rides out a failing STS while its credentials last.

use std::time::{Duration, Instant};

use bsm::aws_config::retry::RetryConfig;
use bsm::aws_config::timeout::TimeoutConfig;
use bsm::{Error, SessionManager};
use bsm_tests::{Fault, Proxy, SimClock, error_chain, manager_with_clock, moto};

async fn manager(proxy: &Proxy) -> SessionManager {
    SessionManager::builder()
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(proxy.endpoint())
        .configure::<bsm::aws_sdk_s3::Client>(|b| b.force_path_style(true))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn transient_faults_on_sts_iam_and_s3_are_retried() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy).await;
    // moto builds a service's backend on its first request: warm each one,
    // so that the one real attempt after the faults has room in its 2 s.
    bsm.sts_client().get_caller_identity().send().await.unwrap();
    bsm.iam_client()
        .list_account_aliases()
        .send()
        .await
        .unwrap();
    bsm.s3_client().list_buckets().send().await.unwrap();
    proxy.clear();

    proxy.fail_next(Some("GetCallerIdentity"), 2, Fault::Unavailable);
    assert_eq!(bsm.aws_account_id().await.unwrap(), "123456789012");
    assert_eq!(
        proxy.count("GetCallerIdentity"),
        3,
        "two 503s, then the answer"
    );

    proxy.fail_next(Some("ListAccountAliases"), 1, Fault::Throttling);
    proxy.fail_next(Some("ListAccountAliases"), 1, Fault::Reset);
    bsm.aws_account_alias().await.unwrap();
    assert_eq!(
        proxy.count("ListAccountAliases"),
        3,
        "throttled, reset, then the answer"
    );

    proxy.clear();
    proxy.fail_next(None, 1, Fault::SlowDown);
    proxy.fail_next(None, 1, Fault::Stall(Duration::from_secs(5)));
    bsm.s3_client().list_buckets().send().await.unwrap();
    let statuses: Vec<u16> = proxy.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.first(), Some(&503), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    assert_eq!(
        statuses.len(),
        3,
        "SlowDown, a stalled attempt past its timeout, then the answer"
    );
}

#[tokio::test]
async fn a_persistent_fault_is_a_typed_error_and_is_not_cached() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy).await;

    proxy.fail_all(Some("GetCallerIdentity"), Fault::Unavailable);
    let started = Instant::now();
    let err = bsm.aws_account_id().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded by the configured timeouts"
    );
    match &*err {
        Error::Service {
            operation,
            code,
            kind,
            status,
            ..
        } => {
            assert_eq!(*operation, "STS GetCallerIdentity");
            assert_eq!(*code, None, "the answer had no error code");
            assert_eq!(*kind, bsm::ServiceErrorKind::ErrorAnswer);
            assert_eq!(*status, Some(503));
            assert_eq!(
                err.to_string(),
                "STS GetCallerIdentity failed: the service answered HTTP 503"
            );
        }
        other => panic!("expected Error::Service, got {other:?}"),
    }
    assert_eq!(
        proxy.count("GetCallerIdentity"),
        3,
        "the SDK tried max_attempts times"
    );
    proxy.clear_faults();
    assert_eq!(
        bsm.aws_account_id().await.unwrap(),
        "123456789012",
        "the error was not cached"
    );

    // A server that never answers in time.
    proxy.fail_all(
        Some("ListAccountAliases"),
        Fault::Stall(Duration::from_secs(5)),
    );
    let started = Instant::now();
    let err = bsm.aws_account_alias().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        err.to_string().starts_with("IAM ListAccountAliases failed"),
        "{err}"
    );
    proxy.clear_faults();
    assert!(bsm.aws_account_alias().await.is_ok());
}

#[tokio::test]
async fn a_failing_refresh_keeps_valid_credentials_then_errors_then_recovers() {
    let clock = SimClock::new();
    let proxy = Proxy::start(moto().addr());
    let bsm = manager_with_clock(&proxy.endpoint(), &clock).await;
    let role = bsm_tests::refreshing_role(&bsm, "arn:aws:iam::123456789012:role/flaky").await;
    let first = role.credentials().await.unwrap();
    proxy.fail_all(Some("AssumeRole"), Fault::Unavailable);

    // In the refresh window, past where the identity cache asks the provider
    // whatever its jitter (150 s before the end): the current keys are
    // served at once, and the refresh (three attempts, all 503) runs behind.
    clock.advance(Duration::from_secs(760));
    let kept = role.credentials().await.unwrap();
    assert_eq!(kept.access_key_id(), first.access_key_id());
    assert!(
        bsm_tests::eventually(Duration::from_secs(20), || proxy.count("AssumeRole") == 4).await,
        "one refresh of three attempts"
    );
    // Let the failed refresh record its end.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Not retried on every call: a failed refresh waits 10 s before the next.
    clock.advance(Duration::from_secs(5));
    for _ in 0..20 {
        let c = role.credentials().await.unwrap();
        assert_eq!(c.access_key_id(), first.access_key_id());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        proxy.count("AssumeRole"),
        4,
        "no retry within 10 s of a failure"
    );
    // 10 s after the failure (the clock stood still while it ran), to the
    // nanosecond: tried again.
    clock.advance(Duration::from_secs(5));
    role.credentials().await.unwrap();
    assert!(
        bsm_tests::eventually(Duration::from_secs(20), || proxy.count("AssumeRole") > 4).await,
        "retried after 10 s"
    );
    role.sts_client()
        .get_caller_identity()
        .send()
        .await
        .unwrap();

    // Past expiry: a typed error naming the role.
    clock.advance(Duration::from_secs(300));
    let err = role.credentials().await.unwrap_err();
    assert!(matches!(err, Error::Credentials { .. }), "{err:?}");
    let chain = error_chain(&err);
    assert!(
        chain.contains("cannot assume role `arn:aws:iam::123456789012:role/flaky`"),
        "{chain}"
    );
    assert!(
        role.sts_client()
            .get_caller_identity()
            .send()
            .await
            .is_err()
    );

    // STS is back: so is the role.
    proxy.clear_faults();
    let fresh = role.credentials().await.unwrap();
    assert_ne!(fresh.access_key_id(), first.access_key_id());
    role.sts_client()
        .get_caller_identity()
        .send()
        .await
        .unwrap();
}

/// A refresh whose runtime shuts down before it ends is not waited on for
/// ever: the next caller, on another runtime, starts a new one.
#[test]
fn a_refresh_cut_off_with_its_runtime_is_started_again() {
    let clock = SimClock::new();
    let proxy = Proxy::start(moto().addr());
    let first_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (role, first) = first_runtime.block_on(async {
        let bsm = manager_with_clock(&proxy.endpoint(), &clock).await;
        let role = bsm_tests::refreshing_role(&bsm, "arn:aws:iam::123456789012:role/cut-off").await;
        let first = role.credentials().await.unwrap();
        (role, first)
    });
    // Expired, and STS stalls: the refresh that starts now does not end.
    proxy.fail_all(Some("AssumeRole"), Fault::Stall(Duration::from_secs(60)));
    clock.advance(Duration::from_secs(1000));
    let caller = role.clone();
    drop(first_runtime.spawn(async move { caller.credentials().await }));
    let started = Instant::now();
    while proxy.count("AssumeRole") < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the refresh began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first_runtime.shutdown_timeout(Duration::from_millis(100));

    proxy.clear_faults();
    let second_runtime = tokio::runtime::Runtime::new().unwrap();
    let renewed = second_runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), role.credentials()).await })
        .expect("not left waiting for the refresh that died")
        .expect("a new refresh");
    assert_ne!(renewed.access_key_id(), first.access_key_id());
}

/// Each way a request can fail is its own kind, with what AWS said where
/// it answered: an error answer (code, message, request id, status, and
/// the SDK's modeled error by `find`), an unreadable answer, a timeout, a
/// refused connection. A refused connection and an error answer without a
/// code no longer look alike.
#[tokio::test]
async fn each_kind_of_failure_is_told_apart() {
    use bsm::ServiceErrorKind as Kind;
    use bsm::aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy).await;
    let cases = [
        (Fault::Throttling, Kind::ErrorAnswer),
        (Fault::Unavailable, Kind::ErrorAnswer),
        (
            Fault::Respond(200, "<html>a proxy's page</html>"),
            Kind::MalformedAnswer,
        ),
        (Fault::Stall(Duration::from_secs(5)), Kind::Timeout),
    ];
    for (fault, kind) in cases {
        proxy.fail_all(Some("GetCallerIdentity"), fault);
        let err = bsm.aws_account_id().await.unwrap_err();
        proxy.clear_faults();
        assert_eq!(err.service_kind(), Some(kind), "{fault:?}: {err:?}");
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
        if let Fault::Throttling = fault {
            assert_eq!(err.code(), Some("Throttling"));
            let Error::Service {
                message,
                request_id,
                status,
                ..
            } = &*err
            else {
                panic!("{err:?}")
            };
            assert_eq!(*status, Some(400));
            assert!(message.is_some(), "{err:?}");
            assert!(request_id.is_some(), "{err:?}");
            assert!(err.find::<GetCallerIdentityError>().is_some(), "{err:?}");
            assert!(
                err.to_string()
                    .starts_with("STS GetCallerIdentity failed: Throttling: "),
                "{err}"
            );
        }
    }
    let dead = SessionManager::builder()
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(bsm_tests::DEAD_ENDPOINT)
        .retry_config(RetryConfig::disabled())
        .build()
        .await
        .unwrap();
    let err = dead.aws_account_id().await.unwrap_err();
    assert_eq!(err.service_kind(), Some(Kind::Connection), "{err:?}");
    assert_eq!(
        err.find::<std::io::Error>().map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    assert!(err.to_string().contains("cannot connect"), "{err}");
}
