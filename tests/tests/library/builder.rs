//! Construction from each source, and bad input: every case a typed error
//! naming the input, before any request.

use std::path::PathBuf;

use bsm::aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use bsm::{CredentialSource, Error, Input, SessionManager};
use bsm_tests::{Proxy, moto, unique};

fn files(config: &str, credentials: &str) -> (EnvConfigFiles, PathBuf) {
    let dir = std::env::temp_dir().join(unique("bsm-profiles"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("credentials"), credentials).unwrap();
    let files = EnvConfigFiles::builder()
        .with_file(EnvConfigFileKind::Config, dir.join("config"))
        .with_file(EnvConfigFileKind::Credentials, dir.join("credentials"))
        .build();
    (files, dir)
}

#[tokio::test]
async fn a_named_profile_supplies_keys_and_region() {
    let proxy = Proxy::start(moto().addr());
    let (files, dir) = files(
        "[profile dev]\nregion = eu-west-1\n",
        "[dev]\naws_access_key_id = AKIADEVPROFILE000001\naws_secret_access_key = devsecret\n",
    );
    let bsm = SessionManager::builder()
        .profile_name("dev")
        .profile_files(files)
        .endpoint_url(proxy.endpoint())
        .build()
        .await
        .unwrap();
    assert_eq!(bsm.aws_region(), Some("eu-west-1"));
    assert_eq!(bsm.profile_name(), Some("dev"));
    assert_eq!(
        bsm.credential_source(),
        &CredentialSource::Profile("dev".into())
    );
    bsm.aws_account_id().await.unwrap();
    let auth = proxy.requests()[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    assert!(auth.contains("Credential=AKIADEVPROFILE000001/"), "{auth}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_ready_sdk_config_is_used_and_overridden_where_asked() {
    let proxy = Proxy::start(moto().addr());
    let sdk = bsm::aws_config::SdkConfig::builder()
        .region(bsm::aws_types::region::Region::new("ap-south-1"))
        .credentials_provider(
            bsm::aws_credential_types::provider::SharedCredentialsProvider::new(
                bsm::aws_credential_types::Credentials::new(
                    "AKIAFROMSDKCONFIG001",
                    "s",
                    None,
                    None,
                    "test",
                ),
            ),
        )
        .behavior_version(bsm::aws_config::BehaviorVersion::latest())
        .build();
    let kept = SessionManager::builder()
        .sdk_config(sdk.clone())
        .endpoint_url(proxy.endpoint())
        .build()
        .await
        .unwrap();
    assert_eq!(
        kept.aws_region(),
        Some("ap-south-1"),
        "the config's own region"
    );
    let bsm = SessionManager::builder()
        .sdk_config(sdk)
        .region("eu-north-1")
        .endpoint_url(proxy.endpoint())
        .build()
        .await
        .unwrap();
    assert_eq!(
        bsm.aws_region(),
        Some("eu-north-1"),
        "overridden where asked"
    );
    assert_eq!(bsm.credential_source(), &CredentialSource::SdkConfig);
    assert!(
        bsm.sdk_config().http_client().is_some(),
        "bsm adds its shared HTTP client"
    );
    bsm.aws_account_id().await.unwrap();
    let auth = proxy.requests()[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    assert!(auth.contains("Credential=AKIAFROMSDKCONFIG001/"), "{auth}");
    assert!(
        auth.contains("/eu-north-1/sts/"),
        "signed for the override: {auth}"
    );
}

fn invalid(err: &Error) -> (Input, String) {
    match err {
        Error::InvalidInput { input, value, .. } => (*input, value.clone()),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_input_is_a_typed_error_naming_it() {
    let keys = || SessionManager::builder().credentials("AKIAEXAMPLE", "secret", None);
    let err = keys().region("").build().await.unwrap_err();
    assert_eq!(invalid(&err), (Input::Region, String::new()));
    let err = keys().region("  ").build().await.unwrap_err();
    assert_eq!(invalid(&err).0, Input::Region);
    let err = keys().profile_name("").build().await.unwrap_err();
    assert_eq!(invalid(&err).0, Input::ProfileName);
    let err = keys()
        .endpoint_url("127.0.0.1:5000")
        .build()
        .await
        .unwrap_err();
    assert_eq!(invalid(&err), (Input::EndpointUrl, "127.0.0.1:5000".into()));
    assert_eq!(
        err.to_string(),
        "invalid endpoint URL `127.0.0.1:5000`: must start with http:// or https://"
    );
    let err = SessionManager::builder()
        .credentials("", "secret", None)
        .build()
        .await
        .unwrap_err();
    assert_eq!(invalid(&err).0, Input::AccessKeyId);
    let err = SessionManager::builder()
        .credentials("AKIA", "", None)
        .build()
        .await
        .unwrap_err();
    assert_eq!(invalid(&err), (Input::SecretAccessKey, "<redacted>".into()));
    let err = SessionManager::builder()
        .credentials("AKIA", "supersecret", Some(String::new()))
        .build()
        .await
        .unwrap_err();
    assert_eq!(invalid(&err).0, Input::SessionToken);
    assert!(!format!("{err:?}").contains("supersecret"));
}

#[tokio::test]
async fn an_unknown_profile_is_not_found_and_a_profile_without_keys_has_no_credentials() {
    let (_, dir) = files("[profile empty]\nregion = us-east-1\n", "");
    let paths = || {
        SessionManager::builder()
            .profile_file_paths(dir.join("config"), dir.join("credentials"))
            .region("us-east-1")
            .endpoint_url(moto().endpoint())
    };
    let err = paths().profile_name("nope").build().await.unwrap_err();
    match &err {
        Error::ProfileNotFound { profile, files } => {
            assert_eq!(profile, "nope");
            assert_eq!(files, &[dir.join("config"), dir.join("credentials")]);
        }
        other => panic!("expected ProfileNotFound, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "profile `nope` not found in {} or {}",
            dir.join("config").display(),
            dir.join("credentials").display()
        )
    );
    // A region-only profile falls through to container credentials and
    // instance metadata, which the test environment has neither of.
    let err = paths().profile_name("empty").build().await.unwrap_err();
    match &err {
        Error::Credentials {
            profile: Some(p), ..
        } => assert_eq!(p, "empty"),
        other => panic!("expected Credentials, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("cannot resolve AWS credentials for profile `empty`: "),
        "{err}"
    );
    assert!(
        !err.to_string().contains("was not enabled"),
        "says why, not the chain's wrapper: {err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
