//! `SessionManager` against the moto emulator: construction, cached clients,
//! identity, masks, who-am-i, one real call per service, `client_with`,
//! `clear_cache`, expiry, the request counts of concurrent first callers, and
//! what a thread keeps of each manager's cache.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bsm::SessionManager;
use bsm_tests::{Proxy, manager, moto, unique};

const ACCOUNT: &str = "123456789012";
const ARN: &str = "arn:aws:sts::123456789012:user/moto";

#[tokio::test]
async fn identity_values_come_from_one_get_caller_identity() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    assert_eq!(
        proxy.requests().len(),
        0,
        "building a manager on static keys sends nothing"
    );

    assert_eq!(bsm.aws_account_id().await.unwrap(), ACCOUNT);
    assert_eq!(bsm.principal_arn().await.unwrap(), ARN);
    let user_id = bsm.aws_account_user_id().await.unwrap();
    assert!(!user_id.is_empty());
    assert_eq!(bsm.aws_region(), Some("us-east-1"));
    assert_eq!(proxy.count("GetCallerIdentity"), 1);

    assert_eq!(bsm.masked_aws_account_id().await.unwrap(), "12********12");
    assert_eq!(
        bsm.masked_principal_arn().await.unwrap(),
        "arn:aws:sts::12********12:user/moto"
    );
    // The Python format, spelled out: the first and last four characters.
    assert!(user_id.len() >= 16, "{user_id}");
    let python_mask = format!("{}***{}", &user_id[..4], &user_id[user_id.len() - 4..]);
    assert_eq!(bsm.masked_aws_account_user_id().await.unwrap(), python_mask);
    assert_eq!(
        proxy.count("GetCallerIdentity"),
        1,
        "masks reuse the cached identity"
    );
}

#[tokio::test]
async fn an_identity_future_polled_after_it_finished_answers_again_from_the_cache() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    // The first call fetches (its future goes through the boxed fetch); the
    // same future polled again must neither panic nor poll the finished
    // fetch, and must not fetch again.
    let mut cold = std::pin::pin!(bsm.aws_account_id());
    assert_eq!((&mut cold).await.unwrap(), ACCOUNT);
    let again = std::future::poll_fn(|cx| cold.as_mut().poll(cx)).await;
    assert_eq!(again.unwrap(), ACCOUNT);
    // A warm future is done on its first poll, and answers again too.
    let mut warm = std::pin::pin!(bsm.principal_arn());
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    for _ in 0..2 {
        match warm.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(arn) => assert_eq!(arn.unwrap(), ARN),
            std::task::Poll::Pending => panic!("a warm identity call waited"),
        }
    }
    assert_eq!(proxy.count("GetCallerIdentity"), 1);
}

#[tokio::test]
async fn a_caller_dropped_while_it_fetches_the_identity_does_not_stop_the_next() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    proxy.fail_next(
        Some("GetCallerIdentity"),
        1,
        bsm_tests::Fault::Stall(Duration::from_secs(30)),
    );
    // The first caller leads the fetch and is dropped before STS answers.
    let cut = tokio::time::timeout(Duration::from_millis(500), bsm.aws_account_id()).await;
    assert!(cut.is_err(), "the stalled answer came first: {cut:?}");
    // The next caller must lead a fetch of its own, not wait on the dropped
    // one (which nobody will finish).
    let id = tokio::time::timeout(Duration::from_secs(20), bsm.aws_account_id())
        .await
        .expect("the next caller is not left waiting")
        .expect("the next caller gets the identity");
    assert_eq!(id, ACCOUNT);
    assert_eq!(proxy.count("GetCallerIdentity"), 2);
}

#[tokio::test]
async fn who_am_i_prints_the_five_python_lines() {
    let bsm = manager(&moto().endpoint()).await;
    let user_id = bsm.aws_account_user_id().await.unwrap();
    let masked = bsm.who_am_i(true).await.unwrap().to_string();
    let lines: Vec<&str> = masked.lines().collect();
    assert_eq!(lines.len(), 5, "{masked}");
    assert_eq!(
        lines[0],
        format!(
            "User Id = {}***{}",
            &user_id[..4],
            &user_id[user_id.len() - 4..]
        )
    );
    assert_eq!(lines[1], "AWS Account Id = 12********12");
    assert_eq!(
        lines[2],
        "Principal Arn = arn:aws:sts::12********12:user/moto"
    );
    // The alias depends on the shared emulator's state; bsm-cli's enforced_auth/alias.rs tests it.
    assert_eq!(lines[4], "AWS Region = us-east-1");
    assert!(lines[3].starts_with("AWS Account Alias = "));
    let raw = bsm.who_am_i(false).await.unwrap().to_string();
    assert!(raw.contains(&format!("AWS Account Id = {ACCOUNT}\n")));
    assert!(raw.contains(&format!("Principal Arn = {ARN}\n")));
    assert!(raw.contains(&format!("User Id = {user_id}\n")));
    // `print_who_am_i` writes the same summary, and only it, to stdout (a
    // child process, so stdout is what is read).
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_who_am_i"))
        .arg("--masked")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", moto().endpoint())
        .output()
        .unwrap();
    assert!(printed.status.success(), "{printed:?}");
    assert_eq!(
        String::from_utf8(printed.stdout).unwrap(),
        format!("{masked}\n")
    );
}

#[tokio::test]
async fn one_real_call_through_each_service_client() {
    let bsm = SessionManager::builder()
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(moto().endpoint())
        .configure::<bsm::aws_sdk_s3::Client>(|b| b.force_path_style(true))
        .build()
        .await
        .unwrap();

    let bucket = unique("bsm-bucket");
    let s3 = bsm.s3_client();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("hello.txt")
        .body(bsm::aws_sdk_s3::primitives::ByteStream::from_static(b"hi"))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key("hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hi"
    );

    let queue = unique("bsm-queue");
    let url = bsm
        .sqs_client()
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert!(url.ends_with(&queue), "{url}");

    let tables = bsm.dynamodb_client().list_tables().send().await.unwrap();
    assert!(tables.table_names.is_some());

    let functions = bsm.lambda_client().list_functions().send().await.unwrap();
    assert!(functions.functions.is_some());

    // SNS speaks the query protocol; it stands in for EC2 (its cousin
    // protocol), whose crate alone was a sixth of the suite's build on disk.
    let sns = bsm.sns_client();
    let topic = sns
        .create_topic()
        .name(unique("bsm-topic"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let topics = sns.list_topics().send().await.unwrap();
    assert!(
        topics
            .topics()
            .iter()
            .any(|t| t.topic_arn() == Some(topic.as_str())),
        "{topic} listed"
    );

    let stats = bsm.cache_stats();
    assert_eq!(
        stats.clients_built, 5,
        "s3, sqs, dynamodb, lambda, sns: one each"
    );
}

#[tokio::test]
async fn cached_clients_are_the_same_client() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    let a = bsm.sqs_client();
    let b = bsm.client::<bsm::aws_sdk_sqs::Client>();
    assert_eq!(bsm.cache_stats().clients_built, 1);
    // Same underlying handle: the config is shared, not rebuilt.
    assert!(std::ptr::eq(a.config(), b.config()));
    let c = bsm.client_with::<bsm::aws_sdk_sqs::Client>(|b| b);
    assert!(
        !std::ptr::eq(a.config(), c.config()),
        "client_with never serves the cached client"
    );
    assert_eq!(
        bsm.cache_stats().clients_built,
        1,
        "client_with is not cached"
    );
}

#[tokio::test]
async fn client_with_applies_its_overrides_and_leaves_the_cache_alone() {
    let proxy = Proxy::start(moto().addr());
    let other = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    let west = bsm.client_with::<bsm::aws_sdk_sts::Client>(|b| {
        b.region(bsm::aws_sdk_sts::config::Region::new("us-west-2"))
            .endpoint_url(other.endpoint())
    });
    assert_eq!(west.config().region().map(AsRef::as_ref), Some("us-west-2"));
    west.get_caller_identity().send().await.unwrap();
    assert_eq!(
        other.count("GetCallerIdentity"),
        1,
        "the override endpoint got the request"
    );
    let auth = other.requests()[0]
        .header("authorization")
        .unwrap_or_default()
        .to_owned();
    assert!(
        auth.contains("/us-west-2/sts/"),
        "signed for the override region: {auth}"
    );

    let cached = bsm.sts_client();
    assert_eq!(
        cached.config().region().map(AsRef::as_ref),
        Some("us-east-1")
    );
    cached.get_caller_identity().send().await.unwrap();
    assert_eq!(proxy.count("GetCallerIdentity"), 1);
    assert_eq!(other.count("GetCallerIdentity"), 1);
}

#[tokio::test]
async fn configure_hooks_apply_to_every_client_of_their_service() {
    let proxy = Proxy::start(moto().addr());
    let bsm = SessionManager::builder()
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(moto().endpoint())
        .configure::<bsm::aws_sdk_sqs::Client>({
            let ep = proxy.endpoint();
            move |b| b.endpoint_url(ep.clone())
        })
        .build()
        .await
        .unwrap();
    bsm.sqs_client().list_queues().send().await.unwrap();
    bsm.client_with::<bsm::aws_sdk_sqs::Client>(|b| b)
        .list_queues()
        .send()
        .await
        .unwrap();
    assert_eq!(
        proxy.count("ListQueues"),
        2,
        "the hook ran for the cached and the one-off client"
    );
    bsm.sts_client().get_caller_identity().send().await.unwrap();
    assert_eq!(
        proxy.count("GetCallerIdentity"),
        0,
        "the SQS hook does not touch STS"
    );
}

#[tokio::test]
async fn clear_cache_drops_clients_and_identity() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    let before = bsm.s3_client();
    bsm.aws_account_id().await.unwrap();
    bsm.clear_cache();
    assert_eq!(bsm.cache_stats().generation, 1);
    assert_eq!(bsm.cache_stats().clients_built, 0);
    let after = bsm.s3_client();
    assert!(
        !std::ptr::eq(before.config(), after.config()),
        "a new client after clear_cache"
    );
    bsm.aws_account_id().await.unwrap();
    assert_eq!(
        proxy.count("GetCallerIdentity"),
        2,
        "identity is fetched again"
    );
    // Configuration survives.
    assert_eq!(bsm.aws_region(), Some("us-east-1"));
    assert_eq!(bsm.endpoint_url(), Some(proxy.endpoint().as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_racing_tasks_build_one_client_per_service_and_send_one_request() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let (bsm, barrier) = (bsm.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                // Each task keeps its handle, so no address can be reused.
                let client: (usize, Box<dyn std::any::Any + Send>) = match i % 3 {
                    0 => {
                        let c = bsm.s3_client();
                        (std::ptr::from_ref(c.config()) as usize, Box::new(c))
                    }
                    1 => {
                        let c = bsm.sqs_client();
                        (std::ptr::from_ref(c.config()) as usize, Box::new(c))
                    }
                    _ => {
                        let c = bsm.dynamodb_client();
                        (std::ptr::from_ref(c.config()) as usize, Box::new(c))
                    }
                };
                (i % 3, client, bsm.aws_account_id().await.unwrap())
            })
        })
        .collect();
    let mut handles = vec![std::collections::HashSet::<usize>::default(); 3];
    let mut held = Vec::new();
    for t in tasks {
        let (service, (ptr, client), account) = t.await.unwrap();
        assert_eq!(account, ACCOUNT);
        handles[service].insert(ptr);
        held.push(client);
    }
    assert!(
        handles.iter().all(|h| h.len() == 1),
        "one client per service across 1000 tasks: {handles:?}"
    );
    assert_eq!(proxy.count("GetCallerIdentity"), 1);
}

#[tokio::test]
async fn identity_errors_reach_every_concurrent_caller_and_are_not_kept() {
    let proxy = Proxy::start(moto().addr());
    let bsm = manager(&proxy.endpoint()).await;
    // Every attempt of the first wave fails (the client retries 3 times).
    proxy.fail_next(Some("GetCallerIdentity"), 3, bsm_tests::Fault::Unavailable);
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let bsm = bsm.clone();
            tokio::spawn(async move { bsm.aws_account_id().await })
        })
        .collect();
    for c in callers {
        let err = c.await.unwrap().unwrap_err();
        assert!(
            err.to_string().starts_with("STS GetCallerIdentity failed"),
            "{err}"
        );
        assert_eq!(err.service_kind(), Some(bsm::ServiceErrorKind::ErrorAnswer));
        assert!(
            matches!(
                &*err,
                bsm::Error::Service {
                    status: Some(503),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }
    assert_eq!(
        proxy.count("GetCallerIdentity"),
        3,
        "eight callers shared one request (three attempts)"
    );
    // Not kept: the next call asks again, and succeeds.
    assert_eq!(bsm.aws_account_id().await.unwrap(), ACCOUNT);
    assert_eq!(proxy.count("GetCallerIdentity"), 4);
}

#[tokio::test]
async fn expiry_comes_from_the_builder_or_is_unknown() {
    let bsm = manager(&moto().endpoint()).await;
    assert_eq!(bsm.expiration_time(), None, "static keys have no expiry");

    let at = SystemTime::now() + Duration::from_secs(600);
    let bsm = SessionManager::builder()
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(moto().endpoint())
        .expiration_time(at)
        .build()
        .await
        .unwrap();
    assert_eq!(bsm.expiration_time(), Some(at));
    assert!(!bsm.is_expired(Duration::ZERO));
    assert!(!bsm.is_expired(Duration::from_secs(590)));
    assert!(
        bsm.is_expired(Duration::from_secs(600)),
        "now + delta >= expiration"
    );
    bsm.clear_cache();
    assert_eq!(
        bsm.expiration_time(),
        Some(at),
        "clear_cache keeps the configuration"
    );
}

#[tokio::test]
async fn debug_output_never_shows_the_secret() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
    let token = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";
    let builder = SessionManager::builder()
        .credentials("AKIAEXAMPLEKEYID0001", secret, Some(token.to_owned()))
        .region("us-east-1")
        .endpoint_url(moto().endpoint());
    let builder_debug = format!("{builder:?}");
    let bsm = builder.build().await.unwrap();
    let manager_debug = format!("{bsm:?} {bsm:#?} {:?}", bsm.sdk_config());
    for text in [&builder_debug, &manager_debug] {
        assert!(!text.contains(secret), "secret in {text}");
        assert!(!text.contains(token), "token in {text}");
    }
    assert!(manager_debug.contains("us-east-1"));
}

/// How many cache generations `captured` saw dropped.
fn generations_dropped(captured: &bsm_tests::capture::Captured) -> usize {
    captured
        .events()
        .iter()
        .filter(|e| e.field("message") == Some("cache generation dropped"))
        .count()
}

#[test]
fn a_thread_lets_go_of_a_cleared_generation_on_its_next_call_or_when_it_ends() {
    bsm_tests::capture::on_this_thread(|captured| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let bsm = rt.block_on(manager(&moto().endpoint()));
        drop(bsm.s3_client());
        bsm.clear_cache();
        assert_eq!(
            generations_dropped(captured),
            0,
            "this thread still has generation 0 at hand"
        );
        drop(bsm.s3_client());
        assert_eq!(
            generations_dropped(captured),
            1,
            "its next call lets go of generation 0"
        );
        // Another thread takes generation 1 and ends: it lets go of it.
        // `join` (pthread_join) returns after the thread's thread-local
        // destructors have run; a scoped thread's scope may return before
        // them, and then the last reference can go on that thread (CI saw it).
        let other = bsm.clone();
        std::thread::spawn(move || drop(other.s3_client()))
            .join()
            .unwrap();
        bsm.clear_cache();
        drop(bsm.s3_client());
        assert_eq!(
            generations_dropped(captured),
            2,
            "generation 1 is freed: the ended thread let go of it too"
        );
        drop(bsm);
        drop(rt);
    });
}

#[test]
fn a_thread_cycling_through_many_managers_lets_go_of_a_dropped_ones_generation() {
    bsm_tests::capture::on_this_thread(|captured| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let endpoint = moto().endpoint();
        let dropped = rt.block_on(manager(&endpoint));
        drop(dropped.s3_client());
        drop(dropped);
        assert_eq!(
            generations_dropped(captured),
            0,
            "this thread still has the dropped manager's generation at hand"
        );
        // 40 live managers, more than the 8 a thread keeps at hand, called
        // in turn: about 1,600 misses, and after each run of 16 one entry is
        // replaced at random, so the dropped manager's entry survives 100
        // replacements with probability (7/8)^100, under 2 in a million.
        let pool: Vec<_> = (0..40).map(|_| rt.block_on(manager(&endpoint))).collect();
        for _ in 0..50 {
            for m in &pool {
                drop(m.s3_client());
            }
        }
        assert_eq!(
            generations_dropped(captured),
            1,
            "the dropped manager's generation is let go (the live ones are not)"
        );
        drop(pool);
        drop(rt);
    });
}

#[tokio::test]
async fn more_managers_than_a_thread_keeps_at_hand_each_serve_their_own_client() {
    let endpoint = moto().endpoint();
    let mut managers = Vec::new();
    for _ in 0..20 {
        managers.push(manager(&endpoint).await);
    }
    let firsts: Vec<_> = managers.iter().map(SessionManager::s3_client).collect();
    for _ in 0..50 {
        for (m, first) in managers.iter().zip(&firsts) {
            assert!(std::ptr::eq(m.s3_client().config(), first.config()));
        }
    }
    let distinct: std::collections::HashSet<usize> = firsts
        .iter()
        .map(|c| std::ptr::from_ref(c.config()) as usize)
        .collect();
    assert_eq!(distinct.len(), 20, "one client per manager");
    for m in &managers {
        assert_eq!(m.cache_stats().clients_built, 1);
    }
    // A clear is seen at once, whichever managers this thread has at hand.
    for m in &managers {
        m.clear_cache();
    }
    for (m, first) in managers.iter().zip(&firsts) {
        assert!(!std::ptr::eq(m.s3_client().config(), first.config()));
        assert_eq!(m.cache_stats().clients_built, 1);
    }
}

/// A client kept from before `clear_cache` signs with the credentials read
/// again, as a new one does: the keys in the credentials file are rotated
/// to another IAM user's, and the kept client's next request (counted at
/// the proxy by the key it is signed with) is that user's.
#[tokio::test]
async fn a_client_kept_across_clear_cache_signs_with_the_keys_read_again() {
    let (first, rotated) = (
        bsm_tests::sources::iam_user("kept-before").await,
        bsm_tests::sources::iam_user("kept-after").await,
    );
    let dir = bsm_tests::temp_dir("bsm-kept-client");
    let (config, credentials) = (dir.join("config"), dir.join("credentials"));
    std::fs::write(&config, "[profile rotating]\nregion = us-east-1\n").unwrap();
    let keys = |u: &bsm_tests::sources::User| {
        format!(
            "[rotating]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            u.key_id, u.secret
        )
    };
    std::fs::write(&credentials, keys(&first)).unwrap();
    let proxy = Proxy::start(moto().addr());
    let bsm = SessionManager::builder()
        .profile_name("rotating")
        .profile_file_paths(&config, &credentials)
        .endpoint_url(proxy.endpoint())
        .build()
        .await
        .unwrap();
    let kept = bsm.sts_client();
    let arn = |out: bsm::aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput| {
        out.arn().unwrap_or_default().to_owned()
    };
    assert_eq!(
        arn(kept.get_caller_identity().send().await.unwrap()),
        first.arn
    );
    std::fs::write(&credentials, keys(&rotated)).unwrap();
    bsm.clear_cache();
    assert_eq!(
        arn(kept.get_caller_identity().send().await.unwrap()),
        rotated.arn,
        "the kept client"
    );
    assert_eq!(
        arn(bsm.sts_client().get_caller_identity().send().await.unwrap()),
        rotated.arn,
        "a new client"
    );
    let signed: Vec<bool> = proxy
        .requests()
        .iter()
        .filter(|r| r.action() == "GetCallerIdentity")
        .map(|r| {
            r.header("authorization")
                .is_some_and(|a| a.contains(&format!("Credential={}/", rotated.key_id)))
        })
        .collect();
    assert_eq!(
        signed,
        [false, true, true],
        "signed with the rotated key after the clear"
    );
    let _ = std::fs::remove_dir_all(dir);
}
