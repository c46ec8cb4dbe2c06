//! The account alias: absent, present, and denied (moto enforcing IAM auth).

use bsm::{AliasStatus, SessionManager};
use bsm_tests::{Proxy, manager, moto};

use crate::{enforce_auth_now, turn};

#[tokio::test]
async fn alias_absent_present_and_denied() {
    let _turn = turn().await;
    let bsm = manager(&moto().endpoint()).await;
    assert_eq!(bsm.aws_account_alias().await.unwrap(), None);
    assert_eq!(bsm.who_am_i(true).await.unwrap().alias, AliasStatus::NotSet);
    assert!(
        bsm.who_am_i(true)
            .await
            .unwrap()
            .to_string()
            .contains("\nAWS Account Alias = <not set>\n")
    );

    bsm.iam_client()
        .create_account_alias()
        .account_alias("bsm-demo")
        .send()
        .await
        .unwrap();
    assert_eq!(
        bsm.aws_account_alias().await.unwrap(),
        None,
        "cached until clear_cache"
    );
    bsm.clear_cache();
    assert_eq!(
        bsm.aws_account_alias().await.unwrap().as_deref(),
        Some("bsm-demo")
    );

    // A user allowed to ask who it is, and nothing else.
    let iam = bsm.iam_client();
    iam.create_user().user_name("limited").send().await.unwrap();
    iam.put_user_policy()
        .user_name("limited")
        .policy_name("whoami-only")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("limited")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let proxy = Proxy::start(moto().addr());
    let limited = SessionManager::builder()
        .credentials(key.access_key_id(), key.secret_access_key(), None)
        .region("us-east-1")
        .endpoint_url(proxy.endpoint())
        .build()
        .await
        .unwrap();
    enforce_auth_now();

    let err = limited.aws_account_alias().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    assert!(
        err.to_string().starts_with("IAM ListAccountAliases failed"),
        "{err}"
    );
    let who = limited.who_am_i(false).await.unwrap();
    assert_eq!(who.alias, AliasStatus::Unavailable("AccessDenied".into()));
    assert!(
        who.principal_arn.ends_with(":user/limited"),
        "{}",
        who.principal_arn
    );
    assert!(
        who.to_string()
            .contains("\nAWS Account Alias = <unavailable: AccessDenied>\n")
    );
    // Not cached: a second call asks again and fails again.
    let asked = proxy.count("ListAccountAliases");
    assert!(limited.aws_account_alias().await.is_err());
    assert!(
        proxy.count("ListAccountAliases") > asked,
        "the error was not served from a cache"
    );
}
