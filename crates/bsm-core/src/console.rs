//! Console sign-in: [`SessionManager::console_url`] turns the manager's
//! credentials into a URL that opens the AWS console as the manager's
//! principal, through the AWS federation endpoint, as `aws-vault login`
//! and granted's `assume -c` do.
//!
//! # The rule
//!
//! - A role's (or a federated user's) temporary credentials go to the
//!   endpoint as they are (`Action=getSigninToken` with the `Session` JSON:
//!   `sessionId`, `sessionKey`, `sessionToken`); with a duration, the
//!   console session lasts that long (`SessionDuration`, 900 s to 12 h).
//! - An IAM user's long-term keys, which the endpoint refuses, first become
//!   a federation token (STS `GetFederationToken`, named after the user, with
//!   a policy that allows everything, so the user's own policies are what
//!   limit it, as aws-vault does), lasting the duration (900 s to 36 h;
//!   default 1 h).
//! - An IAM user's session (`GetSessionToken`, an MFA session) can do
//!   neither: the endpoint refuses it and STS will not make a federation
//!   token from it. That is a typed error saying so.
//! - The endpoint and the console follow the region's partition:
//!   `signin.aws.amazon.com` and `console.aws.amazon.com` (`aws`),
//!   `signin.amazonaws.cn` and `console.amazonaws.cn` (`aws-cn`, regions
//!   `cn-*`), `signin.amazonaws-us-gov.com` and
//!   `console.amazonaws-us-gov.com` (`aws-us-gov`, regions `us-gov-*`);
//!   the destination is the region's console home unless one is given.
//! - `BSM_FEDERATION_URL` replaces the federation endpoint (for tests,
//!   against a stand-in on loopback).
//!
//! The sign-in token is a credential: it is in the returned URL and
//! nowhere else (never logged, never in an error, redacted in `Debug`).

use std::fmt;
use std::time::Duration;

use crate::error::{BoxError, Input};
use crate::{Error, Result, SessionManager};

/// The durations the federation endpoint takes for a role's console
/// session.
const CONSOLE_SESSION: std::ops::RangeInclusive<u64> = 900..=43_200;
/// The durations STS takes for a federation token.
const FEDERATION_TOKEN: std::ops::RangeInclusive<u64> = 900..=129_600;
/// The largest answer read from the federation endpoint.
const MAX_ANSWER: usize = 64 * 1024;

/// A console sign-in URL. It holds a sign-in token, a credential for as
/// long as the token lasts: its `Debug` shows the endpoint only.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleUrl {
    url: String,
    endpoint: String,
}

impl ConsoleUrl {
    /// The URL to open in a browser. A credential: do not log it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl fmt::Debug for ConsoleUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleUrl")
            .field("endpoint", &self.endpoint)
            .field("url", &"<redacted>")
            .finish()
    }
}

/// Builds a console sign-in URL; made by [`SessionManager::console_url`].
#[derive(Debug)]
#[must_use = "nothing happens until `send` is awaited"]
pub struct ConsoleUrlBuilder<'a> {
    manager: &'a SessionManager,
    destination: Option<String>,
    duration: Option<Duration>,
}

impl SessionManager {
    /// A console sign-in URL for this manager's principal (see
    /// [the rule](crate::console)).
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) -> bsm::Result<()> {
    /// let role = bsm.assume_role("arn:aws:iam::111122223333:role/admin").send().await?;
    /// let url = role
    ///     .console_url()
    ///     .destination("https://console.aws.amazon.com/s3/home")
    ///     .duration(std::time::Duration::from_secs(3600))
    ///     .send()
    ///     .await?;
    /// // url.as_str() opens the console (it is a credential: do not log it).
    /// # let _ = url;
    /// # Ok(()) }
    /// ```
    pub fn console_url(&self) -> ConsoleUrlBuilder<'_> {
        ConsoleUrlBuilder {
            manager: self,
            destination: None,
            duration: None,
        }
    }
}

/// The federation endpoint and the console of a region's partition.
fn partition(region: Option<&str>) -> (&'static str, &'static str) {
    match region {
        Some(r) if r.starts_with("cn-") => (
            "https://signin.amazonaws.cn/federation",
            "console.amazonaws.cn",
        ),
        Some(r) if r.starts_with("us-gov-") => (
            "https://signin.amazonaws-us-gov.com/federation",
            "console.amazonaws-us-gov.com",
        ),
        _ => (
            "https://signin.aws.amazon.com/federation",
            "console.aws.amazon.com",
        ),
    }
}

impl ConsoleUrlBuilder<'_> {
    /// Where the console opens (default: the region's console home). An
    /// `https://` URL.
    pub fn destination(mut self, url: impl Into<String>) -> Self {
        self.destination = Some(url.into());
        self
    }

    /// How long the console session lasts: for a role, 900 s to 12 h (the
    /// endpoint's `SessionDuration`; default: the endpoint's own); for an
    /// IAM user's keys, the federation token's, 900 s to 36 h (default 1 h).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Checks the input, gets a federation token if the credentials are
    /// long-term keys, asks the federation endpoint for a sign-in token,
    /// and returns the sign-in URL.
    ///
    /// Fails with [`Error::InvalidInput`] for a destination that is not an
    /// `https://` URL or a duration out of range (before any request);
    /// [`Error::Service`] when STS refuses the federation token; and
    /// [`Error::ConsoleSignIn`] when the endpoint cannot be reached or its
    /// answer is not a sign-in token (the answer is not repeated).
    pub async fn send(self) -> Result<ConsoleUrl> {
        let m = self.manager;
        let (default_endpoint, console) = partition(m.aws_region());
        let endpoint = std::env::var("BSM_FEDERATION_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| default_endpoint.to_owned());
        let destination = match &self.destination {
            Some(d) if d.starts_with("https://") && !d.chars().any(char::is_control) => d.clone(),
            Some(d) => {
                return Err(Error::invalid(
                    Input::ConsoleDestination,
                    d.escape_debug().to_string(),
                    "must be an https:// URL",
                ));
            }
            None => match m.aws_region() {
                Some(r) => format!("https://{r}.{console}/console/home?region={r}"),
                None => format!("https://{console}/"),
            },
        };
        let creds = m.credentials().await?;
        let temporary = creds.session_token().is_some();
        let range = if temporary {
            CONSOLE_SESSION
        } else {
            FEDERATION_TOKEN
        };
        if let Some(d) = self.duration
            && !range.contains(&d.as_secs())
        {
            return Err(Error::invalid(
                Input::Duration,
                format!("{} s", d.as_secs()),
                format!(
                    "a console session of {} lasts {} to {} seconds",
                    if temporary {
                        "temporary credentials"
                    } else {
                        "an IAM user's keys (a federation token)"
                    },
                    range.start(),
                    range.end()
                ),
            ));
        }
        let (id, key, token, session_duration) = if temporary {
            let arn = m.identity().await?.arn;
            if !(arn.contains(":assumed-role/") || arn.contains(":federated-user/")) {
                return Err(Error::ConsoleSignIn {
                    endpoint,
                    source: "these are an IAM user's session credentials (GetSessionToken, an \
                             MFA session), which the federation endpoint refuses and STS will \
                             not make a federation token from: sign in with a role, or with \
                             the user's own keys"
                        .into(),
                });
            }
            let token = creds.session_token().unwrap_or_default().to_owned();
            let (id, key) = (creds.access_key_id(), creds.secret_access_key());
            (id.to_owned(), key.to_owned(), token, self.duration)
        } else {
            let federated = federation_token(m, self.duration).await?;
            (federated.0, federated.1, federated.2, None)
        };
        let session = session_json(&id, &key, &token);
        let mut query = format!(
            "{endpoint}?Action=getSigninToken&Session={}",
            percent_encode(&session)
        );
        if let Some(d) = session_duration {
            query.push_str("&SessionDuration=");
            query.push_str(&d.as_secs().to_string());
        }
        let signin = signin_token(m, &query)
            .await
            .map_err(|source| Error::ConsoleSignIn {
                endpoint: endpoint.clone(),
                source,
            })?;
        let url = format!(
            "{endpoint}?Action=login&Issuer=bsm&Destination={}&SigninToken={}",
            percent_encode(&destination),
            percent_encode(&signin)
        );
        Ok(ConsoleUrl { url, endpoint })
    }
}

/// A federation token for an IAM user's keys: named after the user, with
/// a policy that allows everything (the user's own policies limit it).
async fn federation_token(
    m: &SessionManager,
    duration: Option<Duration>,
) -> Result<(String, String, String)> {
    let arn = m.identity().await?.arn;
    let name: String = arn
        .rsplit('/')
        .next()
        .unwrap_or("bsm")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .take(32)
        .collect();
    let name = if name.len() < 2 {
        "bsm".to_owned()
    } else {
        name
    };
    let seconds = duration.map_or(3600, |d| d.as_secs());
    tracing::debug!(name = %name, seconds, "calling STS GetFederationToken");
    let out = crate::assume_role::sts_client(m, m.aws_region())
        .get_federation_token()
        .name(name)
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .duration_seconds(i32::try_from(seconds).unwrap_or(i32::MAX))
        .send()
        .await
        .map_err(|e| Error::service("STS GetFederationToken", e))?;
    let c = out.credentials.ok_or_else(|| Error::Service {
        operation: "STS GetFederationToken",
        kind: crate::error::ServiceErrorKind::MalformedAnswer,
        code: None,
        message: None,
        request_id: None,
        status: None,
        source: "the answer holds no credentials".into(),
    })?;
    Ok((c.access_key_id, c.secret_access_key, c.session_token))
}

/// The `Session` parameter: the credentials as the endpoint wants them.
fn session_json(id: &str, key: &str, token: &str) -> String {
    let mut out = String::with_capacity(2048);
    let mut object = aws_smithy_json::serialize::JsonObjectWriter::new(&mut out);
    object.key("sessionId").string(id);
    object.key("sessionKey").string(key);
    object.key("sessionToken").string(token);
    object.finish();
    out
}

/// RFC 3986 percent-encoding of a query value: every byte but the
/// unreserved characters.
fn percent_encode(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// GETs `url` with the manager's HTTP client and reads the `SigninToken`
/// of the JSON answer. No error holds the answer's text.
async fn signin_token(m: &SessionManager, url: &str) -> std::result::Result<String, BoxError> {
    use aws_smithy_runtime_api::client::http::{
        HttpClient as _, HttpConnector as _, HttpConnectorSettings,
    };
    let base = m.sdk_config();
    let client = base.http_client().ok_or("no HTTP client is configured")?;
    let components = crate::credentials::runtime_components(&base, base.identity_cache())?;
    let settings = HttpConnectorSettings::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(15))
        .build();
    let connector = client.http_connector(&settings, &components);
    let request = aws_smithy_runtime_api::http::Request::get(url)
        .map_err(|_| "the federation endpoint is not a valid URL")?;
    let response = connector
        .call(request)
        .await
        .map_err(|e| format!("cannot reach it: {}", crate::error::chain(&e)))?;
    let status = response.status().as_u16();
    let mut body = aws_smithy_types::byte_stream::ByteStream::new(response.into_body());
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| "its answer could not be read")?;
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_ANSWER {
            return Err(format!("its answer is over {MAX_ANSWER} bytes").into());
        }
    }
    if status != 200 {
        return Err(format!("it answered HTTP {status}").into());
    }
    signin_token_of(&bytes).ok_or_else(|| "its answer is not JSON with a SigninToken".into())
}

/// The `SigninToken` string of a JSON object, if it has a plain one.
fn signin_token_of(body: &[u8]) -> Option<String> {
    use aws_smithy_json::deserialize::{Token, json_token_iter, token::skip_value};
    let mut tokens = json_token_iter(body);
    if !matches!(tokens.next()?.ok()?, Token::StartObject { .. }) {
        return None;
    }
    loop {
        match tokens.next()?.ok()? {
            Token::ObjectKey { key, .. } if key.as_escaped_str() == "SigninToken" => {
                let Token::ValueString { value, .. } = tokens.next()?.ok()? else {
                    return None;
                };
                let token = value.to_unescaped().ok()?.into_owned();
                return (!token.is_empty()).then_some(token);
            }
            Token::ObjectKey { .. } => skip_value(&mut tokens).ok()?,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_follows_the_region() {
        assert_eq!(partition(Some("cn-north-1")).1, "console.amazonaws.cn");
        assert_eq!(
            partition(Some("us-gov-west-1")).0,
            "https://signin.amazonaws-us-gov.com/federation"
        );
        assert_eq!(partition(Some("eu-west-1")).1, "console.aws.amazon.com");
        assert_eq!(
            partition(None).0,
            "https://signin.aws.amazon.com/federation"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("a b/c+d=e&f~"), "a%20b%2Fc%2Bd%3De%26f~");
        assert_eq!(percent_encode("{\"é\"}"), "%7B%22%C3%A9%22%7D");
    }

    #[test]
    fn only_a_plain_signin_token_is_taken() {
        assert_eq!(
            signin_token_of(br#"{"Other": [1, {"x": 2}], "SigninToken": "tok"}"#).as_deref(),
            Some("tok")
        );
        for bad in [
            &b"<html>nope</html>"[..],
            br#"{"SigninToken": ""}"#,
            br#"{"SigninToken": 5}"#,
            br#"{"Nothing": "here"}"#,
            b"",
        ] {
            assert_eq!(
                signin_token_of(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn debug_hides_the_url() {
        let url = ConsoleUrl {
            url: "https://x/federation?SigninToken=secret".into(),
            endpoint: "https://x/federation".into(),
        };
        assert!(!format!("{url:?}").contains("secret"));
    }
}
