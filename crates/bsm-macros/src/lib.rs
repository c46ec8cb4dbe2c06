//! The proc macro that turns `services.toml` into bsm's per-service code.
//!
//! `bsm_macros::services!()` is invoked once, inside `bsm-core`. It emits, for
//! every service listed in `services.toml`, a feature-gated accessor on
//! `SessionManager`, an implementation of `bsm_core::Service` for the
//! service's `Client`, a re-export of the SDK crate, and the `AwsService`
//! enum that lists every service whether enabled or not. It is not meant to
//! be used outside `bsm-core`: the expansion refers to `crate::` items.
//!
//! Bad input never panics: each problem becomes a `compile_error!` naming
//! `services.toml:LINE:COL`, and the valid entries are still emitted so that
//! one mistake does not cascade into hundreds of missing methods.

mod expand;
mod model;
mod validate;

use proc_macro::TokenStream;

/// The services.toml that ships inside this crate: a copy of the
/// workspace's file, kept equal by `cargo xtask regen` (a real file, so that
/// Windows checkouts and the packaged crate have it too).
/// Embedding it makes cargo rebuild this crate, and so `bsm-core`, whenever
/// it changes.
const SERVICES_TOML: &str = include_str!("../services.toml");

/// Emits the per-service accessors, `Service` impls, re-exports and the
/// `AwsService` enum.
///
/// With no input it reads the `services.toml` embedded in this crate. With a
/// string literal it reads that TOML text instead (used by the compile-fail
/// tests, which must not depend on an SDK crate).
#[proc_macro]
pub fn services(input: TokenStream) -> TokenStream {
    expand::expand(input.into(), SERVICES_TOML)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
