//! The expiry table of `bsm::credentials`, one test per row that needs no
//! change of the process environment (the rows for instance metadata,
//! container, SSO, web identity, `credential_process`, role profiles and
//! `AWS_CREDENTIAL_EXPIRATION` are scenarios of `sources.rs`); and the
//! account id on assumed credentials.

use std::time::{Duration, SystemTime};

use bsm::SessionManager;
use bsm::aws_credential_types::Credentials;
use bsm_tests::{Proxy, SimClock, manager, manager_with_clock, moto};

const ROLE: &str = "arn:aws:iam::123456789012:role/bsm-expiry";

/// Whole seconds: STS and RFC 3339 times carry no fraction.
fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn static_keys_have_no_end() {
    let bsm = manager(&moto().endpoint()).await;
    bsm.credentials().await.unwrap();
    assert_eq!(bsm.expiration_time(), None);
}

#[tokio::test]
async fn an_explicit_expiration_time_is_reported() {
    let at = SystemTime::now() + Duration::from_secs(600);
    let bsm = SessionManager::builder()
        .credentials("AKIAEXPLICIT00000001", "secret", None)
        .expiration_time(at)
        .build()
        .await
        .unwrap();
    assert_eq!(bsm.expiration_time(), Some(at));
    assert!(!bsm.is_expired(Duration::from_secs(599)));
    assert!(bsm.is_expired(Duration::from_secs(601)));
}

#[tokio::test]
async fn a_custom_providers_credentials_end_at_their_own_expiry() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let bsm = SessionManager::builder()
        .credentials_provider(Credentials::new(
            "AKIAPROVIDER00000001",
            "secret",
            Some("token".into()),
            Some(at),
            "my-provider",
        ))
        .region("us-east-1")
        .build()
        .await
        .unwrap();
    assert_eq!(bsm.credential_source(), &bsm::CredentialSource::Provider);
    assert_eq!(bsm.expiration_time(), Some(at));
}

#[tokio::test]
async fn a_one_shot_role_ends_when_sts_says() {
    let proxy = Proxy::start(moto().addr());
    // The manager's clock is an hour behind: only STS's own Expiration can
    // give the end, not the manager's "now + 900 s".
    let clock = SimClock::new();
    clock.set(SystemTime::now() - Duration::from_secs(3600));
    let bsm = manager_with_clock(&proxy.endpoint(), &clock).await;
    let role = bsm
        .assume_role(ROLE)
        .duration(Duration::from_secs(900))
        .send()
        .await
        .unwrap();
    let body = &proxy.requests()[0].response;
    let start = body.find("<Expiration>").unwrap() + "<Expiration>".len();
    let end = start + body[start..].find("</Expiration>").unwrap();
    let sts = bsm_tests::sources::parse_time(&body[start..end]);
    assert_eq!(role.expiration_time().map(secs), Some(secs(sts)));
}

#[tokio::test]
async fn an_auto_refreshing_role_on_static_keys_has_no_end() {
    let bsm = manager(&moto().endpoint()).await;
    let role = bsm_tests::refreshing_role(&bsm, ROLE).await;
    role.credentials().await.unwrap();
    assert_eq!(role.expiration_time(), None);
}

#[tokio::test]
async fn an_auto_refreshing_role_ends_with_its_one_shot_source() {
    let bsm = manager(&moto().endpoint()).await;
    let source = bsm
        .assume_role(ROLE)
        .duration(Duration::from_secs(900))
        .send()
        .await
        .unwrap();
    let source_end = source
        .expiration_time()
        .expect("a one-shot role has an end");
    let role = source
        .assume_role("arn:aws:iam::123456789012:role/bsm-expiry-2")
        .duration(Duration::from_secs(3600))
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        role.expiration_time(),
        Some(source_end),
        "before any request"
    );
    role.credentials().await.unwrap();
    assert_eq!(role.expiration_time(), Some(source_end), "after a request");
    assert!(role.is_expired(Duration::from_secs(901)));
}

#[tokio::test]
async fn an_auto_refreshing_role_with_a_fixed_mfa_code_ends_with_its_first_credentials() {
    let clock = SimClock::new();
    let bsm = manager_with_clock(&moto().endpoint(), &clock).await;
    let role = bsm
        .assume_role(ROLE)
        .duration(Duration::from_secs(900))
        .mfa("arn:aws:iam::123456789012:mfa/alice", "123456")
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    assert_eq!(role.expiration_time(), None, "nothing assumed yet");
    let start = clock.now();
    role.credentials().await.unwrap();
    let end = role.expiration_time().expect("a fixed code cannot refresh");
    assert_eq!(secs(end), secs(start + Duration::from_secs(900)));
}

#[tokio::test]
async fn assumed_credentials_carry_the_roles_account_id() {
    let bsm = manager(&moto().endpoint()).await;
    let one_shot = bsm
        .assume_role("arn:aws:iam::999988887777:role/cross")
        .send()
        .await
        .unwrap();
    let creds = one_shot.credentials().await.unwrap();
    assert_eq!(
        creds
            .account_id()
            .map(bsm::aws_credential_types::attributes::AccountId::as_str),
        Some("999988887777")
    );
    let refreshing = bsm
        .assume_role("arn:aws:iam::999988887777:role/cross")
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    let creds = refreshing.credentials().await.unwrap();
    assert_eq!(
        creds
            .account_id()
            .map(bsm::aws_credential_types::attributes::AccountId::as_str),
        Some("999988887777")
    );
}
