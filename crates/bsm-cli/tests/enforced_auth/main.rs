//! The tests that need moto to enforce IAM auth (a key it does not know, or
//! a wrong signature, is refused): the account alias denied, and the
//! rotation of stored keys (the old key refused afterwards). One binary,
//! so one moto of their own: the auth switch is global to an emulator. The
//! tests take turns; each starts with auth off, sets up its users, then
//! turns it on. (In bsm-cli for the `bsm` binary the rotation tests run.)

mod alias;
mod rotation;

/// This test's turn: auth is off until it calls [`enforce_auth_now`].
pub async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let guard = TURN.lock().await;
    reset_auth(1_000_000_000);
    guard
}

/// moto enforces IAM auth from the next request on.
pub fn enforce_auth_now() {
    reset_auth(0);
}

/// POSTs a count to /moto-api/reset-auth: moto enforces IAM auth after that
/// many more requests.
fn reset_auth(after: u64) {
    use std::io::{Read, Write};
    let body = after.to_string();
    let mut conn = std::net::TcpStream::connect(bsm_tests::moto().addr()).unwrap();
    write!(
        conn,
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        bsm_tests::moto().addr(),
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200"),
        "{reply}"
    );
}
