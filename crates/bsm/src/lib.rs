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
#![doc = include_str!("../../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The README is also GitHub prose: product names in it (PyPI, LocalStack) are not code.
#![allow(clippy::doc_markdown)]

pub use bsm_core::*;
