//! Emits the code for the validated services: accessors, `Service` impls,
//! re-exports and the `AwsService` enum.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::LitStr;

use crate::model::{self, Problem, Service};
use crate::validate;

/// Expands `services!()` (embedded file) or `services!("toml text")`.
pub fn expand(input: TokenStream, embedded: &str) -> syn::Result<TokenStream> {
    let (text, span) = if input.is_empty() {
        (embedded.to_owned(), Span::call_site())
    } else {
        let lit: LitStr = syn::parse2(input)?;
        (lit.value(), lit.span())
    };
    let (services, mut problems) = model::parse(&text);
    let (services, more) = validate::validate(services);
    problems.extend(more);
    let code = emit(&services);
    let errors = problems
        .iter()
        .map(|p| to_error(&text, p, span).into_compile_error());
    Ok(quote! { #code #(#errors)* })
}

fn to_error(text: &str, p: &Problem, span: Span) -> syn::Error {
    let (line, col) = model::line_col(text, p.span.start);
    syn::Error::new(span, format!("services.toml:{line}:{col}: {}", p.message))
}

/// The `AwsService` variant of a feature: `costexplorer` -> `Costexplorer`,
/// `foo_bar` -> `FooBar`.
pub fn variant_name(feature: &str) -> syn::Ident {
    format_ident!("{}", validate::variant(feature))
}

fn emit(services: &[Service]) -> TokenStream {
    let count = services.len();
    let variants: Vec<_> = services
        .iter()
        .map(|s| variant_name(&s.feature.value))
        .collect();
    let crates: Vec<_> = services.iter().map(|s| s.krate.value.as_str()).collect();
    let features: Vec<_> = services.iter().map(|s| s.feature.value.as_str()).collect();
    let paths: Vec<_> = services
        .iter()
        .map(|s| format_ident!("{}", s.path.value))
        .collect();
    let accessors_str: Vec<_> = services.iter().map(|s| s.accessor.value.as_str()).collect();
    let markers: Vec<_> = services
        .iter()
        .map(|s| format_ident!("{}", s.feature.value))
        .collect();
    let retired: Vec<_> = services.iter().map(|s| s.retired).collect();
    let variant_docs: Vec<_> = services
        .iter()
        .map(|s| match &s.display_name {
            Some(d) => format!("{d} (`{}`, feature `{}`).", s.krate.value, s.feature.value),
            None => format!(
                "The `{}` crate (feature `{}`).",
                s.krate.value, s.feature.value
            ),
        })
        .collect();
    let (items, methods): (Vec<_>, Vec<_>) = services.iter().map(per_service).unzip();
    let feature_off = feature_off(&features, &markers);
    let services_doc = services_table(services);

    quote! {
        /// Every AWS service crate in bsm's `services.toml`, whether its cargo
        /// feature is enabled in this build or not.
        ///
        /// `Display` writes the feature name (`s3`); `FromStr` accepts the
        /// feature name or the crate name (`s3`, `aws-sdk-s3`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum AwsService {
            #( #[doc = #variant_docs] #variants, )*
        }

        impl AwsService {
            /// Every service, in `services.toml` order (sorted by crate name).
            pub const ALL: &'static [AwsService] = &[ #( AwsService::#variants, )* ];

            /// The number of services whose feature is enabled in this build.
            pub const ENABLED_COUNT: usize = {
                let mut n = 0;
                let mut i = 0;
                while i < #count {
                    if AwsService::ALL[i].is_enabled() { n += 1; }
                    i += 1;
                }
                n
            };

            /// The SDK crate's package name, e.g. `aws-sdk-s3`.
            #[must_use]
            pub const fn crate_name(self) -> &'static str {
                match self { #( AwsService::#variants => #crates, )* }
            }

            /// The cargo feature of `bsm` that enables it, e.g. `s3`.
            #[must_use]
            pub const fn feature(self) -> &'static str {
                match self { #( AwsService::#variants => #features, )* }
            }

            /// The name of its accessor on `SessionManager`, e.g. `s3_client`.
            #[must_use]
            pub const fn accessor(self) -> &'static str {
                match self { #( AwsService::#variants => #accessors_str, )* }
            }

            /// Whether its feature is enabled in this build.
            #[must_use]
            pub const fn is_enabled(self) -> bool {
                match self { #( AwsService::#variants => cfg!(feature = #features), )* }
            }

            /// Whether AWS has retired the service (its accessor is deprecated).
            #[must_use]
            pub const fn is_retired(self) -> bool {
                match self { #( AwsService::#variants => #retired, )* }
            }
        }

        impl ::core::fmt::Display for AwsService {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.feature())
            }
        }

        impl ::core::str::FromStr for AwsService {
            type Err = crate::error::UnknownService;
            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                match s {
                    #( #features | #crates => ::core::result::Result::Ok(AwsService::#variants), )*
                    _ => ::core::result::Result::Err(crate::error::UnknownService::new(s)),
                }
            }
        }

        #[doc = #services_doc]
        pub mod services {}

        /// Where a manager caches its clients.
        mod client_cells {
            /// A manager's cached clients in one cache generation: a typed
            /// cell per enabled service, read without a downcast. Public in a
            /// private module, so that the sealed `Service` trait can name it
            /// and nobody outside the crate can.
            #[derive(Default)]
            #[allow(non_snake_case)]
            pub struct ClientCells {
                #(
                    #[cfg(feature = #features)]
                    pub(crate) #variants: ::std::sync::OnceLock<::#paths::Client>,
                )*
            }
        }

        #( #items )*

        #feature_off

        impl crate::SessionManager {
            #( #methods )*
        }
    }
}

/// The module a call to the accessor of a service whose feature is off
/// refers to: a bound no type meets, whose message names the feature.
fn feature_off(features: &[&str], markers: &[syn::Ident]) -> TokenStream {
    quote! {
        /// What a call to the accessor of a service whose feature is off
        /// reports: a bound no type meets, whose message names the feature.
        #[doc(hidden)]
        pub mod feature_off {
            /// Met by nothing: see the module.
            #[diagnostic::on_unimplemented(
                message = "this accessor needs the cargo feature `{S}` of bsm, which is off",
                label = "the `{S}` feature is off",
                note = "turn it on in Cargo.toml: bsm = {{ package = \"bsm-aws\", version = \"0.1\", features = [\"{S}\"] }}"
            )]
            pub trait FeatureOn<'a, S> {}
            #(
                #[cfg(not(feature = #features))]
                #[allow(non_camel_case_types)]
                #[doc(hidden)]
                pub struct #markers;
            )*
        }
    }
}

/// The accessor of a service whose feature is off: a call names the
/// feature to turn on (the bound can never hold, and its message says so;
/// the compiler checks such a bound only where the method is called).
fn disabled_accessor(feature: &str, accessor: &syn::Ident) -> TokenStream {
    let marker = format_ident!("{}", feature);
    quote! {
        #[cfg(not(feature = #feature))]
        #[doc(hidden)]
        #[allow(missing_docs)]
        pub fn #accessor(&self) -> ::core::convert::Infallible
        where
            for<'bsm> &'bsm Self: crate::feature_off::FeatureOn<'bsm, crate::feature_off::#marker>,
        {
            ::core::unreachable!()
        }
    }
}

/// The items (re-export, `Service` impl) and the accessor method of one service.
fn per_service(s: &Service) -> (TokenStream, TokenStream) {
    let feature = s.feature.value.as_str();
    let krate = s.krate.value.as_str();
    let path = format_ident!("{}", s.path.value);
    let accessor = format_ident!("{}", s.accessor.value);
    let variant = variant_name(feature);
    let name = match &s.display_name {
        Some(d) => format!("{d} (`{krate}`)"),
        None => format!("the `{krate}` service"),
    };
    let docs_url = format!("https://docs.rs/{krate}");
    let mut doc = vec![
        format!(
            "The cached [`{}::Client`]({docs_url}) for {name}.",
            s.path.value
        ),
        String::new(),
        "Built on first call from this manager's configuration (credentials, region, \
         endpoint URL, shared HTTP client, and any `configure` hook for this service), \
         then cached for the manager's life or until `clear_cache`. Every later call \
         returns a clone of the same client: a cheap handle on the same connection pool. \
         A client kept from before `clear_cache` goes on working and signs with the \
         credentials read again, as a new one does."
            .to_owned(),
        String::new(),
        "Safe to call from many threads and tasks at once: concurrent first callers \
         build exactly one client. Building cannot fail and makes no request."
            .to_owned(),
        String::new(),
        format!("Available with the cargo feature `{feature}` of `bsm`."),
    ];
    if let Some(note) = &s.note {
        doc.push(String::new());
        doc.push(note.clone());
    }
    let deprecated = s.retired.then(|| {
        let note = format!(
            "AWS no longer updates the service of `{krate}`; the crate still works but gets no new releases"
        );
        quote! { #[deprecated(note = #note)] }
    });
    let reexport_doc = format!("The `{krate}` crate, re-exported (feature `{feature}`).");
    // Emulators (moto, LocalStack, MinIO) serve S3 on one host: path-style
    // addressing, unless a hook turns it off.
    let emulator_defaults = if krate == "aws-sdk-s3" {
        quote! { builder.force_path_style(true) }
    } else {
        quote! { builder }
    };
    let items = quote! {
        #[cfg(feature = #feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = #feature)))]
        #[doc = #reexport_doc]
        #[doc(no_inline)]
        pub use ::#path;

        #[cfg(feature = #feature)]
        impl crate::service::private::Sealed for ::#path::Client {
            fn cell(cells: &crate::client_cells::ClientCells) -> &::std::sync::OnceLock<Self> {
                &cells.#variant
            }
        }

        #[cfg(feature = #feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = #feature)))]
        impl crate::Service for ::#path::Client {
            type ConfigBuilder = ::#path::config::Builder;
            const SERVICE: crate::AwsService = crate::AwsService::#variant;
            fn config_builder(sdk_config: &::aws_types::SdkConfig) -> Self::ConfigBuilder {
                ::#path::config::Builder::from(sdk_config)
            }
            fn from_config_builder(builder: Self::ConfigBuilder) -> Self {
                ::#path::Client::from_conf(builder.build())
            }
            fn emulator_defaults(builder: Self::ConfigBuilder) -> Self::ConfigBuilder {
                #emulator_defaults
            }
            fn push_interceptor(
                builder: &mut Self::ConfigBuilder,
                interceptor: ::aws_smithy_runtime_api::client::interceptors::SharedInterceptor,
            ) {
                builder.push_interceptor(interceptor);
            }
        }
    };
    let disabled = disabled_accessor(feature, &accessor);
    let method = quote! {
        #( #[doc = #doc] )*
        #[cfg(feature = #feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = #feature)))]
        #deprecated
        #[must_use]
        #[inline]
        pub fn #accessor(&self) -> ::#path::Client {
            self.client::<::#path::Client>()
        }

        #disabled
    };
    (items, method)
}

/// The docs of the `services` module: every service of services.toml, with
/// its crate (linked to its docs), feature, accessor and status, so that a
/// reader of docs built with a few features finds all the others.
fn services_table(services: &[Service]) -> String {
    use std::fmt::Write as _;
    let mut doc = format!(
        "Every AWS service bsm knows ({} of them, from `services.toml`), whether its \
         feature is enabled in this build or not. Enable a service with its cargo \
         feature; its accessor then appears on `SessionManager`.\n\n\
         | Service | Crate | Feature | Accessor | Status |\n|---|---|---|---|---|\n",
        services.len()
    );
    for s in services {
        let krate = &s.krate.value;
        let _ = writeln!(
            doc,
            "| {} | [`{krate}`](https://docs.rs/{krate}) | `{}` | `{}()` | {} |",
            s.display_name.as_deref().unwrap_or(""),
            s.feature.value,
            s.accessor.value,
            if s.retired { "retired" } else { "" },
        );
    }
    doc
}
