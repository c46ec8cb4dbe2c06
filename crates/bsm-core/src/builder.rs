//! [`SessionManagerBuilder`]: every way to make a [`SessionManager`], in the
//! style of `aws_config::ConfigLoader`, and the HTTP client a manager's
//! clients share. Which credentials a build finds is decided in
//! `credentials.rs`.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::child_env::ChildSettings;
use crate::credentials::{self, ChainSettings, ProfilePaths, Recipe};
use crate::error::Input;
use crate::session::EndRule;
use crate::session::{Hook, Parts};
use crate::{AwsService, CredentialSource, Error, Result, Service, SessionManager};

impl SessionManager {
    /// A manager from the default credential chain and region (environment,
    /// shared config files, SSO, web identity, container and instance
    /// metadata), like `aws_config::load_defaults`; see
    /// [the rules](crate::credentials#how-credentials-are-found).
    ///
    /// Resolves the credentials once while building (through the identity
    /// cache every client uses, so the first request does not fetch them
    /// again): a machine without credentials fails here with
    /// [`Error::Credentials`] rather than at the first request.
    pub async fn from_env() -> Result<Self> {
        Self::builder().build().await
    }

    /// A builder for every other way to make a manager.
    pub fn builder() -> crate::SessionManagerBuilder {
        crate::SessionManagerBuilder::default()
    }
}

/// Builds a [`SessionManager`], in the style of `aws_config::ConfigLoader`.
///
/// Which credentials and region a build finds, and how that compares with
/// boto3 and the AWS CLI, is the table in [`bsm::credentials`](crate::credentials).
///
/// ```no_run
/// # use bsm_core as bsm;
/// # async fn run() -> bsm::Result<()> {
/// let bsm = bsm::SessionManager::builder()
///     .profile_name("dev")
///     .region("eu-west-1")
///     .endpoint_url("http://127.0.0.1:5000") // moto, LocalStack, MinIO
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Default)]
#[must_use]
pub struct SessionManagerBuilder {
    profile_name: Option<String>,
    region: Option<String>,
    credentials: Option<(String, String, Option<String>)>,
    credentials_provider: Option<SharedCredentialsProvider>,
    sdk_config: Option<SdkConfig>,
    endpoint_url: Option<String>,
    expiration_time: Option<SystemTime>,
    profile_files: Option<aws_runtime::env_config::file::EnvConfigFiles>,
    profile_paths: ProfilePaths,
    timeout_config: Option<aws_config::timeout::TimeoutConfig>,
    retry_config: Option<aws_config::retry::RetryConfig>,
    hooks: HashMap<AwsService, Arc<dyn Any + Send + Sync>>,
}

impl SessionManagerBuilder {
    /// Read profiles from these files instead of `~/.aws/config` and
    /// `~/.aws/credentials` (or the files `AWS_CONFIG_FILE` and
    /// `AWS_SHARED_CREDENTIALS_FILE` name).
    pub fn profile_files(mut self, files: aws_runtime::env_config::file::EnvConfigFiles) -> Self {
        self.profile_files = Some(files);
        self
    }

    /// Read profiles from these two files instead of `~/.aws/config` and
    /// `~/.aws/credentials` (the files `AWS_CONFIG_FILE` and
    /// `AWS_SHARED_CREDENTIALS_FILE` name). Unlike
    /// [`profile_files`](Self::profile_files), bsm knows the paths: errors
    /// name them, and [`aws_cli_env`](SessionManager::aws_cli_env) hands
    /// them to child processes.
    pub fn profile_file_paths(
        mut self,
        config: impl Into<PathBuf>,
        credentials: impl Into<PathBuf>,
    ) -> Self {
        self.profile_paths = ProfilePaths {
            config: Some(config.into()),
            credentials: Some(credentials.into()),
        };
        self
    }

    /// Use this profile of the shared config and credentials files, the way
    /// `aws --profile` and boto3's `Session(profile_name=...)` do: keys in
    /// the environment do not override it, and a profile without
    /// credentials of its own (only a region, say) falls through to
    /// container credentials and instance metadata. A profile that neither
    /// file has fails the build with [`Error::ProfileNotFound`].
    pub fn profile_name(mut self, name: impl Into<String>) -> Self {
        self.profile_name = Some(name.into());
        self
    }

    /// Use this region instead of the one the chain or profile gives: a
    /// `&str`, a `String` or aws-config's [`Region`].
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run() -> bsm::Result<()> {
    /// use bsm::aws_types::region::Region;
    /// let a = bsm::SessionManager::builder().region("eu-west-1").build().await?;
    /// let b = bsm::SessionManager::builder().region(Region::new("eu-west-1")).build().await?;
    /// assert_eq!(a.region(), b.region());
    /// # Ok(()) }
    /// ```
    pub fn region(mut self, region: impl AsRef<str>) -> Self {
        self.region = Some(region.as_ref().to_owned());
        self
    }

    /// Use these static keys instead of the credential chain.
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        self.credentials = Some((
            access_key_id.into(),
            secret_access_key.into(),
            session_token,
        ));
        self
    }

    /// Use this credentials provider instead of the credential chain, as
    /// `aws_config::ConfigLoader::credentials_provider` does (any
    /// [`ProvideCredentials`]: a provider of aws-config, your own, or fixed
    /// [`Credentials`]). Its credentials go through the manager's identity
    /// cache like any other.
    pub fn credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials_provider = Some(SharedCredentialsProvider::new(provider));
        self
    }

    /// Timeouts for every client (connect, read, per attempt, per operation).
    pub fn timeout_config(mut self, config: aws_config::timeout::TimeoutConfig) -> Self {
        self.timeout_config = Some(config);
        self
    }

    /// Retries for every client (attempts, backoff).
    pub fn retry_config(mut self, config: aws_config::retry::RetryConfig) -> Self {
        self.retry_config = Some(config);
        self
    }

    /// Use a snapshot's credentials, region, endpoint URL and expiry (see
    /// [`Snapshot`](crate::Snapshot)); what the snapshot does not have is
    /// left as the builder has it.
    pub fn snapshot(mut self, snapshot: &crate::Snapshot) -> Self {
        self.credentials = Some((
            snapshot.aws_access_key_id.clone(),
            snapshot.aws_secret_access_key.clone(),
            snapshot.aws_session_token.clone(),
        ));
        if let Some(r) = &snapshot.region_name {
            self.region = Some(r.clone());
        }
        if let Some(u) = &snapshot.endpoint_url {
            self.endpoint_url = Some(u.clone());
        }
        if let Some(t) = snapshot.expiration {
            self.expiration_time = Some(t);
        }
        self
    }

    /// Start from a ready SDK configuration (the counterpart of passing a
    /// botocore session). The builder's region, credentials, endpoint,
    /// timeouts and retries, if set, override its own. A profile
    /// ([`profile_name`](Self::profile_name), profile files) cannot be
    /// combined with it: the `SdkConfig` brings its own credentials and
    /// region, so the build fails with [`Error::InvalidInput`] rather than
    /// ignore the profile.
    pub fn sdk_config(mut self, config: SdkConfig) -> Self {
        self.sdk_config = Some(config);
        self
    }

    /// Send every request of every client to this endpoint (`LocalStack`,
    /// moto, `MinIO`).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Treat the credentials as expiring at this time (see
    /// [`SessionManager::is_expired`]).
    pub fn expiration_time(mut self, at: SystemTime) -> Self {
        self.expiration_time = Some(at);
        self
    }

    /// A hook applied to the config builder of every client of service `C`
    /// that the manager builds (cached, `client_with`, and the managers of
    /// assumed roles). Hooks for the same service run in the order given.
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # #[cfg(feature = "s3")]
    /// # async fn run() -> bsm::Result<()> {
    /// let bsm = bsm::SessionManager::builder()
    ///     .configure::<bsm::aws_sdk_s3::Client>(|b| b.force_path_style(true))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn configure<C: Service>(
        mut self,
        hook: impl Fn(C::ConfigBuilder) -> C::ConfigBuilder + Send + Sync + 'static,
    ) -> Self {
        let previous = self
            .hooks
            .get(&C::SERVICE)
            .and_then(|h| h.downcast_ref::<Hook<C>>())
            .cloned();
        let combined: Hook<C> = match previous {
            Some(first) => Arc::new(move |b| hook(first(b))),
            None => Arc::new(hook),
        };
        self.hooks.insert(C::SERVICE, Arc::new(combined));
        self
    }

    /// Loads the configuration and resolves the credentials once, through
    /// the identity cache every client of the manager uses (so the first
    /// request does not fetch them again).
    ///
    /// Fails with [`Error::InvalidInput`] for an empty region, profile name,
    /// key id, secret or endpoint URL, or a profile together with
    /// [`sdk_config`](Self::sdk_config); with [`Error::ProfileNotFound`] for
    /// a profile that neither file has; and with [`Error::Credentials`] when
    /// no credentials can be resolved.
    pub async fn build(mut self) -> Result<SessionManager> {
        let explicit = self.validate()?;
        let given: Option<SharedCredentialsProvider> = explicit
            .map(SharedCredentialsProvider::new)
            .or_else(|| self.credentials_provider.clone());
        let source = match (&self.credentials, &self.credentials_provider) {
            (Some(_), _) => CredentialSource::Explicit,
            (None, Some(_)) => CredentialSource::Provider,
            (None, None) if self.sdk_config.is_some() => CredentialSource::SdkConfig,
            (None, None) => match &self.profile_name {
                Some(p) => CredentialSource::Profile(p.clone()),
                None => CredentialSource::DefaultChain,
            },
        };
        let http_client = shared_http_client();
        let region_given = self.region.is_some() || self.sdk_config.is_some();
        let profile_for_region = self.profile_name.clone().or_else(credentials::env_profile);
        let (base, recipe, profile_in_use, child) = match self.sdk_config.take() {
            Some(config) => {
                // A ready configuration's retry settings are the user's own.
                let child = ChildSettings::of_ready_config();
                let (base, recipe) = self.onto_ready_config(&config, given, http_client)?;
                (base, recipe, None, child)
            }
            None => self.load(given, http_client).await?,
        };
        let manager = SessionManager::new(Parts {
            base,
            recipe,
            profile_name: self.profile_name,
            profile_paths: self.profile_paths,
            child: Arc::new(child),
            explicit_expiration: self.expiration_time,
            end_rule: EndRule::Resolved,
            hooks: Arc::new(self.hooks),
            source,
        });
        #[cfg(feature = "credentials-login")]
        if login_cache_read(&manager) {
            let profile = profile_in_use
                .clone()
                .unwrap_or_else(|| "default".to_owned());
            crate::login::check(&profile, manager.profile_paths()).await?;
        }
        let started = std::time::Instant::now();
        let resolved = manager.credentials().await;
        let resolved_in = Some(started.elapsed());
        let region_from = crate::chain::region_origin(
            manager.aws_region(),
            region_given,
            profile_for_region.as_deref(),
            manager.profile_paths(),
        )
        .await;
        manager.set_facts(crate::session::BuildFacts {
            region_from,
            resolved_in,
        });
        match resolved {
            Ok(_) => Ok(manager),
            Err(Error::Credentials { source, .. }) => Err(Error::Credentials {
                source: crate::explain::with_hint(
                    source,
                    profile_in_use.as_deref(),
                    manager.profile_paths(),
                    started.elapsed(),
                )
                .await,
                profile: profile_in_use,
            }),
            Err(other) => Err(other),
        }
    }

    /// A ready `SdkConfig` with the builder's overrides, and the provider
    /// its generations use.
    fn onto_ready_config(
        &mut self,
        config: &SdkConfig,
        given: Option<SharedCredentialsProvider>,
        http_client: SharedHttpClient,
    ) -> Result<(SdkConfig, Recipe)> {
        let Some(provider) = given.or_else(|| config.credentials_provider()) else {
            return Err(Error::Credentials {
                profile: None,
                source: "the SdkConfig given has no credentials provider".into(),
            });
        };
        let mut b = config.to_builder();
        if let Some(r) = self.region.take() {
            b.set_region(Some(Region::new(r)));
        }
        if let Some(url) = self.endpoint_url.take() {
            b.set_endpoint_url(Some(url));
        }
        if config.http_client().is_none() {
            b.set_http_client(Some(http_client));
        }
        if let Some(t) = self.timeout_config.take() {
            b.set_timeout_config(Some(t));
        }
        if let Some(r) = self.retry_config.take() {
            b.set_retry_config(Some(r));
        }
        // Resolving through the identity cache needs a cache, a clock and a
        // sleep; a hand-built SdkConfig may have none of them.
        if config.identity_cache().is_none() {
            b.set_identity_cache(Some(aws_config::identity::IdentityCache::lazy().build()));
        }
        if config.time_source().is_none() {
            b.set_time_source(Some(aws_smithy_async::time::SharedTimeSource::default()));
        }
        if config.sleep_impl().is_none() {
            b.set_sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep());
        }
        if config.behavior_version().is_none() {
            b.set_behavior_version(Some(BehaviorVersion::latest()));
        }
        Ok((b.build(), Recipe::Given(provider)))
    }

    /// Loads the configuration as aws-config does (region, endpoint, files),
    /// without its credentials chain: bsm builds the chain itself, with the
    /// rules of [`bsm::credentials`](crate::credentials). Returns the
    /// profile in use, if one is named.
    async fn load(
        &mut self,
        given: Option<SharedCredentialsProvider>,
        http_client: SharedHttpClient,
    ) -> Result<(SdkConfig, Recipe, Option<String>, ChildSettings)> {
        // A pipe (a FIFO, `AWS_CONFIG_FILE=<(...)`) would be waited on,
        // and read empty the second time: refused, naming it.
        #[cfg(unix)]
        for path in self.profile_paths.effective() {
            use std::os::unix::fs::FileTypeExt as _;
            if std::fs::metadata(&path)
                .is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_socket())
            {
                return Err(Error::invalid(
                    Input::ProfileFiles,
                    path.display().to_string(),
                    "is a pipe or a socket: the SDK reads the profile files more than once and \
                     would wait on it; give a regular file",
                ));
            }
        }
        // botocore's order for the profile the chain reads:
        // AWS_DEFAULT_PROFILE, then AWS_PROFILE.
        let profile = self.profile_name.clone().or_else(credentials::env_profile);
        let files = self
            .profile_files
            .clone()
            .or_else(|| self.profile_paths.env_config_files());
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client.clone())
            .no_credentials();
        if let Some(p) = &profile {
            loader = loader.profile_name(p);
        }
        if let Some(f) = &files {
            loader = loader.profile_files(f.clone());
        }
        if let Some(r) = self.region.take() {
            loader = loader.region(Region::new(r));
        }
        if let Some(url) = self.endpoint_url.take() {
            loader = loader.endpoint_url(url);
        }
        if let Some(t) = self.timeout_config.take() {
            loader = loader.timeout_config(t);
        }
        let retry_given = self.retry_config.is_some();
        if let Some(r) = self.retry_config.take() {
            loader = loader.retry_config(r);
        }
        let config = loader.load().await;
        let child = ChildSettings::read(profile.as_deref(), files.as_ref(), retry_given).await;
        if let Some(p) = given {
            return Ok((config, Recipe::Given(p), profile, child));
        }
        if let Some(p) = &profile {
            credentials::check_profile_exists(
                p,
                files.as_ref(),
                &self.profile_paths,
                self.profile_files.is_some(),
            )
            .await?;
        }
        let settings = ChainSettings::from_config(
            &config,
            self.profile_name.is_some(),
            profile.clone(),
            files,
            http_client,
        );
        Ok((config, Recipe::Chain(Box::new(settings)), profile, child))
    }

    /// Rejects empty or malformed inputs; returns the explicit credentials.
    fn validate(&self) -> Result<Option<Credentials>> {
        for (what, value) in [
            (Input::Region, &self.region),
            (Input::ProfileName, &self.profile_name),
            (Input::EndpointUrl, &self.endpoint_url),
        ] {
            if let Some(v) = value {
                Error::check_plain(what, v)?;
            }
        }
        if self.sdk_config.is_some() {
            let reason = "cannot be combined with sdk_config, which brings its own credentials \
                          and region: load the SdkConfig with aws_config::defaults(..).profile_name(..), \
                          or leave sdk_config out";
            if let Some(p) = &self.profile_name {
                return Err(Error::invalid(Input::ProfileName, p, reason));
            }
            if self.profile_files.is_some() || self.profile_paths.config.is_some() {
                return Err(Error::invalid(Input::ProfileFiles, "<given>", reason));
            }
        }
        if let Some(url) = &self.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            let reason = "must start with http:// or https://";
            return Err(Error::invalid(Input::EndpointUrl, url, reason));
        }
        let Some((id, secret, token)) = &self.credentials else {
            return Ok(None);
        };
        if id.trim().is_empty() {
            return Err(Error::invalid(Input::AccessKeyId, id, "must not be empty"));
        }
        if secret.trim().is_empty() {
            return Err(Error::invalid(
                Input::SecretAccessKey,
                "<redacted>",
                "must not be empty",
            ));
        }
        if token.as_deref().is_some_and(str::is_empty) {
            let reason = "must not be empty when given";
            return Err(Error::invalid(Input::SessionToken, "<redacted>", reason));
        }
        Ok(Some(Credentials::new(
            id,
            secret,
            token.clone(),
            None,
            "bsm",
        )))
    }
}

impl fmt::Debug for SessionManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManagerBuilder")
            .field("profile_name", &self.profile_name)
            .field("region", &self.region)
            .field("access_key_id", &self.credentials.as_ref().map(|c| &c.0))
            .field(
                "secret_access_key",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .field("has_sdk_config", &self.sdk_config.is_some())
            .field("endpoint_url", &self.endpoint_url)
            .field("expiration_time", &self.expiration_time)
            .field("profile_files", &self.profile_files)
            .field("profile_file_paths", &self.profile_paths)
            .field(
                "has_credentials_provider",
                &self.credentials_provider.is_some(),
            )
            .field("timeout_config", &self.timeout_config)
            .field("retry_config", &self.retry_config)
            .field(
                "configured_services",
                &self.hooks.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One HTTPS client for every service client of a manager (and of the
/// managers derived from it): one connection pool, one TLS setup. Built like
/// the SDK's own default client (rustls with aws-lc, proxy settings from the
/// environment); the SDK would otherwise build one per service client.
pub(crate) fn shared_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// Whether the chain of `manager` may read a profile's `aws login` token:
/// it reads the shared files (a profile named, or the default chain), and
/// for the default chain no keys in the environment come first.
#[cfg(feature = "credentials-login")]
fn login_cache_read(manager: &SessionManager) -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    match manager.credential_source() {
        CredentialSource::Profile(_) => true,
        CredentialSource::DefaultChain => {
            !(set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY"))
        }
        _ => false,
    }
}
