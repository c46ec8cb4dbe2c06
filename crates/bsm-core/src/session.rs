//! [`SessionManager`]: the cached clients, `clear_cache`, expiry and the
//! current credentials. The builder lives in `builder.rs`, credential
//! resolution and expiry rules in `credentials.rs`, the cache generations in
//! `client_cache.rs`, the identity calls in `whoami.rs`; ARCHITECTURE.md has
//! the whole map.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use aws_credential_types::Credentials;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::client_cache::CacheStats;
use crate::client_cache::{Generation, Padded};
use crate::credentials::{self, CredentialSource, Recipe};
use crate::sync::lock;
use crate::{AwsService, Error, Result, Service};

/// A per-service configuration hook, stored type-erased by service.
pub(crate) type Hook<C> =
    Arc<dyn Fn(<C as Service>::ConfigBuilder) -> <C as Service>::ConfigBuilder + Send + Sync>;

/// The per-service hooks of a manager, by service.
pub(crate) type Hooks = Arc<HashMap<AwsService, Arc<dyn Any + Send + Sync>>>;

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
    inner: Arc<Inner>,
}

struct Inner {
    /// Region, endpoint, HTTP client, time source, retry and timeouts; each
    /// generation adds its own credentials provider and identity cache.
    base: SdkConfig,
    recipe: Recipe,
    profile_name: Option<String>,
    profile_paths: credentials::ProfilePaths,
    /// What a child process gets besides credentials (`child_env.rs`).
    child: Arc<crate::child_env::ChildSettings>,
    /// When the credentials end; shared with the regional managers.
    expiry: Arc<Expiry>,
    hooks: Hooks,
    source: CredentialSource,
    /// The current generation; the regional managers follow it.
    cache: Arc<ArcSwap<Generation>>,
    /// The id of the generation in `cache`, stored just before it (see
    /// [`crate::client_cache::with_recent`]).
    /// (Alone in its cache lines: read on every call, see [`Padded`].)
    current: Padded<AtomicU64>,
    clearing: Mutex<()>,
    regions: Regions,
    /// What the builder learnt while building, for `explain`; unset for
    /// managers made from another.
    facts: std::sync::OnceLock<BuildFacts>,
}

/// What only the builder knows: where the region came from, and how long
/// the first resolution of the credentials took. A manager made from
/// another (a role, an MFA session) takes its source's region origin.
#[derive(Debug, Clone)]
pub(crate) struct BuildFacts {
    pub(crate) region_from: crate::chain::RegionFrom,
    pub(crate) resolved_in: Option<std::time::Duration>,
}

/// What a manager's expiration time is made of.
pub(crate) struct Expiry {
    explicit: Option<SystemTime>,
    rule: EndRule,
    /// The fixed end of the credentials last resolved ([`EndRule::Resolved`]).
    last_fixed_end: Mutex<Option<SystemTime>>,
}

/// What a new manager is made of; see `SessionManager::new`.
pub(crate) struct Parts {
    pub(crate) base: SdkConfig,
    pub(crate) recipe: Recipe,
    pub(crate) profile_name: Option<String>,
    pub(crate) profile_paths: credentials::ProfilePaths,
    pub(crate) child: Arc<crate::child_env::ChildSettings>,
    pub(crate) explicit_expiration: Option<SystemTime>,
    pub(crate) end_rule: EndRule,
    pub(crate) hooks: Hooks,
    pub(crate) source: CredentialSource,
}

/// What a manager's fixed end follows (see the table of [`credentials`](crate::credentials)).
#[derive(Clone)]
pub(crate) enum EndRule {
    /// What the manager last resolved ([`fixed_end`](credentials::fixed_end)).
    Resolved,
    /// A fixed time: a one-shot role's STS expiry.
    At(SystemTime),
    /// An auto-refreshing role: its source's end, and the role's own fixed
    /// end if it cannot refresh (a fixed MFA code).
    Source(SessionManager, Arc<std::sync::Mutex<Option<SystemTime>>>),
}

pub(crate) type Members = Mutex<HashMap<String, SessionManager>>;

/// The managers of other regions a manager has made.
pub(crate) enum Regions {
    /// A manager made by the builder or `assume_role`: it keeps the
    /// managers of the other regions.
    Root(Arc<Members>),
    /// A manager made by `with_region`: its root's list (weakly: the root
    /// keeps its regions alive, not the other way round) and credentials.
    Of {
        members: Weak<Members>,
        root: Arc<ArcSwap<Generation>>,
    },
}

impl Regions {
    pub(crate) fn root() -> Self {
        Regions::Root(Arc::new(Mutex::new(HashMap::new())))
    }

    /// The managers a root made (none for a regional manager).
    pub(crate) fn members(&self) -> Vec<SessionManager> {
        match self {
            Regions::Root(m) => lock(m).values().cloned().collect(),
            Regions::Of { .. } => Vec::new(),
        }
    }
}

impl SessionManager {
    pub(crate) fn new(parts: Parts) -> Self {
        let expiry = Arc::new(Expiry {
            explicit: parts.explicit_expiration,
            rule: parts.end_rule.clone(),
            last_fixed_end: Mutex::new(None),
        });
        Self::with_parts(parts, expiry, Regions::root())
    }

    /// A manager from its parts, sharing `expiry` (a regional manager shares
    /// its parent's).
    pub(crate) fn with_parts(parts: Parts, expiry: Arc<Expiry>, regions: Regions) -> Self {
        let cache = Arc::new_cyclic(|generations| {
            ArcSwap::from_pointee(new_generation(
                0,
                &parts.base,
                &parts.recipe,
                generations.clone(),
            ))
        });
        let current = Padded(AtomicU64::new(cache.load().id));
        Self {
            inner: Arc::new(Inner {
                base: parts.base,
                recipe: parts.recipe,
                profile_name: parts.profile_name,
                profile_paths: parts.profile_paths,
                child: parts.child,
                expiry,
                hooks: parts.hooks,
                source: parts.source,
                cache,
                current,
                clearing: Mutex::new(()),
                regions,
                facts: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The SDK configuration every client is built from now: region,
    /// endpoint, HTTP client, retry and timeouts, and the current
    /// generation's credentials provider and identity cache (a clone: cheap,
    /// every part is shared).
    #[must_use]
    pub fn sdk_config(&self) -> SdkConfig {
        self.generation().sdk_config.clone()
    }

    /// The region, if one is configured.
    #[must_use]
    pub fn aws_region(&self) -> Option<&str> {
        self.inner.base.region().map(Region::as_ref)
    }

    /// The region as aws-config's [`Region`], to hand to the SDK's own
    /// builders, if one is configured.
    #[must_use]
    pub fn region(&self) -> Option<&Region> {
        self.inner.base.region()
    }

    /// Region, endpoint, HTTP client, time source, retry and timeouts: the
    /// configuration every generation starts from.
    pub(crate) fn base(&self) -> &SdkConfig {
        &self.inner.base
    }

    /// What a child process gets besides credentials.
    pub(crate) fn child_settings(&self) -> &Arc<crate::child_env::ChildSettings> {
        &self.inner.child
    }

    /// The per-service `configure` hooks.
    pub(crate) fn hooks(&self) -> &Hooks {
        &self.inner.hooks
    }

    /// The shared files this manager's profile was read from.
    pub(crate) fn profile_paths(&self) -> &credentials::ProfilePaths {
        &self.inner.profile_paths
    }

    /// When the credentials end (shared with the regional managers).
    pub(crate) fn expiry(&self) -> &Arc<Expiry> {
        &self.inner.expiry
    }

    /// The current generation, which the regional managers follow.
    pub(crate) fn generations(&self) -> &Arc<ArcSwap<Generation>> {
        &self.inner.cache
    }

    /// The managers of other regions this one made, or its root's.
    pub(crate) fn regions(&self) -> &Regions {
        &self.inner.regions
    }

    /// The builder's facts; `None` for a manager made from another (a
    /// role, an MFA session, another region).
    pub(crate) fn facts(&self) -> Option<BuildFacts> {
        self.inner.facts.get().cloned()
    }

    /// The facts of a manager made from this one, with the same region.
    pub(crate) fn derived_facts(&self) -> BuildFacts {
        BuildFacts {
            region_from: self
                .facts()
                .map_or(crate::chain::RegionFrom::Given, |f| f.region_from),
            resolved_in: None,
        }
    }

    /// Records the builder's facts, once.
    pub(crate) fn set_facts(&self, facts: BuildFacts) {
        let _ = self.inner.facts.set(facts);
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
        self.inner.base.endpoint_url()
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
    /// [`configure`](crate::SessionManagerBuilder::configure) hook for `C`, then
    /// cached for the manager's life or until [`clear_cache`](Self::clear_cache).
    /// Later calls return a clone of the same client (a cheap handle on the
    /// same connection pool). Safe to call from many threads at once:
    /// concurrent first callers build exactly one client. Building cannot
    /// fail and makes no request.
    #[must_use]
    #[inline]
    pub fn client<C: Service>(&self) -> C {
        let id = self.inner.current.0.load(Ordering::Acquire);
        crate::client_cache::with_recent(id, |g| g.built_client::<C>().cloned())
            .unwrap_or_else(|| self.client_in::<C>(&self.recent_generation()))
    }

    /// The current generation, kept at hand for this thread's next calls.
    #[cold]
    pub(crate) fn recent_generation(&self) -> Arc<Generation> {
        let generation = self.inner.cache.load_full();
        crate::client_cache::remember(Arc::as_ptr(&self.inner).addr(), &generation);
        generation
    }

    /// The current generation's id (to look it up with
    /// [`crate::client_cache::with_recent`]).
    #[inline]
    pub(crate) fn current_generation_id(&self) -> u64 {
        self.inner.current.0.load(Ordering::Acquire)
    }

    /// The cached client of `C` in one generation.
    pub(crate) fn client_in<C: Service>(&self, generation: &Generation) -> C {
        generation
            .get_or_build(|| self.build_client_in::<C>(generation, |b| b))
            .clone()
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
        self.build_client_in::<C>(&self.generation(), customize)
    }

    /// A new STS client of `generation`, in `region` when one is given:
    /// the cached clients' settings and STS hooks when the `sts` feature
    /// compiles them in, else the generation's `SdkConfig` alone. The one
    /// place bsm's own STS calls (identity, roles, MFA sessions, the
    /// console) get their client from.
    // Without the `sts` feature there are no STS hooks, and `self` goes
    // unused.
    #[cfg_attr(not(feature = "sts"), allow(clippy::unused_self))]
    pub(crate) fn sts_in(
        &self,
        generation: &Generation,
        region: Option<Region>,
    ) -> aws_sdk_sts::Client {
        #[cfg(feature = "sts")]
        {
            self.build_client_in::<aws_sdk_sts::Client>(generation, |mut b| {
                if region.is_some() {
                    b.set_region(region);
                }
                b
            })
        }
        #[cfg(not(feature = "sts"))]
        {
            let mut b = aws_sdk_sts::config::Builder::from(&generation.sdk_config);
            if region.is_some() {
                b.set_region(region);
            }
            aws_sdk_sts::Client::from_conf(b.build())
        }
    }

    pub(crate) fn build_client_in<C: Service>(
        &self,
        generation: &Generation,
        customize: impl FnOnce(C::ConfigBuilder) -> C::ConfigBuilder,
    ) -> C {
        let mut builder = C::config_builder(&generation.sdk_config);
        if self.inner.base.endpoint_url().is_some() {
            builder = C::emulator_defaults(builder);
        }
        if let Some(hook) = self
            .inner
            .hooks
            .get(&C::SERVICE)
            .and_then(|h| h.downcast_ref::<Hook<C>>())
        {
            builder = hook(builder);
        }
        let mut builder = customize(builder);
        if self.inner.base.region().is_none() {
            C::push_interceptor(
                &mut builder,
                aws_smithy_runtime_api::client::interceptors::SharedInterceptor::new(
                    crate::service::NoRegionHint(C::SERVICE),
                ),
            );
        }
        C::from_config_builder(builder)
    }

    /// Drops every cached client and identity value, and the credentials
    /// themselves: the next call resolves them afresh, through a credentials
    /// provider built anew (profile files are read again, so rotated keys, a
    /// new SSO token or a changed `credential_process` answer are seen) and a
    /// new identity cache. Safe while other tasks use the manager: calls
    /// already running finish with what they had. Configuration (region,
    /// endpoint, hooks, explicit keys, an explicit expiration time) is kept.
    ///
    /// Clients handed out before the clear keep working and sign with the
    /// credentials read again, as new ones do: every client asks the
    /// manager's current credentials, through the current identity cache.
    ///
    /// When the old clients are freed: each thread keeps the cache it last
    /// saw of up to 8 managers at hand (that is what makes a warm
    /// [`client`](Self::client) call a pointer comparison), and lets go of the
    /// old one on its next call to this manager, when other managers push it
    /// out, or when the thread ends. The same holds for a dropped manager.
    pub fn clear_cache(&self) {
        // Clears take turns, so the generation moves on by one each time and
        // never goes backwards; readers never take this lock.
        let _turn = lock(&self.inner.clearing);
        let number = self.inner.cache.load().number + 1;
        let generation = new_generation(
            number,
            &self.inner.base,
            &self.inner.recipe,
            Arc::downgrade(&self.inner.cache),
        );
        // The id goes first: a thread that sees the new generation in
        // `cache` (an acquire load) then sees its id too, so it never takes
        // an older generation's client from its recent ones afterwards. One
        // that sees the new id first finds no such generation at hand and
        // loads `cache`.
        self.inner.current.0.store(generation.id, Ordering::Release);
        self.inner.cache.store(Arc::new(generation));
        tracing::debug!(generation = number, "cache cleared");
        // The managers of other regions follow this one's credentials.
        for regional in self.inner.regions.members() {
            regional.clear_cache();
        }
    }

    /// Counters of the current cache generation.
    #[must_use]
    pub fn cache_stats(&self) -> CacheStats {
        let generation = self.inner.cache.load();
        CacheStats {
            generation: generation.number,
            clients_built: generation.built(),
        }
    }

    pub(crate) fn generation(&self) -> Arc<Generation> {
        self.inner.cache.load_full()
    }

    /// When the credentials stop working for good: the earliest fixed end
    /// along their chain of sources, and the explicit
    /// [`expiration_time`](crate::SessionManagerBuilder::expiration_time) given
    /// to the builder. `None` when nothing fixes an end: long-lived keys, and
    /// credentials the SDK renews by itself (instance metadata, container,
    /// SSO, web identity, role profiles, `credential_process`,
    /// auto-refreshing roles on such a source). The whole table is in
    /// [`bsm::credentials`](crate::credentials#when-credentials-end).
    #[must_use]
    pub fn expiration_time(&self) -> Option<SystemTime> {
        let expiry = &self.inner.expiry;
        let end = match &expiry.rule {
            EndRule::Resolved => *lock(&expiry.last_fixed_end),
            EndRule::At(t) => Some(*t),
            EndRule::Source(source, own) => {
                credentials::earliest(source.expiration_time(), *lock(own))
            }
        };
        credentials::earliest(expiry.explicit, end)
    }

    /// Whether the credentials expire within `delta` from now:
    /// `now + delta >= expiration_time()`. Without a known expiration time
    /// this is `false`. "Now" comes from the SDK configuration's time source.
    #[must_use]
    pub fn is_expired(&self, delta: Duration) -> bool {
        let now = self
            .inner
            .base
            .time_source()
            .map_or_else(SystemTime::now, |t| t.now());
        // A `delta` too large to add to now reaches past any expiry.
        self.expiration_time()
            .is_some_and(|exp| now.checked_add(delta).is_none_or(|t| t >= exp))
    }

    /// The current credentials, through the identity cache every client of
    /// this manager uses: no fetch while the cached ones are good, and a
    /// fetch here serves the clients' next requests too.
    pub async fn credentials(&self) -> Result<Credentials> {
        let generation = self.generation();
        let creds = credentials::resolve(&generation.sdk_config)
            .await
            .map_err(|source| Error::Credentials {
                profile: self.inner.profile_name.clone(),
                source,
            })?;
        if matches!(self.inner.expiry.rule, EndRule::Resolved) {
            *lock(&self.inner.expiry.last_fixed_end) = credentials::fixed_end(&creds);
        }
        Ok(creds)
    }
}

/// A new generation: the base plus a credentials provider and identity
/// cache from the recipe. Its configuration's identity cache answers from
/// whatever generation of `generations` is current then
/// ([`credentials::CurrentGeneration`]), so its clients keep working, with
/// the credentials read again, after the next `clear_cache`.
fn new_generation(
    number: u64,
    base: &SdkConfig,
    recipe: &Recipe,
    generations: std::sync::Weak<ArcSwap<Generation>>,
) -> Generation {
    let (provider, cache) = recipe.make(base);
    let mut b = base.to_builder();
    b.set_credentials_provider(Some(provider.clone()));
    b.set_identity_cache(Some(
        aws_smithy_runtime_api::client::identity::SharedIdentityCache::new(
            credentials::CurrentGeneration::new(generations, provider.clone(), cache.clone()),
        ),
    ));
    Generation::new(number, b.build(), provider, cache)
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("source", &self.inner.source)
            .field("region", &self.aws_region())
            .field("endpoint_url", &self.endpoint_url())
            .field("profile_name", &self.inner.profile_name)
            .field("profile_file_paths", &self.inner.profile_paths)
            .field("expiration_time", &self.expiration_time())
            .field(
                "configured_services",
                &self.inner.hooks.keys().collect::<Vec<_>>(),
            )
            .field("cache", &self.cache_stats())
            .finish_non_exhaustive()
    }
}
