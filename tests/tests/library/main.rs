//! The library against moto, in one test binary (one link of the SDK
//! crates, one moto): the tests that change nothing process-wide. A test
//! file that sets environment variables, installs a global tracing
//! subscriber or switches moto's global state (IAM auth) is a binary of its
//! own beside this one.

mod bad_input;
mod builder;
mod expiry;
mod faults;
mod handoff;
mod regions;
mod session;
