// The front page is the README (the crate's own copy, kept equal by
// `cargo xtask regen`, so that the packaged crate has it too), which says
// what bsm is; nothing is said before it, so it is said once.
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
    AliasStatus, AssumeRoleBuilder, AwsCliEnv, AwsService, CacheStats, ConsoleUrl,
    ConsoleUrlBuilder, CredentialSource, Error, Identity, Input, MANAGED_VARS, MfaTokenProvider,
    ProcessEnvGuard, Result, Service, ServiceErrorKind, SessionManager, SessionManagerBuilder,
    Snapshot, SnapshotGuard, UnknownService, WhoAmI, cli_env, credentials, error, mask,
    secret_file, services, validate_role_arn,
};
