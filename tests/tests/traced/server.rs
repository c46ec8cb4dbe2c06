//! The loopback credential server (`SessionManager::serve_credentials`):
//! boto3, the AWS CLI and a Rust program using aws-config, as children,
//! read a refreshing role's credentials from it across three refreshes; a
//! request with a missing or wrong token, a foreign `Host` or after the
//! server stopped is refused, with nothing secret in the answer or the logs.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use bsm_tests::{OffsetClock, Proxy, capture, isolate, manager_with_time, moto, venv_bin};

const ROLE: &str = "arn:aws:iam::123456789012:role/bsm-served";

/// One HTTP/1.1 GET by hand (so that any `Host` and token can be sent):
/// the status and the body.
fn get(addr: SocketAddr, host: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token
        .map(|t| format!("Authorization: {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// What each kind of child says its principal is, reading from `server`.
fn children(server: &bsm::CredentialServer) -> Vec<(&'static str, String)> {
    let run = |mut cmd: Command| {
        isolate(&mut cmd);
        server.env().apply(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            cmd.get_program().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let mut boto3 = Command::new(venv_bin("python"));
    boto3.args([
        "-c",
        "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])",
    ]);
    let mut cli = Command::new(venv_bin("aws"));
    cli.args([
        "sts",
        "get-caller-identity",
        "--output",
        "text",
        "--query",
        "Arn",
    ]);
    let rust = Command::new(env!("CARGO_BIN_EXE_sdk_probe"));
    vec![
        ("boto3", run(boto3)),
        ("aws CLI", run(cli)),
        ("aws-config", run(rust)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_read_a_refreshing_role_across_three_refreshes() {
    let proxy = Proxy::start(moto().addr());
    // The manager's clock moves with real time plus an offset the test
    // jumps: each jump puts the role inside its refresh window.
    let clock = OffsetClock::default();
    let bsm = manager_with_time(&proxy.endpoint(), clock.clone(), |b| b).await;
    let role = bsm
        .assume_role(ROLE)
        .role_session_name("served")
        .duration(Duration::from_secs(900))
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    let server = role.serve_credentials(([127, 0, 0, 1], 0)).await.unwrap();
    let want = "arn:aws:sts::123456789012:assumed-role/bsm-served/served";
    for round in 0..=3 {
        if round > 0 {
            // Past the point where the identity cache asks the provider,
            // still valid: the next request starts a refresh.
            clock.skip(Duration::from_secs(760));
        }
        for (child, arn) in tokio::task::block_in_place(|| children(&server)) {
            assert_eq!(arn, want, "{child}, round {round}");
        }
        assert!(
            bsm_tests::eventually(Duration::from_secs(20), || proxy.count("AssumeRole")
                == round + 1)
            .await,
            "round {round}: {} AssumeRole",
            proxy.count("AssumeRole")
        );
    }
    println!(
        "3 refreshes: {} AssumeRole for 12 children (boto3, AWS CLI, aws-config x 4)",
        proxy.count("AssumeRole")
    );
    assert_eq!(proxy.count("AssumeRole"), 4, "refreshes + 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_nothing_secret_in_answer_or_logs() {
    let captured = capture::global();
    let bsm = bsm_tests::manager(&moto().endpoint()).await;
    let role = bsm
        .assume_role(ROLE)
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    let server = role.serve_credentials(([127, 0, 0, 1], 0)).await.unwrap();
    let addr = server.local_addr();
    let host = addr.to_string();
    let token = server.authorization_token().to_owned();
    let real_token = token.clone();
    assert_eq!(token.len(), 64, "256 bits, as hex");
    assert!(
        !format!("{server:?}").contains(&token),
        "Debug hides the token"
    );

    let ok = tokio::task::spawn_blocking({
        let (host, token) = (host.clone(), token.clone());
        move || get(addr, &host, Some(&token)).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(ok.0, 200, "{ok:?}");
    let json: serde_json::Value = serde_json::from_str(&ok.1).unwrap();
    let secret = json["SecretAccessKey"].as_str().unwrap().to_owned();
    for key in [
        "AccessKeyId",
        "SecretAccessKey",
        "Token",
        "Expiration",
        "AccountId",
    ] {
        assert!(json[key].is_string(), "{key} in {json}");
    }

    let wrong = "0".repeat(64);
    let refusals = [
        ("no token", host.clone(), None, 401),
        ("a wrong token", host.clone(), Some(wrong.as_str()), 403),
        (
            "a token one byte short",
            host.clone(),
            Some(&token[..63]),
            403,
        ),
        (
            "another host (DNS rebinding)",
            format!("evil.example:{}", addr.port()),
            Some(token.as_str()),
            403,
        ),
        (
            "localhost by name",
            format!("localhost:{}", addr.port()),
            Some(token.as_str()),
            403,
        ),
    ];
    for (what, host, token, want) in refusals {
        let token = token.map(str::to_owned);
        let (status, body) =
            tokio::task::spawn_blocking(move || get(addr, &host, token.as_deref()).unwrap())
                .await
                .unwrap();
        assert_eq!(status, want, "{what}");
        assert!(body.is_empty(), "{what}: no detail in the answer: {body}");
    }
    assert!(
        serve_on("0.0.0.0:0", &role).await.is_err(),
        "only loopback addresses"
    );

    server.shutdown().await;
    let after = tokio::task::spawn_blocking(move || get(addr, &host, Some(&token)))
        .await
        .unwrap();
    assert!(after.is_err(), "refused once stopped: {after:?}");

    let events = captured.events();
    let this_server = addr.to_string();
    let refused = events
        .iter()
        .filter(|e| {
            e.field("server") == Some(this_server.as_str())
                && e.field("message").is_some_and(|m| m.contains("refused"))
        })
        .count();
    assert_eq!(refused, 5, "each refusal is logged, naming this server");
    let logs: Vec<String> = events.iter().map(capture::Event::text).collect();
    for line in &logs {
        assert!(!line.contains(&secret), "a secret key in the logs: {line}");
        assert!(!line.contains(&real_token), "the token in the logs: {line}");
        assert!(!line.contains(&wrong), "a wrong token in the logs: {line}");
    }
}

async fn serve_on(addr: &str, role: &bsm::SessionManager) -> bsm::Result<bsm::CredentialServer> {
    role.serve_credentials(addr.parse::<SocketAddr>().unwrap())
        .await
}

/// Reads one HTTP/1.1 answer from a kept-alive connection: the head (lower
/// case) and the body, by its `Content-Length`.
fn read_answer(stream: &mut TcpStream) -> std::io::Result<(String, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok((head, String::from_utf8_lossy(&body).into_owned()))
}

/// How long until the server closes `stream` (read returns 0 or fails),
/// waiting at most `limit`; `None` if it stays open.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = std::time::Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => Some(start.elapsed()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(start.elapsed()),
        _ => None,
    }
}

async fn served_role() -> (bsm::SessionManager, bsm::CredentialServer) {
    let bsm = bsm_tests::manager(&moto().endpoint()).await;
    let role = bsm
        .assume_role(ROLE)
        .auto_refresh(true)
        .send()
        .await
        .unwrap();
    let server = role.serve_credentials(([127, 0, 0, 1], 0)).await.unwrap();
    (role, server)
}

fn request(stream: &mut TcpStream, host: &str, token: &str) {
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n\r\n"
    )
    .unwrap();
}

/// A connection that never sends a request, or goes quiet after one, is
/// closed (10 s): no local user can hold connections open for ever. The
/// answer says no cache may keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_connections_are_closed_and_answers_are_not_cached() {
    let (_role, server) = served_role().await;
    let (addr, host, token) = (
        server.local_addr(),
        server.local_addr().to_string(),
        server.authorization_token().to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let mut silent = TcpStream::connect(addr).unwrap();
        let mut kept = TcpStream::connect(addr).unwrap();
        request(&mut kept, &host, &token);
        let (head, body) = read_answer(&mut kept).unwrap();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("cache-control: no-store"), "{head}");
        assert!(body.contains("SecretAccessKey"));
        let limit = Duration::from_secs(20);
        let idle = std::thread::spawn(move || closed_within(&mut kept, limit));
        let silent_for = closed_within(&mut silent, limit).expect("a silent connection is closed");
        let idle_for = idle.join().unwrap().expect("an idle connection is closed");
        println!("closed after {silent_for:?} silent, {idle_for:?} idle");
        for t in [silent_for, idle_for] {
            assert!(t >= Duration::from_secs(5), "not before the timeout: {t:?}");
        }
    })
    .await
    .unwrap();
}

/// Once the server is stopped, a connection a client kept alive gets no
/// more credentials: it is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_closed_when_the_server_stops() {
    let (_role, server) = served_role().await;
    let (addr, host, token) = (
        server.local_addr(),
        server.local_addr().to_string(),
        server.authorization_token().to_owned(),
    );
    let mut kept = tokio::task::spawn_blocking({
        let (host, token) = (host.clone(), token.clone());
        move || {
            let mut kept = TcpStream::connect(addr).unwrap();
            request(&mut kept, &host, &token);
            let (head, _) = read_answer(&mut kept).unwrap();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            kept
        }
    })
    .await
    .unwrap();
    server.shutdown().await;
    tokio::task::spawn_blocking(move || {
        kept.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = write!(
            kept,
            "GET / HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n\r\n"
        );
        let answer = read_answer(&mut kept);
        assert!(answer.is_err(), "served after shutdown: {answer:?}");
    })
    .await
    .unwrap();
}

/// At most 64 connections are served at once: a 65th waits (it is not
/// answered while 64 idle ones are open) and is answered as soon as one
/// of them closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_64_connections_are_served_at_once() {
    let (_role, server) = served_role().await;
    let (addr, host, token) = (
        server.local_addr(),
        server.local_addr().to_string(),
        server.authorization_token().to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let mut idle: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(addr).unwrap()).collect();
        // Each of the 64 is taken in (a request on it is answered at once).
        request(&mut idle[0], &host, &token);
        assert!(
            read_answer(&mut idle[0])
                .unwrap()
                .0
                .starts_with("http/1.1 200")
        );
        let mut waiting = TcpStream::connect(addr).unwrap();
        request(&mut waiting, &host, &token);
        waiting
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let early = read_answer(&mut waiting);
        assert!(early.is_err(), "the 65th was served at once: {early:?}");
        drop(idle.pop());
        waiting
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (head, _) = read_answer(&mut waiting).expect("served once a slot is free");
        assert!(head.starts_with("http/1.1 200"), "{head}");
    })
    .await
    .unwrap();
}
