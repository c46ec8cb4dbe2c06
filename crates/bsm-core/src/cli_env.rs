//! Credentials for child processes: [`AwsCliEnv`], the environment
//! variables the AWS CLI and SDKs read, applied to one
//! [`std::process::Command`] (safe) or, scoped, to this process
//! ([`ProcessEnvGuard`], `unsafe`).
//!
//! # The variables
//!
//! A child must end up with exactly the manager's credentials, whatever the
//! parent's environment holds (inside `aws-vault exec`, on EKS, on ECS).
//! The AWS CLI v1/v2, botocore and the Rust, Go, Java and JavaScript SDKs
//! read these variables ahead of, or beside, the ones handed over; each is
//! set or removed:
//!
//! | Variable | Keys mode | Profile mode | Why |
//! |---|---|---|---|
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | set | removed | the credentials; in profile mode they would win over `AWS_PROFILE` |
//! | `AWS_SESSION_TOKEN` | set or removed | removed | a stale token paired with other keys is refused (`InvalidClientTokenId`) |
//! | `AWS_SECURITY_TOKEN` | same as `AWS_SESSION_TOKEN` | removed | botocore and boto2 read it **before** `AWS_SESSION_TOKEN`; `aws-vault exec` sets both |
//! | `AWS_CREDENTIAL_EXPIRATION` | the keys' expiry (RFC 3339), or removed | removed | a stale value makes botocore refuse the keys ("refreshed credentials are still expired") |
//! | `AWS_ACCOUNT_ID` | the keys' account, or removed | removed | account-based endpoints (DynamoDB) use it |
//! | `AWS_PROFILE` | removed | the profile | boto3 raises `ProfileNotFound` for a missing profile even when keys are set |
//! | `AWS_DEFAULT_PROFILE` | removed | the profile | botocore and AWS CLI v1 read it **before** `AWS_PROFILE` |
//! | `AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_SESSION_NAME` | removed | removed | on EKS, web identity comes before a profile's keys in botocore's order: the child would run as the pod's role |
//! | `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` | kept | set to the manager's files when given with [`profile_file_paths`](crate::SessionManagerBuilder::profile_file_paths), else kept | the child must read the profile the manager read |
//! | `AWS_REGION`, `AWS_DEFAULT_REGION` | both set to the region, or both removed | same | AWS CLI v1 reads only `AWS_DEFAULT_REGION`; every other SDK `AWS_REGION` first |
//! | `AWS_ENDPOINT_URL` | the manager's endpoint URL, or removed | same | the child talks to the same endpoint (moto, `LocalStack`) |
//! | `AWS_CONTAINER_CREDENTIALS_FULL_URI`, `AWS_CONTAINER_AUTHORIZATION_TOKEN` | kept | kept | lower in every SDK's order than keys and profiles; a profile without keys falls through to them |
//! | `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` | kept | kept | (the same) |
//!
//! A credential server's (`SessionManager::serve_credentials`, feature
//! `credential-server`)
//! environment (`bsm exec --server`) hands over the server instead: the
//! full URI and the token set, the relative URI and the token file removed
//! (both win over the full URI and the token), and everything the table
//! removes in keys mode removed, keys included.
//!
//! Keys mode hands over the current credentials (resolved through the
//! manager's identity cache); profile mode, used when the credentials come
//! from a profile named to the builder (the Python original's rule), hands
//! over the profile, so the child resolves (and renews) them itself. In
//! profile mode the container-credentials and instance-metadata variables
//! are kept: a profile without keys of its own falls through to them, in the
//! child as in the manager. Service-specific `AWS_ENDPOINT_URL_<SERVICE>`
//! variables are left alone.

use std::ffi::OsString;
use std::fmt;
use std::process::Command;

use crate::{Result, SessionManager};

/// Every variable an [`AwsCliEnv`] may set or remove (see the
/// [module's table](self)). A slice, so that a new variable is not a
/// breaking change.
pub const MANAGED_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// The variables whose values are secrets: redacted in every `Debug`.
const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];

/// The variables that hand a manager's credentials to a child process: each
/// either set to a value or removed (see the [module's table](self)). Its
/// `Debug` redacts the secret key and the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCliEnv {
    vars: Vec<(&'static str, Option<String>)>,
}

impl SessionManager {
    /// The current credentials as the variables the AWS CLI and SDKs read,
    /// so that a child process acts as this manager: every variable of the
    /// [table](crate::cli_env) set or removed.
    ///
    /// With credentials from a profile named to the builder, the profile is
    /// handed over (`AWS_PROFILE`), as the Python original does; otherwise
    /// the current keys, through the identity cache every client uses (no
    /// fetch while they are good).
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
        let web_identity_off = [
            ("AWS_ROLE_ARN", None),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", None),
            ("AWS_ROLE_SESSION_NAME", None),
        ];
        if let crate::CredentialSource::Profile(profile) = self.credential_source() {
            vars.extend([
                ("AWS_PROFILE", Some(profile.to_owned())),
                ("AWS_DEFAULT_PROFILE", Some(profile.to_owned())),
                ("AWS_ACCESS_KEY_ID", None),
                ("AWS_SECRET_ACCESS_KEY", None),
                ("AWS_SESSION_TOKEN", None),
                ("AWS_SECURITY_TOKEN", None),
                ("AWS_CREDENTIAL_EXPIRATION", None),
                ("AWS_ACCOUNT_ID", None),
            ]);
            vars.extend(web_identity_off);
            let paths = &self.inner.profile_paths;
            if let Some(p) = &paths.config {
                vars.push(("AWS_CONFIG_FILE", Some(p.display().to_string())));
            }
            if let Some(p) = &paths.credentials {
                vars.push(("AWS_SHARED_CREDENTIALS_FILE", Some(p.display().to_string())));
            }
        } else {
            let creds = self.credentials().await?;
            let token = creds.session_token().map(str::to_owned);
            let expiration = creds
                .expiry()
                .map(aws_smithy_types::DateTime::from)
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok());
            vars.extend([
                ("AWS_ACCESS_KEY_ID", Some(creds.access_key_id().to_owned())),
                (
                    "AWS_SECRET_ACCESS_KEY",
                    Some(creds.secret_access_key().to_owned()),
                ),
                ("AWS_SESSION_TOKEN", token.clone()),
                ("AWS_SECURITY_TOKEN", token),
                ("AWS_CREDENTIAL_EXPIRATION", expiration),
                (
                    "AWS_ACCOUNT_ID",
                    creds.account_id().map(|a| a.as_str().to_owned()),
                ),
                ("AWS_PROFILE", None),
                ("AWS_DEFAULT_PROFILE", None),
            ]);
            vars.extend(web_identity_off);
        }
        let region = self.aws_region().map(str::to_owned);
        vars.push(("AWS_REGION", region.clone()));
        vars.push(("AWS_DEFAULT_REGION", region));
        vars.push(("AWS_ENDPOINT_URL", self.endpoint_url().map(str::to_owned)));
        Ok(AwsCliEnv { vars })
    }
}

impl SessionManager {
    /// The variables for a child that fetches its credentials from a
    /// container-credentials endpoint at `url` with `token` (see the
    /// module's table).
    #[cfg_attr(not(feature = "credential-server"), allow(dead_code))]
    pub(crate) fn container_env(&self, url: &str, token: &str) -> AwsCliEnv {
        let mut vars: Vec<(&'static str, Option<String>)> = vec![
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", Some(url.to_owned())),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", Some(token.to_owned())),
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", None),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", None),
        ];
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_CREDENTIAL_EXPIRATION",
            "AWS_ACCOUNT_ID",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_SESSION_NAME",
        ] {
            vars.push((name, None));
        }
        let region = self.aws_region().map(str::to_owned);
        vars.push(("AWS_REGION", region.clone()));
        vars.push(("AWS_DEFAULT_REGION", region));
        vars.push(("AWS_ENDPOINT_URL", self.endpoint_url().map(str::to_owned)));
        AwsCliEnv { vars }
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
                (name, Some(_)) if SECRET_VARS.contains(name) => "<redacted>",
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
                (name, Some(_)) if SECRET_VARS.contains(name) => "<redacted>".into(),
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

#[cfg(test)]
mod tests {
    use super::AwsCliEnv;

    #[test]
    fn debug_shows_what_is_not_secret_and_redacts_what_is() {
        let env = AwsCliEnv {
            vars: vec![
                ("AWS_ACCESS_KEY_ID", Some("AKIADEBUGSHOWN000001".into())),
                ("AWS_SECRET_ACCESS_KEY", Some("debug-secret".into())),
                ("AWS_SESSION_TOKEN", Some("debug-token".into())),
                ("AWS_SECURITY_TOKEN", Some("debug-token".into())),
                ("AWS_REGION", Some("eu-west-3".into())),
                ("AWS_PROFILE", None),
            ],
        };
        assert_eq!(
            format!("{env:?}"),
            "{\"AWS_ACCESS_KEY_ID\": \"AKIADEBUGSHOWN000001\", \
             \"AWS_SECRET_ACCESS_KEY\": \"<redacted>\", \
             \"AWS_SESSION_TOKEN\": \"<redacted>\", \
             \"AWS_SECURITY_TOKEN\": \"<redacted>\", \
             \"AWS_REGION\": \"eu-west-3\", \"AWS_PROFILE\": \"<removed>\"}"
        );
    }
}
