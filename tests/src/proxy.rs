//! A recording, fault-injecting HTTP proxy on 127.0.0.1 in front of the
//! emulator. Every request that passes is kept (method, path, headers, body,
//! and the response's status and body), so a test can count and inspect what
//! the server received, per test, while the tests of one binary share a moto
//! server. A request is kept when it has been read, before it is answered: a
//! client that gives up on a slow answer has still sent it. Faults (503,
//! throttling, connection reset, a stall) can be set for the next N requests
//! of an operation, or until cleared.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// One request as the proxy received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Every header, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body, as text (lossy).
    pub body: String,
    /// The status the client got (0: the connection was reset, the request
    /// was stalled, or no answer was sent: still in flight, or the client
    /// gave up first).
    pub status: u16,
    /// The response body the client got, as text (lossy).
    pub response: String,
    /// Which request this is, to fill in its answer when it comes.
    id: u64,
}

impl Recorded {
    /// The AWS operation: `Action=` of a query-protocol body or URL, the
    /// `X-Amz-Target` of a JSON protocol, else `METHOD path`.
    #[must_use]
    pub fn action(&self) -> String {
        action_of(&self.method, &self.path, &self.headers, &self.body)
    }

    /// A form parameter of the body or the query string, URL-decoded.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<String> {
        param(&self.path, &self.body, name)
    }

    /// A header's value.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn action_of(method: &str, path: &str, headers: &[(String, String)], body: &str) -> String {
    if let Some(a) = param(path, body, "Action") {
        return a;
    }
    if let Some((_, t)) = headers.iter().find(|(k, _)| k == "x-amz-target") {
        return t.rsplit('.').next().unwrap_or(t).to_owned();
    }
    format!("{method} {path}")
}

fn param(path: &str, body: &str, name: &str) -> Option<String> {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    body.split('&').chain(query.split('&')).find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| url_decode(v))
    })
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the proxy does instead of (or before) forwarding a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `503 Service Unavailable`, no AWS error body.
    Unavailable,
    /// `400` with the query-protocol `Throttling` error (STS, IAM).
    Throttling,
    /// `503` with S3's `SlowDown` error.
    SlowDown,
    /// Close the connection without answering.
    Reset,
    /// Wait this long, then answer `200 stalled` (meant to be past the
    /// client's timeout).
    Stall(Duration),
    /// Wait this long, then answer `503`: a slow failing server.
    SlowUnavailable(Duration),
    /// Wait this long, then forward as usual: a slow working server.
    Delay(Duration),
    /// Forward at once, keep the answer (in the log, for the test to read)
    /// and give it to the client this much later: the server has done the
    /// work, the client does not know yet (a test kills it meanwhile).
    AnswerLate(Duration),
    /// Answer with this status and body (a malformed or truncated answer).
    Respond(u16, &'static str),
}

#[derive(Debug)]
struct Rule {
    /// An [`action`](Recorded::action), or `None` for every request.
    action: Option<String>,
    fault: Fault,
    /// How many more requests it applies to; `None`: until cleared.
    remaining: Option<usize>,
}

#[derive(Debug, Default)]
struct Shared {
    log: Mutex<Vec<Recorded>>,
    rules: Mutex<Vec<Rule>>,
    connections: std::sync::atomic::AtomicUsize,
    next_id: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn take_fault(&self, action: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap();
        let i = rules
            .iter()
            .position(|r| r.action.as_deref().is_none_or(|a| a == action))?;
        let fault = rules[i].fault;
        if let Some(n) = &mut rules[i].remaining {
            *n -= 1;
            if *n == 0 {
                rules.remove(i);
            }
        }
        Some(fault)
    }
}

/// A proxy to one upstream, with its log of requests. Stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (e.g. moto's address) on a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    #[must_use]
    pub fn start(upstream: SocketAddr) -> Self {
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(serve(upstream, thread_shared, ready_tx, stopped));
        });
        let addr = ready_rx
            .recv()
            .expect("the proxy thread reports its address");
        Self {
            addr,
            shared,
            _stop: stop,
        }
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far.
    ///
    /// # Panics
    /// If the log's lock was poisoned by a panicking proxy task.
    #[must_use]
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().unwrap().clone()
    }

    /// How many requests had this [`action`](Recorded::action).
    #[must_use]
    pub fn count(&self, action: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.action() == action)
            .count()
    }

    /// How many connections clients opened to the proxy so far.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets what was recorded.
    ///
    /// # Panics
    /// If the log's lock was poisoned.
    pub fn clear(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Applies `fault` to the next `n` requests of `action` (`None`: any).
    ///
    /// # Panics
    /// If the rules' lock was poisoned.
    pub fn fail_next(&self, action: Option<&str>, n: usize, fault: Fault) {
        let rule = Rule {
            action: action.map(str::to_owned),
            fault,
            remaining: Some(n),
        };
        self.shared.rules.lock().unwrap().push(rule);
    }

    /// Applies `fault` to every request of `action` (`None`: any) until
    /// [`clear_faults`](Self::clear_faults).
    ///
    /// # Panics
    /// If the rules' lock was poisoned.
    pub fn fail_all(&self, action: Option<&str>, fault: Fault) {
        let rule = Rule {
            action: action.map(str::to_owned),
            fault,
            remaining: None,
        };
        self.shared.rules.lock().unwrap().push(rule);
    }

    /// Removes every fault: requests pass again.
    ///
    /// # Panics
    /// If the rules' lock was poisoned.
    pub fn clear_faults(&self) {
        self.shared.rules.lock().unwrap().clear();
    }
}

async fn serve(
    upstream: SocketAddr,
    shared: Arc<Shared>,
    ready: std::sync::mpsc::Sender<SocketAddr>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let _ = ready.send(listener.local_addr().expect("local addr"));
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut stopped => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        shared
            .connections
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (shared, client) = (Arc::clone(&shared), client.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                forward(req, upstream, Arc::clone(&shared), client.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Returned to hyper to drop the connection without a response.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault injected: connection reset")
    }
}

impl std::error::Error for ResetConnection {}

async fn forward(
    req: Request<Incoming>,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    client: Client<HttpConnector, Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let (mut parts, body) = req.into_parts();
    let body = collect(body).await;
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let text = String::from_utf8_lossy(&body).into_owned();
    let action = action_of(parts.method.as_str(), &path, &headers, &text);
    let record = Recorded {
        method: parts.method.to_string(),
        path: path.clone(),
        headers,
        body: text,
        status: 0,
        response: String::new(),
        id: shared
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst),
    };
    // Logged now, answered below: a client whose attempt times out drops the
    // connection, and hyper then drops this future before the answer.
    let id = record.id;
    shared.log.lock().unwrap().push(record);
    let fault = shared.take_fault(&action);
    let canned = match fault {
        Some(Fault::Reset) => return Err(ResetConnection),
        Some(Fault::Stall(d)) => {
            tokio::time::sleep(d).await;
            return Ok(Response::new(Full::new(Bytes::from_static(b"stalled"))));
        }
        Some(Fault::Unavailable) => Some((503, "Service Unavailable".to_owned())),
        Some(Fault::SlowUnavailable(d)) => {
            tokio::time::sleep(d).await;
            Some((503, "Service Unavailable".to_owned()))
        }
        Some(Fault::Respond(status, body)) => Some((status, body.to_owned())),
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            None
        }
        Some(Fault::Throttling) => Some((
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
             <Message>Rate exceeded</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
                .to_owned(),
        )),
        Some(Fault::SlowDown) => Some((
            503,
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".to_owned(),
        )),
        Some(Fault::AnswerLate(_)) | None => None,
    };
    let (status, headers, body) = if let Some((status, body)) = canned {
        let status = hyper::StatusCode::from_u16(status).expect("a valid status");
        (status, hyper::HeaderMap::new(), Bytes::from(body))
    } else {
        parts.uri = format!("http://{upstream}{path}")
            .parse()
            .expect("a valid upstream URI");
        match client
            .request(Request::from_parts(parts, Full::new(body)))
            .await
        {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                (parts.status, parts.headers, collect(body).await)
            }
            Err(e) => (
                hyper::StatusCode::BAD_GATEWAY,
                hyper::HeaderMap::new(),
                Bytes::from(format!("proxy: upstream failed: {e}")),
            ),
        }
    };
    // Not found when the test cleared the log meanwhile.
    if let Some(record) = shared.log.lock().unwrap().iter_mut().rfind(|r| r.id == id) {
        record.status = status.as_u16();
        record.response = String::from_utf8_lossy(&body).into_owned();
    }
    if let Some(Fault::AnswerLate(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    // Hop-by-hop: moto's server closes every connection; the proxy keeps
    // its clients' connections open, as a real endpoint does, so a test can
    // see whether clients share a pool.
    for hop in ["connection", "keep-alive", "transfer-encoding"] {
        resp.headers_mut().remove(hop);
    }
    Ok(resp)
}

async fn collect(body: Incoming) -> Bytes {
    body.collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Instant;

    use super::*;

    /// A client that gives up on a slow answer has still sent its request:
    /// the proxy counts it (the slow STS tests rely on it).
    #[test]
    fn a_request_whose_client_gave_up_is_counted() {
        // Nothing is forwarded: the delay outlasts the client.
        let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], 9)));
        proxy.fail_next(None, 1, Fault::Delay(Duration::from_secs(30)));
        let mut conn = std::net::TcpStream::connect(proxy.addr).unwrap();
        let body = "Action=GetCallerIdentity&Version=2011-06-15";
        write!(
            conn,
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(conn.read(&mut [0; 16]).is_err(), "no answer yet");
        drop(conn);
        let deadline = Instant::now() + Duration::from_secs(10);
        while proxy.count("GetCallerIdentity") == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let requests = proxy.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        assert_eq!(requests[0].action(), "GetCallerIdentity");
        assert_eq!(requests[0].status, 0, "no answer was sent");
    }
}
