//! One manager per region: `with_region` shares the credentials (resolved
//! once, counted at the provider), the HTTP client (connections counted at
//! the proxy) and the hooks, and keeps one client per service per region;
//! and S3 clients talking to an emulator use path-style addressing unless a
//! hook says otherwise.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bsm::SessionManager;
use bsm::aws_credential_types::Credentials;
use bsm::aws_credential_types::provider::{self, ProvideCredentials};
use bsm_tests::{Proxy, moto};

const REGIONS: [&str; 16] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
];

/// A credentials source that counts how often it is asked.
#[derive(Debug, Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl ProvideCredentials for Counting {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.0.fetch_add(1, Ordering::SeqCst);
        provider::future::ProvideCredentials::ready(Ok(Credentials::new(
            "testing", "testing", None, None, "counting",
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_regions_share_credentials_and_connections_and_keep_a_client_each() {
    let proxy = Proxy::start(moto().addr());
    let asked = Counting::default();
    let bsm = SessionManager::builder()
        .credentials_provider(asked.clone())
        .region("us-east-1")
        .endpoint_url(proxy.endpoint())
        .build()
        .await
        .unwrap();
    assert_eq!(asked.0.load(Ordering::SeqCst), 1, "build resolves once");

    // 16 regions x 1000 concurrent first callers.
    let callers: Vec<_> = (0..16_000)
        .map(|i| {
            let bsm = bsm.clone();
            tokio::spawn(async move {
                let sqs = bsm.with_region(REGIONS[i % 16]).unwrap().sqs_client();
                (i % 16, std::ptr::from_ref(sqs.config()) as usize)
            })
        })
        .collect();
    let mut per_region: Vec<HashSet<usize>> = vec![HashSet::new(); 16];
    for c in callers {
        let (region, client) = c.await.unwrap();
        per_region[region].insert(client);
    }
    let distinct: HashSet<usize> = per_region.iter().flatten().copied().collect();
    assert!(
        per_region.iter().all(|clients| clients.len() == 1),
        "one client per region"
    );
    assert_eq!(distinct.len(), 16, "16 clients for 16 regions");

    // Every region signs for its own region, with the one resolution.
    let before = proxy.connections();
    for region in REGIONS {
        let regional = bsm.with_region(region).unwrap();
        assert_eq!(regional.aws_region(), Some(region));
        regional
            .sts_client()
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        let auth = proxy
            .requests()
            .last()
            .unwrap()
            .header("authorization")
            .unwrap()
            .to_owned();
        assert!(auth.contains(&format!("/{region}/sts/")), "{auth}");
        assert_eq!(
            regional.principal_arn().await.unwrap(),
            bsm.principal_arn().await.unwrap()
        );
    }
    assert_eq!(
        asked.0.load(Ordering::SeqCst),
        1,
        "one resolution for 16 regions"
    );
    // One HTTP client: sequential requests in 16 regions reuse the pool's
    // connection (16 clients with pools of their own would open 16). On a
    // loaded machine the pool now and then opens a second one (seen in a
    // mutation run: 2), so the bound is well under 16, not exactly 1.
    let opened = proxy.connections() - before;
    println!("connections opened for 16 regions' sequential requests: {opened}");
    assert!(opened < 8, "{opened} connections");

    // clear_cache on the manager clears the regions too, which then follow
    // its new credentials: one new resolution for all of them.
    let west = bsm.with_region("eu-west-1").unwrap();
    let west_generation = west.cache_stats().generation;
    bsm.clear_cache();
    assert_eq!(west.cache_stats().generation, west_generation + 1);
    for region in REGIONS {
        bsm.with_region(region)
            .unwrap()
            .credentials()
            .await
            .unwrap();
    }
    assert_eq!(asked.0.load(Ordering::SeqCst), 2, "one more resolution");
    assert!(bsm.with_region("").is_err(), "an empty region is refused");
    assert_eq!(
        std::ptr::from_ref(bsm.with_region("us-east-1").unwrap().sqs_client().config()),
        std::ptr::from_ref(bsm.sqs_client().config()),
        "its own region is the manager itself"
    );
}

/// Records the URI of each request, then stops it before it is sent.
#[derive(Debug, Clone, Default)]
struct Uris(Arc<std::sync::Mutex<Vec<String>>>);

impl bsm::aws_sdk_s3::config::Intercept for Uris {
    fn name(&self) -> &'static str {
        "Uris"
    }

    fn read_before_transmit(
        &self,
        context: &bsm::aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &bsm::aws_sdk_s3::config::RuntimeComponents,
        _: &mut bsm::aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), bsm::aws_sdk_s3::error::BoxError> {
        self.0
            .lock()
            .unwrap()
            .push(context.request().uri().to_owned());
        Err("recorded".into())
    }
}

#[tokio::test]
async fn s3_uses_path_style_against_an_emulator_unless_a_hook_turns_it_off() {
    let bucket = bsm_tests::unique("bsm-path-style");
    // No hook: the bucket is in the path, which moto serves (also behind a
    // host name, where S3 would otherwise put the bucket in the host).
    let bsm = SessionManager::builder()
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(moto().endpoint().replace("127.0.0.1", "localhost"))
        .build()
        .await
        .unwrap();
    let s3 = bsm.s3_client();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("k")
        .body(bsm::aws_sdk_s3::primitives::ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));

    // The documented way back to virtual-hosted style: a hook.
    // (A host name: S3 never puts a bucket in front of an IP address.)
    let named = moto().endpoint().replace("127.0.0.1", "localhost");
    let uris = Uris::default();
    let hooked = SessionManager::builder()
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(&named)
        .configure::<bsm::aws_sdk_s3::Client>({
            let uris = uris.clone();
            move |b| b.force_path_style(false).interceptor(uris.clone())
        })
        .build()
        .await
        .unwrap();
    let _ = hooked
        .s3_client()
        .list_objects_v2()
        .bucket("vhost")
        .send()
        .await;
    let seen = uris.0.lock().unwrap().clone();
    let host = named.trim_start_matches("http://").to_owned();
    assert!(
        seen.iter()
            .any(|u| u.starts_with(&format!("http://vhost.{host}"))),
        "{seen:?}"
    );
}
