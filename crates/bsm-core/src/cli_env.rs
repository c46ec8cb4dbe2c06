//! Credentials for child processes: [`AwsCliEnv`], the environment
//! variables the AWS CLI and SDKs read, applied to one
//! [`std::process::Command`] (safe) or, scoped, to this process
//! ([`ProcessEnvGuard`], `unsafe`).

use std::ffi::OsString;
use std::fmt;
use std::process::Command;

use crate::{Result, SessionManager};

/// Every variable an [`AwsCliEnv`] sets or removes.
pub const MANAGED_VARS: [&str; 7] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
];

/// The variables that hand a manager's credentials to a child process: each
/// either set to a value or removed. Its `Debug` redacts the secret key and
/// the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCliEnv {
    vars: Vec<(&'static str, Option<String>)>,
}

impl SessionManager {
    /// The current credentials as the variables the AWS CLI and SDKs read,
    /// following the Python original's rules:
    ///
    /// - credentials from a named profile: `AWS_PROFILE` is set and the three
    ///   key variables removed;
    /// - otherwise `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are set,
    ///   `AWS_SESSION_TOKEN` set or removed, and `AWS_PROFILE` removed;
    /// - `AWS_REGION` and `AWS_DEFAULT_REGION` (which AWS CLI v1 reads) are
    ///   both set to the region, or both removed;
    /// - `AWS_ENDPOINT_URL` is set to the manager's endpoint URL, or removed.
    ///
    /// The credentials are resolved now: fresh ones for an auto-refreshing
    /// manager.
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut aws = std::process::Command::new("aws");
    /// aws.args(["sts", "get-caller-identity"]);
    /// bsm.aws_cli_env().await?.apply(&mut aws);
    /// let status = aws.status()?;
    /// # Ok(()) }
    /// ```
    pub async fn aws_cli_env(&self) -> Result<AwsCliEnv> {
        let mut vars: Vec<(&'static str, Option<String>)> = Vec::with_capacity(MANAGED_VARS.len());
        if let crate::CredentialSource::Profile(profile) = self.credential_source() {
            vars.push(("AWS_PROFILE", Some(profile.to_owned())));
            vars.push(("AWS_ACCESS_KEY_ID", None));
            vars.push(("AWS_SECRET_ACCESS_KEY", None));
            vars.push(("AWS_SESSION_TOKEN", None));
        } else {
            let creds = self.credentials().await?;
            vars.push(("AWS_ACCESS_KEY_ID", Some(creds.access_key_id().to_owned())));
            vars.push((
                "AWS_SECRET_ACCESS_KEY",
                Some(creds.secret_access_key().to_owned()),
            ));
            vars.push((
                "AWS_SESSION_TOKEN",
                creds.session_token().map(str::to_owned),
            ));
            vars.push(("AWS_PROFILE", None));
        }
        let region = self.aws_region().map(str::to_owned);
        vars.push(("AWS_REGION", region.clone()));
        vars.push(("AWS_DEFAULT_REGION", region));
        vars.push(("AWS_ENDPOINT_URL", self.endpoint_url().map(str::to_owned)));
        Ok(AwsCliEnv { vars })
    }
}

impl AwsCliEnv {
    /// Each managed variable and its value; `None` means "remove it".
    pub fn vars(&self) -> impl Iterator<Item = (&'static str, Option<&str>)> + '_ {
        self.vars.iter().map(|(k, v)| (*k, v.as_deref()))
    }

    /// The value a variable gets, if it is set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Sets and removes the variables on this command only. The safe way to
    /// hand credentials to a child process.
    pub fn apply<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        for (name, value) in &self.vars {
            match value {
                Some(v) => command.env(name, v),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// Sets the variables in this process until the returned guard is
    /// dropped, which restores every previous value and removes the
    /// variables that were absent: also when the scope unwinds from a panic.
    ///
    /// # Safety
    /// Changing the environment of a running process is only sound while no
    /// other thread reads or writes it (see [`std::env::set_var`]): many C
    /// libraries and the SDK's own configuration loading read it. The caller
    /// promises that, from this call until the guard is dropped, no other
    /// thread touches the environment. Prefer [`apply`](Self::apply).
    #[must_use = "the variables are restored when the guard is dropped"]
    pub unsafe fn set_in_process(&self) -> ProcessEnvGuard {
        let saved = MANAGED_VARS
            .iter()
            .map(|k| (*k, std::env::var_os(k)))
            .collect();
        for (name, value) in &self.vars {
            // SAFETY: the caller promised no other thread uses the environment.
            unsafe {
                match value {
                    Some(v) => std::env::set_var(name, v),
                    None => std::env::remove_var(name),
                }
            }
        }
        ProcessEnvGuard { saved }
    }
}

impl fmt::Debug for AwsCliEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, value) in &self.vars {
            let shown = match (name, value) {
                (_, None) => "<removed>",
                (&"AWS_SECRET_ACCESS_KEY" | &"AWS_SESSION_TOKEN", Some(_)) => "<redacted>",
                (_, Some(v)) => v.as_str(),
            };
            m.entry(name, &shown);
        }
        m.finish()
    }
}

/// Restores the managed variables of this process when dropped; made by
/// [`AwsCliEnv::set_in_process`]. Its `Debug` redacts the saved secret key
/// and session token.
pub struct ProcessEnvGuard {
    saved: Vec<(&'static str, Option<OsString>)>,
}

impl fmt::Debug for ProcessEnvGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, value) in &self.saved {
            let shown = match (name, value) {
                (_, None) => "<absent>".into(),
                (&"AWS_SECRET_ACCESS_KEY" | &"AWS_SESSION_TOKEN", Some(_)) => "<redacted>".into(),
                (_, Some(v)) => v.to_string_lossy(),
            };
            m.entry(name, &shown);
        }
        m.finish()
    }
}

impl Drop for ProcessEnvGuard {
    fn drop(&mut self) {
        for (name, value) in &self.saved {
            // SAFETY: `set_in_process`'s caller promised no other thread uses
            // the environment while this guard lives.
            unsafe {
                match value {
                    Some(v) => std::env::set_var(name, v),
                    None => std::env::remove_var(name),
                }
            }
        }
    }
}
