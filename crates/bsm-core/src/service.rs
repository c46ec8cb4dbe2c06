//! The [`Service`] trait: what bsm needs to know about an SDK client type to
//! build and cache it. Implemented by the `services!` macro for the `Client`
//! of every enabled service; not implementable outside bsm.

use aws_types::SdkConfig;

use crate::AwsService;

pub(crate) mod private {
    /// Keeps `Service` implemented only by the generated code, so that the
    /// slot a client is cached in always matches its type.
    pub trait Sealed {}
}

/// An AWS SDK service client that a [`SessionManager`](crate::SessionManager)
/// can build and cache, e.g. `aws_sdk_s3::Client`.
///
/// It makes the generic accessors work:
/// [`client::<C>()`](crate::SessionManager::client),
/// [`client_with::<C>(..)`](crate::SessionManager::client_with) and the typed
/// per-service hook [`configure::<C>(..)`](crate::SessionManagerBuilder::configure).
pub trait Service: private::Sealed + Clone + Send + Sync + 'static {
    /// The service's config builder, e.g. `aws_sdk_s3::config::Builder`.
    type ConfigBuilder: Send;

    /// Which service this is.
    const SERVICE: AwsService;

    /// Where a manager caches this client: the index among enabled services.
    #[doc(hidden)]
    const SLOT: usize = Self::SERVICE.slot();

    /// A config builder seeded from the shared SDK configuration.
    fn config_builder(sdk_config: &SdkConfig) -> Self::ConfigBuilder;

    /// The client for a finished config builder.
    fn from_config_builder(builder: Self::ConfigBuilder) -> Self;

    /// Adds an interceptor to every client built from this builder.
    #[doc(hidden)]
    fn push_interceptor(
        builder: &mut Self::ConfigBuilder,
        interceptor: aws_smithy_runtime_api::client::interceptors::SharedInterceptor,
    );
}
