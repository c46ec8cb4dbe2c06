//! The library against moto, in one test binary (one link of the SDK
//! crates, one moto): the tests that change nothing process-wide. Beside
//! it: `process_env` (the tests that set environment variables, one at a
//! time), `traced` (the tests that read the global tracing subscriber's
//! events) and `alias` (it switches moto's global IAM auth).

mod bad_input;
mod builder;
mod expiry;
mod faults;
mod handoff;
mod regions;
mod session;
