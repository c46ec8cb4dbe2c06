//! One manager per region: [`SessionManager::with_region`] gives the
//! manager of another region, sharing the credentials (and their identity
//! cache), the HTTP client and the hooks; and the hint a client of a
//! manager without a region gives instead of an endpoint error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use arc_swap::ArcSwap;
use aws_types::region::Region;

use crate::client_cache::Generation;
use crate::credentials::Recipe;
use crate::error::Input;
use crate::session::Parts;
use crate::{AwsService, Error, Result, SessionManager};

type Members = Mutex<HashMap<String, SessionManager>>;

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SessionManager {
    /// The manager of another region: the same credentials (the same
    /// provider behind the same identity cache, so they are resolved once
    /// for all regions), HTTP client (one connection pool), endpoint URL and
    /// per-service hooks; its own client cache and identity cache. The same
    /// region gives the same manager each time (its own region gives
    /// itself), and [`clear_cache`](Self::clear_cache) on this manager
    /// clears the managers of the other regions too. Safe to call from many
    /// tasks at once: one manager per region is made.
    ///
    /// Fails with [`Error::InvalidInput`] for an empty region.
    ///
    /// A fan-out over regions, at most four at a time:
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// let limit = Arc::new(tokio::sync::Semaphore::new(4));
    /// let mut tasks = tokio::task::JoinSet::new();
    /// for region in ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1", "sa-east-1"] {
    ///     let regional = bsm.with_region(region)?;
    ///     let permit = Arc::clone(&limit).acquire_owned().await?;
    ///     tasks.spawn(async move {
    ///         let _permit = permit;
    ///         let out = regional.sts_client().get_caller_identity().send().await;
    ///         (region, out.map(|o| o.account))
    ///     });
    /// }
    /// while let Some(done) = tasks.join_next().await {
    ///     let (region, account) = done?;
    ///     println!("{region}: {account:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn with_region(&self, region: impl AsRef<str>) -> Result<SessionManager> {
        let region = region.as_ref().to_owned();
        Error::check_plain(Input::Region, &region)?;
        if self.aws_region() == Some(region.as_str()) {
            return Ok(self.clone());
        }
        let (members, root) = match &self.inner.regions {
            Regions::Root(m) => (Some(Arc::clone(m)), Arc::clone(&self.inner.cache)),
            Regions::Of { members, root } => (members.upgrade(), Arc::clone(root)),
        };
        let Some(members) = members else {
            // The root is gone: a manager of its own, not kept.
            return Ok(self.regional(region, root, Weak::new()));
        };
        let mut list = lock(&members);
        if let Some(m) = list.get(&region) {
            return Ok(m.clone());
        }
        let made = self.regional(region.clone(), root, Arc::downgrade(&members));
        list.insert(region, made.clone());
        Ok(made)
    }

    fn regional(
        &self,
        region: String,
        root: Arc<ArcSwap<Generation>>,
        members: Weak<Members>,
    ) -> SessionManager {
        let mut base = self.inner.base.to_builder();
        base.set_region(Some(Region::new(region)));
        let parts = Parts {
            base: base.build(),
            recipe: Recipe::Follow(Arc::clone(&root)),
            profile_name: self.inner.profile_name.clone(),
            profile_paths: self.inner.profile_paths.clone(),
            child: Arc::clone(&self.inner.child),
            explicit_expiration: None,
            end_rule: crate::credentials::EndRule::Resolved,
            hooks: Arc::clone(&self.inner.hooks),
            source: self.inner.source.clone(),
        };
        SessionManager::with_parts(
            parts,
            Arc::clone(&self.inner.expiry),
            Regions::Of { members, root },
        )
    }
}

/// On the clients of a manager without a region: a request that reaches
/// the wire without one (no `client_with` or per-operation region either)
/// fails before it is sent, saying how to set a region, instead of with the
/// SDK's endpoint-resolution error.
#[derive(Debug)]
pub(crate) struct NoRegionHint(pub(crate) AwsService);

impl aws_smithy_runtime_api::client::interceptors::Intercept for NoRegionHint {
    fn name(&self) -> &'static str {
        "bsm::NoRegionHint"
    }

    fn read_before_execution(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> std::result::Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if cfg.load::<Region>().is_some() {
            return Ok(());
        }
        Err(format!(
            "no AWS region is set for {}: give one to SessionManagerBuilder::region, set \
             AWS_REGION (or AWS_DEFAULT_REGION), or add `region = ...` to the profile",
            self.0.crate_name()
        )
        .into())
    }
}
