//! `aws login` sessions as the tests meet them: a cached login token written
//! as the AWS CLI v2 writes it (`<cache>/<sha256 of the session ARN>.json`,
//! read by aws-config and botocore alike), and a loopback stand-in of AWS
//! Sign-In's `CreateOAuth2Token` that checks the refresh's `DPoP` proof
//! (RFC 9449) against the public half of the cached key before it answers.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use p256::ecdsa::signature::Verifier as _;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use sha2::Digest as _;

use crate::sources::{FakeServer, Hit, User, rfc3339};

/// The client id `aws login` registers (same-device flow).
pub const CLIENT_ID: &str = "arn:aws:signin:::devtools/same-device";

/// The session's `DPoP` key, as `aws login` caches it (SEC1 PEM of a P-256
/// key). A fixture made for these tests, nobody's secret.
pub const DPOP_KEY: &str = "-----BEGIN EC PRIVATE KEY-----\n\
MHcCAQEEILJCSkt4r/WFzodCeVJQ2bnk8HIBNFEavbTgeLpVAY87oAoGCCqGSM49\n\
AwEHoUQDQgAEizGb9dFMIG/fqBKgiI+K5BpfJsZKpY6jNe2BrTY/OkUu6D72XWgU\n\
b7GanQ+R2Rxe/llAmQraWeJ4WAnoGPpNNQ==\n\
-----END EC PRIVATE KEY-----\n";

/// Where the token of `session_arn` lives in the login cache `dir`.
#[must_use]
pub fn token_path(dir: &Path, session_arn: &str) -> PathBuf {
    let digest = sha2::Sha256::digest(session_arn.as_bytes());
    dir.join(format!("{}.json", hex::encode(digest)))
}

/// Writes the cached token of `session_arn` into `dir` (mode 0600), as
/// `aws login` leaves it: `user`'s keys (account `account_id`) valid until
/// `expires_at`, with `refresh_token` and [`DPOP_KEY`]. Returns its path.
///
/// # Panics
/// If the file cannot be written.
#[must_use]
pub fn write_token(
    dir: &Path,
    session_arn: &str,
    user: &User,
    account_id: &str,
    expires_at: SystemTime,
    refresh_token: &str,
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = token_path(dir, session_arn);
    let token = serde_json::json!({
        "accessToken": {
            "accessKeyId": user.key_id,
            "secretAccessKey": user.secret,
            "sessionToken": "login-session-token",
            "accountId": account_id,
            "expiresAt": rfc3339(expires_at),
        },
        "tokenType": "aws_sigv4",
        "refreshToken": refresh_token,
        "idToken": "login-id-token",
        "clientId": CLIENT_ID,
        "dpopKey": DPOP_KEY,
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&token).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// What the stand-in answers a refresh whose proof and body check out.
#[derive(Debug, Clone)]
pub enum Answer {
    /// New credentials: `user`'s keys for `expires_in` seconds, and a new
    /// refresh token.
    Token {
        /// Whose keys.
        user: User,
        /// Seconds they last.
        expires_in: u64,
        /// The refresh token that replaces the old one.
        refresh_token: String,
    },
    /// `AccessDeniedException` with this `error` code (`TOKEN_EXPIRED`,
    /// `USER_CREDENTIALS_CHANGED`, ...).
    Refuse(&'static str),
}

/// The stand-in of `POST /v1/token`: a request is answered with `answer`
/// only if its body asks to refresh `refresh_token` for [`CLIENT_ID`] and
/// its `DPoP` header is a proof signed by [`DPOP_KEY`] for this very URL;
/// anything else gets a 400 `ValidationException` naming what was wrong
/// (also printed to the test's stderr).
#[must_use]
pub fn stand_in(refresh_token: &str, answer: Answer) -> FakeServer {
    let refresh_token = refresh_token.to_owned();
    FakeServer::start(move |hit| {
        if let Err(why) = check(hit, &refresh_token) {
            eprintln!("sign-in stand-in refused the request: {why}");
            let body = serde_json::json!({ "message": why }).to_string();
            return (
                400,
                vec![("x-amzn-errortype", "ValidationException".into())],
                body,
            );
        }
        match &answer {
            Answer::Token {
                user,
                expires_in,
                refresh_token,
            } => (
                200,
                vec![("content-type", "application/json".into())],
                serde_json::json!({
                    "accessToken": {
                        "accessKeyId": user.key_id,
                        "secretAccessKey": user.secret,
                        "sessionToken": "refreshed-login-session-token",
                    },
                    "tokenType": "aws_sigv4",
                    "expiresIn": expires_in,
                    "refreshToken": refresh_token,
                })
                .to_string(),
            ),
            Answer::Refuse(code) => (
                400,
                vec![
                    ("x-amzn-errortype", "AccessDeniedException".into()),
                    ("content-type", "application/json".into()),
                ],
                serde_json::json!({ "error": code, "message": "refused by the stand-in" })
                    .to_string(),
            ),
        }
    })
}

/// The request's body and `DPoP` proof, checked.
fn check(hit: &Hit, refresh_token: &str) -> Result<(), String> {
    if hit.method != "POST" || hit.path != "/v1/token" {
        return Err(format!(
            "{} {} is not CreateOAuth2Token",
            hit.method, hit.path
        ));
    }
    let body: serde_json::Value =
        serde_json::from_str(&hit.body).map_err(|e| format!("body is not JSON: {e}"))?;
    for (key, want) in [
        ("clientId", CLIENT_ID),
        ("grantType", "refresh_token"),
        ("refreshToken", refresh_token),
    ] {
        if body[key] != want {
            return Err(format!("body's {key} is {}, not {want}", body[key]));
        }
    }
    let host = hit.header("host").ok_or("no Host header")?;
    check_proof(
        hit.header("dpop").ok_or("no DPoP header")?,
        &format!("http://{host}/v1/token"),
    )
}

/// RFC 9449 section 4.3, the checks a server makes of a proof: a JWT of
/// type `dpop+jwt`, ES256, whose `jwk` is the cached key's public half,
/// whose `htm`/`htu` are this request, `iat` recent and `jti` present, and
/// whose signature verifies.
fn check_proof(proof: &str, url: &str) -> Result<(), String> {
    let decode = |part: &str| {
        base64_simd::URL_SAFE_NO_PAD
            .decode_to_vec(part)
            .map_err(|e| format!("a part of the proof is not base64url: {e}"))
    };
    let parts: Vec<&str> = proof.split('.').collect();
    let [head, claims, signature] = parts[..] else {
        return Err(format!("the proof has {} parts, not 3", parts.len()));
    };
    let header: serde_json::Value = serde_json::from_slice(&decode(head)?)
        .map_err(|e| format!("the proof's header is not JSON: {e}"))?;
    let payload: serde_json::Value = serde_json::from_slice(&decode(claims)?)
        .map_err(|e| format!("the proof's claims are not JSON: {e}"))?;

    let key = p256::SecretKey::from_sec1_pem(DPOP_KEY).map_err(|e| e.to_string())?;
    let point = key.public_key().to_encoded_point(false);
    let coordinate =
        |c: Option<&p256::FieldBytes>| c.map(|c| base64_simd::URL_SAFE_NO_PAD.encode_to_string(c));
    let want_header = serde_json::json!({
        "typ": "dpop+jwt",
        "alg": "ES256",
        "jwk": { "kty": "EC", "crv": "P-256", "x": coordinate(point.x()), "y": coordinate(point.y()) },
    });
    if header != want_header {
        return Err(format!("the proof's header is {header}, not {want_header}"));
    }
    if payload["htm"] != "POST" || payload["htu"] != url {
        return Err(format!(
            "the proof is for {} {}, not POST {url}",
            payload["htm"], payload["htu"]
        ));
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let iat = payload["iat"].as_u64().ok_or("the proof has no iat")?;
    if iat.abs_diff(now) > 300 {
        return Err(format!(
            "the proof's iat {iat} is not within 5 minutes of {now}"
        ));
    }
    if payload["jti"].as_str().is_none_or(str::is_empty) {
        return Err("the proof has no jti".to_owned());
    }
    let signature = p256::ecdsa::Signature::from_slice(&decode(signature)?)
        .map_err(|e| format!("the proof's signature is not ES256: {e}"))?;
    p256::ecdsa::VerifyingKey::from(key.public_key())
        .verify(format!("{head}.{claims}").as_bytes(), &signature)
        .map_err(|_| "the proof's signature does not verify with the cached key".to_owned())
}
