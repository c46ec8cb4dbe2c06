//! An STS that hangs or fails slowly, against moto through the fault proxy,
//! with a clock that moves with real time plus an offset (so the refresh
//! window is entered at once, and the time a failure takes is real):
//! requests keep being served on the current credentials while a refresh
//! hangs, a failing refresh is retried at most every 10 s, concurrent
//! identity callers share one attempt, and a thousand concurrent requests
//! send one `AssumeRole`.

use std::time::{Duration, Instant};

use bsm::SessionManager;
use bsm_tests::capture;
use bsm_tests::{Fault, OffsetClock, Proxy, manager_with_time, moto};

const ROLE: &str = "arn:aws:iam::123456789012:role/bsm-slow-sts";

/// How long each outage runs.
const OUTAGE: Duration = Duration::from_secs(30);

/// Warnings about failed refreshes of `role`.
fn refresh_warnings(role: &str) -> usize {
    capture::global()
        .events()
        .iter()
        .filter(|e| {
            e.level == tracing::Level::WARN
                && e.field("role_arn") == Some(role)
                && e.field("message").is_some_and(|m| m.contains("refresh"))
        })
        .count()
}

/// Sequential requests through the role for `span`: how many succeeded,
/// the first failure if any, and the slowest request.
async fn serve_for(role: &SessionManager, span: Duration) -> (u32, Option<String>, Duration) {
    let sts = role.sts_client();
    let deadline = Instant::now() + span;
    let (mut served, mut slowest) = (0, Duration::ZERO);
    while Instant::now() < deadline {
        let started = Instant::now();
        if let Err(e) = sts.get_caller_identity().send().await {
            return (served, Some(bsm_tests::error_chain(&e)), slowest);
        }
        slowest = slowest.max(started.elapsed());
        served += 1;
    }
    (served, None, slowest)
}

/// A 900 s role through `proxy`, used once (one `AssumeRole`), on a clock
/// the test moves.
async fn role(proxy: &Proxy, name: &str) -> (SessionManager, OffsetClock) {
    let clock = OffsetClock::default();
    let bsm = manager_with_time(&proxy.endpoint(), clock.clone(), |b| b).await;
    let role = bsm
        .assume_role(format!("{ROLE}-{name}"))
        .duration(Duration::from_secs(900))
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    role.sts_client()
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(proxy.count("AssumeRole"), 1);
    (role, clock)
}

/// Requests keep being served, at a rate within 2x of the healthy one,
/// while STS misbehaves inside the refresh window; returns the report line.
async fn ride_out(name: &str, fault: Fault) -> String {
    // Installed before the role logs anything.
    let _ = capture::global();
    let proxy = Proxy::start(moto().addr());
    let (role, clock) = role(&proxy, name).await;
    let (healthy, err, _) = serve_for(&role, Duration::from_secs(3)).await;
    assert!(err.is_none(), "healthy: {err:?}");
    let healthy_rate = f64::from(healthy) / 3.0;

    proxy.fail_all(Some("AssumeRole"), fault);
    // 140 s of validity left: inside the 300 s refresh window, and past the
    // point (150 s before the end, at the latest) where the identity cache,
    // whatever its jitter, asks the provider.
    clock.skip(Duration::from_secs(760));
    let (served, err, slowest) = serve_for(&role, OUTAGE).await;
    assert!(err.is_none(), "a request failed during the outage: {err:?}");
    let rate = f64::from(served) / OUTAGE.as_secs_f64();
    let attempts = proxy.count("AssumeRole") - 1;
    let warnings = refresh_warnings(&format!("{ROLE}-{name}"));
    let report = format!(
        "{name}: healthy {healthy_rate:.0} req/s; during {} s of outage {served} served \
         ({rate:.0} req/s, slowest {slowest:?}), {attempts} AssumeRole attempts, \
         {warnings} warnings",
        OUTAGE.as_secs()
    );
    println!("{report}");
    assert!(rate * 2.0 >= healthy_rate, "{report}");
    // At most one refresh per 10 s back-off, each of at most 3 attempts.
    let refreshes_allowed = 1 + OUTAGE.as_secs() / 10;
    assert!(attempts as u64 <= 3 * refreshes_allowed, "{report}");
    assert!(
        warnings as u64 <= refreshes_allowed,
        "one warning per failed refresh, not per request: {report}"
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_sts_in_the_refresh_window_stops_no_request() {
    ride_out("stall", Fault::Stall(Duration::from_secs(600))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowly_failing_sts_in_the_refresh_window_stops_no_request() {
    let report = ride_out("slow503", Fault::SlowUnavailable(Duration::from_secs(6))).await;
    // The refreshes that ended did fail, each with one warning.
    assert!(!report.contains(" 0 warnings"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_identity_callers_share_one_attempt() {
    let proxy = Proxy::start(moto().addr());
    let timeouts = bsm::aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(1))
        .build();
    let bsm = manager_with_time(
        &proxy.endpoint(),
        bsm::aws_smithy_async::time::SystemTimeSource::new(),
        |b| b.timeout_config(timeouts),
    )
    .await;
    proxy.fail_all(
        Some("GetCallerIdentity"),
        Fault::Stall(Duration::from_secs(2)),
    );
    let started = Instant::now();
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let bsm = bsm.clone();
            tokio::spawn(async move {
                let r = bsm.aws_account_id().await;
                (r, started.elapsed())
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for c in callers {
        let (r, took) = c.await.unwrap();
        let err = r.expect_err("every caller gets the attempt's error");
        assert!(
            err.to_string().starts_with("STS GetCallerIdentity failed"),
            "{err}"
        );
        slowest = slowest.max(took);
    }
    let requests = proxy.count("GetCallerIdentity");
    println!("20 callers answered within {slowest:?}, {requests} requests at STS");
    // One operation: 3 attempts of 1 s, with the retry back-off between.
    assert_eq!(requests, 3, "one wave, one operation's attempts");
    assert!(slowest < Duration::from_secs(10), "{slowest:?}");

    // The next call after a failure tries again (the error is not kept):
    // each call sends a request. On a loaded machine moto itself can take
    // longer than the 1 s attempt, so a few calls are allowed to get there;
    // the proxy counts a request when it has read it, answered or not.
    proxy.clear_faults();
    let mut answer = None;
    for call in 1..=5 {
        let before = proxy.count("GetCallerIdentity");
        let r = bsm.aws_account_id().await;
        assert!(
            proxy.count("GetCallerIdentity") > before,
            "call {call} sent a request ({r:?})"
        );
        if let Ok(a) = r {
            answer = Some(a);
            break;
        }
    }
    assert_eq!(answer.as_deref(), Some("123456789012"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_during_a_slow_refresh_send_one_assume_role() {
    let proxy = Proxy::start(moto().addr());
    let clock = OffsetClock::default();
    let bsm = manager_with_time(&proxy.endpoint(), clock.clone(), |b| b).await;
    let role = bsm
        .assume_role(format!("{ROLE}-thousand"))
        .duration(Duration::from_secs(900))
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    let burst = |role: &SessionManager| {
        let sts = role.sts_client();
        (0..1000)
            .map(|_| {
                let sts = sts.clone();
                tokio::spawn(async move { sts.get_caller_identity().send().await.map(|_| ()) })
            })
            .collect::<Vec<_>>()
    };
    // Nothing held yet: everyone waits for one slow AssumeRole.
    proxy.fail_next(Some("AssumeRole"), 1, Fault::Delay(Duration::from_secs(2)));
    for r in burst(&role) {
        r.await.unwrap().unwrap();
    }
    assert_eq!(proxy.count("AssumeRole"), 1, "first burst");
    // Inside the refresh window, and past where the identity cache asks the
    // provider whatever its jitter (150 s before the end): served at once,
    // one slow refresh behind.
    clock.skip(Duration::from_secs(760));
    proxy.fail_next(Some("AssumeRole"), 1, Fault::Delay(Duration::from_secs(2)));
    let started = Instant::now();
    for r in burst(&role) {
        r.await.unwrap().unwrap();
    }
    let took = started.elapsed();
    assert!(
        bsm_tests::eventually(Duration::from_secs(10), || proxy.count("AssumeRole") == 2).await,
        "one refresh"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(proxy.count("AssumeRole"), 2, "second burst: one refresh");
    println!("1000 requests in the refresh window served in {took:?} while a 2 s refresh ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_expire_while_sts_is_down_fail_naming_the_role_then_recover() {
    let proxy = Proxy::start(moto().addr());
    let (role, clock) = role(&proxy, "expire").await;
    proxy.fail_all(Some("AssumeRole"), Fault::Unavailable);
    clock.skip(Duration::from_secs(950));
    let err = role.credentials().await.unwrap_err();
    let chain = bsm_tests::error_chain(&err);
    assert!(
        chain.contains(&format!("cannot assume role `{ROLE}-expire`")),
        "{chain}"
    );
    proxy.clear_faults();
    role.credentials().await.unwrap();
    role.sts_client()
        .get_caller_identity()
        .send()
        .await
        .unwrap();
}
