//! The chain as aws-config walks it, read from the shared files: each step
//! of a profile from it down to its root ([`Step`]) and where the region
//! came from ([`RegionFrom`]). [`explain`](crate::explain) reports them; the
//! builder records the region's origin; the `aws login` checks read the
//! same steps.

use std::fmt;

/// One profile of a profile's chain, from the one named down to the root
/// that holds or fetches the first credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// `role_arn` with `source_profile`: the role assumed with the next
    /// step's credentials.
    AssumeRole {
        /// The profile.
        profile: String,
        /// Its `role_arn`.
        role_arn: String,
    },
    /// `role_arn` with `credential_source` (`Environment`, `Ec2InstanceMetadata`,
    /// `EcsContainer`): the root.
    CredentialSource {
        /// The profile.
        profile: String,
        /// Its `role_arn`.
        role_arn: String,
        /// Its `credential_source`.
        source: String,
    },
    /// `role_arn` with `web_identity_token_file`: the root.
    WebIdentity {
        /// The profile.
        profile: String,
        /// Its `role_arn`.
        role_arn: String,
    },
    /// `aws_access_key_id` in either file: the root.
    StaticKeys {
        /// The profile.
        profile: String,
    },
    /// `credential_process`: the root.
    Process {
        /// The profile.
        profile: String,
        /// The program it runs: the command line's first word. Its
        /// arguments are left out, as aws-config leaves them out of its
        /// own messages: people pass tokens there (`VAULT_TOKEN=...`,
        /// `--password`).
        program: String,
    },
    /// `sso_session` or `sso_start_url`: the root.
    Sso {
        /// The profile.
        profile: String,
        /// Its `sso_session`, or its `sso_start_url` (legacy form).
        session: String,
    },
    /// `login_session` (`aws login`): the root.
    Login {
        /// The profile.
        profile: String,
        /// Its `login_session` ARN.
        session: String,
    },
    /// A profile with none of these (a region only, say), or missing.
    NoCredentials {
        /// The profile.
        profile: String,
    },
    /// A `source_profile` that leads back to a profile already in the
    /// chain.
    Cycle {
        /// The profile named again.
        profile: String,
    },
}

/// Where the manager's region came from, in the order aws-config looks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionFrom {
    /// Given to the builder (`--region`), or the ready `SdkConfig`'s.
    Given,
    /// `AWS_REGION`.
    AwsRegion,
    /// `AWS_DEFAULT_REGION`.
    AwsDefaultRegion,
    /// The `region` of this profile: the one named, or one of its
    /// `source_profile` chain (aws-config's rule).
    Profile(String),
    /// EC2 instance metadata (what none of the above had).
    InstanceMetadata,
    /// No region anywhere.
    Nowhere,
}

pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The profiles of the shared files (`paths`, else the environment's or the
/// default ones), with `profile` selected, as aws-config reads them;
/// `None` when they cannot be read.
pub(crate) async fn load_profiles(
    profile: &str,
    paths: &crate::credentials::ProfilePaths,
) -> Option<aws_config::profile::ProfileSet> {
    use aws_types::os_shim_internal::{Env, Fs};
    let default_files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let files = paths.env_config_files();
    aws_config::profile::parser::load(
        &Fs::real(),
        &Env::real(),
        files.as_ref().unwrap_or(&default_files),
        Some(profile.to_owned().into()),
    )
    .await
    .ok()
}

/// The chain of `profile` in `set`, from it to its root.
pub(crate) fn steps(set: &aws_config::profile::ProfileSet, profile: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut name = profile.to_owned();
    loop {
        if seen.contains(&name) {
            out.push(Step::Cycle { profile: name });
            return out;
        }
        seen.push(name.clone());
        let Some(p) = set.get_profile(&name) else {
            out.push(Step::NoCredentials { profile: name });
            return out;
        };
        let get = |k: &str| p.get(k).map(str::to_owned);
        let profile = name.clone();
        if let Some(role_arn) = get("role_arn") {
            if let Some(source) = get("source_profile") {
                out.push(Step::AssumeRole { profile, role_arn });
                // A profile naming itself uses its own keys (botocore's
                // and aws-config's rule), it is no cycle.
                if source == name {
                    out.push(Step::StaticKeys { profile: source });
                    return out;
                }
                name = source;
                continue;
            }
            out.push(
                match (get("credential_source"), get("web_identity_token_file")) {
                    (Some(source), _) => Step::CredentialSource {
                        profile,
                        role_arn,
                        source,
                    },
                    (None, Some(_)) => Step::WebIdentity { profile, role_arn },
                    (None, None) => Step::NoCredentials { profile },
                },
            );
            return out;
        }
        out.push(if let Some(session) = get("login_session") {
            Step::Login { profile, session }
        } else if let Some(session) = get("sso_session").or_else(|| get("sso_start_url")) {
            Step::Sso { profile, session }
        } else if let Some(command) = get("credential_process") {
            Step::Process {
                profile,
                program: command
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            }
        } else if get("aws_access_key_id").is_some() {
            Step::StaticKeys { profile }
        } else {
            Step::NoCredentials { profile }
        });
        return out;
    }
}

/// The profile whose `region` is `region`: `profile`, else along its
/// `source_profile` chain (aws-config's profile region provider falls back
/// to the source profiles; botocore does not).
fn region_profile(
    set: &aws_config::profile::ProfileSet,
    profile: &str,
    region: &str,
) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut name = profile;
    while let Some(p) = set.get_profile(name) {
        if p.get("region") == Some(region) {
            return Some(name.to_owned());
        }
        seen.push(name);
        match p.get("source_profile") {
            Some(next) if !seen.contains(&next) => name = next,
            _ => return None,
        }
    }
    None
}

/// Where `region` came from, in aws-config's order: `given` (the builder,
/// `--region`, a ready `SdkConfig`), `AWS_REGION`, `AWS_DEFAULT_REGION`,
/// the profile's (or its `source_profile` chain's) `region`, else instance
/// metadata.
pub(crate) async fn region_origin(
    region: Option<&str>,
    given: bool,
    profile: Option<&str>,
    paths: &crate::credentials::ProfilePaths,
) -> RegionFrom {
    let Some(region) = region else {
        return RegionFrom::Nowhere;
    };
    if given {
        return RegionFrom::Given;
    }
    if env("AWS_REGION").as_deref() == Some(region) {
        return RegionFrom::AwsRegion;
    }
    if env("AWS_DEFAULT_REGION").as_deref() == Some(region) {
        return RegionFrom::AwsDefaultRegion;
    }
    let profile = profile.unwrap_or("default");
    let set = load_profiles(profile, paths).await;
    set.and_then(|set| region_profile(&set, profile, region))
        .map_or(RegionFrom::InstanceMetadata, RegionFrom::Profile)
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::AssumeRole { profile, role_arn } => {
                write!(
                    f,
                    "[{profile}] role_arn {role_arn}, with the credentials of"
                )
            }
            Step::CredentialSource {
                profile,
                role_arn,
                source,
            } => write!(
                f,
                "[{profile}] role_arn {role_arn}, credential_source {source}"
            ),
            Step::WebIdentity { profile, role_arn } => {
                write!(
                    f,
                    "[{profile}] role_arn {role_arn}, web_identity_token_file"
                )
            }
            Step::StaticKeys { profile } => write!(f, "[{profile}] static keys"),
            Step::Process { profile, program } => {
                write!(
                    f,
                    "[{profile}] credential_process `{program} ...` (arguments not shown)"
                )
            }
            Step::Sso { profile, session } => write!(f, "[{profile}] SSO session {session}"),
            Step::Login { profile, session } => {
                write!(f, "[{profile}] aws login session {session}")
            }
            Step::NoCredentials { profile } => write!(f, "[{profile}] no credentials"),
            Step::Cycle { profile } => write!(f, "[{profile}] again: a cycle"),
        }
    }
}

impl fmt::Display for RegionFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionFrom::Given => f.write_str("given: --region, the builder or the SdkConfig"),
            RegionFrom::AwsRegion => f.write_str("from AWS_REGION"),
            RegionFrom::AwsDefaultRegion => f.write_str("from AWS_DEFAULT_REGION"),
            RegionFrom::Profile(p) => write!(f, "from the profile {p}"),
            RegionFrom::InstanceMetadata => f.write_str("from EC2 instance metadata"),
            RegionFrom::Nowhere => f.write_str("found nowhere"),
        }
    }
}
