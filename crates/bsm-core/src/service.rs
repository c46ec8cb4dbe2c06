//! The [`Service`] trait: what bsm needs to know about an SDK client type to
//! build and cache it. Implemented by the `services!` macro for the `Client`
//! of every enabled service; not implementable outside bsm.

use aws_types::SdkConfig;

use crate::AwsService;

pub(crate) mod private {
    /// Keeps `Service` implemented only by the generated code (which
    /// expands inside this crate). Not reachable from outside the crate.
    pub trait Sealed: Sized {
        /// Where a manager caches this client in one cache generation.
        fn cell(cells: &crate::client_cells::ClientCells) -> &std::sync::OnceLock<Self>;
    }
}

/// An AWS SDK service client that a [`SessionManager`](crate::SessionManager)
/// can build and cache, e.g. `aws_sdk_s3::Client`.
///
/// It makes the generic accessors work:
/// [`client::<C>()`](crate::SessionManager::client),
/// [`client_with::<C>(..)`](crate::SessionManager::client_with) and the typed
/// per-service hook [`configure::<C>(..)`](crate::SessionManagerBuilder::configure).
///
/// Sealed: only bsm implements it (for the `Client` of every enabled
/// service), so a type of yours cannot claim another service's cache cell:
///
/// ```compile_fail,E0277
/// # use bsm_core as bsm;
/// #[derive(Clone)]
/// struct Fake;
/// impl bsm::Service for Fake {
///     type ConfigBuilder = ();
///     const SERVICE: bsm::AwsService = bsm::AwsService::Sts;
///     fn config_builder(_: &bsm::aws_types::SdkConfig) {}
///     fn from_config_builder(_: ()) -> Self { Fake }
///     fn emulator_defaults(b: ()) {}
///     fn push_interceptor(
///         _: &mut (),
///         _: aws_smithy_runtime_api::client::interceptors::SharedInterceptor,
///     ) {}
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the client of a service enabled in this build of bsm",
    note = "each service is a cargo feature of bsm named after its crate without `aws-sdk-` \
            (`aws_sdk_sts::Client` needs the `sts` feature): add it to bsm's `features` in Cargo.toml"
)]
pub trait Service: private::Sealed + Clone + Send + Sync + 'static {
    /// The service's config builder, e.g. `aws_sdk_s3::config::Builder`.
    type ConfigBuilder: Send;

    /// Which service this is.
    const SERVICE: AwsService;

    /// A config builder seeded from the shared SDK configuration.
    fn config_builder(sdk_config: &SdkConfig) -> Self::ConfigBuilder;

    /// The client for a finished config builder.
    fn from_config_builder(builder: Self::ConfigBuilder) -> Self;

    /// What a client talking to an emulator (an endpoint URL is set) needs
    /// before the hooks run: path-style addressing for S3.
    #[doc(hidden)]
    fn emulator_defaults(builder: Self::ConfigBuilder) -> Self::ConfigBuilder;

    /// Adds an interceptor to every client built from this builder.
    #[doc(hidden)]
    fn push_interceptor(
        builder: &mut Self::ConfigBuilder,
        interceptor: aws_smithy_runtime_api::client::interceptors::SharedInterceptor,
    );
}

/// On the clients of a manager without a region: a request that reaches
/// the wire without one (no `client_with` or per-operation region either)
/// fails before it is sent, saying how to set a region, instead of with the
/// SDK's endpoint-resolution error.
#[derive(Debug)]
pub(crate) struct NoRegionHint(pub(crate) AwsService);

impl aws_smithy_runtime_api::client::interceptors::Intercept for NoRegionHint {
    fn name(&self) -> &'static str {
        "bsm::NoRegionHint"
    }

    fn read_before_execution(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> std::result::Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if cfg.load::<aws_types::region::Region>().is_some() {
            return Ok(());
        }
        Err(format!(
            "no AWS region is set for {}: give one to SessionManagerBuilder::region, set \
             AWS_REGION (or AWS_DEFAULT_REGION), or add `region = ...` to the profile",
            self.0.crate_name()
        )
        .into())
    }
}
