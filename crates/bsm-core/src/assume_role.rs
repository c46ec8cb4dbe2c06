//! Assume role: [`AssumeRoleBuilder`] with every STS `AssumeRole` parameter,
//! one-shot (static credentials) or auto-refreshing (the provider of
//! [`role_provider`](crate::role_provider) behind the SDK's identity cache,
//! refreshed ahead of expiry).
//!
//! The SDK's `AssumeRoleProvider` is not used because it lacks MFA,
//! transitive tag keys and source identity.

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_types::region::Region;

use crate::credentials::CredentialSource;
use crate::credentials::{GLOBAL_STS_REGION, Recipe};
use crate::error::Input;
use crate::role_provider::{MfaToken, Params, ROLE_PROVIDER_NAME, RoleProvider, RoleRecipe};
use crate::session::{EndRule, Parts};
use crate::{Error, Result, SessionManager};

/// Shortest and longest session STS grants.
const DURATION_RANGE: std::ops::RangeInclusive<u64> = 900..=43_200;
/// Default session length, as in the Python original.
const DEFAULT_DURATION: Duration = Duration::from_secs(3600);
/// Default refresh buffer: refresh this long before expiry (capped below
/// half the duration).
const DEFAULT_BUFFER: Duration = Duration::from_secs(300);

/// Builds the manager of an assumed role: see [`SessionManager::assume_role`].
#[must_use]
pub struct AssumeRoleBuilder {
    source: SessionManager,
    params: Params,
    region: Option<String>,
    auto_refresh: bool,
    refresh_buffer: Option<Duration>,
}

impl fmt::Debug for AssumeRoleBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleBuilder")
            .field("params", &self.params)
            .field("region", &self.region)
            .field("auto_refresh", &self.auto_refresh)
            .field("refresh_buffer", &self.refresh_buffer)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Assume a role with this manager's credentials; `send()` gives a new
    /// manager for the role.
    ///
    /// The new manager has its own caches and keeps this one's endpoint URL,
    /// HTTP client, time source and per-service hooks; it does not keep the
    /// profile name. An assumed manager can assume again (role chaining).
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) -> bsm::Result<()> {
    /// use std::time::Duration;
    /// let admin = bsm
    ///     .assume_role("arn:aws:iam::111122223333:role/admin")
    ///     .role_session_name("deploy")
    ///     .duration(Duration::from_secs(900))
    ///     .auto_refresh(true)
    ///     .send()
    ///     .await?;
    /// println!("{}", admin.principal_arn().await?);
    /// # Ok(()) }
    /// ```
    pub fn assume_role(&self, role_arn: impl Into<String>) -> AssumeRoleBuilder {
        AssumeRoleBuilder {
            source: self.clone(),
            params: Params {
                role_arn: role_arn.into(),
                session_name: random_session_name(),
                duration: DEFAULT_DURATION,
                tags: Vec::new(),
                transitive_tag_keys: Vec::new(),
                external_id: None,
                mfa_serial: None,
                mfa_token: None,
                source_identity: None,
                policy: None,
                policy_arns: Vec::new(),
            },
            region: None,
            auto_refresh: false,
            refresh_buffer: None,
        }
    }
}

fn random_session_name() -> String {
    (0..32)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect()
}

impl AssumeRoleBuilder {
    /// The role session name (default: 32 random hex characters). 2 to 64
    /// characters of letters, digits and `+=,.@_-`.
    pub fn role_session_name(mut self, name: impl Into<String>) -> Self {
        self.params.session_name = name.into();
        self
    }

    /// How long the credentials last: 900 s to 43 200 s (default 3600 s).
    /// Assumed with a role's credentials (role chaining), STS allows at most
    /// 3600 s: a longer duration is capped there, with a warning.
    pub fn duration(mut self, duration: Duration) -> Self {
        self.params.duration = duration;
        self
    }

    /// Session tags.
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.params
            .tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Keys of session tags that pass on to chained roles.
    pub fn transitive_tag_keys<K: Into<String>>(
        mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Self {
        self.params
            .transitive_tag_keys
            .extend(keys.into_iter().map(Into::into));
        self
    }

    /// The external id the role's trust policy asks for.
    pub fn external_id(mut self, id: impl Into<String>) -> Self {
        self.params.external_id = Some(id.into());
        self
    }

    /// An MFA device and a fixed token code. A fixed code is good for one
    /// `AssumeRole` only: with [`auto_refresh`](Self::auto_refresh), use
    /// [`mfa_token_provider`](Self::mfa_token_provider), or the refresh fails
    /// with an error saying so.
    pub fn mfa(mut self, serial_number: impl Into<String>, token_code: impl Into<String>) -> Self {
        self.params.mfa_serial = Some(serial_number.into());
        self.params.mfa_token = Some(MfaToken::Fixed(token_code.into()));
        self
    }

    /// An MFA device and a callback that yields a fresh token code for each
    /// `AssumeRole` (the first one and every refresh). It may block (a
    /// terminal prompt): it runs on a blocking thread, and the SDK waits up
    /// to 300 s for it.
    pub fn mfa_token_provider(
        mut self,
        serial_number: impl Into<String>,
        provider: impl Fn() -> Result<String, crate::error::BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.params.mfa_serial = Some(serial_number.into());
        self.params.mfa_token = Some(MfaToken::Provider(Arc::new(provider)));
        self
    }

    /// The source identity to stamp on the session.
    pub fn source_identity(mut self, identity: impl Into<String>) -> Self {
        self.params.source_identity = Some(identity.into());
        self
    }

    /// An inline session policy (JSON).
    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.params.policy = Some(policy.into());
        self
    }

    /// Managed session policies, by ARN.
    pub fn policy_arns<A: Into<String>>(mut self, arns: impl IntoIterator<Item = A>) -> Self {
        self.params
            .policy_arns
            .extend(arns.into_iter().map(Into::into));
        self
    }

    /// The region of the new manager and of the STS call (default: the
    /// source manager's region).
    pub fn region(mut self, region: impl AsRef<str>) -> Self {
        self.region = Some(region.as_ref().to_owned());
        self
    }

    /// Refresh the credentials ahead of expiry instead of assuming once
    /// (default `false`). With it, `send()` makes no request: the first
    /// `AssumeRole` happens on first use.
    pub fn auto_refresh(mut self, on: bool) -> Self {
        self.auto_refresh = on;
        self
    }

    /// How long before expiry an auto-refreshing manager refreshes (default
    /// 300 s, and never half the duration or more).
    pub fn refresh_buffer(mut self, buffer: Duration) -> Self {
        self.refresh_buffer = Some(buffer);
        self
    }

    fn validate(&self) -> Result<Duration> {
        let p = &self.params;
        validate_role_arn(&p.role_arn)?;
        let secs = p.duration.as_secs();
        if !DURATION_RANGE.contains(&secs) || p.duration.subsec_nanos() != 0 {
            return Err(Error::invalid(
                Input::Duration,
                format!("{secs} s"),
                "must be a whole number of seconds from 900 to 43200",
            ));
        }
        validate_session_name(&p.session_name)?;
        if let Some(r) = &self.region {
            Error::check_plain(Input::Region, r)?;
        }
        if let Some(id) = &p.external_id
            && !(2..=1224).contains(&id.len())
        {
            return Err(Error::invalid(
                Input::ExternalId,
                "<redacted>",
                "must be 2 to 1224 characters",
            ));
        }
        if let Some(MfaToken::Fixed(code)) = &p.mfa_token
            && !(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::invalid(
                Input::MfaCode,
                "<redacted>",
                "must be 6 digits",
            ));
        }
        if let Some(serial) = &p.mfa_serial
            && !(9..=256).contains(&serial.len())
        {
            return Err(Error::invalid(
                Input::MfaSerial,
                serial,
                "must be 9 to 256 characters",
            ));
        }
        let half = p.duration / 2;
        let buffer = match self.refresh_buffer {
            Some(b) if b >= half => {
                return Err(Error::invalid(
                    Input::RefreshBuffer,
                    format!("{} s", b.as_secs()),
                    format!(
                        "must be shorter than half the duration ({} s)",
                        half.as_secs()
                    ),
                ));
            }
            Some(b) => b,
            None => DEFAULT_BUFFER.min(half.saturating_sub(Duration::from_secs(1))),
        };
        Ok(buffer)
    }

    /// STS refuses more than an hour for a role assumed with a role's
    /// credentials ("role chaining": the source is an assumed role, or a
    /// role session from a profile, SSO, web identity, a container or
    /// instance metadata). Asked for more, bsm caps the duration at 3600 s
    /// and warns, as aws-vault does, rather than send a request STS is
    /// certain to refuse. Whether the source is a role session is read
    /// from its identity (one `GetCallerIdentity`, cached), only when a
    /// longer duration was asked for and the source's credentials are
    /// temporary.
    async fn cap_a_chained_duration(&mut self) {
        const CHAINED_MAX: Duration = Duration::from_secs(3600);
        if self.params.duration <= CHAINED_MAX {
            return;
        }
        let chained = match self.source.credential_source() {
            CredentialSource::AssumedRole(_) => true,
            CredentialSource::MfaSession(_) | CredentialSource::SessionToken => false,
            _ => match self.source.credentials().await {
                Ok(c) if c.session_token().is_some() => self
                    .source
                    .identity()
                    .await
                    .is_ok_and(|id| id.arn.contains(":assumed-role/")),
                _ => false,
            },
        };
        if chained {
            tracing::warn!(
                role_arn = %self.params.role_arn,
                asked_s = self.params.duration.as_secs(),
                "the role is assumed with a role's credentials (role chaining), for which STS \
                 allows at most 1 hour: its duration is capped at 3600 s"
            );
            self.params.duration = CHAINED_MAX;
        }
    }

    /// Validates every input, then assumes the role (one-shot) or sets up
    /// the refreshing provider (auto-refresh, no request yet).
    ///
    /// Without a region (given here or by the source manager), `AssumeRole`
    /// goes to STS signed for `us-east-1` (the global endpoint's region),
    /// as in the Python original; the new manager has no region either.
    pub async fn send(mut self) -> Result<SessionManager> {
        self.validate()?;
        self.cap_a_chained_duration().await;
        let buffer = self.validate()?;
        let region = self
            .region
            .clone()
            .or_else(|| self.source.aws_region().map(str::to_owned));
        let time_source = self
            .source
            .base()
            .time_source()
            .unwrap_or_else(|| SharedTimeSource::new(SystemTimeSource::new()));
        let sts: crate::role_provider::StsClient = {
            let (source, region) = (self.source.clone(), region.clone());
            Arc::new(move || sts_client(&source, region.as_deref()))
        };
        let recipe = RoleRecipe {
            sts,
            params: Arc::new(self.params.clone()),
            buffer,
            time_source,
            fixed_code_used: Arc::new(AtomicBool::new(false)),
            fixed_end: Arc::new(Mutex::new(None)),
            last: Arc::new(Mutex::new(None)),
        };
        let mut base = self.source.base().to_builder();
        base.set_region(region.map(Region::new));
        let (recipe, end_rule) = if self.auto_refresh {
            let end = EndRule::Source(self.source.clone(), Arc::clone(&recipe.fixed_end));
            (Recipe::Role(recipe), end)
        } else {
            let provider = RoleProvider::new(recipe);
            let (creds, sts_expiry) = provider.assume().await?;
            // A one-shot manager reports STS's own expiration.
            let expiry = sts_expiry.or(creds.expiry());
            let mut fixed = Credentials::builder()
                .access_key_id(creds.access_key_id())
                .secret_access_key(creds.secret_access_key())
                .provider_name(ROLE_PROVIDER_NAME);
            fixed.set_session_token(creds.session_token().map(str::to_owned));
            fixed.set_expiry(expiry);
            fixed.set_account_id(creds.account_id().cloned());
            let end = expiry.map_or(EndRule::Resolved, EndRule::At);
            (
                Recipe::Given(SharedCredentialsProvider::new(fixed.build())),
                end,
            )
        };
        let manager = SessionManager::new(Parts {
            base: base.build(),
            recipe,
            profile_name: None,
            profile_paths: crate::credentials::ProfilePaths::default(),
            // The child of a role gets the settings of the role's source.
            child: Arc::clone(self.source.child_settings()),
            explicit_expiration: None,
            end_rule,
            hooks: self.source.hooks().clone(),
            source: CredentialSource::AssumedRole(self.params.role_arn),
        });
        manager.set_facts(self.source.derived_facts());
        Ok(manager)
    }
}

/// The STS client for `AssumeRole`: the source's current credentials,
/// settings and STS hook, in the target region (`us-east-1`, STS's global
/// endpoint's region, when there is none).
pub(crate) fn sts_client(source: &SessionManager, region: Option<&str>) -> aws_sdk_sts::Client {
    let region = Region::new(region.unwrap_or(GLOBAL_STS_REGION).to_owned());
    source.sts_in(&source.generation(), Some(region))
}

/// Checks that `arn` is a role ARN, `arn:PARTITION:iam::ACCOUNT_ID:role/PATH/NAME`,
/// as [`SessionManager::assume_role`] does before any request; the error
/// names the ARN and what is wrong.
pub fn validate_role_arn(arn: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid(Input::RoleArn, arn, reason));
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = fields.as_slice() else {
        return bad("expected arn:aws:iam::ACCOUNT_ID:role/NAME");
    };
    if *prefix != "arn" || partition.is_empty() || *service != "iam" || !region.is_empty() {
        return bad("expected arn:aws:iam::ACCOUNT_ID:role/NAME");
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return bad("the account id must be 12 digits");
    }
    let Some(name) = resource.strip_prefix("role/") else {
        return bad("the resource must be role/NAME");
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c);
    if name.is_empty() || name.ends_with('/') || !name.chars().all(valid) || arn.len() > 2048 {
        return bad("the role name is empty or has characters IAM does not allow");
    }
    Ok(())
}

/// 2 to 64 characters of `[\w+=,.@-]`, as STS requires.
fn validate_session_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(
            Input::RoleSessionName,
            name,
            "must not be empty",
        ));
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if !(2..=64).contains(&name.len()) || !name.chars().all(valid) {
        return Err(Error::invalid(
            Input::RoleSessionName,
            name,
            "must be 2 to 64 characters of letters, digits and +=,.@_-",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refresh_buffer_under_half_the_duration_is_kept() {
        let bsm = SessionManager::builder()
            .credentials("AKIAUNITTEST00000001", "unit-secret", None)
            .region("us-east-1")
            .build()
            .await
            .unwrap();
        let role = || {
            bsm.assume_role("arn:aws:iam::111122223333:role/admin")
                .duration(Duration::from_secs(900))
        };
        let with = |secs| role().refresh_buffer(Duration::from_secs(secs)).validate();
        assert_eq!(with(449).unwrap(), Duration::from_secs(449));
        assert_eq!(with(0).unwrap(), Duration::ZERO);
        assert!(with(450).is_err(), "half the duration is too long");
        assert_eq!(role().validate().unwrap(), DEFAULT_BUFFER);
    }

    #[test]
    fn role_arns() {
        assert!(validate_role_arn("arn:aws:iam::111122223333:role/admin").is_ok());
        assert!(validate_role_arn("arn:aws-cn:iam::111122223333:role/path/to/admin").is_ok());
        for bad in [
            "",
            "admin",
            "arn:aws:iam::1111:role/admin",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::111122223333:role/",
            "arn:aws:iam::111122223333:role/a b",
            "arn:aws:iam:us-east-1:111122223333:role/admin",
            // Each part wrong alone.
            "xrn:aws:iam::111122223333:role/admin",
            "arn::iam::111122223333:role/admin",
            "arn:aws:sts::111122223333:role/admin",
        ] {
            let err = validate_role_arn(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        input: Input::RoleArn,
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn role_arns_are_at_most_2048_characters() {
        let prefix = "arn:aws:iam::111122223333:role/";
        let of_length = |n: usize| format!("{prefix}{}", "a".repeat(n - prefix.len()));
        assert!(validate_role_arn(&of_length(2048)).is_ok());
        assert!(validate_role_arn(&of_length(2049)).is_err());
    }

    #[test]
    fn session_names() {
        assert!(validate_session_name("deploy@ci.example,1=2+3-4_5").is_ok());
        assert!(validate_session_name("").is_err());
        assert!(validate_session_name("x").is_err());
        assert!(validate_session_name("has space").is_err());
        assert!(validate_session_name("slash/no").is_err());
        assert!(validate_session_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn default_session_name_is_32_hex() {
        let n = random_session_name();
        assert_eq!(n.len(), 32);
        assert!(n.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(validate_session_name(&n).is_ok());
    }
}
