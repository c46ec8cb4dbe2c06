//! The engine of [bsm](https://docs.rs/bsm-aws): [`SessionManager`], its builder,
//! identity, errors, and the per-service accessors generated from
//! `services.toml`.
//!
//! Depend on the facade crate `bsm` rather than on this one: it forwards the
//! service features and re-exports everything here.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod assume_role;
mod builder;
mod chain;
mod child_env;
mod child_files;
pub mod cli_env;
mod client_cache;
pub mod console;
pub mod credentials;
pub mod error;
pub mod explain;
mod hint;
mod identity;
mod input;
#[cfg(feature = "keychain")]
#[cfg_attr(docsrs, doc(cfg(feature = "keychain")))]
pub mod keychain;
#[cfg(all(feature = "keychain", feature = "iam"))]
mod keychain_rotate;
#[cfg(feature = "credentials-login")]
mod login;
pub mod mask;
mod mfa_session;
mod region;
mod role_provider;
pub mod secret_file;
#[cfg(feature = "credential-server")]
mod server;
mod service;
mod service_error;
mod session;
mod snapshot;
#[cfg(feature = "keychain")]
mod stored_keys;
mod sync;
mod whoami;

pub use assume_role::{AssumeRoleBuilder, validate_role_arn};
#[doc(no_inline)]
pub use aws_config;
#[doc(no_inline)]
pub use aws_credential_types;
#[doc(no_inline)]
pub use aws_runtime;
#[doc(no_inline)]
pub use aws_smithy_async;
#[doc(no_inline)]
pub use aws_smithy_types;
#[doc(no_inline)]
pub use aws_types;
pub use builder::SessionManagerBuilder;
pub use cli_env::{AwsCliEnv, MANAGED_VARS, ProcessEnvGuard};
pub use client_cache::CacheStats;
pub use console::{ConsoleUrl, ConsoleUrlBuilder};
pub use credentials::CredentialSource;
pub use error::{Error, Input, KeychainErrorKind, Result, ServiceErrorKind, UnknownService};
pub use explain::Explanation;
pub use identity::{AliasStatus, Identity, WhoAmI};
#[cfg(all(feature = "keychain", feature = "iam"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "keychain", feature = "iam"))))]
pub use keychain_rotate::{RotateKeys, Rotated};
pub use role_provider::MfaTokenProvider;
#[cfg(feature = "credential-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "credential-server")))]
pub use server::CredentialServer;
pub use service::Service;
pub use session::SessionManager;
pub use snapshot::{Snapshot, SnapshotGuard};

// The `AwsService` enum, one accessor per enabled service on
// `SessionManager`, the `Service` impls and the SDK crate re-exports.
bsm_macros::services!();

// STS is always compiled in (identity and assume role need it); the `sts`
// feature only adds the accessor and the re-export.
#[cfg(not(feature = "sts"))]
#[doc(hidden)]
pub use aws_sdk_sts;
