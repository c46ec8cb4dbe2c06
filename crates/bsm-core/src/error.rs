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
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An argument was rejected before any request was sent.
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
    Credentials {
        /// The profile in use, if one was named.
        profile: Option<String>,
        /// The credential provider's error.
        source: BoxError,
    },

    /// A profile was named (to the builder, or by `AWS_DEFAULT_PROFILE` or
    /// `AWS_PROFILE`) that neither the config nor the credentials file has.
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
    AssumeRole {
        /// The role.
        role_arn: String,
        /// Why; an [`Error::Service`] for an STS error.
        source: BoxError,
    },

    /// A snapshot file could not be read or written: missing, a directory,
    /// malformed JSON, an unknown or missing key, an existing file in the
    /// way, an unwritable folder.
    Snapshot {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong.
        source: BoxError,
    },

    /// The files a child process of the credential server reads its
    /// settings from (see [`cli_env`](crate::cli_env)) could not be
    /// written: a full disk, an unwritable temporary folder.
    Handoff {
        /// The folder they go to.
        path: std::path::PathBuf,
        /// What failed.
        source: BoxError,
    },

    /// A request to an AWS service failed.
    Service {
        /// The operation, e.g. `STS GetCallerIdentity`.
        operation: &'static str,
        /// The AWS error code, e.g. `AccessDenied`, when the service sent one.
        code: Option<String>,
        /// The SDK's error.
        source: BoxError,
    },
}

// `Display` and `Error` by hand rather than with `thiserror`: seven variants
// do not earn a proc macro in every user's build (see BENCHMARKS.md).
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidInput {
                what,
                value,
                reason,
            } => write!(f, "invalid {what} `{value}`: {reason}"),
            Error::Credentials { profile, .. } => write!(
                f,
                "cannot resolve AWS credentials{}",
                for_profile(profile.as_deref())
            ),
            Error::ProfileNotFound { profile, files } => {
                write!(f, "profile `{profile}` not found{}", looked_in(files))
            }
            Error::AssumeRole { role_arn, .. } => write!(f, "cannot assume role `{role_arn}`"),
            Error::Snapshot { path, .. } => write!(f, "snapshot `{}`", path.display()),
            Error::Handoff { path, .. } => write!(
                f,
                "cannot write the settings of a child process in `{}`",
                path.display()
            ),
            Error::Service {
                operation, code, ..
            } => match code {
                Some(code) => write!(f, "{operation} failed ({code})"),
                None => write!(f, "{operation} failed"),
            },
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Credentials { source, .. }
            | Error::AssumeRole { source, .. }
            | Error::Snapshot { source, .. }
            | Error::Handoff { source, .. }
            | Error::Service { source, .. } => Some(&**source),
            Error::InvalidInput { .. } | Error::ProfileNotFound { .. } => None,
        }
    }
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

    /// Refuses an empty value, or one with control characters: names and
    /// regions go into child processes' environments and config files,
    /// where a line break or a carriage return would start a line of its
    /// own.
    pub(crate) fn check_plain(what: &'static str, value: &str) -> Result<()> {
        if value.trim().is_empty() {
            return Err(Error::invalid(what, value, "must not be empty"));
        }
        if value.chars().any(char::is_control) {
            let shown = value.escape_debug().to_string();
            return Err(Error::invalid(
                what,
                shown,
                "must not hold control characters",
            ));
        }
        Ok(())
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
            source: chain(err).into(),
        }
    }
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
            Error::Handoff { path, .. } => Error::Handoff {
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownService {
    name: String,
}

impl std::fmt::Display for UnknownService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown AWS service `{}` (expected a feature name like `s3` or a crate name like `aws-sdk-s3`)",
            self.name
        )
    }
}

impl std::error::Error for UnknownService {}

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

    #[test]
    fn every_variant_names_its_input_and_keeps_its_cause() {
        use std::error::Error as _;
        let cause = || -> BoxError { "the cause".into() };
        let cases: Vec<(Error, &str, bool)> = vec![
            (
                Error::invalid("duration", "5", "below 900 s"),
                "invalid duration `5`: below 900 s",
                false,
            ),
            (
                Error::Credentials {
                    profile: None,
                    source: cause(),
                },
                "cannot resolve AWS credentials",
                true,
            ),
            (
                Error::ProfileNotFound {
                    profile: "dev".into(),
                    files: vec!["/a/config".into(), "/a/credentials".into()],
                },
                "profile `dev` not found in /a/config or /a/credentials",
                false,
            ),
            (
                Error::ProfileNotFound {
                    profile: "dev".into(),
                    files: vec![],
                },
                "profile `dev` not found",
                false,
            ),
            (
                Error::AssumeRole {
                    role_arn: "arn:aws:iam::123456789012:role/r".into(),
                    source: cause(),
                },
                "cannot assume role `arn:aws:iam::123456789012:role/r`",
                true,
            ),
            (
                Error::Snapshot {
                    path: "/tmp/s.json".into(),
                    source: cause(),
                },
                "snapshot `/tmp/s.json`",
                true,
            ),
            (
                Error::Service {
                    operation: "STS GetCallerIdentity",
                    code: None,
                    source: cause(),
                },
                "STS GetCallerIdentity failed",
                true,
            ),
        ];
        for (e, text, has_source) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(
                e.source().map(ToString::to_string),
                has_source.then(|| "the cause".to_owned()),
                "{text}"
            );
        }
        let unknown = UnknownService::new("s4");
        assert_eq!(
            unknown.to_string(),
            "unknown AWS service `s4` (expected a feature name like `s3` or a crate name like `aws-sdk-s3`)"
        );
        assert!(unknown.source().is_none());
    }
}
