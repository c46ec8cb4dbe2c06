//! The one way bsm-core takes a lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, also after a thread panicked while holding it: every value
/// bsm keeps behind a lock is whole after each step (a cache slot, a
/// refresh state), so a panic elsewhere must not make the manager unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
