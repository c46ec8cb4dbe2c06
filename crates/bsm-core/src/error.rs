//! bsm's one error type, [`Error`], and [`Result`].
//!
//! Every variant names what failed and with which input (operation, profile,
//! role ARN, path); the underlying cause is boxed behind `source()`. No
//! variant ever holds a secret key or a session token.

/// A boxed error from the SDK or the standard library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in bsm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument was rejected before any request was sent.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidInput {
        /// Which input, e.g. `region`, `role ARN`, `duration`.
        what: &'static str,
        /// The value given (never a secret: secrets are reported as `<redacted>`).
        value: String,
        /// Why it was rejected.
        reason: String,
    },

    /// Credentials could not be resolved (missing profile, no credentials in
    /// the chain, an expired SSO session, ...).
    #[error("cannot resolve AWS credentials{}", for_profile(profile.as_deref()))]
    Credentials {
        /// The profile in use, if one was named.
        profile: Option<String>,
        /// The credential provider's error.
        #[source]
        source: BoxError,
    },

    /// A profile was named (to the builder, or by `AWS_DEFAULT_PROFILE` or
    /// `AWS_PROFILE`) that neither the config nor the credentials file has.
    #[error("profile `{profile}` not found{}", looked_in(files))]
    ProfileNotFound {
        /// The profile.
        profile: String,
        /// The files looked in (empty when they were given as
        /// [`EnvConfigFiles`](aws_runtime::env_config::file::EnvConfigFiles),
        /// whose paths bsm cannot read back).
        files: Vec<std::path::PathBuf>,
    },

    /// Assuming a role failed: STS refused, or a refresh could not get what
    /// it needs (a fresh MFA code).
    #[error("cannot assume role `{role_arn}`")]
    AssumeRole {
        /// The role.
        role_arn: String,
        /// Why; an [`Error::Service`] for an STS error.
        #[source]
        source: BoxError,
    },

    /// A snapshot file could not be read or written: missing, a directory,
    /// malformed JSON, an unknown or missing key, an existing file in the
    /// way, an unwritable folder.
    #[error("snapshot `{}`", path.display())]
    Snapshot {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong.
        #[source]
        source: BoxError,
    },

    /// A request to an AWS service failed.
    #[error("{operation} failed{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Service {
        /// The operation, e.g. `STS GetCallerIdentity`.
        operation: &'static str,
        /// The AWS error code, e.g. `AccessDenied`, when the service sent one.
        code: Option<String>,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
}

fn looked_in(files: &[std::path::PathBuf]) -> String {
    if files.is_empty() {
        return String::new();
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    format!(" in {}", names.join(" or "))
}

fn for_profile(profile: Option<&str>) -> String {
    profile
        .map(|p| format!(" for profile `{p}`"))
        .unwrap_or_default()
}

impl Error {
    /// The AWS error code (`AccessDenied`, `ThrottlingException`, ...), when
    /// a service returned one.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Service { code, .. } => code.as_deref(),
            Error::AssumeRole { source, .. } => {
                source.downcast_ref::<Error>().and_then(Error::code)
            }
            _ => None,
        }
    }

    pub(crate) fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// Wraps an SDK operation error, keeping its code. When the SDK could
    /// not read a code from the response (an emulator or proxy answering in
    /// another error format), the code is taken from an XML `<Code>` element
    /// of the raw body, else `HTTP <status>`.
    pub(crate) fn service<E>(
        operation: &'static str,
        err: aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::http::Response,
        >,
    ) -> Self
    where
        E: std::error::Error
            + aws_smithy_types::error::metadata::ProvideErrorMetadata
            + Send
            + Sync
            + 'static,
    {
        let code = code_of(&err);
        Error::Service {
            operation,
            code,
            source: Box::new(err),
        }
    }
}

impl Error {
    /// Like [`Error::service`], but keeps only the error's code and its
    /// messages (the `Display` of each cause), not the SDK error with its raw
    /// response, for operations whose responses hold secrets.
    pub(crate) fn service_without_response<E>(
        operation: &'static str,
        err: &aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::http::Response,
        >,
    ) -> Self
    where
        E: std::error::Error
            + aws_smithy_types::error::metadata::ProvideErrorMetadata
            + Send
            + Sync
            + 'static,
    {
        Error::Service {
            operation,
            code: code_of(err),
            source: text_with_causes(err).into(),
        }
    }
}

/// `err` and each of its causes, joined by `": "`.
pub(crate) fn text_with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl Error {
    /// A copy of `shared` for each caller that waited on the same attempt
    /// (single-flight identity and refresh): the same variant and fields,
    /// and the same cause, which every copy shares.
    pub(crate) fn shared(shared: &std::sync::Arc<Error>) -> Self {
        let source: BoxError = Box::new(SharedCause(std::sync::Arc::clone(shared)));
        match &**shared {
            Error::InvalidInput {
                what,
                value,
                reason,
            } => Error::InvalidInput {
                what,
                value: value.clone(),
                reason: reason.clone(),
            },
            Error::ProfileNotFound { profile, files } => Error::ProfileNotFound {
                profile: profile.clone(),
                files: files.clone(),
            },
            Error::Credentials { profile, .. } => Error::Credentials {
                profile: profile.clone(),
                source,
            },
            Error::AssumeRole { role_arn, .. } => Error::AssumeRole {
                role_arn: role_arn.clone(),
                source,
            },
            Error::Snapshot { path, .. } => Error::Snapshot {
                path: path.clone(),
                source,
            },
            Error::Service {
                operation, code, ..
            } => Error::Service {
                operation,
                code: code.clone(),
                source,
            },
        }
    }
}

/// An error and its causes on one line (`error: cause: cause`), for logs.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The cause of an error that several callers share: shows as the cause
/// of the original error, and continues its chain.
#[derive(Debug)]
struct SharedCause(std::sync::Arc<Error>);

impl std::fmt::Display for SharedCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::error::Error::source(&*self.0) {
            Some(cause) => write!(f, "{cause}"),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for SharedCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0).and_then(std::error::Error::source)
    }
}

/// The AWS error code of an SDK error; when the SDK could not read one, the
/// raw body's XML `<Code>`, else `HTTP <status>`.
fn code_of<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> Option<String> {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
    err.code().map(str::to_owned).or_else(|| {
        let raw = err.raw_response()?;
        let body = raw
            .body()
            .bytes()
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("");
        Some(xml_code(body).unwrap_or_else(|| format!("HTTP {}", raw.status().as_u16())))
    })
}

fn xml_code(body: &str) -> Option<String> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    let code = body[start..start + len].trim();
    (!code.is_empty() && code.len() < 128).then(|| code.to_owned())
}

/// The error of [`AwsService::from_str`](std::str::FromStr): no service by that name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown AWS service `{name}` (expected a feature name like `s3` or a crate name like `aws-sdk-s3`)"
)]
pub struct UnknownService {
    name: String,
}

impl UnknownService {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
        }
    }

    /// The name that was not found.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_names_the_input() {
        let e = Error::invalid("region", "", "must not be empty");
        assert_eq!(e.to_string(), "invalid region ``: must not be empty");
    }

    #[test]
    fn service_error_shows_operation_and_code() {
        let e = Error::Service {
            operation: "IAM ListAccountAliases",
            code: Some("AccessDenied".into()),
            source: "denied".into(),
        };
        assert_eq!(
            e.to_string(),
            "IAM ListAccountAliases failed (AccessDenied)"
        );
        assert_eq!(e.code(), Some("AccessDenied"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn xml_codes_are_read_from_raw_bodies() {
        assert_eq!(
            xml_code(
                "<ErrorResponse><Errors><Error><Code>AccessDenied</Code></Error></Errors></ErrorResponse>"
            ),
            Some("AccessDenied".into())
        );
        assert_eq!(xml_code("<html>nope</html>"), None);
        assert_eq!(xml_code("<Code></Code>"), None);
    }

    #[test]
    fn credentials_error_names_the_profile() {
        let e = Error::Credentials {
            profile: Some("dev".into()),
            source: "no creds".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot resolve AWS credentials for profile `dev`"
        );
    }
}
