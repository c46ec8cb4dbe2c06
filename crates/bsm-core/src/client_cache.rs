//! The client cache: one [`Generation`] holds a manager's cached clients,
//! identity and alias, and the `SdkConfig` they are built from (with this
//! generation's credentials provider and identity cache). `clear_cache`
//! swaps in a new generation whole, so a reader always sees one consistent
//! set.

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;
use aws_types::SdkConfig;

use crate::identity::Identity;
use crate::{AwsService, Error, Result};

/// The caches that `clear_cache` drops, and the configuration they are
/// built from.
pub(crate) struct Generation {
    pub(crate) number: u64,
    /// The manager's configuration with this generation's credentials
    /// provider and identity cache.
    pub(crate) sdk_config: SdkConfig,
    /// This generation's credentials provider and the identity cache in
    /// front of it (also in `sdk_config`; the managers of other regions
    /// share them).
    pub(crate) provider: SharedCredentialsProvider,
    pub(crate) identity_cache: SharedIdentityCache,
    clients: Box<[OnceLock<Box<dyn Any + Send + Sync>>]>,
    /// The STS client identity calls use when no region is configured
    /// (signed for STS's global endpoint) or the `sts` feature is off.
    pub(crate) internal_sts: OnceLock<aws_sdk_sts::Client>,
    pub(crate) identity: FlightCell<Identity>,
    #[cfg(feature = "iam")]
    pub(crate) alias: FlightCell<Option<String>>,
    built: AtomicUsize,
}

impl Generation {
    pub(crate) fn new(
        number: u64,
        sdk_config: SdkConfig,
        provider: SharedCredentialsProvider,
        identity_cache: SharedIdentityCache,
    ) -> Self {
        Self {
            number,
            sdk_config,
            provider,
            identity_cache,
            clients: (0..AwsService::ENABLED_COUNT)
                .map(|_| OnceLock::new())
                .collect(),
            internal_sts: OnceLock::new(),
            identity: FlightCell::new(),
            #[cfg(feature = "iam")]
            alias: FlightCell::new(),
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

/// A value fetched once by one caller for all: concurrent callers wait for
/// one attempt and all get its outcome, success or failure (an error is not
/// kept: the next call after a failure tries again). Reading a value that
/// is there is one atomic load.
pub(crate) struct FlightCell<T> {
    value: OnceLock<T>,
    running: Mutex<Option<Flight<T>>>,
}

type Flight<T> = tokio::sync::watch::Receiver<Option<std::result::Result<T, Arc<Error>>>>;

impl<T: Clone + Send + Sync + 'static> FlightCell<T> {
    pub(crate) fn new() -> Self {
        Self {
            value: OnceLock::new(),
            running: Mutex::new(None),
        }
    }

    /// The value, fetched by `init` if nobody has it yet or is fetching it.
    pub(crate) async fn get_or_try_init<F, Fut>(&self, init: F) -> Result<&T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if let Some(v) = self.value.get() {
            return Ok(v);
        }
        let joined = {
            let mut running = lock(&self.running);
            if let Some(v) = self.value.get() {
                return Ok(v);
            }
            if let Some(flight) = &*running {
                Ok(flight.clone())
            } else {
                let (tx, rx) = tokio::sync::watch::channel(None);
                *running = Some(rx);
                Err(tx)
            }
        };
        let mut flight = match joined {
            Ok(flight) => flight,
            Err(tx) => return self.lead(tx, init).await,
        };
        let outcome = flight
            .wait_for(Option::is_some)
            .await
            .map(|o| o.clone())
            .ok()
            .flatten();
        match outcome {
            Some(Ok(_)) => self.value.get().ok_or_else(cancelled),
            Some(Err(e)) => Err(Error::shared(&e)),
            None => Err(cancelled()),
        }
    }

    async fn lead<F, Fut>(
        &self,
        tx: tokio::sync::watch::Sender<Option<std::result::Result<T, Arc<Error>>>>,
        init: F,
    ) -> Result<&T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        // If this caller is dropped mid-way, the waiters learn it and the
        // next caller leads a new attempt.
        let guard = LeaderGuard {
            running: &self.running,
        };
        let outcome = init().await;
        std::mem::forget(guard);
        let mut running = lock(&self.running);
        *running = None;
        match outcome {
            Ok(v) => {
                let _ = self.value.set(v.clone());
                drop(running);
                tx.send_replace(Some(Ok(v)));
                self.value.get().ok_or_else(cancelled)
            }
            Err(e) => {
                drop(running);
                let e = Arc::new(e);
                tx.send_replace(Some(Err(Arc::clone(&e))));
                Err(Error::shared(&e))
            }
        }
    }
}

/// Clears a flight whose leader was dropped before it finished; its
/// sender, dropped too, tells the waiters.
struct LeaderGuard<'a, T> {
    running: &'a Mutex<Option<Flight<T>>>,
}

impl<T> Drop for LeaderGuard<'_, T> {
    fn drop(&mut self) {
        *lock(self.running) = None;
    }
}

fn cancelled() -> Error {
    Error::Credentials {
        profile: None,
        source: "the request that the call waited for was cancelled; call again".into(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
