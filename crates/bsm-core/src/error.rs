//! bsm's one error type, [`Error`], and [`Result`].
//!
//! Every variant names what failed and with which input (operation, profile,
//! role ARN, path, and for bad input an [`Input`]). `Display` is one line
//! saying what failed and why; the causes stay reachable through
//! `source()`, and [`Error::find`] picks one out by type (the SDK's
//! operation error, an `std::io::Error`). A failed request to AWS says, in
//! the style of the SDK's `ProvideErrorMetadata`, its code, message,
//! request id and HTTP status, and what kind of failure it was
//! ([`ServiceErrorKind`]: an error answer, an unreadable answer, a timeout,
//! no connection). No variant ever holds a secret key or a session token,
//! and none keeps the raw body of an answer (an unreadable 200 can hold new
//! credentials).

pub use crate::input::Input;

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
        /// Which input.
        input: Input,
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

    /// The console sign-in endpoint could not be reached, refused, or
    /// answered with something other than a sign-in token (its answer is
    /// never repeated: it can hold a token).
    ConsoleSignIn {
        /// The federation endpoint.
        endpoint: String,
        /// What went wrong.
        source: BoxError,
    },

    /// The OS credential store that holds source keys (see
    /// [`KeyStore`](crate::keychain::KeyStore), feature `keychain`) failed,
    /// refused, or holds no keys under the name asked for.
    Keychain {
        /// The store: `secret-service`, `keyutils`, `keychain` (macOS),
        /// `credential-manager` (Windows), or the vendor of a store the
        /// caller gave.
        backend: String,
        /// The keys' name, when one was asked for.
        name: Option<String>,
        /// What kind of failure.
        kind: KeychainErrorKind,
        /// The store's error; it never holds a stored value.
        source: BoxError,
    },

    /// A key rotation stopped before its end (see
    /// [`KeyStore::rotate`](crate::keychain::KeyStore::rotate)). Nothing
    /// is lost: `state` says which key is stored and works, and which key
    /// IAM still has that the next rotation deletes.
    KeyRotation {
        /// The keys' name.
        name: String,
        /// What is stored and what exists at IAM now.
        state: String,
        /// The step that failed.
        source: BoxError,
    },

    /// A request to an AWS service failed.
    Service {
        /// The operation, e.g. `STS GetCallerIdentity`.
        operation: &'static str,
        /// What kind of failure.
        kind: ServiceErrorKind,
        /// The AWS error code, e.g. `AccessDenied`, when the service sent one.
        code: Option<String>,
        /// The service's error message, when it sent one.
        message: Option<String>,
        /// The request id AWS gave the request, when there is one.
        request_id: Option<String>,
        /// The HTTP status of the answer, when one came.
        status: Option<u16>,
        /// The SDK's error: the operation's modeled error (e.g.
        /// `aws_sdk_sts::operation::assume_role::AssumeRoleError`) for an
        /// answer, the `SdkError` itself for a timeout or a failed
        /// connection; reach it with [`Error::find`].
        source: BoxError,
    },
}

/// What kind of failure an [`Error::Keychain`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeychainErrorKind {
    /// No keys are stored under the name.
    NotFound,
    /// The store would not let bsm in: locked, or access denied.
    NoAccess,
    /// The store could not be reached (no Secret Service on the session
    /// bus, no kernel keyring) or is not built for this platform.
    Unavailable,
    /// The stored value is not keys bsm wrote.
    Malformed,
    /// Anything else the store reported.
    Other,
}

impl std::fmt::Display for KeychainErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeychainErrorKind::NotFound => "no keys stored under this name",
            KeychainErrorKind::NoAccess => "no access",
            KeychainErrorKind::Unavailable => "not available",
            KeychainErrorKind::Malformed => "the stored value is not keys bsm wrote",
            KeychainErrorKind::Other => "failed",
        })
    }
}

/// What kind of failure an [`Error::Service`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceErrorKind {
    /// The service answered with an error (`code`, `message` and `status`
    /// say which).
    ErrorAnswer,
    /// An answer came that could not be read: a truncated body, a proxy's
    /// HTML page, a success status whose body is not the operation's answer.
    MalformedAnswer,
    /// The request, or the wait for its answer, ran out of time.
    Timeout,
    /// The endpoint could not be reached: a refused connection, a name
    /// that does not resolve, a TLS failure.
    Connection,
    /// The request could not be made (no region, say), before anything was
    /// sent.
    Construction,
    /// Anything else.
    Other,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidInput {
                input,
                value,
                reason,
            } => write!(f, "invalid {input} `{value}`: {reason}"),
            Error::Credentials { profile, source } => write!(
                f,
                "cannot resolve AWS credentials{}: {}",
                for_profile(profile.as_deref()),
                // aws-config's outer error says only "the credential
                // provider was not enabled"; the innermost says why.
                deepest_line(source)
            ),
            Error::ProfileNotFound { profile, files } => {
                write!(f, "profile `{profile}` not found{}", looked_in(files))
            }
            Error::AssumeRole { role_arn, source } => {
                write!(f, "cannot assume role `{role_arn}`: {}", first_line(source))
            }
            Error::Snapshot { path, source } => {
                write!(f, "snapshot `{}`: {}", path.display(), first_line(source))
            }
            Error::Handoff { path, source } => write!(
                f,
                "cannot write the settings of a child process in `{}`: {}",
                path.display(),
                first_line(source)
            ),
            Error::ConsoleSignIn { endpoint, source } => write!(
                f,
                "console sign-in at `{endpoint}` failed: {}",
                first_line(source)
            ),
            Error::Keychain {
                backend,
                name,
                kind,
                source,
            } => {
                write!(f, "keychain `{backend}`")?;
                if let Some(name) = name {
                    write!(f, ", keys `{name}`")?;
                }
                write!(f, ": {kind}: {}", first_line(source))
            }
            Error::KeyRotation {
                name,
                state,
                source,
            } => write!(
                f,
                "rotating keys `{name}` stopped: {}; {state}",
                first_line(source)
            ),
            Error::Service {
                operation,
                kind,
                code,
                message,
                status,
                source,
                ..
            } => {
                write!(f, "{operation} failed: ")?;
                match (kind, code, message) {
                    (ServiceErrorKind::ErrorAnswer, Some(c), Some(m)) => write!(f, "{c}: {m}"),
                    (ServiceErrorKind::ErrorAnswer, Some(c), None) => write!(f, "{c}"),
                    (ServiceErrorKind::ErrorAnswer, None, _) => match status {
                        Some(s) => write!(f, "the service answered HTTP {s}"),
                        None => write!(f, "the service answered with an error"),
                    },
                    (ServiceErrorKind::MalformedAnswer, ..) => match status {
                        Some(s) => write!(f, "its answer (HTTP {s}) could not be read"),
                        None => write!(f, "its answer could not be read"),
                    },
                    (ServiceErrorKind::Timeout, ..) => write!(f, "timed out"),
                    (ServiceErrorKind::Connection, ..) => {
                        write!(f, "cannot connect: {}", deepest_line(source))
                    }
                    (ServiceErrorKind::Construction | ServiceErrorKind::Other, ..) => {
                        write!(f, "{}", deepest_line(source))
                    }
                }
            }
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
            | Error::ConsoleSignIn { source, .. }
            | Error::Keychain { source, .. }
            | Error::KeyRotation { source, .. }
            | Error::Service { source, .. } => Some(&**source),
            Error::InvalidInput { .. } | Error::ProfileNotFound { .. } => None,
        }
    }
}

/// The first line of an error's own text.
fn first_line(err: &BoxError) -> String {
    let text = err.to_string();
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// The first line of the last cause in the chain: the SDK's outer errors
/// ("dispatch failure", "failed to construct request") say little; the
/// innermost says why (the connection refused, the region missing).
fn deepest_line(err: &BoxError) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = &**err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let text = cur.to_string();
    let line = text.lines().next().unwrap_or_default();
    // aws-config's chain error lists the sources it tried after
    // "Attempted:"; the list is for `source()` readers.
    let line = line.split("Attempted:").next().unwrap_or_default();
    line.trim().trim_end_matches('.').to_owned()
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
            _ => self.find_service().and_then(Error::code),
        }
    }

    /// The kind of service failure, when a request to AWS failed (here or
    /// as the cause of a failed role, say).
    #[must_use]
    pub fn service_kind(&self) -> Option<ServiceErrorKind> {
        match self {
            Error::Service { kind, .. } => Some(*kind),
            _ => self.find_service().and_then(Error::service_kind),
        }
    }

    /// The first cause of type `T` along this error's chain (itself
    /// included): the SDK's operation error, an `std::io::Error`, an
    /// `aws_credential_types::provider::error::CredentialsError`.
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) {
    /// use bsm::aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    /// if let Err(e) = bsm.aws_account_id().await {
    ///     if let Some(sts) = e.find::<GetCallerIdentityError>() {
    ///         eprintln!("STS said: {sts}");
    ///     }
    ///     if e.find::<std::io::Error>().is_some() {
    ///         eprintln!("a network error");
    ///     }
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn find<T: std::error::Error + 'static>(&self) -> Option<&T> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if let Some(t) = e.downcast_ref::<T>() {
                return Some(t);
            }
            if let Some(shared) = e.downcast_ref::<SharedCause>()
                && let Some(t) = shared.0.find::<T>()
            {
                return Some(t);
            }
            cur = e.source();
        }
        None
    }

    /// The [`Error::Service`] below this one, if any.
    fn find_service(&self) -> Option<&Error> {
        let mut cur = std::error::Error::source(self);
        while let Some(e) = cur {
            if let Some(inner @ Error::Service { .. }) = e.downcast_ref::<Error>() {
                return Some(inner);
            }
            if let Some(shared) = e.downcast_ref::<SharedCause>() {
                if matches!(&*shared.0, Error::Service { .. }) {
                    return Some(&shared.0);
                }
                return shared.0.find_service();
            }
            cur = e.source();
        }
        None
    }

    pub(crate) fn invalid(
        input: Input,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            input,
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// Refuses an empty value, or one with control characters: names and
    /// regions go into child processes' environments and config files,
    /// where a line break or a carriage return would start a line of its
    /// own.
    pub(crate) fn check_plain(input: Input, value: &str) -> Result<()> {
        if value.trim().is_empty() {
            return Err(Error::invalid(input, value, "must not be empty"));
        }
        if value.chars().any(char::is_control) {
            let shown = value.escape_debug().to_string();
            return Err(Error::invalid(
                input,
                shown,
                "must not hold control characters",
            ));
        }
        Ok(())
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
                input,
                value,
                reason,
            } => Error::InvalidInput {
                input: *input,
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
            Error::Keychain {
                backend,
                name,
                kind,
                ..
            } => Error::Keychain {
                backend: backend.clone(),
                name: name.clone(),
                kind: *kind,
                source,
            },
            Error::KeyRotation { name, state, .. } => Error::KeyRotation {
                name: name.clone(),
                state: state.clone(),
                source,
            },
            Error::ConsoleSignIn { endpoint, .. } => Error::ConsoleSignIn {
                endpoint: endpoint.clone(),
                source,
            },
            Error::Service {
                operation,
                kind,
                code,
                message,
                request_id,
                status,
                ..
            } => Error::Service {
                operation,
                kind: *kind,
                code: code.clone(),
                message: message.clone(),
                request_id: request_id.clone(),
                status: *status,
                source,
            },
        }
    }
}

/// An error and its causes on one line (`error: cause: cause`), for logs;
/// a cause whose text the line already holds (bsm's `Display` says why)
/// is not repeated.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(more.trim()) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// The cause of an error that several callers share: shows as the cause
/// of the original error, and continues its chain ([`Error::find`] looks
/// through it).
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

    fn service(kind: ServiceErrorKind, code: Option<&str>, message: Option<&str>) -> Error {
        Error::Service {
            operation: "IAM ListAccountAliases",
            kind,
            code: code.map(Into::into),
            message: message.map(Into::into),
            request_id: Some("req-1".into()),
            status: Some(403),
            source: "denied".into(),
        }
    }

    #[test]
    fn a_service_error_says_what_failed_and_why() {
        use ServiceErrorKind as K;
        for (e, text) in [
            (
                service(K::ErrorAnswer, Some("AccessDenied"), Some("not you")),
                "IAM ListAccountAliases failed: AccessDenied: not you",
            ),
            (
                service(K::ErrorAnswer, Some("AccessDenied"), None),
                "IAM ListAccountAliases failed: AccessDenied",
            ),
            (
                service(K::ErrorAnswer, None, None),
                "IAM ListAccountAliases failed: the service answered HTTP 403",
            ),
            (
                service(K::MalformedAnswer, None, None),
                "IAM ListAccountAliases failed: its answer (HTTP 403) could not be read",
            ),
            (
                service(K::Timeout, None, None),
                "IAM ListAccountAliases failed: timed out",
            ),
            (
                service(K::Connection, None, None),
                "IAM ListAccountAliases failed: cannot connect: denied",
            ),
        ] {
            assert_eq!(e.to_string(), text);
        }
        let e = service(K::ErrorAnswer, Some("AccessDenied"), None);
        assert_eq!(e.code(), Some("AccessDenied"));
        assert_eq!(e.service_kind(), Some(K::ErrorAnswer));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn every_variant_says_what_failed_and_why_and_keeps_its_cause() {
        use std::error::Error as _;
        let cause = || -> BoxError { "the cause".into() };
        let cases: Vec<(Error, &str, bool)> = vec![
            (
                Error::invalid(Input::Duration, "5", "below 900 s"),
                "invalid duration `5`: below 900 s",
                false,
            ),
            (
                Error::Credentials {
                    profile: None,
                    source: cause(),
                },
                "cannot resolve AWS credentials: the cause",
                true,
            ),
            (
                Error::Credentials {
                    profile: Some("dev".into()),
                    source: cause(),
                },
                "cannot resolve AWS credentials for profile `dev`: the cause",
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
                "cannot assume role `arn:aws:iam::123456789012:role/r`: the cause",
                true,
            ),
            (
                Error::Snapshot {
                    path: "/tmp/s.json".into(),
                    source: cause(),
                },
                "snapshot `/tmp/s.json`: the cause",
                true,
            ),
            (
                Error::Handoff {
                    path: "/tmp/bsm-0".into(),
                    source: cause(),
                },
                "cannot write the settings of a child process in `/tmp/bsm-0`: the cause",
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
    }

    #[test]
    fn find_reaches_a_cause_by_type_through_shared_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let service = Error::Service {
            operation: "STS GetCallerIdentity",
            kind: ServiceErrorKind::Connection,
            code: None,
            message: None,
            request_id: None,
            status: None,
            source: Box::new(io),
        };
        let shared = Error::shared(&std::sync::Arc::new(service));
        let role = Error::AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            source: Box::new(shared),
        };
        assert_eq!(
            role.find::<std::io::Error>().map(std::io::Error::kind),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
        assert_eq!(role.service_kind(), Some(ServiceErrorKind::Connection));
        assert!(role.find::<std::fmt::Error>().is_none());
    }
}
