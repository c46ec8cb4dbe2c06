//! The advice a credentials error carries: [`Error::hint`], worked out
//! while the manager is built (a [`Hinted`] cause) or read from
//! aws-config's own error texts (an `aws login` or SSO session to renew).

use crate::error::{BoxError, Error};

/// A credentials failure with the advice worked out for it while the
/// manager was built (see [`Error::hint`]); reads as its cause.
#[derive(Debug)]
pub(crate) struct Hinted {
    pub(crate) hint: String,
    pub(crate) source: BoxError,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl Error {
    /// What the person can do about a failure to resolve credentials, when
    /// the cause tells: a `credential_process` that failed names its
    /// command and the first line it wrote to stderr; instance metadata
    /// says whether it was turned off or did not answer, and how long the
    /// resolution took; an `aws login` session (`login_session`) whose
    /// cached token is missing, expired past refresh or refused says
    /// ``run `aws login --profile P` ``; an SSO profile whose token is
    /// missing or expired says ``run `aws sso login --profile P` ``, as the
    /// AWS CLI does. `None` for other errors: no advice is better than
    /// wrong advice.
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run() {
    /// if let Err(e) = bsm::SessionManager::builder().profile_name("work").build().await {
    ///     eprintln!("{e}");
    ///     if let Some(hint) = e.hint() {
    ///         eprintln!("to fix: {hint}");
    ///     }
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        let Error::Credentials { profile, source } = self else {
            return None;
        };
        let profile = profile
            .as_deref()
            .map(|p| format!(" --profile {p}"))
            .unwrap_or_default();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&**source);
        while let Some(e) = cur {
            if let Some(hinted) = e.downcast_ref::<Hinted>() {
                return Some(hinted.hint.clone());
            }
            // aws-config's own texts: `LoginTokenError` ("cached Login
            // token", "refresh cached Login token", or a file of the login
            // cache that cannot be read) and the SSO token provider
            // ("cached SSO token", "SSO token").
            let text = e.to_string();
            let login_cache = std::env::var("AWS_LOGIN_CACHE_DIRECTORY")
                .ok()
                .filter(|d| !d.is_empty());
            // A missing token is only "failed to read `<cache>/<hash>.json`".
            let in_login_cache = text.contains("/.aws/login/cache/")
                || login_cache.is_some_and(|d| text.contains(&format!("`{d}")));
            if text.contains("Login token") || in_login_cache {
                return Some(format!(
                    "run `aws login{profile}` (the console sign-in session is missing, expired or was refused)"
                ));
            }
            if text.contains("SSO token") || text.contains("SSO session") {
                return Some(format!(
                    "run `aws sso login{profile}` (the SSO session is missing or expired)"
                ));
            }
            cur = e.source();
        }
        None
    }
}
