//! The client cache: one [`Generation`] holds a manager's cached clients,
//! identity and alias, and the `SdkConfig` they are built from (with this
//! generation's credentials provider and identity cache). `clear_cache`
//! swaps in a new generation whole, so a reader always sees one consistent
//! set.

use std::any::Any;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_types::SdkConfig;

use crate::AwsService;
use crate::identity::Identity;

/// The caches that `clear_cache` drops, and the configuration they are
/// built from.
pub(crate) struct Generation {
    pub(crate) number: u64,
    /// The manager's configuration with this generation's credentials
    /// provider and identity cache.
    pub(crate) sdk_config: SdkConfig,
    clients: Box<[OnceLock<Box<dyn Any + Send + Sync>>]>,
    /// The STS client identity calls use when no region is configured
    /// (signed for STS's global endpoint) or the `sts` feature is off.
    pub(crate) internal_sts: OnceLock<aws_sdk_sts::Client>,
    pub(crate) identity: tokio::sync::OnceCell<Identity>,
    #[cfg(feature = "iam")]
    pub(crate) alias: tokio::sync::OnceCell<Option<String>>,
    built: AtomicUsize,
}

impl Generation {
    pub(crate) fn new(number: u64, sdk_config: SdkConfig) -> Self {
        Self {
            number,
            sdk_config,
            clients: (0..AwsService::ENABLED_COUNT)
                .map(|_| OnceLock::new())
                .collect(),
            internal_sts: OnceLock::new(),
            identity: tokio::sync::OnceCell::new(),
            #[cfg(feature = "iam")]
            alias: tokio::sync::OnceCell::new(),
            built: AtomicUsize::new(0),
        }
    }

    /// The cached value in `slot`, built by `build` on first use.
    pub(crate) fn get_or_build(
        &self,
        slot: usize,
        service: AwsService,
        build: impl FnOnce() -> Box<dyn Any + Send + Sync>,
    ) -> &(dyn Any + Send + Sync) {
        self.clients[slot]
            .get_or_init(|| {
                self.built.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    service = %service,
                    generation = self.number,
                    "building client"
                );
                build()
            })
            .as_ref()
    }

    /// How many clients this generation has built.
    pub(crate) fn built(&self) -> usize {
        self.built.load(Ordering::Relaxed)
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        tracing::debug!(
            generation = self.number,
            clients_built = self.built.load(Ordering::Relaxed),
            "cache generation dropped"
        );
    }
}
