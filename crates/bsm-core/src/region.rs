//! One manager per region: [`SessionManager::with_region`] gives the
//! manager of another region, sharing the credentials (and their identity
//! cache), the HTTP client and the hooks.

use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;

use aws_types::region::Region;

use crate::client_cache::Generation;
use crate::credentials::Recipe;
use crate::error::Input;
use crate::session::{Members, Parts, Regions};
use crate::sync::lock;
use crate::{Error, Result, SessionManager};

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
        let (members, root) = match self.regions() {
            Regions::Root(m) => (Some(Arc::clone(m)), Arc::clone(self.generations())),
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
        let mut base = self.base().to_builder();
        base.set_region(Some(Region::new(region)));
        let parts = Parts {
            base: base.build(),
            recipe: Recipe::Follow(Arc::clone(&root)),
            profile_name: self.profile_name().map(str::to_owned),
            profile_paths: self.profile_paths().clone(),
            child: Arc::clone(self.child_settings()),
            explicit_expiration: None,
            end_rule: crate::session::EndRule::Resolved,
            hooks: Arc::clone(self.hooks()),
            source: self.credential_source().clone(),
        };
        SessionManager::with_parts(
            parts,
            Arc::clone(self.expiry()),
            Regions::Of { members, root },
        )
    }
}
