//! Assume role: [`AssumeRoleBuilder`] with every STS `AssumeRole` parameter,
//! one-shot (static credentials) or auto-refreshing (bsm's own provider
//! behind the SDK's identity cache, refreshed ahead of expiry).
//!
//! The SDK's `AssumeRoleProvider` is not used because it lacks MFA,
//! transitive tag keys and source identity.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_types::region::Region;

use crate::session::CredentialSource;
use crate::{Error, Result, SessionManager};

/// Shortest and longest session STS grants.
const DURATION_RANGE: std::ops::RangeInclusive<u64> = 900..=43_200;
/// Default session length, as in the Python original.
const DEFAULT_DURATION: Duration = Duration::from_secs(3600);
/// Default refresh buffer: refresh this long before expiry (capped below
/// half the duration).
const DEFAULT_BUFFER: Duration = Duration::from_secs(300);

/// How long the SDK waits for credentials when an MFA callback may prompt.
const MFA_LOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// A callback that yields a fresh MFA token code for each `AssumeRole`.
pub type MfaTokenProvider = Arc<dyn Fn() -> Result<String, crate::error::BoxError> + Send + Sync>;

#[derive(Clone)]
enum MfaToken {
    Fixed(String),
    Provider(MfaTokenProvider),
}

/// Every `AssumeRole` parameter, validated.
#[derive(Clone)]
struct Params {
    role_arn: String,
    session_name: String,
    duration: Duration,
    tags: Vec<(String, String)>,
    transitive_tag_keys: Vec<String>,
    external_id: Option<String>,
    mfa_serial: Option<String>,
    mfa_token: Option<MfaToken>,
    source_identity: Option<String>,
    policy: Option<String>,
    policy_arns: Vec<String>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("duration", &self.duration)
            .field("tags", &self.tags)
            .field("transitive_tag_keys", &self.transitive_tag_keys)
            .field("external_id", &self.external_id.as_ref().map(|_| "<set>"))
            .field("mfa_serial", &self.mfa_serial)
            .field("source_identity", &self.source_identity)
            .field("policy", &self.policy.as_ref().map(|_| "<set>"))
            .field("policy_arns", &self.policy_arns)
            .finish_non_exhaustive()
    }
}

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
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
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
                "duration",
                format!("{secs} s"),
                "must be a whole number of seconds from 900 to 43200",
            ));
        }
        validate_session_name(&p.session_name)?;
        if let Some(r) = &self.region
            && r.trim().is_empty()
        {
            return Err(Error::invalid("region", r, "must not be empty"));
        }
        if let Some(id) = &p.external_id
            && !(2..=1224).contains(&id.len())
        {
            return Err(Error::invalid(
                "external id",
                "<redacted>",
                "must be 2 to 1224 characters",
            ));
        }
        if let Some(MfaToken::Fixed(code)) = &p.mfa_token
            && !(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::invalid(
                "MFA token code",
                "<redacted>",
                "must be 6 digits",
            ));
        }
        if let Some(serial) = &p.mfa_serial
            && !(9..=256).contains(&serial.len())
        {
            return Err(Error::invalid(
                "MFA serial number",
                serial,
                "must be 9 to 256 characters",
            ));
        }
        let half = p.duration / 2;
        let buffer = match self.refresh_buffer {
            Some(b) if b >= half => {
                return Err(Error::invalid(
                    "refresh buffer",
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

    /// Validates every input, then assumes the role (one-shot) or sets up
    /// the refreshing provider (auto-refresh, no request yet).
    pub async fn send(self) -> Result<SessionManager> {
        let buffer = self.validate()?;
        let region = self
            .region
            .clone()
            .or_else(|| self.source.aws_region().map(str::to_owned));
        let time_source = self
            .source
            .sdk_config()
            .time_source()
            .unwrap_or_else(|| SharedTimeSource::new(SystemTimeSource::new()));
        let provider = RoleProvider {
            sts: sts_client(&self.source, region.as_deref()),
            params: self.params.clone(),
            buffer,
            time_source,
            state: Arc::new(tokio::sync::Mutex::new(State::default())),
        };
        let mut config = self.source.sdk_config().to_builder();
        config.set_region(region.map(Region::new));
        let credentials_expiry = if self.auto_refresh {
            config.set_credentials_provider(Some(SharedCredentialsProvider::new(provider)));
            let mut cache = IdentityCache::lazy().buffer_time(buffer);
            if matches!(self.params.mfa_token, Some(MfaToken::Provider(_))) {
                // The callback may be a person typing a code.
                cache = cache.load_timeout(MFA_LOAD_TIMEOUT);
            }
            config.set_identity_cache(Some(cache.build()));
            None
        } else {
            let (creds, sts_expiry) = provider.assume(true).await?;
            // A one-shot manager reports STS's own expiration.
            let creds = Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                creds.session_token().map(str::to_owned),
                sts_expiry.or(creds.expiry()),
                "bsm-assume-role",
            );
            let expiry = creds.expiry();
            config.set_credentials_provider(Some(SharedCredentialsProvider::new(creds)));
            expiry
        };
        Ok(SessionManager::from_parts(
            config.build(),
            None,
            None,
            credentials_expiry,
            self.auto_refresh,
            self.source.inner.hooks.clone(),
            CredentialSource::AssumedRole(self.params.role_arn),
        ))
    }
}

/// The STS client for `AssumeRole`: the source's credentials, settings and
/// STS hook, in the target region.
fn sts_client(source: &SessionManager, region: Option<&str>) -> aws_sdk_sts::Client {
    let region = region.map(|r| Region::new(r.to_owned()));
    #[cfg(feature = "sts")]
    {
        source.client_with::<aws_sdk_sts::Client>(|b| match region {
            Some(r) => b.region(r),
            None => b,
        })
    }
    #[cfg(not(feature = "sts"))]
    {
        let mut b = aws_sdk_sts::config::Builder::from(source.sdk_config());
        if let Some(r) = region {
            b = b.region(r);
        }
        aws_sdk_sts::Client::from_conf(b.build())
    }
}

/// Checks that `arn` is a role ARN, `arn:PARTITION:iam::ACCOUNT_ID:role/PATH/NAME`,
/// as [`SessionManager::assume_role`] does before any request; the error
/// names the ARN and what is wrong.
pub fn validate_role_arn(arn: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid("role ARN", arn, reason));
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
            "role session name",
            name,
            "must not be empty",
        ));
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if !(2..=64).contains(&name.len()) || !name.chars().all(valid) {
        return Err(Error::invalid(
            "role session name",
            name,
            "must be 2 to 64 characters of letters, digits and +=,.@_-",
        ));
    }
    Ok(())
}

/// After a failed refresh, how long valid credentials are served before
/// `AssumeRole` is tried again (so a failing STS is not called, nor an MFA
/// callback asked, on every request of the refresh window).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    current: Option<Credentials>,
    /// When the last refresh failed.
    failed_at: Option<SystemTime>,
    /// A fixed MFA code was used already and cannot be sent again.
    fixed_code_used: bool,
}

/// bsm's `AssumeRole` credential provider: every parameter, a memo of the
/// current credentials refreshed `buffer` before expiry, single-flight (one
/// refresh however many callers), and the current credentials kept while a
/// refresh fails and they are still valid.
#[derive(Clone)]
struct RoleProvider {
    sts: aws_sdk_sts::Client,
    params: Params,
    buffer: Duration,
    time_source: SharedTimeSource,
    state: Arc<tokio::sync::Mutex<State>>,
}

impl fmt::Debug for RoleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleProvider")
            .field("params", &self.params)
            .field("buffer", &self.buffer)
            .finish_non_exhaustive()
    }
}

impl RoleProvider {
    async fn get(&self) -> Result<Credentials> {
        let mut state = self.state.lock().await;
        let now = self.time_source.now();
        let backing_off = state
            .failed_at
            .is_some_and(|at| now < at + RETRY_AFTER_FAILURE);
        if let Some(c) = &state.current
            && c.expiry()
                .is_some_and(|exp| now + self.buffer < exp || (backing_off && now < exp))
        {
            return Ok(c.clone());
        }
        let first = !state.fixed_code_used;
        match self.assume(first).await.map(|(c, _)| c) {
            Ok(c) => {
                state.fixed_code_used |= matches!(self.params.mfa_token, Some(MfaToken::Fixed(_)));
                state.current = Some(c.clone());
                state.failed_at = None;
                Ok(c)
            }
            Err(e) => {
                state.failed_at = Some(now);
                match &state.current {
                    Some(c) if c.expiry().is_some_and(|exp| now < exp) => {
                        tracing::warn!(
                            role_arn = %self.params.role_arn,
                            error = %e,
                            "refresh failed; keeping the current credentials until they expire"
                        );
                        Ok(c.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }

    /// One `AssumeRole` call. `first` tells whether a fixed MFA code may
    /// still be sent. Returns the credentials, whose expiry is measured on
    /// the time source from the request start (STS grants exactly the
    /// requested duration, so a skewed local clock cannot make a refresh
    /// late, or happen on every call), and STS's own expiration.
    async fn assume(&self, first: bool) -> Result<(Credentials, Option<SystemTime>)> {
        let p = &self.params;
        let token_code = match &p.mfa_token {
            None => None,
            Some(MfaToken::Fixed(code)) if first => Some(code.clone()),
            Some(MfaToken::Fixed(_)) => {
                return Err(Error::AssumeRole {
                    role_arn: p.role_arn.clone(),
                    source:
                        "the credentials need a refresh, but the MFA token code was given as a \
                             fixed value, which works once: give `mfa_token_provider` a callback \
                             that yields a fresh code"
                            .into(),
                });
            }
            Some(MfaToken::Provider(f)) => {
                let f = Arc::clone(f);
                let code = tokio::task::spawn_blocking(move || f())
                    .await
                    .map_err(|e| Error::AssumeRole {
                        role_arn: p.role_arn.clone(),
                        source: Box::new(e),
                    })?
                    .map_err(|e| Error::AssumeRole {
                        role_arn: p.role_arn.clone(),
                        source: e,
                    })?;
                Some(code)
            }
        };
        let duration = i32::try_from(p.duration.as_secs()).unwrap_or(i32::MAX);
        let mut req = self
            .sts
            .assume_role()
            .role_arn(&p.role_arn)
            .role_session_name(&p.session_name)
            .duration_seconds(duration)
            .set_transitive_tag_keys(
                (!p.transitive_tag_keys.is_empty()).then(|| p.transitive_tag_keys.clone()),
            )
            .set_external_id(p.external_id.clone())
            .set_serial_number(p.mfa_serial.clone())
            .set_token_code(token_code)
            .set_source_identity(p.source_identity.clone())
            .set_policy(p.policy.clone());
        for (k, v) in &p.tags {
            let tag = aws_sdk_sts::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::AssumeRole {
                    role_arn: p.role_arn.clone(),
                    source: Box::new(e),
                })?;
            req = req.tags(tag);
        }
        for arn in &p.policy_arns {
            req = req.policy_arns(
                aws_sdk_sts::types::PolicyDescriptorType::builder()
                    .arn(arn)
                    .build(),
            );
        }
        let started = self.time_source.now();
        tracing::debug!(role_arn = %p.role_arn, "calling STS AssumeRole");
        let out = req.send().await.map_err(|e| Error::AssumeRole {
            role_arn: p.role_arn.clone(),
            // Without the raw response: an unparsable 200 would carry the
            // new secret key and token in its body.
            source: Box::new(Error::service_without_response("STS AssumeRole", &e)),
        })?;
        let creds = out.credentials.ok_or_else(|| Error::AssumeRole {
            role_arn: p.role_arn.clone(),
            source: "STS AssumeRole returned no credentials".into(),
        })?;
        let sts_expiry = SystemTime::try_from(creds.expiration).ok();
        let credentials = Credentials::new(
            creds.access_key_id,
            creds.secret_access_key,
            Some(creds.session_token),
            Some(started + p.duration),
            "bsm-assume-role",
        );
        Ok((credentials, sts_expiry))
    }
}

impl ProvideCredentials for RoleProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.get()
                .await
                .map_err(provider::error::CredentialsError::provider_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            let err = validate_role_arn(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        what: "role ARN",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
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
