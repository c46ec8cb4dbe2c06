//! [`SessionManager`] and its builder: construction, the client cache,
//! expiry and `clear_cache`. Identity lives in `identity.rs`.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::identity::Identity;
use crate::{AwsService, Error, Result, Service};

/// A per-service configuration hook, stored type-erased by service.
type Hook<C> =
    Arc<dyn Fn(<C as Service>::ConfigBuilder) -> <C as Service>::ConfigBuilder + Send + Sync>;

/// One AWS session: configuration and credentials loaded once, a cached
/// client per service, the caller's identity.
///
/// Cheap to clone (one `Arc`); `Send + Sync`; share it across tasks and
/// threads. Its `Debug` output never contains a secret.
///
/// ```no_run
/// # use bsm_core as bsm;
/// # async fn run() -> bsm::Result<()> {
/// let bsm = bsm::SessionManager::from_env().await?;
/// let sts = bsm.client::<bsm::aws_sdk_sts::Client>(); // built once, then cached
/// println!("{}", bsm.aws_account_id().await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionManager {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) sdk_config: SdkConfig,
    pub(crate) profile_name: Option<String>,
    pub(crate) explicit_expiration: Option<SystemTime>,
    /// The expiry of the credentials this manager last resolved.
    pub(crate) credentials_expiry: Mutex<Option<SystemTime>>,
    /// The credentials refresh themselves (an auto-refreshing role): no
    /// expiry is reported.
    pub(crate) refreshing: bool,
    pub(crate) hooks: Arc<HashMap<AwsService, Arc<dyn Any + Send + Sync>>>,
    pub(crate) source: CredentialSource,
    cache: ArcSwap<Cache>,
    clearing: Mutex<()>,
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
    /// An assumed role.
    AssumedRole(String),
}

/// The caches that `clear_cache` drops: swapped whole, so a reader always
/// sees one consistent generation.
pub(crate) struct Cache {
    clients: Box<[OnceLock<Box<dyn Any + Send + Sync>>]>,
    pub(crate) identity: tokio::sync::OnceCell<Identity>,
    #[cfg(feature = "iam")]
    pub(crate) alias: tokio::sync::OnceCell<Option<String>>,
    generation: u64,
    built: AtomicUsize,
}

impl Cache {
    fn new(generation: u64) -> Self {
        Self {
            clients: (0..AwsService::ENABLED_COUNT)
                .map(|_| OnceLock::new())
                .collect(),
            identity: tokio::sync::OnceCell::new(),
            #[cfg(feature = "iam")]
            alias: tokio::sync::OnceCell::new(),
            generation,
            built: AtomicUsize::new(0),
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        tracing::debug!(
            generation = self.generation,
            clients_built = self.built.load(Ordering::Relaxed),
            "cache generation dropped"
        );
    }
}

/// Counters of the client cache, for monitoring and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// How many times the cache was cleared since the manager was built.
    pub generation: u64,
    /// Clients built and cached in this generation.
    pub clients_built: usize,
}

impl SessionManager {
    /// A manager from the default credential chain and region (environment,
    /// shared config files, SSO, web identity, container and instance
    /// metadata), like `aws_config::load_defaults`.
    ///
    /// Asks the credential provider once while building, so a machine
    /// without credentials fails here with [`Error::Credentials`] rather than
    /// at the first request (the SDK's own cache asks again on first use).
    pub async fn from_env() -> Result<Self> {
        Self::builder().build().await
    }

    /// A builder for every other way to make a manager.
    pub fn builder() -> SessionManagerBuilder {
        SessionManagerBuilder::default()
    }

    pub(crate) fn from_parts(
        sdk_config: SdkConfig,
        profile_name: Option<String>,
        explicit_expiration: Option<SystemTime>,
        credentials_expiry: Option<SystemTime>,
        refreshing: bool,
        hooks: Arc<HashMap<AwsService, Arc<dyn Any + Send + Sync>>>,
        source: CredentialSource,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                sdk_config,
                profile_name,
                explicit_expiration,
                credentials_expiry: Mutex::new(credentials_expiry),
                refreshing,
                hooks,
                source,
                cache: ArcSwap::from_pointee(Cache::new(0)),
                clearing: Mutex::new(()),
            }),
        }
    }

    /// The shared SDK configuration every client is built from.
    #[must_use]
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.inner.sdk_config
    }

    /// The region, if one is configured.
    #[must_use]
    pub fn aws_region(&self) -> Option<&str> {
        self.inner.sdk_config.region().map(Region::as_ref)
    }

    /// The profile this manager was built from, if any.
    #[must_use]
    pub fn profile_name(&self) -> Option<&str> {
        self.inner.profile_name.as_deref()
    }

    /// The default endpoint URL every client uses (moto, `LocalStack`, `MinIO`),
    /// if one is set.
    #[must_use]
    pub fn endpoint_url(&self) -> Option<&str> {
        self.inner.sdk_config.endpoint_url()
    }

    /// Where the credentials come from.
    #[must_use]
    pub fn credential_source(&self) -> &CredentialSource {
        &self.inner.source
    }

    /// The cached client of service `C`, e.g.
    /// `bsm.client::<aws_sdk_s3::Client>()`; the generated accessors
    /// (`s3_client()`, ...) call this.
    ///
    /// Built on first call from this manager's configuration and any
    /// [`configure`](SessionManagerBuilder::configure) hook for `C`, then
    /// cached for the manager's life or until [`clear_cache`](Self::clear_cache).
    /// Later calls return a clone of the same client (a cheap handle on the
    /// same connection pool). Safe to call from many threads at once:
    /// concurrent first callers build exactly one client. Building cannot
    /// fail and makes no request.
    #[must_use]
    pub fn client<C: Service>(&self) -> C {
        let cache = self.inner.cache.load();
        let slot = &cache.clients[C::SLOT];
        let any = slot.get_or_init(|| {
            cache.built.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                service = %C::SERVICE,
                generation = cache.generation,
                "building client"
            );
            Box::new(self.build_client::<C>(|b| b))
        });
        match any.downcast_ref::<C>() {
            Some(client) => client.clone(),
            // Unreachable: `Service` is sealed and each type has its own slot.
            None => self.build_client::<C>(|b| b),
        }
    }

    /// A new client of service `C` with one-off changes to its config
    /// builder (region, endpoint, credentials, retry, timeouts, anything the
    /// service's `config::Builder` takes), applied after this manager's
    /// settings and hooks.
    ///
    /// Never cached and never served from the cache: every call builds a new
    /// client, and the cached one is left as it was.
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) {
    /// use bsm::aws_sdk_sts::{Client, config::Region};
    /// let west = bsm.client_with::<Client>(|b| b.region(Region::new("us-west-2")));
    /// # }
    /// ```
    #[must_use]
    pub fn client_with<C: Service>(
        &self,
        customize: impl FnOnce(C::ConfigBuilder) -> C::ConfigBuilder,
    ) -> C {
        self.build_client::<C>(customize)
    }

    fn build_client<C: Service>(
        &self,
        customize: impl FnOnce(C::ConfigBuilder) -> C::ConfigBuilder,
    ) -> C {
        let mut builder = C::config_builder(&self.inner.sdk_config);
        if let Some(hook) = self
            .inner
            .hooks
            .get(&C::SERVICE)
            .and_then(|h| h.downcast_ref::<Hook<C>>())
        {
            builder = hook(builder);
        }
        C::from_config_builder(customize(builder))
    }

    /// Drops every cached client and identity value. Safe while other tasks
    /// use the manager: calls already running finish with what they had, the
    /// next call builds again. Configuration (credentials, region, endpoint,
    /// hooks, an explicit expiration time) is kept.
    pub fn clear_cache(&self) {
        // Clears take turns, so the generation moves on by one each time and
        // never goes backwards; readers never take this lock.
        let _turn = self
            .inner
            .clearing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let generation = self.inner.cache.load().generation + 1;
        self.inner.cache.store(Arc::new(Cache::new(generation)));
        tracing::debug!(generation, "cache cleared");
    }

    /// Counters of the current cache generation.
    #[must_use]
    pub fn cache_stats(&self) -> CacheStats {
        let cache = self.inner.cache.load();
        CacheStats {
            generation: cache.generation,
            clients_built: cache.built.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn cache(&self) -> Arc<Cache> {
        self.inner.cache.load_full()
    }

    /// When the credentials stop working: the explicit
    /// [`expiration_time`](SessionManagerBuilder::expiration_time) given to
    /// the builder if any, else the expiry of the credentials this manager
    /// last resolved. `None` when neither is known (long-lived keys), and for
    /// an auto-refreshing assumed role, whose credentials renew themselves.
    #[must_use]
    pub fn expiration_time(&self) -> Option<SystemTime> {
        self.inner.explicit_expiration.or_else(|| {
            *self
                .inner
                .credentials_expiry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    /// Whether the credentials expire within `delta` from now:
    /// `now + delta >= expiration_time()`. Without a known expiration time
    /// this is `false`: long-lived keys do not expire on their own. "Now"
    /// comes from the SDK configuration's time source.
    #[must_use]
    pub fn is_expired(&self, delta: Duration) -> bool {
        let now = self
            .inner
            .sdk_config
            .time_source()
            .map_or_else(SystemTime::now, |t| t.now());
        // A `delta` too large to add to now reaches past any expiry.
        self.expiration_time()
            .is_some_and(|exp| now.checked_add(delta).is_none_or(|t| t >= exp))
    }

    /// The current credentials, asked of the credential provider now (bsm's
    /// assume-role provider answers from its own cache until the refresh
    /// window; other providers may fetch again). Records their expiry.
    pub async fn credentials(&self) -> Result<Credentials> {
        let provider = self
            .inner
            .sdk_config
            .credentials_provider()
            .ok_or_else(|| Error::Credentials {
                profile: self.inner.profile_name.clone(),
                source: "no credentials provider is configured".into(),
            })?;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| Error::Credentials {
                profile: self.inner.profile_name.clone(),
                source: Box::new(e),
            })?;
        if !self.inner.refreshing {
            *self
                .inner
                .credentials_expiry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = creds.expiry();
        }
        Ok(creds)
    }
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("source", &self.inner.source)
            .field("region", &self.aws_region())
            .field("endpoint_url", &self.endpoint_url())
            .field("expiration_time", &self.expiration_time())
            .field(
                "configured_services",
                &self.inner.hooks.keys().collect::<Vec<_>>(),
            )
            .field("cache", &self.cache_stats())
            .finish_non_exhaustive()
    }
}

/// Builds a [`SessionManager`], in the style of `aws_config::ConfigLoader`.
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
    sdk_config: Option<SdkConfig>,
    endpoint_url: Option<String>,
    expiration_time: Option<SystemTime>,
    profile_files: Option<aws_runtime::env_config::file::EnvConfigFiles>,
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

    /// Use this profile of the shared config and credentials files.
    pub fn profile_name(mut self, name: impl Into<String>) -> Self {
        self.profile_name = Some(name.into());
        self
    }

    /// Use this region instead of the one the chain or profile gives.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
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

    /// Use a snapshot's credentials and region (see [`Snapshot`](crate::Snapshot)).
    pub fn snapshot(mut self, snapshot: &crate::Snapshot) -> Self {
        self.credentials = Some((
            snapshot.aws_access_key_id.clone(),
            snapshot.aws_secret_access_key.clone(),
            snapshot.aws_session_token.clone(),
        ));
        if let Some(r) = &snapshot.region_name {
            self.region = Some(r.clone());
        }
        self
    }

    /// Start from a ready SDK configuration (the counterpart of passing a
    /// botocore session). The builder's region, credentials and endpoint, if
    /// set, override its own.
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

    /// Loads the configuration and asks the credential provider once, to fail
    /// early.
    ///
    /// Fails with [`Error::InvalidInput`] for an empty region, profile name,
    /// key id, secret or endpoint URL, and with [`Error::Credentials`] when no
    /// credentials can be resolved (unknown profile, profile without keys,
    /// empty chain).
    pub async fn build(self) -> Result<SessionManager> {
        let credentials = self.validate()?;
        let source = match (&credentials, &self.sdk_config, &self.profile_name) {
            (Some(_), _, _) => CredentialSource::Explicit,
            (None, Some(_), _) => CredentialSource::SdkConfig,
            (None, None, Some(p)) => CredentialSource::Profile(p.clone()),
            (None, None, None) => CredentialSource::DefaultChain,
        };
        let profile_files = self.profile_files;
        let explicit_keys = credentials.is_some();
        let sdk_config = if let Some(config) = self.sdk_config {
            let has_http_client = config.http_client().is_some();
            let mut b = config.to_builder();
            if let Some(r) = self.region {
                b.set_region(Some(Region::new(r)));
            }
            if let Some(c) = credentials {
                b.set_credentials_provider(Some(SharedCredentialsProvider::new(c)));
            }
            if let Some(url) = self.endpoint_url {
                b.set_endpoint_url(Some(url));
            }
            if !has_http_client {
                b.set_http_client(Some(shared_http_client()));
            }
            if let Some(t) = self.timeout_config {
                b.set_timeout_config(Some(t));
            }
            if let Some(r) = self.retry_config {
                b.set_retry_config(Some(r));
            }
            b.build()
        } else {
            let http_client = shared_http_client();
            let mut loader =
                aws_config::defaults(BehaviorVersion::latest()).http_client(http_client.clone());
            if let Some(p) = &self.profile_name {
                loader = loader.profile_name(p);
            }
            if let Some(files) = &profile_files {
                loader = loader.profile_files(files.clone());
            }
            if let Some(r) = self.region {
                loader = loader.region(Region::new(r));
            }
            if let Some(c) = credentials {
                loader = loader.credentials_provider(c);
            }
            if let Some(url) = self.endpoint_url {
                loader = loader.endpoint_url(url);
            }
            if let Some(t) = self.timeout_config {
                loader = loader.timeout_config(t);
            }
            if let Some(r) = self.retry_config {
                loader = loader.retry_config(r);
            }
            let config = loader.load().await;
            match (&self.profile_name, explicit_keys) {
                // A named profile wins over keys in the environment, as with
                // `aws --profile` and boto3's `Session(profile_name=...)`:
                // the default chain would look at the environment first.
                (Some(p), false) => {
                    let provider_config = aws_config::provider_config::ProviderConfig::default()
                        .with_http_client(http_client)
                        .with_region(config.region().cloned());
                    let mut profile =
                        aws_config::profile::ProfileFileCredentialsProvider::builder()
                            .configure(&provider_config)
                            .profile_name(p);
                    if let Some(files) = profile_files {
                        profile = profile.profile_files(files);
                    }
                    config
                        .to_builder()
                        .credentials_provider(SharedCredentialsProvider::new(profile.build()))
                        .build()
                }
                _ => config,
            }
        };
        let manager = SessionManager::from_parts(
            sdk_config,
            self.profile_name,
            self.expiration_time,
            None,
            false,
            Arc::new(self.hooks),
            source,
        );
        manager.credentials().await?;
        Ok(manager)
    }

    /// Rejects empty or malformed inputs; returns the explicit credentials.
    fn validate(&self) -> Result<Option<Credentials>> {
        for (what, value) in [
            ("region", &self.region),
            ("profile name", &self.profile_name),
            ("endpoint URL", &self.endpoint_url),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                let value = value.clone().unwrap_or_default();
                return Err(Error::invalid(what, value, "must not be empty"));
            }
        }
        if let Some(url) = &self.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            let reason = "must start with http:// or https://";
            return Err(Error::invalid("endpoint URL", url, reason));
        }
        let Some((id, secret, token)) = &self.credentials else {
            return Ok(None);
        };
        if id.trim().is_empty() {
            return Err(Error::invalid("access key id", id, "must not be empty"));
        }
        if secret.trim().is_empty() {
            return Err(Error::invalid(
                "secret access key",
                "<redacted>",
                "must not be empty",
            ));
        }
        if token.as_deref().is_some_and(str::is_empty) {
            let reason = "must not be empty when given";
            return Err(Error::invalid("session token", "<redacted>", reason));
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
