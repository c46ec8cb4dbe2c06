//! The tests that read bsm's tracing events, in one test binary: one
//! process-wide capturing subscriber ([`bsm_tests::capture::global`]) sees
//! every test's events, so each test picks its own by a field it controls (a
//! role ARN, a server's address, a secret it made) or by the names of its
//! threads.

mod assume_role;
mod concurrency;
mod secrets;
mod server;
mod slow_sts;
