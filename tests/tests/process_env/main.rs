//! The tests that change this process's environment, in one test binary:
//! each holds [`exclusive`] from its first line to its last, so no two run
//! at once, no other thread of the binary reads the environment while one
//! changes it, and each starts from the environment the binary started with.

mod differential;
mod env_guard;
mod keychain;
mod moto_launch;
mod sources;

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard};

/// The environment as the binary found it, restored when dropped; while it
/// lives, no other test of this binary runs.
pub(crate) struct Exclusive {
    before: Vec<(OsString, OsString)>,
    _turn: MutexGuard<'static, ()>,
}

/// Waits for this test's turn (a failed test's turn is passed on, not
/// poisoned) and notes the environment.
pub(crate) fn exclusive() -> Exclusive {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Exclusive {
        before: std::env::vars_os().collect(),
        _turn: turn,
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        // SAFETY: this test holds the turn, so no other thread of the
        // binary reads or writes the environment; its runtimes are gone.
        unsafe {
            for (name, _) in std::env::vars_os() {
                std::env::remove_var(name);
            }
            for (name, value) in &self.before {
                std::env::set_var(name, value);
            }
        }
    }
}
