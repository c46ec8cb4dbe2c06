//! bsm: the session manager for the AWS SDK for Rust.
//!
//! One [`SessionManager`], built once from the default credential chain, a
//! named profile, explicit keys or a ready `SdkConfig`; from it a typed,
//! cached client per service (`s3_client()`, `sqs_client()`, ... each behind
//! the cargo feature of the same name), the caller's identity, expiry checks
//! and cache clearing.
//!
//! Every enabled SDK crate is re-exported (`bsm::aws_sdk_s3`), so request and
//! response types need no second dependency line.
//!
// The crate's own copy of the workspace README (kept equal by
// `cargo xtask regen`), so that the packaged crate has it too.
#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The README is also GitHub prose: product names in it (PyPI, LocalStack) are not code.
#![allow(clippy::doc_markdown)]

// Everything of bsm-core. Its items are documented here in full; the AWS
// crates it re-exports (`aws_sdk_s3`, `aws_config`, ...) only as links:
// copied whole, the enabled SDK crates made these docs hundreds of
// megabytes.
#[cfg(feature = "credential-server")]
#[doc(inline)]
pub use bsm_core::CredentialServer;
#[doc(no_inline)]
pub use bsm_core::*;
#[doc(inline)]
pub use bsm_core::{
    AliasStatus, AssumeRoleBuilder, AwsCliEnv, AwsService, CacheStats, CredentialSource, Error,
    Identity, MANAGED_VARS, MfaTokenProvider, ProcessEnvGuard, Result, Service, SessionManager,
    SessionManagerBuilder, Snapshot, SnapshotGuard, UnknownService, WhoAmI, cli_env, credentials,
    error, mask, secret_file, services, validate_role_arn,
};
