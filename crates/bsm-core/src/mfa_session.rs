//! Sessions of long-lived keys, the aws-vault way: [`SessionManager::mfa_session`]
//! sends one STS `GetSessionToken` with an MFA device's code and gives a
//! manager on the temporary credentials it returns. They carry the MFA
//! (`aws:MultiFactorAuthPresent`), so roles assumed from that manager need
//! no further code until the session ends. [`SessionManager::session_token`]
//! is the same without MFA: what is handed to other processes instead of
//! an IAM user's own keys.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::credentials::Recipe;
use crate::error::Input;
use crate::session::EndRule;
use crate::session::Parts;
use crate::{CredentialSource, Error, Result, SessionManager};

/// The durations STS accepts for `GetSessionToken`, in seconds.
const DURATIONS: std::ops::RangeInclusive<u64> = 900..=129_600;

impl SessionManager {
    /// An MFA session: one STS `GetSessionToken` with the code of the MFA
    /// device `serial`, lasting `duration` (900 s to 36 h; STS may grant
    /// less, and caps a root user's at 1 h). The new manager has this one's
    /// region, endpoint and hooks, and its credentials end when the session
    /// does ([`expiration_time`](Self::expiration_time)).
    ///
    /// Fails before any request with [`Error::InvalidInput`] for an empty
    /// serial, a code that is not 6 digits, or a duration outside STS's
    /// range; with [`Error::Service`] when STS refuses (its error has the
    /// code and message, never the answer's body, which can hold the new
    /// credentials).
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) -> bsm::Result<()> {
    /// use std::time::Duration;
    /// let mfa = bsm
    ///     .mfa_session("arn:aws:iam::111122223333:mfa/alice", "123456", Duration::from_secs(3600))
    ///     .await?;
    /// // No further code for the roles of an hour.
    /// let admin = mfa.assume_role("arn:aws:iam::111122223333:role/admin").send().await?;
    /// # Ok(()) }
    /// ```
    pub async fn mfa_session(
        &self,
        serial: &str,
        code: &str,
        duration: Duration,
    ) -> Result<SessionManager> {
        if serial.trim().is_empty() {
            return Err(Error::invalid(
                Input::MfaSerial,
                serial,
                "must not be empty",
            ));
        }
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                Input::MfaCode,
                "<redacted>",
                "must be the 6 digits the device shows",
            ));
        }
        self.get_session_token(Some((serial, code)), duration).await
    }

    /// A session of this manager's long-lived keys (an IAM user's): one STS
    /// `GetSessionToken` without MFA, lasting `duration` (900 s to 36 h).
    /// What `bsm --keys NAME exec` and `export` hand out instead of the
    /// keys themselves. Errors as for [`mfa_session`](Self::mfa_session).
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) -> bsm::Result<()> {
    /// let session = bsm.session_token(std::time::Duration::from_secs(3600)).await?;
    /// assert!(session.credentials().await?.session_token().is_some());
    /// # Ok(()) }
    /// ```
    pub async fn session_token(&self, duration: Duration) -> Result<SessionManager> {
        self.get_session_token(None, duration).await
    }

    async fn get_session_token(
        &self,
        mfa: Option<(&str, &str)>,
        duration: Duration,
    ) -> Result<SessionManager> {
        if !DURATIONS.contains(&duration.as_secs()) {
            return Err(Error::invalid(
                Input::MfaSessionDuration,
                format!("{} s", duration.as_secs()),
                "must be 900 to 129600 seconds",
            ));
        }
        let seconds = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
        tracing::debug!(serial = mfa.map(|(s, _)| s), "calling STS GetSessionToken");
        let out = crate::assume_role::sts_client(self, self.aws_region())
            .get_session_token()
            .set_serial_number(mfa.map(|(s, _)| s.to_owned()))
            .set_token_code(mfa.map(|(_, c)| c.to_owned()))
            .duration_seconds(seconds)
            .send()
            .await
            // Without the raw response: an unreadable 200 holds the new
            // secret key and token in its body.
            .map_err(|e| Error::service("STS GetSessionToken", e))?;
        let no_credentials = || Error::Service {
            operation: "STS GetSessionToken",
            kind: crate::error::ServiceErrorKind::MalformedAnswer,
            code: None,
            message: None,
            request_id: None,
            status: None,
            source: "the answer holds no complete credentials".into(),
        };
        let c = out.credentials.ok_or_else(no_credentials)?;
        if c.access_key_id.is_empty()
            || c.secret_access_key.is_empty()
            || c.session_token.is_empty()
        {
            return Err(no_credentials());
        }
        let expiry = SystemTime::try_from(c.expiration).map_err(|_| no_credentials())?;
        let creds = Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            Some(expiry),
            if mfa.is_some() {
                "bsm-mfa-session"
            } else {
                "bsm-session-token"
            },
        );
        let manager = SessionManager::new(Parts {
            base: self.base().clone(),
            recipe: Recipe::Given(SharedCredentialsProvider::new(creds)),
            profile_name: None,
            profile_paths: crate::credentials::ProfilePaths::default(),
            child: std::sync::Arc::clone(self.child_settings()),
            explicit_expiration: None,
            end_rule: EndRule::At(expiry),
            hooks: self.hooks().clone(),
            source: match mfa {
                Some((serial, _)) => CredentialSource::MfaSession(serial.to_owned()),
                None => CredentialSource::SessionToken,
            },
        });
        manager.set_facts(self.derived_facts());
        Ok(manager)
    }
}
