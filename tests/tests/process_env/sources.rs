//! Every credential source end to end, counted at the source: a
//! `credential_process` script's counter file, loopback container,
//! instance-metadata and SSO-portal servers, and the recording proxy in
//! front of moto's STS for `role_arn` and web-identity profiles. Each is
//! asked once for `build()`, 100 requests and every handoff.
//!
//! One test, holding the turn of the binary that changes the environment
//! (`crate::exclusive`): the scenarios set the process
//! environment (`AWS_CONTAINER_CREDENTIALS_FULL_URI`,
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT`, `AWS_ENDPOINT_URL_STS`,
//! `AWS_ENDPOINT_URL_SSO`, `HOME`, keys), one after another, on one thread.
//! Every scenario runs and reports its counts; the test fails at the end
//! naming each scenario that did not hold.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bsm::{Error, SessionManager};
use bsm_tests::sources::{FakeServer, User, iam_user, in_an_hour, lines, process_script};
use bsm_tests::{Proxy, moto, temp_dir};

type Outcome = Result<String, String>;
type Scenario = fn() -> Pin<Box<dyn Future<Output = Outcome>>>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Sets (or with `None` removes) a variable of this process.
fn env(name: &str, value: Option<&str>) {
    // SAFETY: the caller holds the binary's turn (`crate::exclusive`), so no
    // other test runs; the servers' and moto's threads never read the
    // environment.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

/// No `AWS_*` from outside, empty profile files, no instance metadata.
fn clean_env() {
    for name in bsm_tests::aws_env::aws_var_names() {
        env(&name.to_string_lossy(), None);
    }
    env("AWS_CONFIG_FILE", Some("/dev/null"));
    env("AWS_SHARED_CREDENTIALS_FILE", Some("/dev/null"));
    env("AWS_EC2_METADATA_DISABLED", Some("true"));
}

/// A config and a credentials file in a new folder; returns the folder.
fn profile_files(config: &str, credentials: &str) -> PathBuf {
    let dir = temp_dir("bsm-sources");
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("credentials"), credentials).unwrap();
    dir
}

fn with_files(dir: &Path) -> bsm::SessionManagerBuilder {
    SessionManager::builder().profile_file_paths(dir.join("config"), dir.join("credentials"))
}

/// 100 requests through the manager's STS client, then every handoff:
/// what each source must serve from one fetch.
async fn use_it(bsm: &SessionManager) -> Result<(), String> {
    let sts = bsm.sts_client();
    for _ in 0..100 {
        sts.get_caller_identity()
            .send()
            .await
            .map_err(|e| format!("request: {}", bsm_tests::error_chain(&e)))?;
    }
    bsm.aws_cli_env().await.map_err(|e| e.to_string())?;
    bsm.to_snapshot().await.map_err(|e| e.to_string())?;
    bsm.credentials().await.map_err(|e| e.to_string())?;
    Ok(())
}

async fn principal(bsm: &SessionManager) -> Result<String, String> {
    bsm.principal_arn()
        .await
        .map_err(|e| bsm_tests::error_chain(&e))
}

fn build_err(e: &Error) -> String {
    format!("build: {}", bsm_tests::error_chain(e))
}

async fn credential_process() -> Outcome {
    let user = iam_user("process").await;
    let dir = temp_dir("bsm-process");
    let (script, counter) = process_script(&dir, &user, Some(in_an_hour()));
    let files = profile_files(
        &format!(
            "[profile proc]\nregion = us-east-1\ncredential_process = {}\n",
            script.display()
        ),
        "",
    );
    let bsm = with_files(&files)
        .profile_name("proc")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    use_it(&bsm).await?;
    ensure!(principal(&bsm).await? == user.arn, "not the process's user");
    let runs = lines(&counter);
    ensure!(runs == 1, "the process ran {runs} times");
    ensure!(
        bsm.expiration_time().is_none(),
        "credential_process credentials with an Expiration renew: no fixed end, got {:?}",
        bsm.expiration_time()
    );
    Ok(format!("process runs: {runs}"))
}

async fn role_profile_chain() -> Outcome {
    let proxy = Proxy::start(moto().addr());
    env("AWS_ENDPOINT_URL_STS", Some(&proxy.endpoint()));
    let base = iam_user("chain-base").await;
    let files = profile_files(
        "[profile base]\nregion = us-east-1\n\
         [profile hop1]\nrole_arn = arn:aws:iam::123456789012:role/bsm-hop1\nsource_profile = base\nrole_session_name = hop1\n\
         [profile chain]\nrole_arn = arn:aws:iam::123456789012:role/bsm-chain\nsource_profile = hop1\nrole_session_name = chained\nregion = us-east-1\n",
        &format!(
            "[base]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            base.key_id, base.secret
        ),
    );
    let bsm = with_files(&files)
        .profile_name("chain")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    use_it(&bsm).await?;
    let arn = principal(&bsm).await?;
    ensure!(
        arn == "arn:aws:sts::123456789012:assumed-role/bsm-chain/chained",
        "principal {arn}"
    );
    let calls = proxy.count("AssumeRole");
    ensure!(
        calls == 2,
        "{calls} AssumeRole for a two-hop chain (want 2: one per hop)"
    );
    let signer = proxy.requests()[1]
        .header("authorization")
        .unwrap_or_default()
        .to_owned();
    let first_key = first_assumed_key(&proxy);
    ensure!(
        signer.contains(&format!("Credential={first_key}/")),
        "the second hop is signed with the first role's key ({first_key}): {signer}"
    );
    ensure!(bsm.expiration_time().is_none(), "a role profile renews");
    Ok(format!("AssumeRole at STS: {calls} (two hops)"))
}

/// The access key id the first recorded `AssumeRole` handed out.
fn first_assumed_key(proxy: &Proxy) -> String {
    let body = &proxy.requests()[0].response;
    let start = body
        .find("<AccessKeyId>")
        .map_or(0, |i| i + "<AccessKeyId>".len());
    let end = body[start..]
        .find("</AccessKeyId>")
        .map_or(start, |i| start + i);
    body[start..end].to_owned()
}

async fn web_identity_profile() -> Outcome {
    let proxy = Proxy::start(moto().addr());
    env("AWS_ENDPOINT_URL_STS", Some(&proxy.endpoint()));
    let dir = temp_dir("bsm-webid");
    let token = dir.join("token");
    std::fs::write(&token, "a.b.c").unwrap();
    let files = profile_files(
        &format!(
            "[profile web]\nregion = us-east-1\nrole_arn = arn:aws:iam::123456789012:role/bsm-web\n\
             web_identity_token_file = {}\nrole_session_name = pod\n",
            token.display()
        ),
        "",
    );
    let bsm = with_files(&files)
        .profile_name("web")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    use_it(&bsm).await?;
    let arn = principal(&bsm).await?;
    ensure!(
        arn == "arn:aws:sts::123456789012:assumed-role/bsm-web/pod",
        "principal {arn}"
    );
    let calls = proxy.count("AssumeRoleWithWebIdentity");
    ensure!(calls == 1, "{calls} AssumeRoleWithWebIdentity");
    ensure!(bsm.expiration_time().is_none(), "web identity renews");
    Ok(format!("AssumeRoleWithWebIdentity at STS: {calls}"))
}

async fn container() -> Outcome {
    let user = iam_user("container").await;
    // Expires in 20 minutes: the SDK renews it; bsm must not call it expired.
    let server = FakeServer::container(
        &user,
        "container-auth",
        SystemTime::now() + Duration::from_secs(1200),
    );
    env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        Some(&format!("{}/v2/credentials", server.endpoint())),
    );
    env("AWS_CONTAINER_AUTHORIZATION_TOKEN", Some("container-auth"));
    let bsm = SessionManager::builder()
        .region("us-east-1")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    use_it(&bsm).await?;
    ensure!(
        principal(&bsm).await? == user.arn,
        "not the container's user"
    );
    let fetches = server.count("GET", "/v2/credentials");
    ensure!(fetches == 1, "{fetches} container fetches");
    ensure!(
        !bsm.is_expired(Duration::from_secs(7200)),
        "container credentials renew: never expired while they can"
    );
    Ok(format!("container fetches: {fetches}"))
}

async fn region_only_profile_falls_through_to_the_container() -> Outcome {
    let user = iam_user("fallthrough").await;
    let decoy = iam_user("env-decoy").await;
    let server = FakeServer::container(&user, "tok", in_an_hour());
    env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        Some(&format!("{}/creds", server.endpoint())),
    );
    env("AWS_CONTAINER_AUTHORIZATION_TOKEN", Some("tok"));
    // Keys in the environment lose to a named profile (botocore's rule).
    env("AWS_ACCESS_KEY_ID", Some(&decoy.key_id));
    env("AWS_SECRET_ACCESS_KEY", Some(&decoy.secret));
    let files = profile_files("[profile regional]\nregion = eu-west-2\n", "");
    let bsm = with_files(&files)
        .profile_name("regional")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    ensure!(
        bsm.aws_region() == Some("eu-west-2"),
        "region {:?}",
        bsm.aws_region()
    );
    use_it(&bsm).await?;
    ensure!(
        principal(&bsm).await? == user.arn,
        "not the container's user"
    );
    let fetches = server.count("GET", "/creds");
    ensure!(fetches == 1, "{fetches} container fetches");
    Ok(format!("container fetches: {fetches}"))
}

async fn instance_metadata() -> Outcome {
    let user = iam_user("imds").await;
    let server = FakeServer::imds(&user, SystemTime::now() + Duration::from_secs(1800));
    env("AWS_EC2_METADATA_DISABLED", None);
    env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        Some(&server.endpoint()),
    );
    let bsm = SessionManager::builder()
        .region("us-east-1")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    use_it(&bsm).await?;
    ensure!(
        principal(&bsm).await? == user.arn,
        "not the instance's user"
    );
    let fetches = server.count(
        "GET",
        "/latest/meta-data/iam/security-credentials/bsm-instance-role",
    );
    ensure!(fetches == 1, "{fetches} instance metadata fetches");
    ensure!(
        !bsm.is_expired(Duration::from_secs(7200)),
        "IMDS credentials renew"
    );
    Ok(format!("instance metadata fetches: {fetches}"))
}

async fn sso() -> Outcome {
    let user = iam_user("sso").await;
    let portal = FakeServer::sso_portal(&user, "sso-access-token", in_an_hour());
    env("AWS_ENDPOINT_URL_SSO", Some(&portal.endpoint()));
    let home = temp_dir("bsm-home");
    env("HOME", Some(&home.to_string_lossy()));
    let start_url = "https://bsm-test.awsapps.com/start";
    let cache = home.join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(
        cache.join(format!("{}.json", bsm_tests::sha1_hex(start_url))),
        serde_json::json!({
            "startUrl": start_url,
            "region": "us-east-1",
            "accessToken": "sso-access-token",
            "expiresAt": bsm_tests::sources::rfc3339(in_an_hour()),
        })
        .to_string(),
    )
    .unwrap();
    let files = profile_files(
        &format!(
            "[profile sso]\nregion = us-east-1\nsso_start_url = {start_url}\nsso_region = us-east-1\n\
             sso_account_id = 123456789012\nsso_role_name = Admin\n"
        ),
        "",
    );
    let bsm = with_files(&files)
        .profile_name("sso")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    use_it(&bsm).await?;
    ensure!(principal(&bsm).await? == user.arn, "not the portal's user");
    let calls = portal.count("GET", "/federation/credentials");
    ensure!(calls == 1, "{calls} GetRoleCredentials");
    ensure!(bsm.expiration_time().is_none(), "SSO credentials renew");
    Ok(format!("GetRoleCredentials at the portal: {calls}"))
}

async fn rotated_keys_are_seen_after_clear_cache() -> Outcome {
    let (old, new) = (iam_user("rotate-old").await, iam_user("rotate-new").await);
    let keys = |u: &User| {
        format!(
            "[dev]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            u.key_id, u.secret
        )
    };
    let files = profile_files("[profile dev]\nregion = us-east-1\n", &keys(&old));
    let bsm = with_files(&files)
        .profile_name("dev")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    ensure!(principal(&bsm).await? == old.arn, "not the first user");
    std::fs::write(files.join("credentials"), keys(&new)).unwrap();
    ensure!(
        principal(&bsm).await? == old.arn,
        "the identity stays cached until clear_cache"
    );
    bsm.clear_cache();
    let now = principal(&bsm).await?;
    ensure!(now == new.arn, "after clear_cache: {now}, want {}", new.arn);
    let signed = bsm.credentials().await.map_err(|e| e.to_string())?;
    ensure!(
        signed.access_key_id() == new.key_id,
        "signs with the old key"
    );
    Ok("new principal after clear_cache".into())
}

async fn environment_keys_with_an_expiration() -> Outcome {
    let user = iam_user("env-exp").await;
    let end = "2031-01-02T03:04:05Z";
    env("AWS_ACCESS_KEY_ID", Some(&user.key_id));
    env("AWS_SECRET_ACCESS_KEY", Some(&user.secret));
    env("AWS_CREDENTIAL_EXPIRATION", Some(end));
    let bsm = SessionManager::builder()
        .region("us-east-1")
        .endpoint_url(moto().endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    ensure!(
        principal(&bsm).await? == user.arn,
        "not the environment's user"
    );
    let want = SystemTime::UNIX_EPOCH + Duration::from_secs(1_925_089_445);
    ensure!(
        bsm.expiration_time() == Some(want),
        "expiration {:?}, want {end}",
        bsm.expiration_time()
    );
    Ok("AWS_CREDENTIAL_EXPIRATION reported".into())
}

async fn a_missing_profile_names_itself_and_the_files() -> Outcome {
    let files = profile_files("[profile other]\nregion = us-east-1\n", "");
    let err = with_files(&files)
        .profile_name("ghost")
        .build()
        .await
        .err()
        .ok_or("a missing profile built")?;
    let Error::ProfileNotFound {
        profile,
        files: looked,
    } = &err
    else {
        return Err(format!("expected ProfileNotFound, got {err:?}"));
    };
    ensure!(profile == "ghost", "names {profile}");
    ensure!(
        looked == &[files.join("config"), files.join("credentials")],
        "files {looked:?}"
    );
    let text = err.to_string();
    ensure!(
        text.contains("ghost") && text.contains(&files.join("config").display().to_string()),
        "message: {text}"
    );
    // Named by the environment: the same, as botocore refuses it too.
    env("AWS_PROFILE", Some("ghost"));
    env(
        "AWS_CONFIG_FILE",
        Some(&files.join("config").to_string_lossy()),
    );
    let err = SessionManager::from_env()
        .await
        .err()
        .ok_or("AWS_PROFILE=ghost built")?;
    ensure!(
        matches!(&err, Error::ProfileNotFound { profile, .. } if profile == "ghost"),
        "from AWS_PROFILE: {err:?}"
    );
    Ok(text)
}

async fn no_region_anywhere() -> Outcome {
    let proxy = Proxy::start(moto().addr());
    let user = iam_user("no-region").await;
    let files = profile_files(
        "[profile keys]\n",
        &format!(
            "[keys]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            user.key_id, user.secret
        ),
    );
    let bsm = with_files(&files)
        .profile_name("keys")
        .endpoint_url(proxy.endpoint())
        .build()
        .await
        .map_err(|e| build_err(&e))?;
    ensure!(bsm.aws_region().is_none(), "region {:?}", bsm.aws_region());
    ensure!(
        bsm.aws_account_id()
            .await
            .map_err(|e| bsm_tests::error_chain(&e))?
            == "123456789012",
        "account id"
    );
    let signed = proxy.requests()[0]
        .header("authorization")
        .unwrap_or_default()
        .to_owned();
    ensure!(
        signed.contains("/us-east-1/sts/"),
        "signed for us-east-1: {signed}"
    );
    let role = bsm
        .assume_role("arn:aws:iam::123456789012:role/bsm-noregion")
        .role_session_name("noregion")
        .send()
        .await
        .map_err(|e| bsm_tests::error_chain(&e))?;
    let arn = principal(&role).await?;
    ensure!(
        arn.ends_with("assumed-role/bsm-noregion/noregion"),
        "role principal {arn}"
    );
    let err = bsm
        .s3_client()
        .list_buckets()
        .send()
        .await
        .err()
        .ok_or("S3 without a region succeeded")?;
    let text = bsm_tests::error_chain(&err);
    ensure!(
        text.contains("region") && text.contains("AWS_REGION"),
        "the S3 error says no region is set and how to set one: {text}"
    );
    Ok("identity and assume_role without a region".into())
}

/// The loaded configuration's retry settings reach the STS calls of a
/// `role_arn` profile: with one attempt allowed, a failing STS sees one
/// `AssumeRole`, not the SDK's default three.
async fn settings_reach_the_profile_providers() -> Outcome {
    let proxy = Proxy::start(moto().addr());
    env("AWS_ENDPOINT_URL_STS", Some(&proxy.endpoint()));
    let base = iam_user("settings-base").await;
    let files = profile_files(
        "[profile role]\nregion = us-east-1\nrole_arn = arn:aws:iam::123456789012:role/bsm-settings\n\
         source_profile = base\nrole_session_name = settings\n",
        &format!(
            "[base]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            base.key_id, base.secret
        ),
    );
    proxy.fail_all(Some("AssumeRole"), bsm_tests::Fault::Unavailable);
    let mut counts = Vec::new();
    for attempts in [1, 2] {
        let before = proxy.count("AssumeRole");
        let built = with_files(&files)
            .profile_name("role")
            .endpoint_url(moto().endpoint())
            .retry_config(
                bsm::aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(attempts)
                    .with_initial_backoff(Duration::from_millis(10)),
            )
            .build()
            .await;
        ensure!(built.is_err(), "STS fails: the build fails");
        counts.push(proxy.count("AssumeRole") - before);
    }
    ensure!(
        counts == [1, 2],
        "AssumeRole attempts with 1 and 2 allowed: {counts:?}"
    );
    Ok(format!(
        "AssumeRole attempts with max_attempts 1, 2: {counts:?}"
    ))
}

#[test]
fn every_source_resolves_once_and_behaves_like_the_aws_tools() {
    let _turn = crate::exclusive();
    let scenarios: &[(&str, Scenario)] = &[
        ("credential_process", || Box::pin(credential_process())),
        ("role_arn chain", || Box::pin(role_profile_chain())),
        ("web identity profile", || Box::pin(web_identity_profile())),
        ("container", || Box::pin(container())),
        ("region-only profile", || {
            Box::pin(region_only_profile_falls_through_to_the_container())
        }),
        ("instance metadata", || Box::pin(instance_metadata())),
        ("SSO", || Box::pin(sso())),
        ("rotation", || {
            Box::pin(rotated_keys_are_seen_after_clear_cache())
        }),
        ("AWS_CREDENTIAL_EXPIRATION", || {
            Box::pin(environment_keys_with_an_expiration())
        }),
        ("missing profile", || {
            Box::pin(a_missing_profile_names_itself_and_the_files())
        }),
        ("no region", || Box::pin(no_region_anywhere())),
        ("settings reach the providers", || {
            Box::pin(settings_reach_the_profile_providers())
        }),
    ];
    let home = std::env::var_os("HOME");
    let mut failures = Vec::new();
    for (name, scenario) in scenarios {
        clean_env();
        if let Some(h) = &home {
            env("HOME", Some(&h.to_string_lossy()));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match rt.block_on(scenario()) {
            Ok(report) => println!("{name}: ok: {report}"),
            Err(e) => {
                println!("{name}: FAILED: {e}");
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
