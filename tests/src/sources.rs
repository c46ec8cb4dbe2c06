//! Credential sources as a test counts them: loopback servers that play the
//! ECS container-credentials endpoint, EC2 instance metadata (`IMDSv2`) and
//! the SSO portal, each counting what it is asked; a `credential_process`
//! script that appends to a counter file; IAM users with keys in moto, so
//! every source hands out a distinct principal.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A key pair of an IAM user made in moto, and its principal ARN.
#[derive(Debug, Clone)]
pub struct User {
    /// The access key id.
    pub key_id: String,
    /// The secret access key.
    pub secret: String,
    /// `arn:aws:iam::123456789012:user/NAME`.
    pub arn: String,
}

/// Makes an IAM user with an access key in moto (a fresh, unique name).
///
/// # Panics
/// If moto refuses.
pub async fn iam_user(prefix: &str) -> User {
    iam_user_with_policy(prefix, None).await.1
}

/// Makes an IAM user with an access key in moto, and an inline policy when
/// one is given (for tests where moto enforces IAM auth): its name, and
/// the user.
///
/// # Panics
/// If moto refuses.
pub async fn iam_user_with_policy(prefix: &str, policy: Option<&str>) -> (String, User) {
    let bsm = crate::manager(&crate::moto().endpoint()).await;
    let name = crate::unique(prefix);
    let iam = bsm.iam_client();
    let user = iam.create_user().user_name(&name).send().await.unwrap();
    if let Some(policy) = policy {
        iam.put_user_policy()
            .user_name(&name)
            .policy_name("test-policy")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
    }
    let key = iam
        .create_access_key()
        .user_name(&name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let user = User {
        key_id: key.access_key_id,
        secret: key.secret_access_key,
        arn: user.user.unwrap().arn,
    };
    (name, user)
}

/// RFC 3339, as every credentials format here writes times.
///
/// # Panics
/// For a time outside what RFC 3339 can write.
#[must_use]
pub fn rfc3339(t: SystemTime) -> String {
    bsm::aws_smithy_types::DateTime::from(t)
        .fmt(bsm::aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

/// An RFC 3339 time, as STS and the credential formats write them.
///
/// # Panics
/// If `text` is not one.
#[must_use]
pub fn parse_time(text: &str) -> SystemTime {
    let dt = bsm::aws_smithy_types::DateTime::from_str(
        text,
        bsm::aws_smithy_types::date_time::Format::DateTime,
    )
    .unwrap();
    SystemTime::try_from(dt).unwrap()
}

/// One request a [`FakeServer`] received.
#[derive(Debug, Clone)]
pub struct Hit {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Every header, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl Hit {
    /// The value of header `name` (lower-case), if sent.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Hit) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync;

/// A loopback HTTP server that answers with a handler and keeps every
/// request. Stops when dropped.
pub struct FakeServer {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeServer {
    /// Starts a server on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start(
        handler: impl Fn(&Hit) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync + 'static,
    ) -> Self {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_hits = Arc::clone(&hits);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                let _ = ready_tx.send(listener.local_addr().expect("local addr"));
                loop {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        _ = &mut stopped => return,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let (hits, handler) = (Arc::clone(&thread_hits), Arc::clone(&handler));
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                            let (hits, handler) = (Arc::clone(&hits), Arc::clone(&handler));
                            async move {
                                use http_body_util::BodyExt as _;
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(http_body_util::Collected::to_bytes)
                                    .unwrap_or_default();
                                let hit = Hit {
                                    method: parts.method.to_string(),
                                    path: parts
                                        .uri
                                        .path_and_query()
                                        .map_or("/", |p| p.as_str())
                                        .to_owned(),
                                    headers: parts
                                        .headers
                                        .iter()
                                        .map(|(k, v)| {
                                            (
                                                k.as_str().to_owned(),
                                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                            )
                                        })
                                        .collect(),
                                    body: String::from_utf8_lossy(&body).into_owned(),
                                };
                                let (status, headers, body) = handler(&hit);
                                hits.lock().unwrap().push(hit);
                                let mut resp = Response::new(Full::new(Bytes::from(body)));
                                *resp.status_mut() =
                                    hyper::StatusCode::from_u16(status).expect("a valid status");
                                for (k, v) in headers {
                                    resp.headers_mut()
                                        .insert(k, v.parse().expect("a valid header value"));
                                }
                                Ok::<_, std::convert::Infallible>(resp)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        let addr = ready_rx.recv().expect("the server reports its address");
        Self {
            addr,
            hits,
            _stop: stop,
        }
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    ///
    /// # Panics
    /// If the lock was poisoned.
    #[must_use]
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// How many requests had this method and a path starting with `prefix`.
    #[must_use]
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.hits()
            .iter()
            .filter(|h| h.method == method && h.path.starts_with(prefix))
            .count()
    }

    /// The ECS container-credentials endpoint: any GET with the right
    /// `Authorization` header gets `user`'s keys, valid until `expiration`.
    #[must_use]
    pub fn container(user: &User, token: &str, expiration: SystemTime) -> Self {
        let body = serde_json::json!({
            "AccessKeyId": user.key_id,
            "SecretAccessKey": user.secret,
            "Token": "container-session-token",
            "Expiration": rfc3339(expiration),
        })
        .to_string();
        let token = token.to_owned();
        Self::start(move |hit| {
            let authorized = hit
                .headers
                .iter()
                .any(|(k, v)| k == "authorization" && *v == token);
            if authorized {
                (
                    200,
                    vec![("content-type", "application/json".into())],
                    body.clone(),
                )
            } else {
                (401, vec![], String::new())
            }
        })
    }

    /// EC2 instance metadata, `IMDSv2`: a session token from
    /// `PUT /latest/api/token`, the role name, then `user`'s keys, valid
    /// until `expiration`.
    #[must_use]
    pub fn imds(user: &User, expiration: SystemTime) -> Self {
        let body = serde_json::json!({
            "Code": "Success",
            "LastUpdated": rfc3339(SystemTime::now()),
            "Type": "AWS-HMAC",
            "AccessKeyId": user.key_id,
            "SecretAccessKey": user.secret,
            "Token": "imds-session-token",
            "Expiration": rfc3339(expiration),
        })
        .to_string();
        Self::start(move |hit| match (hit.method.as_str(), hit.path.as_str()) {
            ("PUT", "/latest/api/token") => (
                200,
                vec![("x-aws-ec2-metadata-token-ttl-seconds", "21600".into())],
                "imds-api-token".into(),
            ),
            ("GET", "/latest/meta-data/iam/security-credentials/") => {
                (200, vec![], "bsm-instance-role".into())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/bsm-instance-role") => {
                (200, vec![], body.clone())
            }
            _ => (404, vec![], String::new()),
        })
    }

    /// The SSO portal's `GetRoleCredentials`: `user`'s keys, valid until
    /// `expiration`, for the right bearer token.
    ///
    /// # Panics
    /// If `expiration` is before 1970.
    #[must_use]
    pub fn sso_portal(user: &User, access_token: &str, expiration: SystemTime) -> Self {
        let millis = expiration
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let body = serde_json::json!({
            "roleCredentials": {
                "accessKeyId": user.key_id,
                "secretAccessKey": user.secret,
                "sessionToken": "sso-session-token",
                "expiration": millis,
            }
        })
        .to_string();
        let token = access_token.to_owned();
        Self::start(move |hit| {
            let authorized = hit
                .headers
                .iter()
                .any(|(k, v)| k == "x-amz-sso_bearer_token" && *v == token);
            if hit.path.starts_with("/federation/credentials") && authorized {
                (
                    200,
                    vec![("content-type", "application/json".into())],
                    body.clone(),
                )
            } else {
                (401, vec![], String::new())
            }
        })
    }
}

/// A `credential_process` command: a shell script that appends a line to
/// `counter` each time it runs and prints `user`'s keys (with
/// `Expiration` when given).
///
/// # Panics
/// If the files cannot be written.
#[must_use]
pub fn process_script(
    dir: &Path,
    user: &User,
    expiration: Option<SystemTime>,
) -> (PathBuf, PathBuf) {
    let counter = dir.join(crate::unique("process-runs"));
    let script = dir
        .join(crate::unique("credential-process"))
        .with_extension("sh");
    let mut json = serde_json::json!({
        "Version": 1,
        "AccessKeyId": user.key_id,
        "SecretAccessKey": user.secret,
    });
    if let Some(t) = expiration {
        json["Expiration"] = rfc3339(t).into();
        json["SessionToken"] = "process-session-token".into();
    }
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\ncat <<'EOF'\n{json}\nEOF\n",
            counter.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    (script, counter)
}

/// How many lines a counter file has (0 when it does not exist).
#[must_use]
pub fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// An hour from now: what the servers above hand out by default.
#[must_use]
pub fn in_an_hour() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}
