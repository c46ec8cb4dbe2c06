//! A loopback credential server in the ECS container-credentials format:
//! [`SessionManager::serve_credentials`] hands a manager's current (and
//! refreshing) credentials to a child process that polls for them, as the
//! AWS SDKs and CLI do with `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
//!
//! # Security
//!
//! - It listens on a loopback address only (`127.0.0.1` or `::1`; anything
//!   else is refused).
//! - Every request needs the `Authorization` header to equal the server's
//!   token: 256 bits from the operating system's random source, compared in
//!   constant time. A missing token gets `401`, a wrong one `403`, both with
//!   no body.
//! - The `Host` header must be the address the server listens on
//!   (`127.0.0.1:PORT`): a page in a browser that a DNS name was pointed at
//!   loopback (DNS rebinding) gets `403`.
//! - Only `GET /` is served; nothing is logged but the method, the status
//!   and the reason of a refusal, never a token or a key.
//! - Each answer says `Cache-Control: no-store`.
//! - A connection must send its request's headers within 10 s, and is
//!   closed after 10 s idle between requests; at most 64 are served at
//!   once (more wait in the listen queue); after a failed accept (no file
//!   descriptors left) it pauses, from 10 ms doubling to 1 s, rather than
//!   spin.
//! - It stops when the handle is dropped or [`CredentialServer::shutdown`]
//!   is called: new connections are refused from then on, and open ones,
//!   kept alive by a client, are closed.
//! - The child's settings (see [`CredentialServer::env`]) are in a folder
//!   of mode 0700 that holds no secret, removed when the server stops.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::child_files::ChildFiles;
use crate::error::Input;
use crate::{AwsCliEnv, Error, Result, SessionManager};

/// A running credential server; stops when dropped. Its `Debug` hides the
/// token.
pub struct CredentialServer {
    addr: SocketAddr,
    token: Arc<str>,
    env: AwsCliEnv,
    /// The child's generated settings; removed when the server stops.
    files: Option<ChildFiles>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for CredentialServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialServer")
            .field("url", &self.url())
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Serves this manager's current credentials on `addr` (a loopback
    /// address; port 0 picks a free one) in the ECS container-credentials
    /// format, until the returned handle is dropped. Give a child process
    /// [`CredentialServer::env`]: the SDKs and the AWS CLI in it then fetch
    /// fresh credentials from here whenever theirs near their end, which
    /// suits an auto-refreshing role
    /// ([`AssumeRoleBuilder::auto_refresh`](crate::AssumeRoleBuilder::auto_refresh)).
    ///
    /// The credentials must be temporary (the format has a session token
    /// and an expiry): the first request answers `500` for long-lived keys.
    ///
    /// ```no_run
    /// # use bsm_core as bsm;
    /// # async fn run(bsm: bsm::SessionManager) -> Result<(), Box<dyn std::error::Error>> {
    /// let role = bsm
    ///     .assume_role("arn:aws:iam::111122223333:role/deploy")
    ///     .auto_refresh(true)
    ///     .send()
    ///     .await?;
    /// let server = role.serve_credentials(([127, 0, 0, 1], 0)).await?;
    /// let mut child = std::process::Command::new("terraform");
    /// child.arg("apply");
    /// server.env().apply(&mut child);
    /// let status = child.status()?;
    /// drop(server); // stops serving
    /// # Ok(()) }
    /// ```
    pub async fn serve_credentials(&self, addr: impl Into<SocketAddr>) -> Result<CredentialServer> {
        let addr = addr.into();
        let bad = |reason: &str| Error::invalid(Input::ServerAddress, addr.to_string(), reason);
        if !addr.ip().is_loopback() {
            return Err(bad("must be a loopback address (127.0.0.1 or ::1)"));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| bad(&e.to_string()))?;
        let addr = listener.local_addr().map_err(|e| bad(&e.to_string()))?;
        let token: Arc<str> = random_token().map_err(|e| bad(&e))?.into();
        let files = ChildFiles::create(&self.child_config())?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = Arc::new(Shared {
            manager: self.clone(),
            host: addr.to_string(),
            token: Arc::clone(&token),
        });
        let task = tokio::spawn(serve(listener, shared, stopped));
        let env = self.server_env(&format!("http://{addr}/"), &token, &files);
        Ok(CredentialServer {
            addr,
            token,
            env,
            files: Some(files),
            stop: Some(stop),
            task,
        })
    }
}

/// How long a connection may take to send a request's headers, and may
/// stay open idle between requests: the SDKs send theirs at once.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; more wait in the listen queue until one
/// closes (each closes within [`HEADER_TIMEOUT`] of going idle).
const MAX_CONNECTIONS: usize = 64;

/// The longest pause after failed accepts in a row (no file descriptors
/// left, say): the pause doubles from 10 ms up to this.
const MAX_ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// Accepts connections until `stopped`, at most [`MAX_CONNECTIONS`] at
/// once, pausing after accept errors; every connection ends when this does
/// (they live in a `JoinSet`, aborted when it is dropped).
async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    let mut pause = Duration::from_millis(10);
    loop {
        // Finished connections are reaped as we go.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            a = async {
                let slot = Arc::clone(&slots).acquire_owned().await;
                (slot, listener.accept().await)
            } => a,
            _ = &mut stopped => return,
        };
        let (Ok(slot), result) = accepted else { return };
        let stream = match result {
            Ok((stream, _)) => {
                pause = Duration::from_millis(10);
                stream
            }
            Err(e) => {
                tracing::warn!(error = %e, pause_ms = pause.as_millis(), "credential server: cannot accept a connection");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {},
                    _ = &mut stopped => return,
                }
                pause = (pause * 2).min(MAX_ACCEPT_PAUSE);
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, std::convert::Infallible>(shared.answer(&req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl CredentialServer {
    /// `http://127.0.0.1:PORT/`: the value of
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The address it listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token a request must carry in its `Authorization` header: the
    /// value of `AWS_CONTAINER_AUTHORIZATION_TOKEN`. A secret: never log it.
    #[must_use]
    pub fn authorization_token(&self) -> &str {
        &self.token
    }

    /// The environment for a child: the server's URL and token, none of the
    /// variables that the SDKs read ahead of container credentials (keys,
    /// profile names, web identity, a relative container URI, a token
    /// file), and shared files of its own in place of the user's, whose
    /// profiles would win over the server: a config with the manager's
    /// region, endpoint and profile settings and no secret, an empty
    /// credentials file (the [handoff table](crate::cli_env)). They are
    /// removed when the server stops.
    #[must_use]
    pub fn env(&self) -> &AwsCliEnv {
        &self.env
    }

    /// Stops serving, waits until the listener is closed, and removes the
    /// child's generated settings.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        self.files.take();
    }
}

impl Drop for CredentialServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

struct Shared {
    manager: SessionManager,
    /// `127.0.0.1:PORT`: the only `Host` served.
    host: String,
    token: Arc<str>,
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    no_store(resp)
}

/// Marks an answer as one no cache may keep (it holds credentials).
fn no_store(mut resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    resp
}

impl Shared {
    async fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok());
        if host != Some(self.host.as_str()) {
            tracing::warn!(server = %self.host, method = %req.method(), "credential server: refused a request for another host");
            return empty(StatusCode::FORBIDDEN);
        }
        let Some(given) = req.headers().get(hyper::header::AUTHORIZATION) else {
            tracing::warn!(server = %self.host, method = %req.method(), "credential server: refused a request without a token");
            return empty(StatusCode::UNAUTHORIZED);
        };
        if !constant_time_eq(given.as_bytes(), self.token.as_bytes()) {
            tracing::warn!(server = %self.host, method = %req.method(), "credential server: refused a request with a wrong token");
            return empty(StatusCode::FORBIDDEN);
        }
        if req.method() != hyper::Method::GET {
            return empty(StatusCode::METHOD_NOT_ALLOWED);
        }
        if req.uri().path() != "/" {
            return empty(StatusCode::NOT_FOUND);
        }
        let creds = match self.manager.credentials().await {
            Ok(creds) => creds,
            Err(e) => {
                tracing::warn!(error = %crate::error::chain(&e), "credential server: no credentials to serve");
                return empty(StatusCode::INTERNAL_SERVER_ERROR);
            }
        };
        let Some(body) = container_json(&creds) else {
            tracing::warn!(
                "credential server: the credentials are long-lived keys, which the container \
                 format cannot carry: serve temporary credentials (a role)"
            );
            return empty(StatusCode::INTERNAL_SERVER_ERROR);
        };
        tracing::debug!("credential server: served credentials");
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        no_store(resp)
    }
}

/// The container-credentials JSON, as the ECS agent writes it; `None` for
/// credentials without a session token or an expiry.
fn container_json(creds: &aws_credential_types::Credentials) -> Option<String> {
    let token = creds.session_token()?;
    let expiration = aws_smithy_types::DateTime::from(creds.expiry()?)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()?;
    let mut out = String::with_capacity(2048);
    let mut object = aws_smithy_json::serialize::JsonObjectWriter::new(&mut out);
    object.key("AccessKeyId").string(creds.access_key_id());
    object
        .key("SecretAccessKey")
        .string(creds.secret_access_key());
    object.key("Token").string(token);
    object.key("Expiration").string(&expiration);
    if let Some(account) = creds.account_id() {
        object.key("AccountId").string(account.as_str());
    }
    object.finish();
    Some(out)
}

/// 256 bits from the operating system's random source, as hex.
fn random_token() -> std::result::Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random source: {e}"))?;
    Ok(hex::encode(bytes))
}

/// Equal lengths and bytes, in a time that does not depend on where they
/// differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_of_hex_and_differ() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_compare_by_every_byte() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn only_temporary_credentials_have_the_container_form() {
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2_000_000_000);
        let temp =
            aws_credential_types::Credentials::new("AKIA", "s", Some("tok".into()), Some(t), "t");
        let json: serde_json::Value =
            serde_json::from_str(&container_json(&temp).unwrap()).unwrap();
        assert_eq!(json["Token"], "tok");
        assert_eq!(json["Expiration"], "2033-05-18T03:33:20Z");
        let long = aws_credential_types::Credentials::new("AKIA", "s", None, None, "t");
        assert!(container_json(&long).is_none());
    }
}
