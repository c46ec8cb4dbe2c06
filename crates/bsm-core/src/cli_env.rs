//! Credentials for child processes: [`AwsCliEnv`], the environment
//! variables the AWS CLI and SDKs read, applied to one
//! [`std::process::Command`] (safe) or, scoped, to this process
//! ([`ProcessEnvGuard`], `unsafe`).
//!
//! # The rule
//!
//! A child must end up with exactly the manager's credentials, whatever the
//! parent's environment and the user's files hold (inside `aws-vault exec`,
//! on EKS, on ECS, on EC2, with a `[default]` profile of another account),
//! and with the settings the manager used (region, endpoint, retry, FIPS,
//! dual-stack). The AWS CLI v1/v2, botocore and the Rust, Go, Java and
//! JavaScript SDKs each walk a chain of sources and take the first that
//! answers; every variable that one of them reads ahead of what is handed
//! over, or that changes where credentials come from, is set or removed.
//!
//! There are three ways to hand over:
//!
//! - **Keys** ([`aws_cli_env`](SessionManager::aws_cli_env), `bsm exec`):
//!   the current credentials, in the variables every SDK reads first.
//! - **Profile** (the same, for a manager built from a profile named to the
//!   builder, the Python original's rule): the profile, so the child
//!   resolves and renews the credentials itself.
//! - **Server** ([`SessionManager::serve_credentials`], `bsm exec
//!   --server`, feature `credential-server`): the URL and token of a
//!   loopback server the child polls. Every SDK reads the shared files before
//!   container credentials, so the user's own `[default]` (keys,
//!   `credential_process`, `sso_session`, `login_session`, `role_arn`)
//!   would win over the server: the child gets a config file of its own
//!   instead, generated in a private folder (mode 0700, removed when the
//!   server stops). It holds no secret: only a `[default]` profile with the
//!   manager's region and endpoint and the settings of the profile the
//!   manager was built from that carry no credential and do not choose
//!   where credentials come from (a fixed list: `ca_bundle`,
//!   `retry_mode`, `max_attempts`, `use_fips_endpoint`,
//!   `use_dualstack_endpoint`, `sts_regional_endpoints`, `s3`, `output`,
//!   ...; a key not on the list is left out, so a credential setting AWS
//!   adds later cannot slip through). The credentials file and botocore's
//!   boto config are empty files beside it.
//!
//! Each variable, what each way does with it, and why (the table is made
//! from the rows the code follows: a new variable is one row):
//!
//! <!-- handoff-table:start -->
//! | Variable | Keys | Profile | Server | Why | Source |
//! |---|---|---|---|---|---|
//! | `AWS_ACCESS_KEY_ID` | the key id | removed | removed | the credentials: first in every SDK's chain | botocore `credentials.py` `EnvProvider`; aws-config `environment/credentials.rs`; JS v3 `credential-provider-env`; Go v2 `config/env_config.go` |
//! | `AWS_SECRET_ACCESS_KEY` | the secret | removed | removed | (the same) | (the same) |
//! | `AWS_SESSION_TOKEN` | the session token, or removed | removed | removed | a stale token paired with other keys is refused (`InvalidClientTokenId`) | (the same) |
//! | `AWS_SECURITY_TOKEN` | the session token, or removed | removed | removed | botocore reads it before `AWS_SESSION_TOKEN`; `aws-vault exec` sets both | botocore `credentials.py` `EnvProvider.TOKENS` |
//! | `AWS_CREDENTIAL_EXPIRATION` | the expiry (RFC 3339), or removed | removed | removed | botocore and JS v3 read it with the keys; a stale one makes botocore refuse them | botocore `EnvProvider.EXPIRY_TIME`; JS v3 `credential-provider-env` |
//! | `AWS_ACCOUNT_ID` | the account, or removed | removed | removed | account-based endpoints (DynamoDB) use it; the server's answer carries the account | botocore `EnvProvider.ACCOUNT_ID`; aws-config `environment/credentials.rs` |
//! | `AWS_CREDENTIAL_SCOPE` | removed | removed | removed | JS v3 reads it with the keys: a parent's scope belongs to other keys | JS v3 `credential-provider-env` |
//! | `AWS_ACCESS_KEY`, `AWS_SECRET_KEY` | removed | removed | removed | Go v2 reads them when `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` are empty: a parent's would win over a profile or the server | Go v2 `config/env_config.go` `credAccessEnvKeys` |
//! | `AMAZON_ACCESS_KEY_ID`, `AMAZON_SECRET_ACCESS_KEY`, `AMAZON_SESSION_TOKEN` | removed | removed | removed | the Ruby SDK reads each when its `AWS_` name is unset: a parent's token would be paired with handed-over long-lived keys, a parent's keys would win over a profile or the server | aws-sdk-ruby `aws-sdk-core/credential_provider_chain.rb` `env_credentials` |
//! | `AWS_PROFILE` | removed | the profile | removed | JS v3 skips the keys while it is set; botocore and Go v2 fail on a profile the files lack | JS v3 `credential-provider-node`; botocore `session.py` `ProfileNotFound` |
//! | `AWS_DEFAULT_PROFILE` | removed | the profile | removed | botocore and the AWS CLI v1 read it before `AWS_PROFILE` | botocore `configprovider.py` |
//! | `AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_SESSION_NAME` | removed | removed | removed | web identity from the environment (EKS IRSA) comes before a profile and container credentials in every SDK | aws-config `web_identity_token.rs`; botocore `AssumeRoleWithWebIdentityProvider` |
//! | `AWS_CONFIG_FILE` | kept | the manager's file, else kept | a generated config (no secret) | keys: they win over every profile; profile: the child reads the profile the manager read; server: the user's profiles come before container credentials in every SDK | aws-config `default_provider/credentials.rs`; botocore `create_credential_resolver` |
//! | `AWS_SHARED_CREDENTIALS_FILE` | kept | the manager's file, else kept | an empty file | (the same) | (the same) |
//! | `BOTO_CONFIG` | kept | kept | an empty file | botocore reads keys from `~/.boto` and `/etc/boto.cfg` before container credentials | botocore `credentials.py` `BotoProvider` |
//! | `AWS_CREDENTIAL_FILE` | removed | removed | removed | botocore reads keys from this file before container credentials, and stops if it is missing; `aws-vault exec` removes it too | botocore `credentials.py` `OriginalEC2Provider` |
//! | `AWS_CONTAINER_CREDENTIALS_FULL_URI` | removed | kept | the server's URL | keys: a way back to the parent's identity (an outer server, EKS Pod Identity) the child has no use for; profile: a profile without keys falls through to it, in the child as in the manager | aws-config `ecs.rs`; botocore `ContainerProvider` |
//! | `AWS_CONTAINER_AUTHORIZATION_TOKEN` | removed | kept | the server's token | (the same) | (the same) |
//! | `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` | removed | kept | removed | keys: as above; server: it wins over the full URI in every SDK (the ECS task role) | aws-config `ecs.rs`; botocore `ContainerProvider`; JS v3 `credential-provider-http` |
//! | `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` | removed | kept | removed | keys: as above; server: it wins over the token in botocore, JS v3, Go v2 and aws-config (EKS Pod Identity) | (the same) |
//! | `AWS_REGION` | the region, or removed | the region, or removed | the region, or removed | JS v3 and Java v2 read only `AWS_REGION` | JS v3 `config-resolver`; aws-config `environment/region.rs` |
//! | `AWS_DEFAULT_REGION` | the region, or removed | the region, or removed | the region, or removed | botocore and the AWS CLI v1 read only `AWS_DEFAULT_REGION` | botocore `configprovider.py` |
//! | `AWS_ENDPOINT_URL` | the endpoint URL, or removed | the endpoint URL, or removed | the endpoint URL, or removed | the child talks to the same endpoint (moto, `LocalStack`) | aws-config `default_provider/endpoint_url.rs`; botocore `ConfiguredEndpointProvider` |
//! | `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` | `false` when there is an endpoint URL, else kept | `false` when there is an endpoint URL, else kept | `false` when there is an endpoint URL, else kept | when `true`, every SDK ignores `AWS_ENDPOINT_URL`: the child would leave the manager's endpoint | aws-config `default_provider/endpoint_url.rs`; botocore `configprovider.py` |
//! | `AWS_RETRY_MODE` | the manager's retry mode, else kept | the manager's retry mode, else kept | the manager's retry mode, else kept | the manager's own retry settings, when it has any (builder, `SdkConfig`, environment, profile): botocore's default differs (`legacy`, 5 attempts) | aws-config `default_provider/retry_config.rs`; botocore `configprovider.py` |
//! | `AWS_MAX_ATTEMPTS` | the manager's attempts, else kept | the manager's attempts, else kept | the manager's attempts, else kept | (the same) | (the same) |
//! | `AWS_USE_FIPS_ENDPOINT` | the manager's FIPS setting, else kept | the manager's FIPS setting, else kept | the manager's FIPS setting, else kept | the same endpoints as the manager's clients | aws-config `default_provider/use_fips.rs` |
//! | `AWS_USE_DUALSTACK_ENDPOINT` | the manager's dual-stack setting, else kept | the manager's dual-stack setting, else kept | the manager's dual-stack setting, else kept | (the same) | aws-config `default_provider/use_dual_stack.rs` |
//! <!-- handoff-table:end -->
//!
//! "Kept" means the child sees what this process sees. Left alone on
//! purpose: the instance-metadata variables (`AWS_EC2_METADATA_*`: every
//! SDK reads them last, after the keys, the profile and the server),
//! service-specific `AWS_ENDPOINT_URL_<SERVICE>` variables, and
//! aws-config's `SECRET_ACCESS_KEY` (read only beside `AWS_ACCESS_KEY_ID`).
//! Timeouts are not handed over: no SDK reads them from the environment or
//! the shared files.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use crate::{Result, SessionManager};

pub use crate::child_env::MANAGED_VARS;
use crate::child_env::{Act, Mode, ROWS, SECRET_VARS, Val};
use crate::child_files::ChildFiles;

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
        if let crate::CredentialSource::Profile(_) = self.credential_source() {
            return Ok(self.handoff(Mode::Profile, None, None));
        }
        let creds = self.credentials().await?;
        Ok(self.handoff(Mode::Keys, Some(&creds), None))
    }

    /// The variables for a child that fetches its credentials from a
    /// container-credentials endpoint at `url` with `token`, its settings
    /// from the `files` made for it (see the module's table).
    #[cfg_attr(not(feature = "credential-server"), allow(dead_code))]
    pub(crate) fn server_env(&self, url: &str, token: &str, files: &ChildFiles) -> AwsCliEnv {
        self.handoff(Mode::Server, None, Some((url, token, files)))
    }

    /// The generated config for a server-mode child of this manager.
    #[cfg_attr(not(feature = "credential-server"), allow(dead_code))]
    pub(crate) fn child_config(&self) -> String {
        self.child_settings()
            .config_file(self.aws_region(), self.endpoint_url())
    }

    /// The rows of the table, for one way of handing over.
    fn handoff(
        &self,
        mode: Mode,
        creds: Option<&aws_credential_types::Credentials>,
        server: Option<(&str, &str, &ChildFiles)>,
    ) -> AwsCliEnv {
        let path = |p: PathBuf| Some(p.display().to_string());
        let value = |v: Val| -> Option<String> {
            match v {
                Val::AccessKeyId => creds.map(|c| c.access_key_id().to_owned()),
                Val::SecretAccessKey => creds.map(|c| c.secret_access_key().to_owned()),
                Val::SessionToken => creds.and_then(|c| c.session_token()).map(str::to_owned),
                Val::Expiration => creds
                    .and_then(aws_credential_types::Credentials::expiry)
                    .map(aws_smithy_types::DateTime::from)
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                Val::AccountId => creds
                    .and_then(|c| c.account_id())
                    .map(|a| a.as_str().to_owned()),
                Val::Profile => self.profile_name().map(str::to_owned),
                Val::ManagerConfigFile => self.profile_paths().config.clone().and_then(path),
                Val::ManagerCredentialsFile => {
                    self.profile_paths().credentials.clone().and_then(path)
                }
                Val::ChildConfigFile => server.and_then(|s| path(s.2.dir().join("config"))),
                Val::EmptyCredentialsFile => {
                    server.and_then(|s| path(s.2.dir().join("credentials")))
                }
                Val::EmptyBotoConfig => server.and_then(|s| path(s.2.dir().join("boto"))),
                Val::ServerUrl => server.map(|s| s.0.to_owned()),
                Val::ServerToken => server.map(|s| s.1.to_owned()),
                Val::Region => self.aws_region().map(str::to_owned),
                Val::EndpointUrl => self.endpoint_url().map(str::to_owned),
                Val::UseEndpointUrl => self.endpoint_url().map(|_| "false".to_owned()),
                Val::RetryMode => self.configured_retry().and_then(|r| match r.mode() {
                    aws_smithy_types::retry::RetryMode::Standard => Some("standard".to_owned()),
                    aws_smithy_types::retry::RetryMode::Adaptive => Some("adaptive".to_owned()),
                    _ => None,
                }),
                Val::MaxAttempts => self
                    .configured_retry()
                    .map(|r| r.max_attempts().to_string()),
                Val::UseFips => self.base().use_fips().map(|b| b.to_string()),
                Val::UseDualStack => self.base().use_dual_stack().map(|b| b.to_string()),
            }
        };
        let mut vars = Vec::with_capacity(MANAGED_VARS.len());
        for row in ROWS {
            let set = match row.act(mode) {
                Act::Keep => continue,
                Act::Remove => None,
                Act::Set(v) => Some(value(v)),
                Act::SetOrKeep(v) => match value(v) {
                    Some(x) => Some(Some(x)),
                    None => continue,
                },
            };
            for name in row.vars {
                vars.push((*name, set.clone().flatten()));
            }
        }
        AwsCliEnv { vars }
    }

    /// The manager's retry settings, when it has any of its own.
    fn configured_retry(&self) -> Option<&aws_smithy_types::retry::RetryConfig> {
        if self.child_settings().retry_configured {
            self.base().retry_config()
        } else {
            None
        }
    }
}

impl AwsCliEnv {
    /// Each variable it sets or removes and its value; `None` means "remove
    /// it". Variables that the handoff keeps as they are do not appear.
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

/// The handoff table as Markdown, made from [`ROWS`].
#[cfg(test)]
fn table() -> String {
    use std::fmt::Write as _;
    fn describe(act: Act) -> String {
        let (val, or) = match act {
            Act::Keep => return "kept".to_owned(),
            Act::Remove => return "removed".to_owned(),
            Act::Set(v) => (v, ", or removed"),
            Act::SetOrKeep(v) => (v, ", else kept"),
        };
        let (text, optional) = match val {
            Val::AccessKeyId => ("the key id", false),
            Val::SecretAccessKey => ("the secret", false),
            Val::SessionToken => ("the session token", true),
            Val::Expiration => ("the expiry (RFC 3339)", true),
            Val::AccountId => ("the account", true),
            Val::Profile => ("the profile", false),
            Val::ManagerConfigFile | Val::ManagerCredentialsFile => ("the manager's file", true),
            Val::ChildConfigFile => ("a generated config (no secret)", false),
            Val::EmptyCredentialsFile | Val::EmptyBotoConfig => ("an empty file", false),
            Val::ServerUrl => ("the server's URL", false),
            Val::ServerToken => ("the server's token", false),
            Val::Region => ("the region", true),
            Val::EndpointUrl => ("the endpoint URL", true),
            Val::UseEndpointUrl => ("`false` when there is an endpoint URL", true),
            Val::RetryMode => ("the manager's retry mode", true),
            Val::MaxAttempts => ("the manager's attempts", true),
            Val::UseFips => ("the manager's FIPS setting", true),
            Val::UseDualStack => ("the manager's dual-stack setting", true),
        };
        if optional {
            format!("{text}{or}")
        } else {
            text.to_owned()
        }
    }
    let mut out = String::from(
        "| Variable | Keys | Profile | Server | Why | Source |\n|---|---|---|---|---|---|\n",
    );
    for row in ROWS {
        let vars: Vec<String> = row.vars.iter().map(|v| format!("`{v}`")).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            vars.join(", "),
            describe(row.keys),
            describe(row.profile),
            describe(row.server),
            row.why,
            row.source
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::child_env::ChildSettings;

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

    /// The block between the markers in `text`, each line with `prefix`
    /// taken off.
    fn block<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines()
            .map(|l| l.strip_prefix(prefix).unwrap_or(l).trim_end())
            .skip_while(|l| *l != "<!-- handoff-table:start -->")
            .skip(1)
            .take_while(|l| *l != "<!-- handoff-table:end -->")
            .collect()
    }

    /// `text` with the block between the markers replaced by `table`,
    /// each line with `prefix`.
    fn with_table(text: &str, prefix: &str, table: &str) -> String {
        let start = format!("{prefix}<!-- handoff-table:start -->");
        let end = format!("{prefix}<!-- handoff-table:end -->");
        let mut out = String::new();
        let mut lines = text.lines();
        for line in lines.by_ref() {
            out.push_str(line);
            out.push('\n');
            if line.trim_end() == start {
                break;
            }
        }
        for line in table.lines() {
            out.push_str(prefix);
            out.push_str(line);
            out.push('\n');
        }
        let mut rest = lines.skip_while(|l| l.trim_end() != end);
        for line in rest.by_ref() {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// The module's table and the README's are the rows'; with
    /// `BSM_WRITE_TABLES=1` this writes them instead.
    #[test]
    fn the_docs_tables_are_the_rows_the_code_follows() {
        let want = table();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (path, text, prefix) in [
            (
                root.join("src/cli_env.rs"),
                include_str!("cli_env.rs"),
                "//! ",
            ),
            (
                root.join("../../README.md"),
                include_str!("../../../README.md"),
                "",
            ),
        ] {
            if std::env::var_os("BSM_WRITE_TABLES").is_some() {
                std::fs::write(&path, with_table(text, prefix, &want)).unwrap();
                continue;
            }
            assert_eq!(
                block(text, prefix),
                want.lines().collect::<Vec<_>>(),
                "the handoff table of {} is not the one the rows make: run \
                 `BSM_WRITE_TABLES=1 cargo test --workspace --lib cli_env`, then \
                 `cargo xtask regen --offline`",
                path.display()
            );
        }
    }

    #[test]
    fn the_managed_variables_are_every_row_once_and_secrets_are_among_them() {
        let mut seen = std::collections::HashSet::new();
        for v in MANAGED_VARS {
            assert!(seen.insert(*v), "{v} is in two rows");
        }
        assert_eq!(
            MANAGED_VARS.len(),
            ROWS.iter().map(|r| r.vars.len()).sum::<usize>()
        );
        for s in SECRET_VARS {
            assert!(MANAGED_VARS.contains(s), "{s}");
        }
    }

    #[tokio::test]
    async fn the_generated_config_has_the_settings_and_no_value_escapes_its_line() {
        let settings = ChildSettings {
            profile: vec![
                ("ca_bundle", "/etc/corp-ca.pem".into()),
                ("s3", "\naddressing_style = path".into()),
                ("output", "json\rcredential_process = sh -c x".into()),
                (
                    "cli_pager",
                    "\n[default]\ncredential_process = sh -c x".into(),
                ),
                ("tcp_keepalive", "\nnot a property".into()),
            ],
            retry_configured: false,
        };
        let text = settings.config_file(
            Some("eu-west-1\n[profile evil]\ncredential_process = sh -c x"),
            Some("http://127.0.0.1:5000"),
        );
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "[default]",
                "endpoint_url = http://127.0.0.1:5000",
                "ca_bundle = /etc/corp-ca.pem",
                "s3 =",
                "  addressing_style = path",
            ],
            "each value that is not one plain line or name = value lines is left out"
        );
        assert!(!text.contains('\r'));
        // Read back as the SDK reads it: one profile, whose keys are the
        // ones written.
        let files = ChildFiles::create(&text).unwrap();
        let parsed = aws_config::profile::parser::load(
            &aws_types::os_shim_internal::Fs::real(),
            &aws_types::os_shim_internal::Env::from_slice(&[]),
            &aws_runtime::env_config::file::EnvConfigFiles::builder()
                .with_file(
                    aws_runtime::env_config::file::EnvConfigFileKind::Config,
                    files.dir().join("config"),
                )
                .build(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(parsed.profiles().collect::<Vec<_>>(), ["default"]);
        let default = parsed.get_profile("default").unwrap();
        assert_eq!(default.get("credential_process"), None);
        assert_eq!(default.get("ca_bundle"), Some("/etc/corp-ca.pem"));
    }

    #[test]
    fn child_files_are_private_and_gone_when_dropped() {
        let files = ChildFiles::create("[default]\nregion = eu-west-1\n").unwrap();
        let dir = files.dir().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            for name in ["config", "credentials", "boto"] {
                assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
            }
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("config")).unwrap(),
            "[default]\nregion = eu-west-1\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("credentials")).unwrap(),
            ""
        );
        drop(files);
        assert!(!dir.exists());
    }
}
