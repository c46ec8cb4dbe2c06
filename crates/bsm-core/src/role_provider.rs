//! bsm's `AssumeRole` credential provider and its refresh state machine:
//! built from the role's parameters and an STS client of the source's, it
//! knows no manager.
//!
//! It never makes a request wait while it holds valid credentials: inside
//! the refresh buffer it serves them and refreshes in a task of its own, so
//! an STS that hangs, fails slowly, or waits for a person typing an MFA code
//! delays nothing that valid credentials can serve. A failed refresh is
//! tried again 10 s after it *ended*, with one `warn` per failure (role,
//! error, how long the current credentials stay valid). Callers wait only
//! when nothing valid is held, and then all share one `AssumeRole`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;

use crate::sync::{Flight, Lead, OnDrop, flight, lock};
use crate::{Error, Result};

/// The provider name bsm's assumed roles stamp on their credentials.
pub(crate) const ROLE_PROVIDER_NAME: &str = "bsm-assume-role";

/// How long the SDK waits for credentials when an MFA callback may prompt.
const MFA_LOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// A callback that yields a fresh MFA token code for each `AssumeRole`.
pub type MfaTokenProvider = Arc<dyn Fn() -> Result<String, crate::error::BoxError> + Send + Sync>;

#[derive(Clone)]
pub(crate) enum MfaToken {
    Fixed(String),
    Provider(MfaTokenProvider),
}

/// Every `AssumeRole` parameter, validated.
#[derive(Clone)]
pub(crate) struct Params {
    pub(crate) role_arn: String,
    pub(crate) session_name: String,
    pub(crate) duration: Duration,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) transitive_tag_keys: Vec<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) mfa_serial: Option<String>,
    pub(crate) mfa_token: Option<MfaToken>,
    pub(crate) source_identity: Option<String>,
    pub(crate) policy: Option<String>,
    pub(crate) policy_arns: Vec<String>,
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

/// How each generation of an auto-refreshing role's manager gets its
/// provider: the role's parameters, the STS client of its source, and what must outlive a
/// `clear_cache` (a fixed MFA code is spent once, whatever the generation).
#[derive(Clone)]
pub(crate) struct RoleRecipe {
    /// The STS client each `AssumeRole` is sent with, made anew for each
    /// refresh: it signs with the source's current credentials.
    pub(crate) sts: StsClient,
    pub(crate) params: Arc<Params>,
    pub(crate) buffer: Duration,
    pub(crate) time_source: SharedTimeSource,
    pub(crate) fixed_code_used: Arc<AtomicBool>,
    /// With a fixed MFA code, the end of the only credentials it can get.
    pub(crate) fixed_end: Arc<Mutex<Option<SystemTime>>>,
    /// The last credentials STS gave, whatever the generation: served while
    /// valid when a refresh fails (also right after a `clear_cache`, when a
    /// fixed MFA code cannot be sent again).
    pub(crate) last: Arc<Mutex<Option<Credentials>>>,
}

/// Makes the STS client of one `AssumeRole` call.
pub(crate) type StsClient = Arc<dyn Fn() -> aws_sdk_sts::Client + Send + Sync>;

impl RoleRecipe {
    /// A provider with no credentials yet (a new generation asks STS again).
    pub(crate) fn provider(&self) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(RoleProvider::new(self.clone()))
    }

    /// The identity cache in front of it: refreshes `buffer` before expiry,
    /// and waits long enough for a person typing an MFA code.
    pub(crate) fn identity_cache(&self) -> SharedIdentityCache {
        let mut cache = IdentityCache::lazy().buffer_time(self.buffer);
        if matches!(self.params.mfa_token, Some(MfaToken::Provider(_))) {
            cache = cache.load_timeout(MFA_LOAD_TIMEOUT);
        }
        cache.build()
    }
}

/// After a failed refresh, how long valid credentials are served before
/// `AssumeRole` is tried again, counted from the moment the failure ended
/// (so a failing STS is not called, nor an MFA callback asked, on every
/// request of the refresh window).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct State {
    current: Option<Credentials>,
    /// When the last failed refresh ended.
    failed_at: Option<SystemTime>,
    /// The refresh in progress, if any: at most one at a time.
    flight: Option<Flight<Credentials>>,
}

/// bsm's `AssumeRole` credential provider: every parameter, and a refresh
/// that never makes a caller wait while valid credentials are held.
///
/// - Credentials valid beyond the refresh buffer: served at once.
/// - Inside the buffer: served at once, and one refresh starts in a task of
///   its own (unless one runs, or the last failure ended less than 10 s
///   ago). A refresh that hangs (a stalled STS, a person at an MFA prompt)
///   delays nobody, and cannot be cancelled by a caller's timeout.
/// - Nothing valid: the caller waits for the refresh in progress, or starts
///   one; everyone who waits gets the same outcome, and the next call after
///   a failure tries again.
#[derive(Clone)]
pub(crate) struct RoleProvider {
    recipe: RoleRecipe,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for RoleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleProvider")
            .field("params", &self.recipe.params)
            .field("buffer", &self.recipe.buffer)
            .finish_non_exhaustive()
    }
}

impl RoleProvider {
    pub(crate) fn new(recipe: RoleRecipe) -> Self {
        Self {
            recipe,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    async fn get(&self) -> Result<Credentials> {
        let flight = {
            let mut state = lock(&self.state);
            let now = self.recipe.time_source.now();
            if let Some(c) = state.current.clone()
                && c.expiry().is_some_and(|exp| now < exp)
            {
                let due = c
                    .expiry()
                    .is_some_and(|exp| now + self.recipe.buffer >= exp);
                let backing_off = state
                    .failed_at
                    .is_some_and(|at| now < at + RETRY_AFTER_FAILURE);
                if due && !backing_off && state.flight.is_none() {
                    state.flight = Some(self.start_refresh()?);
                }
                return Ok(c);
            }
            if let Some(flight) = &state.flight {
                flight.clone()
            } else {
                let flight = self.start_refresh()?;
                state.flight = Some(flight.clone());
                flight
            }
        };
        match flight.outcome().await {
            Some(Ok(c)) => Ok(c),
            // The last credentials of any generation, while still valid:
            // after a `clear_cache`, a fixed MFA code cannot be sent again.
            Some(Err(e)) => match self.last_valid() {
                Some(c) => Ok(c),
                None => Err(Error::shared(&e)),
            },
            None => Err(Error::AssumeRole {
                role_arn: self.recipe.params.role_arn.clone(),
                source: "the refresh was cancelled (its runtime shut down); call again".into(),
            }),
        }
    }

    fn last_valid(&self) -> Option<Credentials> {
        let now = self.recipe.time_source.now();
        lock(&self.recipe.last)
            .clone()
            .filter(|c| c.expiry().is_some_and(|exp| now < exp))
    }

    /// Starts one refresh in a task of its own; its outcome goes to
    /// everyone holding the returned receiver.
    fn start_refresh(&self) -> Result<Flight<Credentials>> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| Error::AssumeRole {
            role_arn: self.recipe.params.role_arn.clone(),
            source: Box::new(e),
        })?;
        let (lead, rx) = flight();
        let this = self.clone();
        runtime.spawn(async move {
            // Should the task be dropped unfinished (its runtime shutting
            // down), the next caller starts a new refresh.
            let state = Arc::clone(&this.state);
            let clear = OnDrop::new(move || lock(&state).flight = None);
            let outcome = this.assume().await.map(|(c, _)| c);
            clear.disarm();
            this.finish(lead, outcome);
        });
        Ok(rx)
    }

    /// Records a refresh's outcome and tells the waiters.
    fn finish(&self, lead: Lead<Credentials>, outcome: Result<Credentials>) {
        let now = self.recipe.time_source.now();
        let mut state = lock(&self.state);
        state.flight = None;
        match &outcome {
            Ok(c) => {
                state.current = Some(c.clone());
                state.failed_at = None;
                *lock(&self.recipe.last) = Some(c.clone());
            }
            Err(e) => {
                state.failed_at = Some(now);
                let valid_for = state
                    .current
                    .clone()
                    .or_else(|| lock(&self.recipe.last).clone())
                    .and_then(|c| c.expiry())
                    .and_then(|exp| exp.duration_since(now).ok());
                if let Some(left) = valid_for {
                    tracing::warn!(
                        role_arn = %self.recipe.params.role_arn,
                        error = %crate::error::chain(e),
                        valid_for_secs = left.as_secs(),
                        "refreshing the role's credentials failed; the current ones are served \
                         until they expire, and the refresh is tried again in 10 s"
                    );
                } else {
                    tracing::warn!(
                        role_arn = %self.recipe.params.role_arn,
                        error = %crate::error::chain(e),
                        "assuming the role failed; no valid credentials are held"
                    );
                }
            }
        }
        drop(state);
        let _ = lead.finish(outcome);
    }

    /// One `AssumeRole` call. Returns the credentials, whose expiry is
    /// measured on the time source from the request start (STS grants
    /// exactly the requested duration, so a skewed local clock cannot make a
    /// refresh late, or happen on every call), and STS's own expiration.
    pub(crate) async fn assume(&self) -> Result<(Credentials, Option<SystemTime>)> {
        let p = &*self.recipe.params;
        let token_code = match &p.mfa_token {
            None => None,
            Some(MfaToken::Fixed(code)) => {
                if self.recipe.fixed_code_used.swap(true, Ordering::SeqCst) {
                    return Err(Error::AssumeRole {
                        role_arn: p.role_arn.clone(),
                        source: "the credentials need a refresh, but the MFA token code was \
                                 given as a fixed value, which works once: give \
                                 `mfa_token_provider` a callback that yields a fresh code"
                            .into(),
                    });
                }
                Some(code.clone())
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
        let req = self.request(token_code)?;
        let started = self.recipe.time_source.now();
        tracing::debug!(role_arn = %p.role_arn, "calling STS AssumeRole");
        let out = req.send().await.map_err(|e| Error::AssumeRole {
            role_arn: p.role_arn.clone(),
            // Without the raw response: an unparsable 200 would carry the
            // new secret key and token in its body.
            source: Box::new(Error::service("STS AssumeRole", e)),
        })?;
        let creds = out.credentials.ok_or_else(|| Error::AssumeRole {
            role_arn: p.role_arn.clone(),
            source: "STS AssumeRole returned no credentials".into(),
        })?;
        let sts_expiry = SystemTime::try_from(creds.expiration).ok();
        if incomplete(&creds) {
            return Err(Error::AssumeRole {
                role_arn: p.role_arn.clone(),
                source: "STS AssumeRole answered with incomplete credentials (a key, the session \
                         token or the expiration is missing)"
                    .into(),
            });
        }
        // As aws-config does: the account is the fifth field of the assumed
        // role's ARN (DynamoDB's account-based endpoints need it).
        let account_id = out
            .assumed_role_user
            .as_ref()
            .and_then(|u| u.arn.split(':').nth(4))
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        let expiry = started + p.duration;
        let mut builder = Credentials::builder()
            .access_key_id(creds.access_key_id)
            .secret_access_key(creds.secret_access_key)
            .session_token(creds.session_token)
            .expiry(expiry)
            .provider_name(ROLE_PROVIDER_NAME);
        builder.set_account_id(account_id.map(Into::into));
        let mut credentials = builder.build();
        // Tagged as aws-config tags its own assumed roles: credentials that
        // are renewed by asking STS again (see `credentials::fixed_end`).
        credentials
            .get_property_mut_or_default::<Vec<aws_credential_types::credential_feature::AwsCredentialFeature>>()
            .push(aws_credential_types::credential_feature::AwsCredentialFeature::CredentialsStsAssumeRole);
        if matches!(p.mfa_token, Some(MfaToken::Fixed(_))) {
            // The only credentials this role will get: they fix its end.
            *lock(&self.recipe.fixed_end) = Some(expiry);
        }
        Ok((credentials, sts_expiry))
    }
}

impl RoleProvider {
    /// The `AssumeRole` request with every parameter.
    fn request(
        &self,
        token_code: Option<String>,
    ) -> Result<aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder> {
        let p = &*self.recipe.params;
        let duration = i32::try_from(p.duration.as_secs()).unwrap_or(i32::MAX);
        let mut req = (self.recipe.sts)()
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
        Ok(req)
    }
}

// No `fallback_on_interrupt`: the SDK's `SharedCredentialsProvider` does
// not forward it to the identity cache, and nothing needs it, since a
// caller only waits when no valid credentials are held (when there is
// nothing to fall back on).
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

/// Whether STS's credentials lack a part. The SDK reads a truncated answer
/// leniently (missing fields come out empty, a missing expiration as 1970).
/// The expiration is not compared with the local clock, which may be skewed.
fn incomplete(creds: &aws_sdk_sts::types::Credentials) -> bool {
    creds.access_key_id.is_empty()
        || creds.secret_access_key.is_empty()
        || creds.session_token.is_empty()
        || creds.expiration.secs() <= 0
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;

    use aws_smithy_types::body::SdkBody;

    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/unit";

    /// A clock the test moves by hand.
    #[derive(Debug, Default)]
    struct Clock(Mutex<Duration>);

    impl Clock {
        fn advance(&self, by: Duration) {
            *lock(&self.0) += by;
        }
        fn at(&self) -> Duration {
            *lock(&self.0)
        }
    }

    #[derive(Debug, Clone)]
    struct ClockSource(Arc<Clock>);

    impl aws_smithy_async::time::TimeSource for ClockSource {
        fn now(&self) -> SystemTime {
            // A fixed start, so that STS's expiration parses.
            SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000) + self.0.at()
        }
    }

    /// What the stand-in STS does with the next `AssumeRole`.
    enum Answer {
        /// New credentials.
        Grant,
        /// New credentials once the test sends on the gate (a hanging STS).
        GrantAfter(std::sync::mpsc::Receiver<()>),
        /// `AccessDenied`, after moving the clock this much (a slow failure).
        Refuse(Duration),
    }

    /// The stand-in STS behind the SDK's test HTTP client: counts the
    /// requests it is sent and keeps their token codes.
    #[derive(Default)]
    struct Sts {
        requests: AtomicUsize,
        codes: Mutex<Vec<String>>,
        script: Mutex<VecDeque<Answer>>,
        clock: Arc<Clock>,
    }

    impl Sts {
        fn answer(&self, req: &http::Request<SdkBody>) -> http::Response<SdkBody> {
            let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
            let body = String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).into_owned();
            assert!(body.contains("Action=AssumeRole"), "{body}");
            if let Some(code) = body.split('&').find_map(|p| p.strip_prefix("TokenCode=")) {
                lock(&self.codes).push(code.to_owned());
            }
            let answer = lock(&self.script).pop_front().unwrap_or(Answer::Grant);
            match answer {
                Answer::Grant => {}
                Answer::GrantAfter(gate) => {
                    let _ = gate.recv();
                }
                Answer::Refuse(took) => {
                    self.clock.advance(took);
                    return http::Response::builder()
                        .status(403)
                        .body(SdkBody::from(
                            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                             <Message>no</Message></Error><RequestId>r</RequestId></ErrorResponse>",
                        ))
                        .unwrap();
                }
            }
            http::Response::builder()
                .status(200)
                .body(SdkBody::from(format!(
                    "<AssumeRoleResponse><AssumeRoleResult><Credentials>\
                     <AccessKeyId>ASIA{n}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey>\
                     <SessionToken>token</SessionToken><Expiration>2033-05-18T03:48:20Z</Expiration>\
                     </Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/unit/s</Arn>\
                     <AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>\
                     <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"
                )))
                .unwrap()
        }

        fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }

    /// A provider for a 900 s role with a 300 s refresh buffer, whose STS
    /// client (the SDK's, retries off) talks to `sts`.
    fn provider(sts: &Arc<Sts>, mfa: Option<MfaToken>) -> RoleProvider {
        let time = SharedTimeSource::new(ClockSource(Arc::clone(&sts.clock)));
        let http = {
            let sts = Arc::clone(sts);
            aws_smithy_http_client::test_util::infallible_client_fn(move |req| sts.answer(&req))
        };
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_types::region::Region::from_static("us-east-1"))
            .credentials_provider(Credentials::new("AKIDSOURCE", "source", None, None, "test"))
            .http_client(http)
            .time_source(time.clone())
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep"))
            .build();
        let client = aws_sdk_sts::Client::from_conf(conf);
        let mfa_serial = mfa
            .as_ref()
            .map(|_| "arn:aws:iam::123456789012:mfa/alice".to_owned());
        RoleProvider::new(RoleRecipe {
            sts: Arc::new(move || client.clone()),
            params: Arc::new(Params {
                role_arn: ROLE.to_owned(),
                session_name: "s".to_owned(),
                duration: Duration::from_secs(900),
                tags: Vec::new(),
                transitive_tag_keys: Vec::new(),
                external_id: None,
                mfa_serial,
                mfa_token: mfa,
                source_identity: None,
                policy: None,
                policy_arns: Vec::new(),
            }),
            buffer: Duration::from_secs(300),
            time_source: time,
            fixed_code_used: Arc::new(AtomicBool::new(false)),
            fixed_end: Arc::new(Mutex::new(None)),
            last: Arc::new(Mutex::new(None)),
        })
    }

    /// Waits (in real time, at most 10 s) until no refresh is in flight.
    async fn settled(p: &RoleProvider) {
        for _ in 0..1000 {
            if lock(&p.state).flight.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the refresh did not end");
    }

    async fn key(p: &RoleProvider) -> String {
        p.get().await.unwrap().access_key_id().to_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_the_refresh_window_the_held_credentials_are_served_while_one_refresh_hangs() {
        let sts = Arc::new(Sts::default());
        let p = provider(&sts, None);
        assert_eq!(key(&p).await, "ASIA1");
        sts.clock.advance(Duration::from_secs(500));
        assert_eq!(key(&p).await, "ASIA1", "outside the window: no request");
        assert_eq!(sts.requests(), 1);

        let (open, gate) = std::sync::mpsc::channel();
        lock(&sts.script).push_back(Answer::GrantAfter(gate));
        sts.clock.advance(Duration::from_secs(150));
        // STS now hangs on the refresh: every caller is served at once (a
        // caller made to wait would wait for the gate: the timeout fails it).
        tokio::time::timeout(Duration::from_secs(10), async {
            for _ in 0..20 {
                assert_eq!(key(&p).await, "ASIA1");
            }
        })
        .await
        .expect("no caller waits for the hanging refresh");
        for _ in 0..1000 {
            if sts.requests() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(sts.requests(), 2, "one refresh for the 20 callers");
        open.send(()).unwrap();
        settled(&p).await;
        assert_eq!(key(&p).await, "ASIA2");
        assert_eq!(sts.requests(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_refresh_is_tried_again_10_s_after_the_failure_ended() {
        let sts = Arc::new(Sts::default());
        let p = provider(&sts, None);
        assert_eq!(key(&p).await, "ASIA1");
        // Into the window; the refresh takes 5 s to fail.
        sts.clock.advance(Duration::from_secs(650));
        lock(&sts.script).push_back(Answer::Refuse(Duration::from_secs(5)));
        assert_eq!(key(&p).await, "ASIA1");
        settled(&p).await;
        assert_eq!(sts.requests(), 2);
        // 14 s after the failure started, 9 s after it ended: not yet.
        sts.clock.advance(Duration::from_secs(9));
        assert_eq!(key(&p).await, "ASIA1");
        settled(&p).await;
        assert_eq!(sts.requests(), 2, "backing off from the failure's end");
        sts.clock.advance(Duration::from_secs(1));
        assert_eq!(key(&p).await, "ASIA1");
        settled(&p).await;
        assert_eq!(sts.requests(), 3, "tried again 10 s after the end");
        assert_eq!(key(&p).await, "ASIA3");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_with_nothing_held_share_one_assume_role_and_one_mfa_code_per_refresh() {
        let sts = Arc::new(Sts::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let codes: MfaTokenProvider = {
            let asked = Arc::clone(&asked);
            Arc::new(move || Ok(format!("{:06}", asked.fetch_add(1, Ordering::SeqCst) + 1)))
        };
        let p = provider(&sts, Some(MfaToken::Provider(codes)));
        // STS holds its answer until all 10 callers are waiting for it.
        let (open, gate) = std::sync::mpsc::channel();
        lock(&sts.script).push_back(Answer::GrantAfter(gate));
        let callers: Vec<_> = (0..10)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move { key(&p).await })
            })
            .collect();
        for _ in 0..1000 {
            if sts.requests() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            callers.iter().all(|c| !c.is_finished()),
            "everyone waits for the one AssumeRole"
        );
        open.send(()).unwrap();
        for c in callers {
            assert_eq!(c.await.unwrap(), "ASIA1");
        }
        assert_eq!(sts.requests(), 1, "one AssumeRole for 10 callers");
        assert_eq!(asked.load(Ordering::SeqCst), 1, "one code for it");
        sts.clock.advance(Duration::from_secs(650));
        assert_eq!(key(&p).await, "ASIA1");
        settled(&p).await;
        assert_eq!(key(&p).await, "ASIA2");
        assert_eq!(
            *lock(&sts.codes),
            ["000001", "000002"],
            "one fresh code per refresh"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fixed_mfa_code_is_sent_once_and_its_credentials_end_the_role() {
        let sts = Arc::new(Sts::default());
        let p = provider(&sts, Some(MfaToken::Fixed("123456".to_owned())));
        let start = p.recipe.time_source.now();
        assert_eq!(key(&p).await, "ASIA1");
        assert_eq!(
            *lock(&p.recipe.fixed_end),
            Some(start + Duration::from_secs(900)),
            "the only credentials it can get end the role"
        );
        sts.clock.advance(Duration::from_secs(650));
        assert_eq!(key(&p).await, "ASIA1", "served while valid");
        settled(&p).await;
        sts.clock.advance(Duration::from_secs(250));
        let err = p.get().await.unwrap_err().to_string();
        assert!(err.contains("fixed value"), "{err}");
        assert_eq!(sts.requests(), 1, "the code was sent once");
        assert_eq!(*lock(&sts.codes), ["123456"]);
    }

    #[test]
    fn credentials_missing_any_part_are_incomplete() {
        let creds = |key: &str, secret: &str, token: &str, expiration: i64| {
            aws_sdk_sts::types::Credentials::builder()
                .access_key_id(key)
                .secret_access_key(secret)
                .session_token(token)
                .expiration(aws_smithy_types::DateTime::from_secs(expiration))
                .build()
                .unwrap()
        };
        assert!(!incomplete(&creds("ASIA", "secret", "token", 1)));
        assert!(incomplete(&creds("", "secret", "token", 1)));
        assert!(incomplete(&creds("ASIA", "", "token", 1)));
        assert!(incomplete(&creds("ASIA", "secret", "", 1)));
        assert!(incomplete(&creds("ASIA", "secret", "token", 0)));
    }
}
