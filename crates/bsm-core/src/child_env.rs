//! What a child process is given besides the credentials' values: the
//! rows of the handoff table (each variable and what each way of handing
//! over does with it, the one list the behaviour and the docs of
//! [`cli_env`](crate::cli_env) are made from), the profile settings a child
//! keeps, and the text of a server-mode child's config file.

/// The three ways to hand over (see [`cli_env`](crate::cli_env)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Keys,
    Profile,
    Server,
}

/// A value a handoff gives a variable; `None` when the manager has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val {
    AccessKeyId,
    SecretAccessKey,
    SessionToken,
    Expiration,
    AccountId,
    Profile,
    ManagerConfigFile,
    ManagerCredentialsFile,
    ChildConfigFile,
    EmptyCredentialsFile,
    EmptyBotoConfig,
    ServerUrl,
    ServerToken,
    Region,
    EndpointUrl,
    /// `false` when the manager has an endpoint URL the child must use.
    UseEndpointUrl,
    RetryMode,
    MaxAttempts,
    UseFips,
    UseDualStack,
}

/// What one way of handing over does with a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// Set to the value; removed when there is none.
    Set(Val),
    /// Set to the value; kept as it is when there is none.
    SetOrKeep(Val),
    Remove,
    Keep,
}

/// One row of the handoff table (`why` and `source` make the docs' table,
/// checked by a test).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Row {
    pub(crate) vars: &'static [&'static str],
    pub(crate) keys: Act,
    pub(crate) profile: Act,
    pub(crate) server: Act,
    pub(crate) why: &'static str,
    pub(crate) source: &'static str,
}

impl Row {
    pub(crate) const fn act(&self, mode: Mode) -> Act {
        match mode {
            Mode::Keys => self.keys,
            Mode::Profile => self.profile,
            Mode::Server => self.server,
        }
    }
}

pub(crate) const SAME: &str = "(the same)";
pub(crate) const ENV_KEYS_SOURCE: &str = "botocore `credentials.py` `EnvProvider`; aws-config \
     `environment/credentials.rs`; JS v3 `credential-provider-env`; Go v2 `config/env_config.go`";

/// Every variable of a handoff, what each way does with it, and why; the
/// table of the module's docs is made from these rows.
pub(crate) const ROWS: &[Row] = &[
    Row {
        vars: &["AWS_ACCESS_KEY_ID"],
        keys: Act::Set(Val::AccessKeyId),
        profile: Act::Remove,
        server: Act::Remove,
        why: "the credentials: first in every SDK's chain",
        source: ENV_KEYS_SOURCE,
    },
    Row {
        vars: &["AWS_SECRET_ACCESS_KEY"],
        keys: Act::Set(Val::SecretAccessKey),
        profile: Act::Remove,
        server: Act::Remove,
        why: SAME,
        source: SAME,
    },
    Row {
        vars: &["AWS_SESSION_TOKEN"],
        keys: Act::Set(Val::SessionToken),
        profile: Act::Remove,
        server: Act::Remove,
        why: "a stale token paired with other keys is refused (`InvalidClientTokenId`)",
        source: SAME,
    },
    Row {
        vars: &["AWS_SECURITY_TOKEN"],
        keys: Act::Set(Val::SessionToken),
        profile: Act::Remove,
        server: Act::Remove,
        why: "botocore reads it before `AWS_SESSION_TOKEN`; `aws-vault exec` sets both",
        source: "botocore `credentials.py` `EnvProvider.TOKENS`",
    },
    Row {
        vars: &["AWS_CREDENTIAL_EXPIRATION"],
        keys: Act::Set(Val::Expiration),
        profile: Act::Remove,
        server: Act::Remove,
        why: "botocore and JS v3 read it with the keys; a stale one makes botocore refuse them",
        source: "botocore `EnvProvider.EXPIRY_TIME`; JS v3 `credential-provider-env`",
    },
    Row {
        vars: &["AWS_ACCOUNT_ID"],
        keys: Act::Set(Val::AccountId),
        profile: Act::Remove,
        server: Act::Remove,
        why: "account-based endpoints (DynamoDB) use it; the server's answer carries the account",
        source: "botocore `EnvProvider.ACCOUNT_ID`; aws-config `environment/credentials.rs`",
    },
    Row {
        vars: &["AWS_CREDENTIAL_SCOPE"],
        keys: Act::Remove,
        profile: Act::Remove,
        server: Act::Remove,
        why: "JS v3 reads it with the keys: a parent's scope belongs to other keys",
        source: "JS v3 `credential-provider-env`",
    },
    Row {
        vars: &["AWS_ACCESS_KEY", "AWS_SECRET_KEY"],
        keys: Act::Remove,
        profile: Act::Remove,
        server: Act::Remove,
        why: "Go v2 reads them when `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` are empty: a \
              parent's would win over a profile or the server",
        source: "Go v2 `config/env_config.go` `credAccessEnvKeys`",
    },
    Row {
        vars: &[
            "AMAZON_ACCESS_KEY_ID",
            "AMAZON_SECRET_ACCESS_KEY",
            "AMAZON_SESSION_TOKEN",
        ],
        keys: Act::Remove,
        profile: Act::Remove,
        server: Act::Remove,
        why: "the Ruby SDK reads each when its `AWS_` name is unset: a parent's token would be \
              paired with handed-over long-lived keys, a parent's keys would win over a profile \
              or the server",
        source: "aws-sdk-ruby `aws-sdk-core/credential_provider_chain.rb` `env_credentials`",
    },
    Row {
        vars: &["AWS_PROFILE"],
        keys: Act::Remove,
        profile: Act::Set(Val::Profile),
        server: Act::Remove,
        why: "JS v3 skips the keys while it is set; botocore and Go v2 fail on a profile the \
              files lack",
        source: "JS v3 `credential-provider-node`; botocore `session.py` `ProfileNotFound`",
    },
    Row {
        vars: &["AWS_DEFAULT_PROFILE"],
        keys: Act::Remove,
        profile: Act::Set(Val::Profile),
        server: Act::Remove,
        why: "botocore and the AWS CLI v1 read it before `AWS_PROFILE`",
        source: "botocore `configprovider.py`",
    },
    Row {
        vars: &[
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_SESSION_NAME",
        ],
        keys: Act::Remove,
        profile: Act::Remove,
        server: Act::Remove,
        why: "web identity from the environment (EKS IRSA) comes before a profile and \
              container credentials in every SDK",
        source: "aws-config `web_identity_token.rs`; botocore `AssumeRoleWithWebIdentityProvider`",
    },
    Row {
        vars: &["AWS_CONFIG_FILE"],
        keys: Act::Keep,
        profile: Act::SetOrKeep(Val::ManagerConfigFile),
        server: Act::Set(Val::ChildConfigFile),
        why: "keys: they win over every profile; profile: the child reads the profile the \
              manager read; server: the user's profiles come before container credentials in \
              every SDK",
        source: "aws-config `default_provider/credentials.rs`; botocore `create_credential_resolver`",
    },
    Row {
        vars: &["AWS_SHARED_CREDENTIALS_FILE"],
        keys: Act::Keep,
        profile: Act::SetOrKeep(Val::ManagerCredentialsFile),
        server: Act::Set(Val::EmptyCredentialsFile),
        why: SAME,
        source: SAME,
    },
    Row {
        vars: &["BOTO_CONFIG"],
        keys: Act::Keep,
        profile: Act::Keep,
        server: Act::Set(Val::EmptyBotoConfig),
        why: "botocore reads keys from `~/.boto` and `/etc/boto.cfg` before container credentials",
        source: "botocore `credentials.py` `BotoProvider`",
    },
    Row {
        vars: &["AWS_CREDENTIAL_FILE"],
        keys: Act::Remove,
        profile: Act::Remove,
        server: Act::Remove,
        why: "botocore reads keys from this file before container credentials, and stops if it \
              is missing; `aws-vault exec` removes it too",
        source: "botocore `credentials.py` `OriginalEC2Provider`",
    },
    Row {
        vars: &["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
        keys: Act::Remove,
        profile: Act::Keep,
        server: Act::Set(Val::ServerUrl),
        why: "keys: a way back to the parent's identity (an outer server, EKS Pod Identity) the \
              child has no use for; profile: a profile without keys falls through to it, in the \
              child as in the manager",
        source: "aws-config `ecs.rs`; botocore `ContainerProvider`",
    },
    Row {
        vars: &["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
        keys: Act::Remove,
        profile: Act::Keep,
        server: Act::Set(Val::ServerToken),
        why: SAME,
        source: SAME,
    },
    Row {
        vars: &["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"],
        keys: Act::Remove,
        profile: Act::Keep,
        server: Act::Remove,
        why: "keys: as above; server: it wins over the full URI in every SDK (the ECS task role)",
        source: "aws-config `ecs.rs`; botocore `ContainerProvider`; JS v3 `credential-provider-http`",
    },
    Row {
        vars: &["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"],
        keys: Act::Remove,
        profile: Act::Keep,
        server: Act::Remove,
        why: "keys: as above; server: it wins over the token in botocore, JS v3, Go v2 and \
              aws-config (EKS Pod Identity)",
        source: SAME,
    },
    Row {
        vars: &["AWS_REGION"],
        keys: Act::Set(Val::Region),
        profile: Act::Set(Val::Region),
        server: Act::Set(Val::Region),
        why: "JS v3 and Java v2 read only `AWS_REGION`",
        source: "JS v3 `config-resolver`; aws-config `environment/region.rs`",
    },
    Row {
        vars: &["AWS_DEFAULT_REGION"],
        keys: Act::Set(Val::Region),
        profile: Act::Set(Val::Region),
        server: Act::Set(Val::Region),
        why: "botocore and the AWS CLI v1 read only `AWS_DEFAULT_REGION`",
        source: "botocore `configprovider.py`",
    },
    Row {
        vars: &["AWS_ENDPOINT_URL"],
        keys: Act::Set(Val::EndpointUrl),
        profile: Act::Set(Val::EndpointUrl),
        server: Act::Set(Val::EndpointUrl),
        why: "the child talks to the same endpoint (moto, `LocalStack`)",
        source: "aws-config `default_provider/endpoint_url.rs`; botocore `ConfiguredEndpointProvider`",
    },
    Row {
        vars: &["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"],
        keys: Act::SetOrKeep(Val::UseEndpointUrl),
        profile: Act::SetOrKeep(Val::UseEndpointUrl),
        server: Act::SetOrKeep(Val::UseEndpointUrl),
        why: "when `true`, every SDK ignores `AWS_ENDPOINT_URL`: the child would leave the \
              manager's endpoint",
        source: "aws-config `default_provider/endpoint_url.rs`; botocore `configprovider.py`",
    },
    Row {
        vars: &["AWS_RETRY_MODE"],
        keys: Act::SetOrKeep(Val::RetryMode),
        profile: Act::SetOrKeep(Val::RetryMode),
        server: Act::SetOrKeep(Val::RetryMode),
        why: "the manager's own retry settings, when it has any (builder, `SdkConfig`, \
              environment, profile): botocore's default differs (`legacy`, 5 attempts)",
        source: "aws-config `default_provider/retry_config.rs`; botocore `configprovider.py`",
    },
    Row {
        vars: &["AWS_MAX_ATTEMPTS"],
        keys: Act::SetOrKeep(Val::MaxAttempts),
        profile: Act::SetOrKeep(Val::MaxAttempts),
        server: Act::SetOrKeep(Val::MaxAttempts),
        why: SAME,
        source: SAME,
    },
    Row {
        vars: &["AWS_USE_FIPS_ENDPOINT"],
        keys: Act::SetOrKeep(Val::UseFips),
        profile: Act::SetOrKeep(Val::UseFips),
        server: Act::SetOrKeep(Val::UseFips),
        why: "the same endpoints as the manager's clients",
        source: "aws-config `default_provider/use_fips.rs`",
    },
    Row {
        vars: &["AWS_USE_DUALSTACK_ENDPOINT"],
        keys: Act::SetOrKeep(Val::UseDualStack),
        profile: Act::SetOrKeep(Val::UseDualStack),
        server: Act::SetOrKeep(Val::UseDualStack),
        why: SAME,
        source: "aws-config `default_provider/use_dual_stack.rs`",
    },
];

pub(crate) const fn count_vars(rows: &[Row]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < rows.len() {
        n += rows[i].vars.len();
        i += 1;
    }
    n
}

pub(crate) const fn flatten<const N: usize>(rows: &[Row]) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut k) = (0, 0);
    while i < rows.len() {
        let mut j = 0;
        while j < rows[i].vars.len() {
            out[k] = rows[i].vars[j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

pub(crate) const ALL_VARS: [&str; count_vars(ROWS)] = flatten(ROWS);

/// Every variable an [`AwsCliEnv`](crate::AwsCliEnv) may set or remove (see the
/// [table of `cli_env`](crate::cli_env)), in the table's order. A slice, so that a new
/// variable is not a breaking change.
pub const MANAGED_VARS: &[&str] = &ALL_VARS;

/// The variables whose values are secrets: redacted in every `Debug`.
pub(crate) const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_SECRET_KEY",
    "AMAZON_SECRET_ACCESS_KEY",
    "AMAZON_SESSION_TOKEN",
];

/// The profile settings a server-mode child gets in its generated config:
/// none carries a credential or chooses where credentials come from. A key
/// not listed is left out.
pub(crate) const PROFILE_SETTINGS: &[&str] = &[
    "retry_mode",
    "max_attempts",
    "use_fips_endpoint",
    "use_dualstack_endpoint",
    "ca_bundle",
    "defaults_mode",
    "sts_regional_endpoints",
    "s3",
    "output",
    "cli_pager",
    "cli_timestamp_format",
    "cli_binary_format",
    "parameter_validation",
    "tcp_keepalive",
    "account_id_endpoint_mode",
    "request_checksum_calculation",
    "response_checksum_validation",
    "disable_request_compression",
    "request_min_compression_size_bytes",
    "sigv4a_signing_region_set",
    "auth_scheme_preference",
];

/// What a child process gets besides credentials, captured when a manager
/// is built (and shared with the managers of its roles and regions): the
/// listed settings of the profile its configuration was read from, and
/// whether it has retry settings of its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChildSettings {
    /// `(key, value)` of [`PROFILE_SETTINGS`] in the manager's profile.
    pub(crate) profile: Vec<(&'static str, String)>,
    /// Retry settings were configured (builder, environment, profile or a
    /// ready `SdkConfig`), so the child gets the manager's.
    pub(crate) retry_configured: bool,
}

impl ChildSettings {
    /// The settings of a manager loaded from the shared files: `profile`
    /// (or aws-config's choice) in `files` (or the default files).
    pub(crate) async fn read(
        profile: Option<&str>,
        files: Option<&aws_runtime::env_config::file::EnvConfigFiles>,
        retry_given: bool,
    ) -> Self {
        use aws_types::os_shim_internal::{Env, Fs};
        let default_files = aws_runtime::env_config::file::EnvConfigFiles::default();
        let set = aws_config::profile::parser::load(
            &Fs::real(),
            &Env::real(),
            files.unwrap_or(&default_files),
            profile.map(|p| p.to_owned().into()),
        )
        .await
        .ok();
        let selected = set
            .as_ref()
            .and_then(|s| s.get_profile(profile.unwrap_or(s.selected_profile())));
        let profile: Vec<(&'static str, String)> = PROFILE_SETTINGS
            .iter()
            .filter_map(|k| Some((*k, selected?.get(k)?.to_owned())))
            .collect();
        let in_env = ["AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
        let in_profile = profile
            .iter()
            .any(|(k, _)| *k == "retry_mode" || *k == "max_attempts");
        Self {
            profile,
            retry_configured: retry_given || in_env || in_profile,
        }
    }

    /// The settings of a manager on a ready `SdkConfig`: no profile that bsm
    /// read, and the configuration's retry settings, which are the user's.
    pub(crate) fn of_ready_config() -> Self {
        Self {
            profile: Vec::new(),
            retry_configured: true,
        }
    }

    /// The generated config of a server-mode child: a `[default]` profile
    /// with the region and endpoint given and the captured settings. Every
    /// line is written from parts checked here, so no value can start a
    /// section or a property of its own in any SDK's parser: a value is one
    /// line without control characters, and a nested setting (`s3`) is
    /// written again from its `name = value` lines. A setting that is not so
    /// is left out, with a warning naming it.
    pub(crate) fn config_file(&self, region: Option<&str>, endpoint: Option<&str>) -> String {
        let mut out = String::from(
            "# Written by bsm for a command that reads its credentials from bsm's credential\n\
             # server: the settings of the manager's profile, and no credentials. Removed when\n\
             # the server stops.\n[default]\n",
        );
        let given = [("region", region), ("endpoint_url", endpoint)];
        let settings = given
            .iter()
            .filter_map(|(k, v)| Some((*k, (*v)?)))
            .chain(self.profile.iter().map(|(k, v)| (*k, v.as_str())));
        for (key, value) in settings {
            if let Some(lines) = property_lines(key, value) {
                out.push_str(&lines);
            } else {
                tracing::warn!(
                    setting = key,
                    "left out of a child's config: not a value of one plain line or a nested \
                     setting of `name = value` lines"
                );
            }
        }
        out
    }
}

/// `key = value`, or `key =` and its indented `name = value` lines for a
/// nested setting; `None` for anything else.
pub(crate) fn property_lines(key: &str, value: &str) -> Option<String> {
    let plain = |v: &str| !v.is_empty() && !v.chars().any(char::is_control);
    let name = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    if !value.contains('\n') {
        return plain(value).then(|| format!("{key} = {value}\n"));
    }
    // aws-config gives a nested setting as "\nname = value\nname = value".
    let mut out = format!("{key} =\n");
    let mut lines = value.split('\n');
    if !lines.next()?.trim().is_empty() {
        return None;
    }
    for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
        let (n, v) = line.split_once('=')?;
        let (n, v) = (n.trim(), v.trim());
        if !(name(n) && plain(v)) {
            return None;
        }
        out.push_str("  ");
        out.push_str(n);
        out.push_str(" = ");
        out.push_str(v);
        out.push('\n');
    }
    Some(out)
}
