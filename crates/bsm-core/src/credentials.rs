//! Where a manager's credentials come from, the one path they are resolved
//! through, and when they end. Nothing else in bsm asks a credentials
//! provider directly.
//!
//! # One path
//!
//! Every manager's `SdkConfig` carries a credentials provider and an
//! identity cache in front of it. Every client the manager builds, and every
//! place bsm itself needs the credentials (the fail-fast check in
//! [`build`](crate::SessionManagerBuilder::build),
//! [`credentials`](crate::SessionManager::credentials),
//! [`aws_cli_env`](crate::SessionManager::aws_cli_env),
//! [`to_snapshot`](crate::SessionManager::to_snapshot), the `bsm export`
//! command), asks through that identity cache. So a `credential_process`, an
//! SSO portal, a `role_arn` profile or instance metadata is asked once per
//! credential lifetime, not once per call. [`clear_cache`](crate::SessionManager::clear_cache)
//! starts a new generation: a credentials provider built anew (profile files
//! read again) behind a new identity cache.
//!
//! # How credentials are found
//!
//! The rules follow botocore (boto3, AWS CLI v1), the reference most AWS
//! users' expectations come from, and aws-config (the Rust SDK) where
//! botocore has no rule or where Rust users expect aws-config's:
//!
//! | Input | Rule | Source of the rule |
//! |---|---|---|
//! | `profile_name("p")` | the profile `p`, then container credentials, then instance metadata; keys in the environment and `AWS_ROLE_ARN`/`AWS_WEB_IDENTITY_TOKEN_FILE` are **not** read | botocore `create_credential_resolver`: an explicit profile removes the environment provider |
//! | no profile given | environment keys, then the profile, then web identity from the environment, then container, then instance metadata | aws-config `DefaultCredentialsChain` |
//! | which profile, when none is given | `AWS_DEFAULT_PROFILE`, else `AWS_PROFILE`, else `default` | botocore `configprovider.py` (`AWS_DEFAULT_PROFILE` first) |
//! | a profile that is named (given, or from either variable) but in neither file | [`Error::ProfileNotFound`], naming the profile and the files looked in | botocore `ProfileNotFound` |
//! | a profile with only a region | falls through to container credentials and instance metadata | botocore and aws-config alike |
//! | region | `region(..)` given, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's `region`, else instance metadata | aws-config; **differs from botocore**, which reads only `AWS_DEFAULT_REGION` and never instance metadata: every AWS SDK but botocore reads `AWS_REGION` |
//! | the STS and SSO calls credential providers make | honour `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_SSO`, `AWS_ENDPOINT_URL`, not the builder's [`endpoint_url`](crate::SessionManagerBuilder::endpoint_url), which is for the manager's clients | botocore and aws-config alike |
//! | no region anywhere | the providers' STS calls, identity and `assume_role` use STS in `us-east-1` (the global endpoint's signing region) | botocore's global STS endpoint |
//! | a profile with `login_session` (AWS CLI v2's `aws login`) | the token cached in `~/.aws/login/cache/<sha256 of the ARN>.json` (or `AWS_LOGIN_CACHE_DIRECTORY`); within 5 minutes of its end it is refreshed at AWS Sign-In with a `DPoP` proof of the cached key and written back (by aws-config, in place); needs the cargo feature `credentials-login` (the `bsm` command has it); a missing, expired or refused session fails with a [`hint`](crate::Error::hint) to run `aws login`; before aws-config reads the token, bsm refuses an empty or relative `AWS_LOGIN_CACHE_DIRECTORY` (aws-config and botocore would read the current folder), a cache folder of another user or one others can write to, and a token that is a link, a FIFO or a device (warns when others can read it) | aws-config `LoginCredentialsProvider`; botocore `LoginProvider` (with `awscrt`) reads and writes the same file |
//!
//! # When credentials end
//!
//! [`expiration_time`](crate::SessionManager::expiration_time) reports the
//! time after which the manager can no longer sign a request: the earliest
//! *fixed* end along its chain of sources. Credentials that the SDK renews
//! by itself have no fixed end while they can renew.
//!
//! | Credentials | `expiration_time()` |
//! |---|---|
//! | instance metadata, container, SSO, `aws login`, web identity, a `role_arn` profile, `credential_process` | `None`: the SDK asks the source again before they end |
//! | static keys (given, from a profile, from the environment) | `None` |
//! | keys in the environment with `AWS_CREDENTIAL_EXPIRATION` | that time |
//! | any manager built with [`expiration_time(t)`](crate::SessionManagerBuilder::expiration_time) | `t` (or an earlier fixed end of its credentials) |
//! | a one-shot [`assume_role`](crate::SessionManager::assume_role) | STS's `Expiration` |
//! | an auto-refreshing role | its source's fixed end (it cannot refresh once its source is gone); with a fixed MFA code, also the end of its first credentials |
//! | a ready `SdkConfig`'s or a custom provider's credentials | their own expiry, unless a provider above made them |

use std::sync::Arc;
use std::time::SystemTime;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::identity::IdentityCache;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::Credentials;
use aws_credential_types::credential_feature::AwsCredentialFeature;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime::client::auth::no_auth::{NO_AUTH_SCHEME_ID, NoAuthScheme};
use aws_smithy_runtime::client::identity::no_auth::NoAuthIdentityResolver;
use aws_smithy_runtime::client::orchestrator::endpoints::StaticUriEndpointResolver;
use aws_smithy_runtime::client::retries::strategy::NeverRetryStrategy;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::identity::{
    ResolveCachedIdentity, SharedIdentityCache, SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_types::config_bag::{ConfigBag, Layer};
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::error::BoxError;
use crate::{Error, Result};

/// The region STS calls are signed for when none is configured: STS's
/// global endpoint lives there.
pub(crate) const GLOBAL_STS_REGION: &str = "us-east-1";

/// How each generation of a manager gets its credentials provider.
#[derive(Clone)]
pub(crate) enum Recipe {
    /// A provider used as it is: explicit keys, a snapshot, a one-shot
    /// role's credentials, a ready `SdkConfig`'s or a custom provider. Each
    /// generation wraps it anew, which gives it a fresh slot in the identity
    /// cache.
    Given(SharedCredentialsProvider),
    /// A chain of aws-config providers, built anew for each generation (so
    /// profile files are read again).
    Chain(Box<ChainSettings>),
    /// An auto-refreshing assumed role.
    Role(crate::role_provider::RoleRecipe),
    /// The credentials of another manager's current generation, shared
    /// (same provider, same identity cache): a manager for another region.
    Follow(Arc<arc_swap::ArcSwap<crate::client_cache::Generation>>),
}

impl Recipe {
    /// The provider and identity cache of a new generation.
    pub(crate) fn make(
        &self,
        base: &SdkConfig,
    ) -> (SharedCredentialsProvider, SharedIdentityCache) {
        match self {
            Recipe::Given(p) => (
                SharedCredentialsProvider::new(p.clone()),
                base.identity_cache()
                    .unwrap_or_else(|| IdentityCache::lazy().build()),
            ),
            Recipe::Chain(settings) => (settings.build(), IdentityCache::lazy().build()),
            Recipe::Role(role) => (role.provider(), role.identity_cache()),
            Recipe::Follow(parent) => {
                let g = parent.load();
                (g.provider.clone(), g.identity_cache.clone())
            }
        }
    }
}

/// Everything the credential providers of a chain are configured with: what
/// the loaded configuration has, so FIPS, dual-stack, retry, timeouts, the
/// HTTP client and the region reach their STS, SSO and metadata calls.
#[derive(Clone)]
pub(crate) struct ChainSettings {
    /// The profile was named to the builder: the environment is not read
    /// (botocore's rule for an explicit profile).
    pub(crate) explicit_profile: bool,
    /// The profile to read; `None`: aws-config's own choice (`AWS_PROFILE`,
    /// else `default`).
    pub(crate) profile: Option<String>,
    pub(crate) files: Option<EnvConfigFiles>,
    pub(crate) region: Option<Region>,
    pub(crate) http_client: SharedHttpClient,
    pub(crate) use_fips: Option<bool>,
    pub(crate) use_dual_stack: Option<bool>,
    pub(crate) retry: Option<RetryConfig>,
    pub(crate) timeout: Option<TimeoutConfig>,
    pub(crate) time_source: Option<SharedTimeSource>,
    pub(crate) sleep: Option<SharedAsyncSleep>,
}

impl ChainSettings {
    /// The settings of a loaded configuration.
    pub(crate) fn from_config(
        config: &SdkConfig,
        explicit_profile: bool,
        profile: Option<String>,
        files: Option<EnvConfigFiles>,
        http_client: SharedHttpClient,
    ) -> Self {
        Self {
            explicit_profile,
            profile,
            files,
            region: config.region().cloned(),
            http_client,
            use_fips: config.use_fips(),
            use_dual_stack: config.use_dual_stack(),
            retry: config.retry_config().cloned(),
            timeout: config.timeout_config().cloned(),
            time_source: config.time_source(),
            sleep: config.sleep_impl(),
        }
    }

    /// A new `ProviderConfig` (each has its own parsed-profile cache, so a
    /// new one reads the files again).
    fn provider_config(&self) -> ProviderConfig {
        let region = self
            .region
            .clone()
            .unwrap_or_else(|| Region::from_static(GLOBAL_STS_REGION));
        let mut pc = ProviderConfig::without_region()
            .with_region(Some(region))
            .with_http_client(self.http_client.clone())
            .with_use_fips(self.use_fips)
            .with_use_dual_stack(self.use_dual_stack)
            .with_behavior_version(Some(aws_config::BehaviorVersion::latest()));
        if let Some(r) = &self.retry {
            pc = pc.with_retry_config(r.clone());
        }
        if let Some(t) = &self.timeout {
            pc = pc.with_timeout_config(t.clone());
        }
        if let Some(t) = &self.time_source {
            pc = pc.with_time_source(t.clone());
        }
        if let Some(s) = &self.sleep {
            pc = pc.with_sleep_impl(s.clone());
        }
        pc
    }

    /// The chain: for a named profile, the profile, container credentials
    /// and instance metadata; otherwise aws-config's default order
    /// (environment, profile, web identity, container, instance metadata).
    pub(crate) fn build(&self) -> SharedCredentialsProvider {
        let pc = self.provider_config();
        let mut profile = ProfileFileCredentialsProvider::builder().configure(&pc);
        if let Some(name) = &self.profile {
            profile = profile.profile_name(name);
        }
        if let Some(files) = &self.files {
            profile = profile.profile_files(files.clone());
        }
        let profile = profile.build();
        let ecs = EcsCredentialsProvider::builder().configure(&pc).build();
        let imds = ImdsCredentialsProvider::builder().configure(&pc).build();
        let chain = if self.explicit_profile {
            CredentialsProviderChain::first_try("Profile", profile)
        } else {
            let web_identity = WebIdentityTokenCredentialsProvider::builder()
                .configure(&pc)
                .build();
            CredentialsProviderChain::first_try(
                "Environment",
                EnvironmentVariableCredentialsProvider::new(),
            )
            .or_else("Profile", profile)
            .or_else("WebIdentityToken", web_identity)
        };
        SharedCredentialsProvider::new(
            chain
                .or_else("EcsContainer", ecs)
                .or_else("Ec2InstanceMetadata", imds),
        )
    }
}

/// The identity cache in every generation's configuration: it answers from
/// the manager's *current* generation, its identity cache and credentials
/// provider, so that a client handed out before
/// [`clear_cache`](crate::SessionManager::clear_cache) signs with the
/// credentials read again, as a new one does. Other identities a client
/// resolves (not the generation's credentials: an S3 Express session, say)
/// are cached in the current generation's cache too. It holds the
/// generations weakly (each generation's configuration holds it); once the
/// manager is gone, a client kept alone answers from the generation it was
/// made for.
#[derive(Debug)]
pub(crate) struct CurrentGeneration {
    generations: std::sync::Weak<arc_swap::ArcSwap<crate::client_cache::Generation>>,
    own_provider: SharedCredentialsProvider,
    own_cache: SharedIdentityCache,
}

impl CurrentGeneration {
    pub(crate) fn new(
        generations: std::sync::Weak<arc_swap::ArcSwap<crate::client_cache::Generation>>,
        own_provider: SharedCredentialsProvider,
        own_cache: SharedIdentityCache,
    ) -> Self {
        Self {
            generations,
            own_provider,
            own_cache,
        }
    }
}

impl ResolveCachedIdentity for CurrentGeneration {
    fn resolve_cached_identity<'a>(
        &'a self,
        resolver: SharedIdentityResolver,
        runtime_components: &'a aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        config_bag: &'a ConfigBag,
    ) -> aws_smithy_runtime_api::client::identity::IdentityFuture<'a> {
        let own = SharedIdentityResolver::new(self.own_provider.clone()).cache_partition();
        let credentials = resolver.cache_partition() == own;
        let Some(generations) = self.generations.upgrade() else {
            return self.own_cache.resolve_cached_identity(
                resolver,
                runtime_components,
                config_bag,
            );
        };
        let current = generations.load_full();
        aws_smithy_runtime_api::client::identity::IdentityFuture::new(async move {
            let resolver = if credentials {
                SharedIdentityResolver::new(current.provider.clone())
            } else {
                resolver
            };
            current
                .identity_cache
                .resolve_cached_identity(resolver, runtime_components, config_bag)
                .await
        })
    }
}

/// The profile named by the environment, botocore's way:
/// `AWS_DEFAULT_PROFILE`, else `AWS_PROFILE` (empty values are ignored).
pub(crate) fn env_profile() -> Option<String> {
    ["AWS_DEFAULT_PROFILE", "AWS_PROFILE"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|p| !p.is_empty()))
}

/// The files profiles are read from: the ones given, else `AWS_CONFIG_FILE`
/// and `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and
/// `~/.aws/credentials`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfilePaths {
    pub(crate) config: Option<std::path::PathBuf>,
    pub(crate) credentials: Option<std::path::PathBuf>,
}

impl ProfilePaths {
    /// Both files as aws-config takes them; `None` when neither is set.
    pub(crate) fn env_config_files(&self) -> Option<EnvConfigFiles> {
        if self.config.is_none() && self.credentials.is_none() {
            return None;
        }
        let mut b = EnvConfigFiles::builder();
        b = match &self.config {
            Some(p) => b.with_file(EnvConfigFileKind::Config, p),
            None => b.include_default_config_file(true),
        };
        b = match &self.credentials {
            Some(p) => b.with_file(EnvConfigFileKind::Credentials, p),
            None => b.include_default_credentials_file(true),
        };
        Some(b.build())
    }

    /// The two files that are read, for messages: given, from the
    /// environment, or the defaults under the home folder.
    pub(crate) fn effective(&self) -> Vec<std::path::PathBuf> {
        let home = || std::env::var_os("HOME").map_or_else(|| "~".into(), std::path::PathBuf::from);
        let pick = |given: &Option<std::path::PathBuf>, var: &str, default: &str| {
            given
                .clone()
                .or_else(|| std::env::var_os(var).map(Into::into))
                .unwrap_or_else(|| home().join(".aws").join(default))
        };
        vec![
            pick(&self.config, "AWS_CONFIG_FILE", "config"),
            pick(
                &self.credentials,
                "AWS_SHARED_CREDENTIALS_FILE",
                "credentials",
            ),
        ]
    }
}

/// Fails with [`Error::ProfileNotFound`] unless `name` is a profile of the
/// config or credentials file (botocore refuses a missing profile before
/// anything else; aws-config would go on to instance metadata).
pub(crate) async fn check_profile_exists(
    name: &str,
    files: Option<&EnvConfigFiles>,
    shown: &ProfilePaths,
    opaque_files: bool,
) -> Result<()> {
    use aws_types::os_shim_internal::{Env, Fs};
    let default_files = EnvConfigFiles::default();
    let set = aws_config::profile::parser::load(
        &Fs::real(),
        &Env::real(),
        files.unwrap_or(&default_files),
        Some(name.to_owned().into()),
    )
    .await;
    match set {
        Ok(set) if set.get_profile(name).is_some() => Ok(()),
        Ok(_) => Err(Error::ProfileNotFound {
            profile: name.to_owned(),
            files: if opaque_files {
                Vec::new()
            } else {
                shown.effective()
            },
        }),
        Err(e) => Err(Error::Credentials {
            profile: Some(name.to_owned()),
            source: Box::new(e),
        }),
    }
}

/// The current credentials of `config`, through its identity cache: the
/// same cache entry its clients use, so this neither fetches again what a
/// client resolved nor makes a client fetch again what this resolved.
pub(crate) async fn resolve(config: &SdkConfig) -> std::result::Result<Credentials, BoxError> {
    let provider = config
        .credentials_provider()
        .ok_or("no credentials provider is configured")?;
    let cache = config
        .identity_cache()
        .ok_or("no identity cache is configured")?;
    let components = runtime_components(config, Some(cache.clone()))?;
    // The same retry and timeout settings a client has, so the cache's load
    // timeout is the one a client would get.
    let mut layer = Layer::new("bsm-credentials");
    if let Some(r) = config.retry_config() {
        layer.store_put(r.clone());
    }
    if let Some(t) = config.timeout_config() {
        layer.store_put(t.clone());
    }
    let bag = ConfigBag::of_layers(vec![layer]);
    let identity = cache
        .resolve_cached_identity(SharedIdentityResolver::new(provider), &components, &bag)
        .await?;
    identity
        .data::<Credentials>()
        .cloned()
        .ok_or_else(|| "the identity resolved is not AWS credentials".into())
}

/// Runtime components for calling into the SDK's machinery outside an
/// operation (the identity cache, an HTTP connector): `config`'s clock and
/// sleep (the cache's load timeout and the connector's timeouts need
/// them), `cache`, and placeholders that `build` insists on and nothing
/// here uses.
pub(crate) fn runtime_components(
    config: &SdkConfig,
    cache: Option<SharedIdentityCache>,
) -> std::result::Result<
    aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    BoxError,
> {
    let time_source = config.time_source().ok_or("no time source is configured")?;
    let sleep = config.sleep_impl().ok_or("no async sleep is configured")?;
    Ok(RuntimeComponentsBuilder::new("bsm-credentials")
        .with_time_source(Some(time_source))
        .with_sleep_impl(Some(sleep))
        .with_identity_cache(cache)
        .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
            NO_AUTH_SCHEME_ID,
        ])))
        .with_auth_scheme(NoAuthScheme::new())
        .with_identity_resolver(NO_AUTH_SCHEME_ID, NoAuthIdentityResolver::new())
        .with_endpoint_resolver(Some(StaticUriEndpointResolver::uri(
            "http://unused.invalid",
        )))
        .with_retry_strategy(Some(NeverRetryStrategy::new()))
        .build()?)
}

/// The fixed end of credentials just resolved (see the module's table).
///
/// aws-config's providers (and bsm's refreshing role) tag what they return
/// with the features that made it (`Vec<AwsCredentialFeature>`). Credentials
/// so tagged are renewed by asking the source again, except keys from the
/// environment, whose end is `AWS_CREDENTIAL_EXPIRATION`; static keys from
/// a profile carry no expiry at all. Untagged credentials (given to the
/// builder, or made by a custom provider) end at their own expiry.
pub(crate) fn fixed_end(creds: &Credentials) -> Option<SystemTime> {
    match creds.get_property::<Vec<AwsCredentialFeature>>() {
        Some(features) if features == &[AwsCredentialFeature::CredentialsEnvVars] => {
            std::env::var("AWS_CREDENTIAL_EXPIRATION")
                .ok()
                .and_then(|t| parse_rfc3339(&t))
                .or(creds.expiry())
        }
        Some(features) if !features.is_empty() => None,
        _ => creds.expiry(),
    }
}

/// An RFC 3339 time (`2026-11-25T10:00:00Z`), as the AWS tools write it.
pub(crate) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from_str(text.trim(), Format::DateTime)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())
}

/// The earlier of two optional ends.
pub(crate) fn earliest(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Where a manager's credentials come from (for `Debug` and the CLI handoff).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The default credential chain.
    DefaultChain,
    /// A named profile of the shared config files.
    Profile(String),
    /// Keys given to the builder or read from a snapshot.
    Explicit,
    /// A ready `SdkConfig` given to the builder.
    SdkConfig,
    /// A credentials provider given to the builder.
    Provider,
    /// An assumed role.
    AssumedRole(String),
    /// An MFA session (`GetSessionToken`) of this MFA device.
    MfaSession(String),
    /// A session (`GetSessionToken`, no MFA) of long-lived keys.
    SessionToken,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(features: &[AwsCredentialFeature], expiry: Option<SystemTime>) -> Credentials {
        let mut c = Credentials::new("AKIA", "secret", None, expiry, "test");
        for f in features {
            c.get_property_mut_or_default::<Vec<AwsCredentialFeature>>()
                .push(f.clone());
        }
        c
    }

    #[test]
    fn renewed_credentials_have_no_fixed_end_and_others_keep_theirs() {
        use AwsCredentialFeature as F;
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2_000_000_000);
        for f in [
            F::CredentialsImds,
            F::CredentialsHttp,
            F::CredentialsSso,
            F::CredentialsProcess,
        ] {
            assert_eq!(
                fixed_end(&creds(std::slice::from_ref(&f), Some(t))),
                None,
                "{f:?}"
            );
        }
        assert_eq!(
            fixed_end(&creds(
                &[F::CredentialsStsAssumeRole, F::CredentialsProfile],
                Some(t)
            )),
            None
        );
        assert_eq!(
            fixed_end(&creds(&[], Some(t))),
            Some(t),
            "untagged: their own"
        );
        assert_eq!(fixed_end(&creds(&[F::CredentialsProfile], None)), None);
        // A custom provider may leave an empty list of features: untagged.
        let mut empty = creds(&[], Some(t));
        empty.get_property_mut_or_default::<Vec<AwsCredentialFeature>>();
        assert_eq!(fixed_end(&empty), Some(t), "an empty list: their own");
    }

    #[test]
    fn one_profile_file_given_is_enough_and_the_other_is_the_default() {
        let none = ProfilePaths::default();
        assert!(none.env_config_files().is_none(), "aws-config's own rules");
        for paths in [
            ProfilePaths {
                config: Some("/tmp/bsm-config".into()),
                credentials: None,
            },
            ProfilePaths {
                config: None,
                credentials: Some("/tmp/bsm-credentials".into()),
            },
        ] {
            let files = paths.env_config_files().expect("the file given is used");
            let debug = format!("{files:?}");
            let given = paths.config.or(paths.credentials).unwrap();
            assert!(debug.contains(given.to_str().unwrap()), "{debug}");
        }
    }

    #[test]
    fn rfc3339_times_parse_and_the_earliest_end_wins() {
        let t = parse_rfc3339("2033-05-18T03:33:20Z").unwrap();
        assert_eq!(
            t,
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2_000_000_000)
        );
        assert_eq!(parse_rfc3339("tomorrow"), None);
        let early = t - std::time::Duration::from_secs(1);
        assert_eq!(earliest(Some(t), Some(early)), Some(early));
        assert_eq!(earliest(None, Some(t)), Some(t));
        assert_eq!(earliest(None, None), None);
    }
}
