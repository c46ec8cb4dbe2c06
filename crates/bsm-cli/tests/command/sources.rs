//! Ways credentials arrive, through the `bsm` command, each compared with
//! botocore on the same files: `aws login` sessions (a cached token used as
//! it is; an expired one refreshed at a loopback stand-in of AWS Sign-In
//! that checks the `DPoP` proof, written back where boto3 then reads it; a
//! refused refresh and a missing token, each a one-line error that says to
//! run `aws login`; `aws sso login` for an SSO profile); a hint for each
//! kind of failure; `whoami --explain` for every source, each stand-in
//! counting what it is asked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use bsm_tests::sign_in::{self, Answer};
use bsm_tests::sources::{User, iam_user, in_an_hour, parse_time};
use bsm_tests::{isolate, moto, temp_dir, unique, venv_bin};

const ACCOUNT: &str = "123456789012";
const PROFILE: &str = "signed-in";

/// A config with one `aws login` profile, its login cache folder, and the
/// session ARN it names.
struct Login {
    dir: PathBuf,
    cache: PathBuf,
    arn: String,
}

impl Login {
    fn new(prefix: &str) -> Self {
        let dir = temp_dir(prefix);
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/{}", unique("console-user"));
        std::fs::write(
            dir.join("config"),
            format!("[profile {PROFILE}]\nlogin_session = {arn}\nregion = eu-west-3\n"),
        )
        .unwrap();
        std::fs::write(dir.join("credentials"), "").unwrap();
        let cache = dir.join("login-cache");
        Self { dir, cache, arn }
    }

    fn token(&self, user: &User, expires_at: SystemTime, refresh_token: &str) -> PathBuf {
        sign_in::write_token(
            &self.cache,
            &self.arn,
            user,
            ACCOUNT,
            expires_at,
            refresh_token,
        )
    }

    /// The files and the sign-in endpoint, for any client.
    fn env<'c>(&self, cmd: &'c mut Command, sign_in: &str) -> &'c mut Command {
        cmd.env("AWS_CONFIG_FILE", self.dir.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.join("credentials"))
            .env("AWS_LOGIN_CACHE_DIRECTORY", &self.cache)
            .env("AWS_ENDPOINT_URL_SIGNIN", sign_in)
    }

    /// `bsm --profile signed-in whoami --no-mask`: success, stdout, stderr.
    fn bsm_whoami(&self, sign_in: &str) -> (bool, String, String) {
        self.bsm_whoami_with(sign_in, &[])
    }

    /// The same with more options of `whoami`.
    fn bsm_whoami_with(&self, sign_in: &str, more: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
        isolate(&mut cmd);
        self.env(&mut cmd, sign_in)
            .args(["--profile", PROFILE, "--endpoint-url", &moto().endpoint()])
            .args(["whoami", "--no-mask"])
            .args(more);
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// boto3 on the same files: the principal and the region it resolves.
    fn boto3(&self, sign_in: &str) -> (String, String) {
        let mut cmd = Command::new(venv_bin("python"));
        isolate(&mut cmd);
        let out = self
            .env(&mut cmd, sign_in)
            .arg("-c")
            .arg(format!(
                "import boto3\n\
                 s = boto3.Session(profile_name='{PROFILE}')\n\
                 print(s.client('sts', endpoint_url='{}').get_caller_identity()['Arn'])\n\
                 print(s.region_name)\n",
                moto().endpoint()
            ))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "boto3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut lines = stdout.lines().map(str::to_owned);
        (lines.next().unwrap(), lines.next().unwrap())
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn token_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A valid cached token: bsm and botocore resolve the same principal and
/// region from it, and neither asks the sign-in service.
#[tokio::test]
async fn a_cached_login_session_resolves_as_botocore_resolves_it() {
    let user = iam_user("login-cached").await;
    let login = Login::new("bsm-login-cached");
    let path = login.token(&user, in_an_hour(), "refresh-cached");
    let before = std::fs::read(&path).unwrap();
    let stand_in = sign_in::stand_in("refresh-cached", Answer::Refuse("TOKEN_EXPIRED"));

    let (ok, stdout, stderr) = login.bsm_whoami(&stand_in.endpoint());
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("Principal Arn = {}\n", user.arn)),
        "{stdout}"
    );
    assert!(stdout.contains("AWS Region = eu-west-3"), "{stdout}");
    assert_eq!(
        login.boto3(&stand_in.endpoint()),
        (user.arn.clone(), "eu-west-3".to_owned()),
        "botocore resolves the same"
    );
    let (ok, stdout, stderr) = login.bsm_whoami_with(&stand_in.endpoint(), &["--explain"]);
    println!("--- bsm --profile {PROFILE} whoami --no-mask --explain\n{stdout}");
    assert!(ok, "{stderr}");
    let step = format!("Chain 1 = [{PROFILE}] aws login session {}", login.arn);
    assert!(stdout.lines().any(|l| l == step), "{stdout}");
    assert!(stdout.contains("Renew by themselves = yes"), "{stdout}");
    assert_eq!(stand_in.hits().len(), 0, "no refresh of a valid token");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the token is untouched"
    );
}

/// An expired token is refreshed once, with a `DPoP` proof the stand-in
/// verifies against the cached key; the new token is written back in the
/// format botocore reads, and boto3 (and bsm's next run) use it without
/// another refresh.
#[tokio::test]
async fn an_expired_login_session_is_refreshed_with_a_dpop_proof_and_written_back() {
    let (old, new) = (iam_user("login-old").await, iam_user("login-new").await);
    let login = Login::new("bsm-login-refresh");
    let path = login.token(
        &old,
        SystemTime::now() - Duration::from_secs(60),
        "refresh-old",
    );
    let stand_in = sign_in::stand_in(
        "refresh-old",
        Answer::Token {
            user: new.clone(),
            expires_in: 900,
            refresh_token: "refresh-new".to_owned(),
        },
    );

    let (ok, stdout, stderr) = login.bsm_whoami(&stand_in.endpoint());
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("Principal Arn = {}\n", new.arn)),
        "{stdout}"
    );
    let hits = stand_in.hits();
    assert_eq!(hits.len(), 1, "one refresh: {hits:?}");
    assert!(hits[0].header("dpop").is_some());

    let token = token_json(&path);
    assert_eq!(token["accessToken"]["accessKeyId"], new.key_id.as_str());
    assert_eq!(token["accessToken"]["accountId"], ACCOUNT);
    assert_eq!(token["refreshToken"], "refresh-new");
    assert_eq!(token["clientId"], sign_in::CLIENT_ID);
    assert_eq!(token["dpopKey"], sign_in::DPOP_KEY);
    let expires = parse_time(token["accessToken"]["expiresAt"].as_str().unwrap());
    let left = expires
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs();
    assert!((800..=900).contains(&left), "expires in {left} s, not ~900");
    #[cfg(unix)]
    assert_eq!(bsm_tests::mode(&path), 0o600);

    assert_eq!(
        login.boto3(&stand_in.endpoint()),
        (new.arn.clone(), "eu-west-3".to_owned()),
        "boto3 reads the written token"
    );
    let (ok, stdout, stderr) = login.bsm_whoami(&stand_in.endpoint());
    assert!(ok && stdout.contains(&new.arn), "{stderr}");
    assert_eq!(stand_in.hits().len(), 1, "neither refreshed again");
}

/// A refreshed token that cannot be written back (the file may not grow:
/// a full disk, as `RLIMIT_FSIZE` makes it) is said on stderr at once,
/// without `-v`: the next run would find the session gone.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_refreshed_login_token_that_cannot_be_saved_is_said() {
    use std::os::unix::process::CommandExt as _;
    let (old, new) = (
        iam_user("login-full-old").await,
        iam_user("login-full-new").await,
    );
    let login = Login::new("bsm-login-full");
    let _ = login.token(
        &old,
        SystemTime::now() - Duration::from_secs(60),
        "refresh-full",
    );
    let stand_in = sign_in::stand_in(
        "refresh-full",
        Answer::Token {
            user: new.clone(),
            expires_in: 900,
            refresh_token: "refresh-full-new".to_owned(),
        },
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    login
        .env(&mut cmd, &stand_in.endpoint())
        .args(["--profile", PROFILE, "--endpoint-url", &moto().endpoint()])
        .args(["whoami", "--no-mask"]);
    // SAFETY: between fork and exec only async-signal-safe calls.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &raw const limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the credentials in hand still work: {stderr}"
    );
    assert_eq!(stand_in.hits().len(), 1);
    assert!(
        stderr.contains("bsm: warning: failed to save refreshed Login token"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("refresh-full-new") && !stderr.contains(&new.secret),
        "{stderr}"
    );
}

/// A refresh the service refuses (the session ended), and a profile whose
/// token was never cached: each one error line, with a hint to run
/// `aws login` for that profile, no secret, and the token file untouched;
/// an SSO profile without a token gets `aws sso login`.
#[tokio::test]
async fn a_refused_or_missing_login_session_says_to_run_aws_login() {
    let user = iam_user("login-refused").await;
    let login = Login::new("bsm-login-refused");
    let path = login.token(
        &user,
        SystemTime::now() - Duration::from_secs(60),
        "refresh-refused",
    );
    let before = std::fs::read(&path).unwrap();
    let stand_in = sign_in::stand_in("refresh-refused", Answer::Refuse("TOKEN_EXPIRED"));

    let (ok, stdout, stderr) = login.bsm_whoami(&stand_in.endpoint());
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert_eq!(stand_in.hits().len(), 1, "asked once");
    assert!(
        stderr.contains(&format!("to fix: run `aws login --profile {PROFILE}`")),
        "{stderr}"
    );
    assert!(stderr.contains("Your session has expired"), "{stderr}");
    for secret in [
        user.secret.as_str(),
        "refresh-refused",
        "login-session-token",
    ] {
        assert!(!stderr.contains(secret), "{stderr}");
    }
    assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    assert!(
        !stderr.contains("warning"),
        "no SDK warnings by default: {stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing lost");

    // The lived-in home's `lived-in-login` profile has no cached token.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    let out = cmd
        .env("AWS_ENDPOINT_URL_SIGNIN", stand_in.endpoint())
        .args(["--profile", "lived-in-login", "whoami"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("to fix: run `aws login --profile lived-in-login`"),
        "{stderr}"
    );
    assert_eq!(stand_in.hits().len(), 1, "no request without a token");

    // The same for its SSO profile: the hint names the SSO command.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    let out = cmd
        .args(["--profile", "lived-in-sso", "whoami"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("to fix: run `aws sso login --profile lived-in-sso`"),
        "{stderr}"
    );
}

/// `bsm whoami --explain` on `args` with `env`: its stdout (it must succeed,
/// and never print a secret it was handed).
fn explain(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    cmd.env("AWS_ENDPOINT_URL", moto().endpoint());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .args(args)
        .args(["whoami", "--explain"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("--- bsm {} whoami --explain\n{stdout}", args.join(" "));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (_, v) in env {
        if v.contains("secret") {
            assert!(!stdout.contains(v), "a secret printed: {stdout}");
        }
    }
    stdout
}

fn has(out: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            out.lines().any(|l| l == *line),
            "no line `{line}` in:\n{out}"
        );
    }
}

/// `whoami --explain` names the source that answered (each hop of a
/// profile's chain), where the region came from and whether the
/// credentials renew, for the sources of a lived-in machine; each source
/// is asked once, counted where it answers.
#[tokio::test]
async fn whoami_explain_says_which_source_answered_and_why() {
    use bsm_tests::lived_in;

    let out = explain(&[], &[]);
    has(
        &out,
        &[
            "Credentials from = a profile of the shared files",
            "Profile = default (none named)",
            "Chain 1 = [default] static keys",
            "Region = eu-central-1 (from the profile default)",
            "Credentials end = never (long-term keys)",
            "Renew by themselves = no",
        ],
    );
    assert!(out.contains(&format!(
        "File read = {}",
        lived_in::home().join(".aws/config").display()
    )));

    let out = explain(&["--profile", "lived-in-role"], &[]);
    has(
        &out,
        &[
            "Profile = lived-in-role (given)",
            "Chain 1 = [lived-in-role] role_arn arn:aws:iam::210987654321:role/lived-in-role, with the credentials of",
            "Chain 2 = [default] static keys",
            "Region = eu-central-1 (from the profile default)",
            "Renew by themselves = yes",
        ],
    );

    // A role assumed by bsm keeps its source's region origin.
    let out = explain(
        &[
            "--no-cache",
            "--role-arn",
            "arn:aws:iam::123456789012:role/explain",
        ],
        &[],
    );
    has(
        &out,
        &[
            "Credentials from = the role arn:aws:iam::123456789012:role/explain, assumed by bsm",
            "Region = eu-central-1 (from the profile default)",
            "Renew by themselves = no",
        ],
    );

    let runs = lived_in::process_runs();
    let out = explain(
        &["--region", "ap-south-1"],
        &[("AWS_PROFILE", "lived-in-process")],
    );
    has(
        &out,
        &[
            "Profile = lived-in-process (AWS_PROFILE)",
            "Region = ap-south-1 (given: --region, the builder or the SdkConfig)",
        ],
    );
    has(
        &out,
        &["Chain 1 = [lived-in-process] credential_process `sh ...` (arguments not shown)"],
    );
    assert_eq!(lived_in::process_runs(), runs + 1, "the process ran once");

    let out = explain(
        &[],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAEXPLAIN000000001"),
            ("AWS_SECRET_ACCESS_KEY", "explain-secret-key"),
            ("AWS_SESSION_TOKEN", "explain-secret-token"),
            ("AWS_CREDENTIAL_EXPIRATION", "2099-01-02T03:04:05Z"),
            ("AWS_ROLE_ARN", ""),
            ("AWS_REGION", "us-west-2"),
        ],
    );
    has(
        &out,
        &[
            "Credentials from = environment variables (AWS_ACCESS_KEY_ID)",
            "Region = us-west-2 (from AWS_REGION)",
            "Renew by themselves = no",
        ],
    );
    assert!(
        out.contains("Credentials end = 2099-01-02T03:04:05Z (in "),
        "the expiry of AWS_CREDENTIAL_EXPIRATION: {out}"
    );
    assert!(
        out.contains(
            "Variables set = AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, \
             AWS_CREDENTIAL_EXPIRATION, "
        ) && out.contains("AWS_ROLE_ARN (empty)"),
        "{out}"
    );
}

/// The same for the sources of a machine in the cloud: the container
/// endpoint, web identity, instance metadata, and an SSO profile; each
/// stand-in counts one fetch.
#[tokio::test]
async fn whoami_explain_names_the_cloud_sources() {
    // No profile files: the container endpoint answers, once.
    let user = iam_user("explain-container").await;
    let agent = bsm_tests::sources::FakeServer::container(&user, "explain-token", in_an_hour());
    let uri = format!("{}/v1/credentials", agent.endpoint());
    let out = explain(
        &[],
        &[
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "explain-token"),
            ("AWS_REGION", "us-east-2"),
        ],
    );
    has(
        &out,
        &[
            "Credentials from = the container credentials endpoint",
            "Renew by themselves = yes",
        ],
    );
    let left: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("Credentials end = "))
        .and_then(|l| l.split("(in ").nth(1))
        .and_then(|l| l.trim_end_matches(" s)").parse().ok())
        .unwrap_or_else(|| panic!("no end in:\n{out}"));
    assert!(
        (3000..=3600).contains(&left),
        "ends in {left} s, not ~an hour"
    );
    assert_eq!(agent.count("GET", "/v1/credentials"), 1, "asked once");

    // Web identity from the environment (moto's AssumeRoleWithWebIdentity).
    let dir = temp_dir("bsm-explain");
    let token = dir.join("token");
    std::fs::write(&token, "header.payload.signature").unwrap();
    let token = token.display().to_string();
    let out = explain(
        &[],
        &[
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/explain-pod"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", &token),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    has(
        &out,
        &[
            "Credentials from = web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)",
            "Renew by themselves = yes",
        ],
    );

    // Instance metadata at a loopback stand-in, asked for one set of keys.
    let user = iam_user("explain-imds").await;
    let imds = bsm_tests::sources::FakeServer::imds(&user, in_an_hour());
    let mut cmd_env = vec![
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_EC2_METADATA_DISABLED", "false"),
    ];
    let imds_endpoint = imds.endpoint();
    cmd_env.push(("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds_endpoint));
    let out = explain(&["--region", "eu-north-1"], &cmd_env);
    has(
        &out,
        &[
            "Credentials from = EC2 instance metadata",
            "Renew by themselves = yes",
        ],
    );
    let fetched = imds.count(
        "GET",
        "/latest/meta-data/iam/security-credentials/bsm-instance-role",
    );
    assert_eq!(fetched, 1, "the keys fetched once");

    let _ = std::fs::remove_dir_all(dir);
}

/// An SSO profile with its token cached, at a stand-in of the portal.
#[tokio::test]
async fn whoami_explain_names_an_sso_profile() {
    let dir = temp_dir("bsm-explain-sso");
    let user = iam_user("explain-sso").await;
    let portal =
        bsm_tests::sources::FakeServer::sso_portal(&user, "explain-sso-token", in_an_hour());
    let session = unique("explain-sso");
    let config = dir.join("sso-config");
    std::fs::write(
        &config,
        format!(
            "[profile work]\nsso_session = {session}\nsso_account_id = 123456789012\n\
             sso_role_name = Dev\nregion = ca-central-1\n[sso-session {session}]\n\
             sso_start_url = https://explain.awsapps.com/start\nsso_region = us-east-1\n"
        ),
    )
    .unwrap();
    let cache = bsm_tests::lived_in::home().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(
        cache.join(format!("{}.json", bsm_tests::sha1_hex(&session))),
        serde_json::json!({
            "startUrl": "https://explain.awsapps.com/start",
            "region": "us-east-1",
            "accessToken": "explain-sso-token",
            "expiresAt": bsm_tests::sources::rfc3339(in_an_hour()),
        })
        .to_string(),
    )
    .unwrap();
    let config = config.display().to_string();
    let portal_endpoint = portal.endpoint();
    let out = explain(
        &["--profile", "work"],
        &[
            ("AWS_CONFIG_FILE", &config),
            ("AWS_ENDPOINT_URL_SSO", &portal_endpoint),
        ],
    );
    has(
        &out,
        &[
            &format!("Chain 1 = [work] SSO session {session}"),
            "Region = ca-central-1 (from the profile work)",
            "Renew by themselves = yes",
        ],
    );
    assert_eq!(
        portal.count("GET", "/federation/credentials"),
        1,
        "asked once"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `bsm --profile PROFILE whoami` with `config` as the only profile file
/// and `env`: its exit code and stderr.
fn fails_with(config: &str, profile: &str, env: &[(&str, &str)]) -> String {
    let dir = temp_dir("bsm-hint");
    std::fs::write(dir.join("config"), config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    cmd.env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let out = cmd.args(["--profile", profile, "whoami"]).output().unwrap();
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Each kind of failure gets its own hint: a `credential_process` names its
/// command and the first line of its stderr; instance metadata says
/// whether it was turned off or did not answer, and how long it took.
#[test]
fn each_kind_of_failure_gets_its_own_hint() {
    let stderr = fails_with(
        "[profile broken]\ncredential_process = sh -c 'echo \"token expired: run vault-login\" >&2; echo more >&2; exit 3'\n",
        "broken",
        &[],
    );
    assert!(
        stderr.contains(
            "to fix: the `credential_process` of profile `broken` failed: `sh ...`, its first line \
             on stderr: `token expired: run vault-login`"
        ),
        "{stderr}"
    );
    // Its arguments may hold a secret: never shown. A long line is cut,
    // an escape sequence defused.
    let stderr = fails_with(
        &format!(
            "[profile broken]\ncredential_process = sh -c 'printf \"\\033[2J{}\\n\" >&2; exit 1' VAULT_TOKEN=hvs.hint-secret\n",
            "x".repeat(5000)
        ),
        "broken",
        &[],
    );
    let hint = stderr.lines().find(|l| l.contains("to fix:")).unwrap();
    assert!(!hint.contains("hint-secret"), "{hint}");
    assert!(hint.len() < 400, "{} bytes", hint.len());
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape sequence reaches the terminal"
    );
    assert!(stderr.len() < 5000, "{} bytes of stderr", stderr.len());

    let only_region = "[profile bare]\nregion = us-east-1\n";
    let stderr = fails_with(only_region, "bare", &[]);
    assert!(
        stderr.contains("to fix: no source had credentials, and EC2 instance metadata is turned off (AWS_EC2_METADATA_DISABLED)"),
        "{stderr}"
    );

    // Instance metadata at a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}/");
    let stderr = fails_with(
        only_region,
        "bare",
        &[
            ("AWS_EC2_METADATA_DISABLED", ""),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
        ],
    );
    assert!(
        stderr.contains("to fix: no source had credentials, and EC2 instance metadata did not answer (resolving took "),
        "{stderr}"
    );
    assert!(
        stderr.contains("set AWS_EC2_METADATA_DISABLED=true"),
        "{stderr}"
    );
}

/// `bsm --profile signed-in whoami` of `login` from `cwd` with `env`, at
/// most 30 s (a FIFO must not make it wait): exit code and stderr.
fn whoami_from(login: &Login, cwd: &Path, env: &[(&str, &str)], sign_in: &str) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsm"));
    isolate(&mut cmd);
    login.env(&mut cmd, sign_in);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .current_dir(cwd)
        .args(["--profile", PROFILE, "--endpoint-url", &moto().endpoint()])
        .args(["whoami", "--no-mask"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = bsm_tests::wait_at_most(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stdout + &stderr)
}

/// The login cache is trusted only as bsm's own cache is: an empty or
/// relative `AWS_LOGIN_CACHE_DIRECTORY` (a folder under the current one,
/// where another user may have planted a token) is a typed error; a token
/// that is a FIFO or a link, and a folder others can write to, are refused
/// at once; a token others can read is used, with a warning.
#[cfg(unix)]
#[tokio::test]
async fn the_login_cache_is_trusted_only_when_it_is_the_users_own() {
    use std::os::unix::fs::PermissionsExt as _;
    let (mine, planted) = (
        iam_user("login-mine").await,
        iam_user("login-planted").await,
    );
    let login = Login::new("bsm-login-trust");
    let path = login.token(&mine, in_an_hour(), "refresh-mine");
    let stand_in = sign_in::stand_in("refresh-mine", Answer::Refuse("TOKEN_EXPIRED"));
    // A folder someone else controls, with their token in `./` and `./cache`.
    let cwd = login.dir.join("elsewhere");
    let _ = sign_in::write_token(&cwd, &login.arn, &planted, ACCOUNT, in_an_hour(), "x");
    let _ = sign_in::write_token(
        &cwd.join("cache"),
        &login.arn,
        &planted,
        ACCOUNT,
        in_an_hour(),
        "x",
    );
    for dir in ["", "cache", "./cache"] {
        let (code, out) = whoami_from(
            &login,
            &cwd,
            &[("AWS_LOGIN_CACHE_DIRECTORY", dir)],
            &stand_in.endpoint(),
        );
        assert_eq!(code, 1, "{dir:?}: {out}");
        assert!(
            !out.contains(&planted.arn),
            "{dir:?}: the planted token was used: {out}"
        );
        assert!(
            out.contains(&format!(
                "invalid login cache folder (AWS_LOGIN_CACHE_DIRECTORY) `{dir}`: must be an absolute path"
            )),
            "{dir:?}: {out}"
        );
    }

    // The user's own token, readable by others: used, with a warning.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out) = whoami_from(&login, &cwd, &[], &stand_in.endpoint());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&mine.arn), "{out}");
    assert!(
        out.contains("is readable by other users: chmod 600 it"),
        "{out}"
    );

    // A folder others can write to: refused.
    std::fs::set_permissions(&login.cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, out) = whoami_from(&login, &cwd, &[], &stand_in.endpoint());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("other users can write to the folder"), "{out}");
    std::fs::set_permissions(&login.cache, std::fs::Permissions::from_mode(0o700)).unwrap();

    // A link, then a FIFO, where the token should be: refused at once.
    let real = login.dir.join("real-token.json");
    std::fs::rename(&path, &real).unwrap();
    std::os::unix::fs::symlink(&real, &path).unwrap();
    let (code, out) = whoami_from(&login, &cwd, &[], &stand_in.endpoint());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not using the `aws login` token"), "{out}");
    std::fs::remove_file(&path).unwrap();
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (code, out) = whoami_from(&login, &cwd, &[], &stand_in.endpoint());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not using the `aws login` token"), "{out}");
    assert_eq!(stand_in.hits().len(), 0, "nothing was refreshed");
}
