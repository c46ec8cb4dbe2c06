//! A recording HTTP proxy on 127.0.0.1 in front of the emulator: every
//! request that passes is kept (method, path, headers, body, and the
//! response's status and body), so a test can
//! count and inspect what the server received, per test, while the tests of
//! one binary share a moto server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

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
    /// The status the client got.
    pub status: u16,
    /// The response body the client got, as text (lossy).
    pub response: String,
}

impl Recorded {
    /// The AWS operation: `Action=` of a query-protocol body or URL, the
    /// `X-Amz-Target` of a JSON protocol, else `METHOD path`.
    #[must_use]
    pub fn action(&self) -> String {
        if let Some(a) = self.param("Action") {
            return a;
        }
        if let Some((_, t)) = self.headers.iter().find(|(k, _)| k == "x-amz-target") {
            return t.rsplit('.').next().unwrap_or(t).to_owned();
        }
        format!("{} {}", self.method, self.path)
    }

    /// A form parameter of the body or the query string, URL-decoded.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<String> {
        let query = self.path.split_once('?').map_or("", |(_, q)| q);
        self.body
            .split('&')
            .chain(query.split('&'))
            .find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == name).then(|| url_decode(v))
            })
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

/// A proxy to one upstream, with its log of requests. Stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (e.g. moto's address) on a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    #[must_use]
    pub fn start(upstream: SocketAddr) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_log = Arc::clone(&log);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(serve(upstream, thread_log, ready_tx, stopped));
        });
        let addr = ready_rx
            .recv()
            .expect("the proxy thread reports its address");
        Self {
            addr,
            log,
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
        self.log.lock().unwrap().clone()
    }

    /// How many requests had this [`action`](Recorded::action).
    #[must_use]
    pub fn count(&self, action: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.action() == action)
            .count()
    }

    /// Forgets what was recorded.
    ///
    /// # Panics
    /// If the log's lock was poisoned.
    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

async fn serve(
    upstream: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
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
        let (log, client) = (Arc::clone(&log), client.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                forward(req, upstream, Arc::clone(&log), client.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(
    req: Request<Incoming>,
    upstream: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    client: Client<HttpConnector, Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (mut parts, body) = req.into_parts();
    let body = collect(body).await;
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut record = Recorded {
        method: parts.method.to_string(),
        path: path.clone(),
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
        status: 0,
        response: String::new(),
    };
    parts.uri = format!("http://{upstream}{path}")
        .parse()
        .expect("a valid upstream URI");
    let (status, headers, body) = match client
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
    };
    record.status = status.as_u16();
    record.response = String::from_utf8_lossy(&body).into_owned();
    log.lock().unwrap().push(record);
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    Ok(resp)
}

async fn collect(body: Incoming) -> Bytes {
    body.collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default()
}
