//! The `bsm` command end to end, in one test binary (one link, one moto):
//! every test runs the binary as a child and changes nothing in this
//! process. `exec_server.rs`, which gives this process the default signal
//! dispositions, is a binary of its own.

mod cli;
mod handoff_matrix;
mod keys;
mod session_cache;
mod sources;
