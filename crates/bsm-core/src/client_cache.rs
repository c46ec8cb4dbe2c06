//! The client cache: one [`Generation`] holds a manager's cached clients,
//! identity and alias, and the `SdkConfig` they are built from (with this
//! generation's credentials provider and identity cache). `clear_cache`
//! swaps in a new generation whole, so a reader always sees one consistent
//! set.
//!
//! Each thread also keeps, for the last few managers it used, the
//! generation it saw ([`with_recent`], [`remember`]): a warm accessor call
//! then reads the manager's current generation id and finds it at hand,
//! with no atomic read-modify-write but the client clone's own reference
//! count, and no store to memory at all besides it. A thread lets go of a
//! generation on its next call to that manager after `clear_cache`, when
//! other managers push it out, or when the thread ends.

use std::cell::{Cell, UnsafeCell};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;
use aws_types::SdkConfig;

use crate::client_cells::ClientCells;
use crate::identity::Identity;
use crate::sync::{Flight, Lead, OnDrop, flight, lock};
use crate::{Error, Result, Service};

/// A value alone in its 128-byte block (two cache lines: the adjacent-line
/// prefetcher pairs them). What a warm accessor reads on every call must not
/// share a line with what other cores write on every call (a client's
/// reference count, in the SDK's allocation, which the allocator may place
/// right beside a small block of ours). What sharing one cost is in
/// BENCHMARKS.md.
#[repr(align(128))]
pub(crate) struct Padded<T: ?Sized>(pub(crate) T);

/// The caches that `clear_cache` drops, and the configuration they are
/// built from. Aligned like [`Padded`]: its `id` is read on every call.
#[repr(align(128))]
pub(crate) struct Generation {
    /// Unique in the process (see [`with_recent`]).
    pub(crate) id: u64,
    pub(crate) number: u64,
    /// The manager's configuration with this generation's credentials
    /// provider and identity cache.
    pub(crate) sdk_config: SdkConfig,
    /// This generation's credentials provider and the identity cache in
    /// front of it (also in `sdk_config`; the managers of other regions
    /// share them).
    pub(crate) provider: SharedCredentialsProvider,
    pub(crate) identity_cache: SharedIdentityCache,
    /// A typed cell per enabled service, inline in this aligned struct: a
    /// separate small allocation could share a cache line with a client's
    /// reference count.
    clients: ClientCells,
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
        /// The next generation id; 0 is never given out.
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            number,
            sdk_config,
            provider,
            identity_cache,
            clients: ClientCells::default(),
            internal_sts: OnceLock::new(),
            identity: FlightCell::new(),
            #[cfg(feature = "iam")]
            alias: FlightCell::new(),
            built: AtomicUsize::new(0),
        }
    }

    /// The cached client of `C`, built by `build` on first use.
    pub(crate) fn get_or_build<C: Service>(&self, build: impl FnOnce() -> C) -> &C {
        C::cell(&self.clients).get_or_init(|| {
            self.built.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                service = %C::SERVICE,
                generation = self.number,
                "building client"
            );
            build()
        })
    }

    /// The client of `C`, if it is built.
    #[inline]
    pub(crate) fn built_client<C: Service>(&self) -> Option<&C> {
        C::cell(&self.clients).get()
    }

    /// How many clients this generation has built.
    pub(crate) fn built(&self) -> usize {
        self.built.load(Ordering::Relaxed)
    }
}

/// A value fetched once by one caller for all (a [`flight`]): concurrent
/// callers wait for one attempt and all get its outcome, success or failure
/// (an error is not kept: the next call after a failure tries again).
/// Reading a value that is there is one atomic load.
pub(crate) struct FlightCell<T> {
    value: OnceLock<T>,
    running: Mutex<Option<Flight<T>>>,
}

impl<T: Clone + Send + Sync + 'static> FlightCell<T> {
    pub(crate) fn new() -> Self {
        Self {
            value: OnceLock::new(),
            running: Mutex::new(None),
        }
    }

    /// The value, if it is there.
    pub(crate) fn get(&self) -> Option<&T> {
        self.value.get()
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
                let (lead, rx) = flight();
                *running = Some(rx);
                Err(lead)
            }
        };
        match joined {
            Ok(flight) => match flight.outcome().await {
                Some(Ok(_)) => self.value.get().ok_or_else(cancelled),
                Some(Err(e)) => Err(Error::shared(&e)),
                None => Err(cancelled()),
            },
            Err(lead) => self.lead(lead, init).await,
        }
    }

    async fn lead<F, Fut>(&self, lead: Lead<T>, init: F) -> Result<&T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        // If this caller is dropped mid-way, its `Lead` tells the waiters
        // and the next caller leads a new attempt.
        let clear = OnDrop::new(|| *lock(&self.running) = None);
        let outcome = init().await;
        clear.disarm();
        let mut running = lock(&self.running);
        *running = None;
        if let Ok(v) = &outcome {
            let _ = self.value.set(v.clone());
        }
        drop(running);
        match lead.finish(outcome) {
            Ok(_) => self.value.get().ok_or_else(cancelled),
            Err(e) => Err(Error::shared(&e)),
        }
    }
}

/// How many managers' generations one thread keeps at hand.
const RECENT: usize = 8;

/// One manager's generation as a thread last saw it.
struct Recent {
    /// The generation's id, kept here so a lookup reads only this entry.
    id: u64,
    /// The manager's generation holder (its address, as a key).
    owner: usize,
    generation: Arc<Generation>,
}

/// A thread's recent generations (inline, the used ones first), and how many
/// misses it has had since it last pushed one out.
///
/// The entries are read without a borrow flag: a warm lookup then writes
/// nothing at all (a `RefCell`'s flag is a store on every call, and a store
/// can stall a later load whose address it aliases). That is sound because
/// only [`remember`] changes them, and nothing runs while [`with_recent`]
/// holds a reference that could call `remember`: its callers pass functions
/// that read what is built and clone it, no user code.
#[derive(Default)]
struct RecentGenerations {
    entries: UnsafeCell<[Option<Recent>; RECENT]>,
    misses: Cell<usize>,
    /// Set while a [`Reading`] lives, to catch a reentrant `remember` in
    /// debug builds.
    #[cfg(debug_assertions)]
    reading: Cell<bool>,
}

thread_local! {
    static RECENT_GENERATIONS: RecentGenerations = RecentGenerations::default();
}

/// `f` on this thread's copy of the generation with id `id`, if it has one.
/// `f` must not run user code, only read what is built (see
/// [`RecentGenerations`]).
#[inline]
pub(crate) fn with_recent<R>(id: u64, f: impl FnOnce(&Generation) -> Option<R>) -> Option<R> {
    RECENT_GENERATIONS
        .try_with(|r| {
            // SAFETY: only `remember` mutates the entries, and it is not
            // called while this shared reference lives (`f` reads only).
            let entries = unsafe { &*r.entries.get() };
            let hit = entries
                .iter()
                .map_while(Option::as_ref)
                .find(|e| e.id == id)?;
            #[cfg(debug_assertions)]
            let _reading = Reading::start();
            f(&hit.generation)
        })
        .ok()
        .flatten()
}

/// Where `pick` finds something in this thread's copy of the generation with
/// id `id`, if it has one: a pointer, for callers that build their result
/// from it where they want it rather than move it out through
/// [`with_recent`]'s `Option`s: a warm identity call then moves nothing but
/// the field it clones (the counts are in BENCHMARKS.md).
///
/// # Safety
///
/// The pointer is valid only until this thread next calls [`remember`] (an
/// entry holds an `Arc` of the generation, and only `remember` lets go of
/// one). The caller reads it at once, on this thread, with no user code and
/// no call into the manager in between, and does not keep it; in debug
/// builds it does so under a [`Reading`], which makes a `remember`
/// meanwhile panic.
#[inline]
pub(crate) unsafe fn find_recent<T>(
    id: u64,
    pick: impl FnOnce(&Generation) -> Option<&T>,
) -> Option<std::ptr::NonNull<T>> {
    with_recent(id, |g| pick(g).map(std::ptr::NonNull::from))
}

/// Marks this thread as reading its entries, until dropped (debug builds),
/// so that a `remember` meanwhile panics.
#[cfg(debug_assertions)]
pub(crate) struct Reading;

#[cfg(debug_assertions)]
impl Reading {
    pub(crate) fn start() -> Self {
        let _ = RECENT_GENERATIONS.try_with(|r| r.reading.set(true));
        Reading
    }
}

#[cfg(debug_assertions)]
impl Drop for Reading {
    fn drop(&mut self) {
        let _ = RECENT_GENERATIONS.try_with(|r| r.reading.set(false));
    }
}

/// Keeps `generation`, the current one of `owner`, at hand for this thread:
/// in place of `owner`'s older one, in a free place, or (after a run of
/// misses, so a thread that cycles through more than [`RECENT`] managers
/// does not churn) in place of another manager's.
#[cold]
pub(crate) fn remember(owner: usize, generation: &Arc<Generation>) {
    let replaced = RECENT_GENERATIONS
        .try_with(|r| {
            #[cfg(debug_assertions)]
            assert!(!r.reading.get(), "remember called inside with_recent");
            // SAFETY: no reference into the entries lives now (see
            // `RecentGenerations`), and nothing below runs code that could
            // take one: an `Arc` clone, moves, and a random index.
            let entries = unsafe { &mut *r.entries.get() };
            let new = Recent {
                id: generation.id,
                owner,
                generation: Arc::clone(generation),
            };
            let mine = entries
                .iter_mut()
                .map_while(Option::as_mut)
                .find(|e| e.owner == owner);
            if let Some(e) = mine {
                return Some(std::mem::replace(e, new).generation);
            }
            if let Some(free) = entries.iter_mut().find(|e| e.is_none()) {
                *free = Some(new);
                return None;
            }
            let misses = r.misses.get() + 1;
            if misses < 16 {
                r.misses.set(misses);
                return None;
            }
            r.misses.set(0);
            entries[fastrand::usize(..RECENT)]
                .replace(new)
                .map(|old| old.generation)
        })
        .ok()
        .flatten();
    // Dropped outside the entries' borrow: a generation's drop runs the
    // SDK's code.
    drop(replaced);
}

fn cancelled() -> Error {
    Error::Credentials {
        profile: None,
        source: "the request that the call waited for was cancelled; call again".into(),
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

/// Counters of the client cache, for monitoring and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// How many times the cache was cleared since the manager was built.
    pub generation: u64,
    /// Clients built and cached in this generation.
    pub clients_built: usize,
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::*;

    fn generation() -> Arc<Generation> {
        let provider = SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ));
        let cache = aws_config::identity::IdentityCache::lazy().build();
        Arc::new(Generation::new(
            1,
            SdkConfig::builder().build(),
            provider,
            cache,
        ))
    }

    /// The rule the unchecked reads rest on: nothing lets go of a
    /// generation while one is read. Debug builds check it.
    #[test]
    #[should_panic(expected = "remember called inside with_recent")]
    fn remember_while_a_found_pointer_is_read_panics() {
        let g = generation();
        remember(1, &g);
        // SAFETY: the pointer is not read; the test is that `remember` panics.
        let found = unsafe { find_recent(g.id, |g| Some(&g.number)) };
        assert!(found.is_some(), "the generation just remembered is found");
        let _reading = Reading::start();
        remember(2, &generation());
    }

    #[test]
    fn remember_runs_once_the_read_is_over() {
        let g = generation();
        remember(1, &g);
        {
            let _reading = Reading::start();
        }
        remember(2, &generation());
        // SAFETY: only compared with `None`, never read.
        assert!(unsafe { find_recent(g.id, |g| Some(&g.number)) }.is_some());
    }
}
