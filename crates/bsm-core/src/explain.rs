//! Why a manager has the credentials and the region it has:
//! [`SessionManager::explain`] and its typed [`Explanation`], which
//! `bsm whoami --explain` prints.
//!
//! Which source answered is read from the credentials themselves: every
//! aws-config provider tags what it hands out (`AwsCredentialFeature`:
//! environment, profile, `credential_process`, SSO, `aws login`, web
//! identity, container, instance metadata), so the answer is the chain's,
//! not a guess made again. A profile's own chain (each `role_arn` hop down
//! to the keys, process, SSO or login session at its root) is read from the
//! same files the chain read. Only the names of environment variables are
//! reported, never their values.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_credential_types::credential_feature::AwsCredentialFeature;

pub use crate::chain::{RegionFrom, Step};
use crate::chain::{env, load_profiles, steps};
use crate::{CredentialSource, Result, SessionManager};

/// Which source answered with the manager's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`).
    Environment,
    /// The profile [`Explanation::profile`]; its chain is
    /// [`Explanation::steps`].
    Profile,
    /// `AWS_ROLE_ARN` with `AWS_WEB_IDENTITY_TOKEN_FILE`.
    WebIdentity,
    /// The container credentials endpoint (ECS, EKS Pod Identity, a
    /// credential server).
    Container,
    /// EC2 instance metadata.
    InstanceMetadata,
    /// Keys given to the builder or read from a snapshot.
    Explicit,
    /// A role this manager assumed (its ARN); its source is the manager it
    /// was assumed from.
    AssumedRole(String),
    /// An MFA session of this device (`GetSessionToken`).
    MfaSession(String),
    /// A session of long-lived keys (`GetSessionToken`, no MFA).
    SessionToken,
    /// The credentials provider of a ready `SdkConfig` or one given to the
    /// builder.
    Given,
}

/// How the profile the chain read was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NamedBy {
    /// Given to the builder (`--profile`).
    Builder,
    /// `AWS_DEFAULT_PROFILE` (read first, as botocore does).
    AwsDefaultProfile,
    /// `AWS_PROFILE`.
    AwsProfile,
    /// None named: `default`.
    Default,
}

/// Why the manager has the credentials and region it has; see
/// [`SessionManager::explain`]. `Display` writes it as
/// `bsm whoami --explain` prints it, one `name = value` line each.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Explanation {
    /// The source that answered.
    pub answered_by: Answer,
    /// The profile the chain read, when it read one (named, or `default`).
    pub profile: Option<String>,
    /// How [`profile`](Self::profile) was chosen.
    pub named_by: Option<NamedBy>,
    /// The profile's chain when [`Answer::Profile`] answered, from the
    /// profile named to its root.
    pub steps: Vec<Step>,
    /// The config and credentials files the chain reads.
    pub files: Vec<PathBuf>,
    /// The `AWS_*` variables set in this process that choose credentials,
    /// profiles, files or the region (names only; set to anything, even
    /// to nothing or to bytes that are not UTF-8).
    pub variables: Vec<&'static str>,
    /// Those of [`variables`](Self::variables) set to the empty string,
    /// which some tools read as unset and others as a value (aws-config
    /// takes an empty `AWS_LOGIN_CACHE_DIRECTORY` as the current folder).
    pub empty_variables: Vec<&'static str>,
    /// The manager's region.
    pub region: Option<String>,
    /// Where it came from.
    pub region_from: RegionFrom,
    /// How long resolving the credentials took when the manager was built
    /// (`None` for managers made from another: roles, MFA sessions,
    /// regions).
    pub resolved_in: Option<Duration>,
    /// When the credentials in hand end, if they do.
    pub expires_at: Option<SystemTime>,
    /// Whether the SDK gets new ones by itself before they end.
    pub renews: bool,
}

/// The variables [`Explanation::variables`] looks for.
const VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_DEFAULT_PROFILE",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_LOGIN_CACHE_DIRECTORY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

/// The source that answered, from the features the providers tagged the
/// credentials with.
fn answered_by(source: &CredentialSource, features: &[AwsCredentialFeature]) -> Answer {
    use AwsCredentialFeature as F;
    match source {
        CredentialSource::Explicit => return Answer::Explicit,
        CredentialSource::AssumedRole(arn) => return Answer::AssumedRole(arn.clone()),
        CredentialSource::MfaSession(serial) => return Answer::MfaSession(serial.clone()),
        CredentialSource::SessionToken => return Answer::SessionToken,
        CredentialSource::SdkConfig | CredentialSource::Provider => return Answer::Given,
        _ => {}
    }
    let has = |f: F| features.contains(&f);
    if has(F::CredentialsProfile) || has(F::CredentialsProfileLogin) {
        Answer::Profile
    } else if has(F::CredentialsEnvVars) {
        Answer::Environment
    } else if has(F::CredentialsProfileStsWebIdToken) || has(F::CredentialsEnvVarsStsWebIdToken) {
        Answer::WebIdentity
    } else if has(F::CredentialsHttp) {
        Answer::Container
    } else if has(F::CredentialsImds) {
        Answer::InstanceMetadata
    } else {
        Answer::Given
    }
}

impl SessionManager {
    /// Why this manager has the credentials and the region it has: which
    /// source answered (and, for a profile, each hop of its chain), the
    /// files and variables the chain reads, where the region came from, how
    /// long the first resolution took, when the credentials end and whether
    /// they renew by themselves. Resolves the credentials (through the
    /// cache, as every call does); prints nothing secret.
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run() -> bsm::Result<()> {
    /// let bsm = bsm::SessionManager::from_env().await?;
    /// let why = bsm.explain().await?;
    /// if why.answered_by == bsm::explain::Answer::InstanceMetadata {
    ///     eprintln!("using the instance's role; took {:?}", why.resolved_in);
    /// }
    /// println!("{why}");
    /// # Ok(()) }
    /// ```
    pub async fn explain(&self) -> Result<Explanation> {
        let creds = self.credentials().await?;
        let features = creds
            .get_property::<Vec<AwsCredentialFeature>>()
            .cloned()
            .unwrap_or_default();
        let answered_by = answered_by(self.credential_source(), &features);
        let from_files = matches!(
            self.credential_source(),
            CredentialSource::DefaultChain | CredentialSource::Profile(_)
        );
        let (profile, named_by) = if from_files {
            match (
                &self.profile_name().map(str::to_owned),
                env("AWS_DEFAULT_PROFILE"),
                env("AWS_PROFILE"),
            ) {
                (Some(p), _, _) => (Some(p.clone()), Some(NamedBy::Builder)),
                (None, Some(p), _) => (Some(p), Some(NamedBy::AwsDefaultProfile)),
                (None, None, Some(p)) => (Some(p), Some(NamedBy::AwsProfile)),
                (None, None, None) => (Some("default".to_owned()), Some(NamedBy::Default)),
            }
        } else {
            (None, None)
        };
        let set = match (&profile, from_files) {
            (Some(p), true) => load_profiles(p, self.profile_paths()).await,
            _ => None,
        };
        let steps = match (&answered_by, &set, &profile) {
            (Answer::Profile, Some(set), Some(p)) => steps(set, p),
            _ => Vec::new(),
        };
        let region = self.aws_region().map(str::to_owned);
        // Made by the builder (or from a manager it made): recorded then;
        // a manager of another region (`region(..)`): given.
        let region_from = self.facts().map_or(RegionFrom::Given, |f| f.region_from);
        // The manager's own end first: it knows `AWS_CREDENTIAL_EXPIRATION`
        // and an explicit expiry, which the credentials do not carry.
        let expires_at = self.expiration_time().or_else(|| creds.expiry());
        Ok(Explanation {
            answered_by,
            profile,
            named_by,
            steps,
            files: if from_files {
                self.profile_paths().effective()
            } else {
                Vec::new()
            },
            variables: VARIABLES
                .iter()
                .copied()
                .filter(|v| std::env::var_os(v).is_some())
                .collect(),
            empty_variables: VARIABLES
                .iter()
                .copied()
                .filter(|v| std::env::var_os(v).is_some_and(|x| x.is_empty()))
                .collect(),
            region,
            region_from,
            resolved_in: self.facts().and_then(|f| f.resolved_in),
            expires_at,
            renews: expires_at.is_some() && self.expiration_time().is_none(),
        })
    }
}

/// The cause of a failed first resolution, with a hint when bsm can
/// work one out: the `credential_process` that failed (its command, from
/// the profile, and the first line of its stderr, from aws-config's
/// error), or instance metadata turned off or silent (with how long the
/// resolution took). Otherwise the cause as it is.
pub(crate) async fn with_hint(
    source: crate::error::BoxError,
    profile: Option<&str>,
    paths: &crate::credentials::ProfilePaths,
    elapsed: Duration,
) -> crate::error::BoxError {
    let mut text = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&*source);
    while let Some(e) = cur {
        text.push_str(&e.to_string());
        text.push('\n');
        cur = e.source();
    }
    let hint = if text.contains("external process") {
        let command = match profile {
            Some(p) => process_command(p, paths).await,
            None => None,
        };
        let said = text
            .split("Stderr: ")
            .nth(1)
            .and_then(|s| s.lines().next())
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "could not decode stderr as UTF-8")
            .map(|l| format!(", its first line on stderr: `{}`", printable(l, 200)))
            .unwrap_or_default();
        Some(match command {
            Some(c) => format!(
                "the `credential_process` of profile `{}` failed: `{c} ...`{said}; run it by hand to see why",
                profile.unwrap_or_default()
            ),
            None => format!("a `credential_process` failed{said}; run it by hand to see why"),
        })
    } else if text.contains("IMDS disabled") {
        Some(
            "no source had credentials, and EC2 instance metadata is turned off \
             (AWS_EC2_METADATA_DISABLED): give --profile NAME, or set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY"
                .to_owned(),
        )
    } else if text.contains("IMDS") {
        Some(format!(
            "no source had credentials, and EC2 instance metadata did not answer (resolving took \
             {} ms): off EC2, set AWS_EC2_METADATA_DISABLED=true so that it is not tried; give \
             --profile NAME, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            elapsed.as_millis()
        ))
    } else {
        None
    };
    match hint {
        Some(hint) => Box::new(crate::hint::Hinted { hint, source }),
        None => source,
    }
}

/// `text` for one line of a terminal: at most `max` characters, control
/// characters (escape sequences, carriage returns) as `?`.
fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push_str("...");
    }
    out
}

/// The program of the `credential_process` at the root of `profile`'s
/// chain.
async fn process_command(
    profile: &str,
    paths: &crate::credentials::ProfilePaths,
) -> Option<String> {
    let set = load_profiles(profile, paths).await?;
    steps(&set, profile).into_iter().find_map(|s| match s {
        Step::Process { program, .. } => Some(program),
        _ => None,
    })
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Environment => f.write_str("environment variables (AWS_ACCESS_KEY_ID)"),
            Answer::Profile => f.write_str("a profile of the shared files"),
            Answer::WebIdentity => {
                f.write_str("web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)")
            }
            Answer::Container => f.write_str("the container credentials endpoint"),
            Answer::InstanceMetadata => f.write_str("EC2 instance metadata"),
            Answer::Explicit => f.write_str("keys given to the builder or a snapshot"),
            Answer::AssumedRole(arn) => write!(f, "the role {arn}, assumed by bsm"),
            Answer::MfaSession(serial) => write!(f, "an MFA session of {serial}"),
            Answer::SessionToken => {
                f.write_str("a session (STS GetSessionToken) of long-lived keys")
            }
            Answer::Given => f.write_str("the credentials provider given"),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Credentials from = {}", self.answered_by)?;
        if let (Some(p), Some(by)) = (&self.profile, self.named_by) {
            let by = match by {
                NamedBy::Builder => "given",
                NamedBy::AwsDefaultProfile => "AWS_DEFAULT_PROFILE",
                NamedBy::AwsProfile => "AWS_PROFILE",
                NamedBy::Default => "none named",
            };
            writeln!(f, "Profile = {p} ({by})")?;
        }
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "Chain {} = {step}", i + 1)?;
        }
        for file in &self.files {
            let state = if file.exists() { "" } else { " (missing)" };
            writeln!(f, "File read = {}{state}", file.display())?;
        }
        let vars = if self.variables.is_empty() {
            "none".to_owned()
        } else {
            let named: Vec<String> = self
                .variables
                .iter()
                .map(|v| {
                    if self.empty_variables.contains(v) {
                        format!("{v} (empty)")
                    } else {
                        (*v).to_owned()
                    }
                })
                .collect();
            named.join(", ")
        };
        writeln!(f, "Variables set = {vars}")?;
        writeln!(
            f,
            "Region = {} ({})",
            self.region.as_deref().unwrap_or("<none>"),
            self.region_from
        )?;
        if let Some(t) = self.resolved_in {
            writeln!(f, "Resolved in = {} ms", t.as_millis())?;
        }
        let end = match self.expires_at {
            None => "never (long-term keys)".to_owned(),
            Some(t) => {
                let left = t
                    .duration_since(SystemTime::now())
                    .map_or(0, |d| d.as_secs());
                let dt = aws_smithy_types::DateTime::from(t)
                    .fmt(aws_smithy_types::date_time::Format::DateTime)
                    .unwrap_or_default();
                format!("{dt} (in {left} s)")
            }
        };
        writeln!(f, "Credentials end = {end}")?;
        write!(
            f,
            "Renew by themselves = {}",
            if self.renews { "yes" } else { "no" }
        )
    }
}
