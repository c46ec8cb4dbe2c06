//! The one way bsm-core takes a lock, shares one attempt among concurrent
//! callers (single-flight), and undoes a step that may be cancelled.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::{Error, Result};

/// Locks `m`, also after a thread panicked while holding it: every value
/// bsm keeps behind a lock is whole after each step (a cache slot, a
/// refresh state), so a panic elsewhere must not make the manager unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The outcome of one attempt, as every caller that waited for it gets it.
pub(crate) type Outcome<T> = std::result::Result<T, Arc<Error>>;

/// A new attempt that concurrent callers share: whoever starts it keeps the
/// [`Lead`] and does the work; the owner keeps the [`Flight`] in its slot,
/// and every caller that finds it there waits on a clone. The identity
/// cells (`client_cache::FlightCell`) and the role refresh
/// (`role_provider`) are both this.
pub(crate) fn flight<T: Clone>() -> (Lead<T>, Flight<T>) {
    let (tx, rx) = watch::channel(None);
    (Lead(tx), Flight(rx))
}

/// The leader's end of a [`flight`]. Dropped unfinished (its task
/// cancelled, its runtime shut down), it tells the waiters so.
pub(crate) struct Lead<T>(watch::Sender<Option<Outcome<T>>>);

impl<T: Clone> Lead<T> {
    /// Gives every waiter `outcome`, and returns it to the leader, the
    /// error now shared.
    pub(crate) fn finish(self, outcome: Result<T>) -> Outcome<T> {
        let outcome = outcome.map_err(Arc::new);
        self.0.send_replace(Some(outcome.clone()));
        outcome
    }
}

/// A waiter's end of a [`flight`].
#[derive(Clone)]
pub(crate) struct Flight<T>(watch::Receiver<Option<Outcome<T>>>);

impl<T: Clone> Flight<T> {
    /// The attempt's outcome; `None` when its leader was dropped before it
    /// finished.
    pub(crate) async fn outcome(mut self) -> Option<Outcome<T>> {
        self.0
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|o| o.clone())
    }
}

/// Runs its closure when dropped, unless [disarmed](OnDrop::disarm): the
/// clean-up of a step that a cancelled future leaves half done (a flight's
/// leader clears the owner's slot, so the next caller starts anew).
pub(crate) struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnDrop<F> {
    pub(crate) fn new(f: F) -> Self {
        Self(Some(f))
    }

    /// The step finished: nothing to undo.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{OnDrop, flight};
    use crate::Error;

    #[tokio::test]
    async fn waiters_get_the_leaders_outcome_or_learn_it_was_dropped() {
        let (lead, rx) = flight::<u32>();
        let waiter = tokio::spawn(rx.clone().outcome());
        assert_eq!(lead.finish(Ok(7)).unwrap(), 7);
        assert_eq!(waiter.await.unwrap().unwrap().unwrap(), 7);
        // Joining after the end still gives the outcome.
        assert_eq!(rx.outcome().await.unwrap().unwrap(), 7);

        let (lead, rx) = flight::<u32>();
        let err = Error::InvalidInput {
            input: crate::Input::Region,
            value: "nowhere".into(),
            reason: "bad".into(),
        };
        let shared = lead.finish(Err(err)).unwrap_err();
        let seen = rx.outcome().await.unwrap().unwrap_err();
        assert!(std::sync::Arc::ptr_eq(&shared, &seen), "one error, shared");

        let (lead, rx) = flight::<u32>();
        drop(lead);
        assert!(rx.outcome().await.is_none(), "a dropped leader is told");
    }

    #[test]
    fn on_drop_runs_unless_disarmed() {
        let ran = std::cell::Cell::new(0);
        drop(OnDrop::new(|| ran.set(ran.get() + 1)));
        OnDrop::new(|| ran.set(ran.get() + 10)).disarm();
        assert_eq!(ran.get(), 1);
    }
}
