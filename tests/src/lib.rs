//! The harness of bsm's integration tests: a moto emulator per test binary
//! ([`moto`]) and a recording, fault-injecting HTTP proxy in front of it
//! ([`Proxy`]), both on 127.0.0.1. The tests themselves live in `tests/`.

pub mod aws_env;
pub mod capture;
pub mod keyring;
mod moto;
pub mod moto_server;
mod proxy;
pub mod sign_in;
pub mod sources;

/// The skill file shipped for coding agents (`skills/bsm/SKILL.md`): its
/// examples are compiled as doc tests here, so they cannot drift from the
/// API.
#[doc = include_str!("../../skills/bsm/SKILL.md")]
// Prose for agents, with YAML front matter: names in it are not code.
#[allow(clippy::doc_markdown)]
pub mod skill {}

pub use moto::{Moto, moto, venv_bin};
pub use proxy::{Fault, Proxy, Recorded};

/// A manager on static test keys, talking to `endpoint`.
///
/// # Panics
/// Never in practice: building on static keys sends no request.
pub async fn manager(endpoint: &str) -> bsm::SessionManager {
    build_on_test_keys(bsm::SessionManager::builder(), endpoint).await
}

async fn build_on_test_keys(
    builder: bsm::SessionManagerBuilder,
    endpoint: &str,
) -> bsm::SessionManager {
    builder
        .credentials("testing", "testing", None)
        .region("us-east-1")
        .endpoint_url(endpoint)
        .build()
        .await
        .expect("a manager on static keys builds without any request")
}

/// A command of the test virtualenv with an environment that cannot reach
/// real AWS: no key variables, no profile variables, the emulator's
/// endpoint, a session cache of its own, and the lived-in home the test
/// binary runs in ([`lived_in`]).
#[must_use]
pub fn isolated(program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(venv_bin(program));
    isolate(&mut cmd);
    cmd
}

/// Gives `cmd` the environment of [`isolated`]: the shared files are the
/// lived-in home's (`~/.aws/config` and `~/.aws/credentials` with a
/// `[default]` profile of another principal).
pub fn isolate(cmd: &mut std::process::Command) -> &mut std::process::Command {
    // bsm's session cache goes to a folder of this test binary, never the
    // user's own.
    static CACHE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    // Every variable bsm hands over, whether this process has it or not
    // (`BOTO_CONFIG` is not an `AWS_*` one).
    for var in bsm::MANAGED_VARS {
        cmd.env_remove(var);
    }
    // The keychain tests choose their store; no test uses the user's.
    for var in [
        "BSM_KEYCHAIN",
        "BSM_RESOLVING_PROFILES",
        "DBUS_SESSION_BUS_ADDRESS",
    ] {
        cmd.env_remove(var);
    }
    let cache = CACHE.get_or_init(|| temp_dir("bsm-cache-home"));
    aws_env::without_aws(cmd)
        .env("HOME", lived_in::home())
        .env("AWS_ENDPOINT_URL", moto().endpoint())
        .env("XDG_CACHE_HOME", cache)
}

/// Gives `cmd` the environment of [`isolate`], in a new home with no AWS
/// files at all: for the tests whose names say they need an empty home.
pub fn isolate_in_an_empty_home(cmd: &mut std::process::Command) -> &mut std::process::Command {
    isolate(cmd).env("HOME", temp_dir("bsm-empty-home"))
}

/// The lived-in home every test binary runs in (a copy of
/// `tests/lived-in-home` made by `tests/isolate-aws-env.sh`): its profiles
/// belong to principals of account 210987654321 that moto knows (seeded
/// when it starts), none of them a principal a test hands over.
pub mod lived_in {
    use std::path::PathBuf;

    /// The account of every principal of the lived-in home.
    pub const ACCOUNT: &str = "210987654321";
    /// `[default]`'s static keys.
    pub const DEFAULT: &str = "arn:aws:iam::210987654321:user/lived-in-default";
    /// The `lived-in-process` profile's `credential_process`.
    pub const PROCESS: &str = "arn:aws:iam::210987654321:user/lived-in-process";
    /// The `lived-in-role` profile (`role_arn` with `[default]` as source).
    pub const ROLE: &str = "arn:aws:sts::210987654321:assumed-role/lived-in-role/lived-in";
    /// `[default]`'s region.
    pub const REGION: &str = "eu-central-1";

    /// The lived-in home of this binary: `$BSM_LIVED_IN_HOME`, which the
    /// runner sets beside `$HOME` (a test may change `HOME` itself).
    ///
    /// # Panics
    /// When the binary was not started by the workspace's runner
    /// (`tests/isolate-aws-env.sh`), or by it as an `empty_home` binary.
    #[must_use]
    pub fn home() -> PathBuf {
        let home = PathBuf::from(std::env::var_os("BSM_LIVED_IN_HOME").unwrap_or_default());
        let config = std::fs::read_to_string(home.join(".aws/config")).unwrap_or_default();
        assert!(
            config.contains("lived-in-role"),
            "HOME ({}) is not the lived-in home: run the tests with cargo, whose runner \
             (tests/isolate-aws-env.sh) makes it",
            home.display()
        );
        home
    }

    /// How many times the `lived-in-process` profile's command has run, in
    /// this binary's home (a counter file the command appends to).
    #[must_use]
    pub fn process_runs() -> usize {
        crate::sources::lines(&home().join(".aws/lived-in-process-runs"))
    }
}

/// A clock the test moves by hand: the SDK's identity cache and bsm's
/// refresh decisions read it, so an hour passes in a second.
#[derive(Debug, Clone)]
pub struct SimClock(std::sync::Arc<std::sync::Mutex<std::time::SystemTime>>);

impl SimClock {
    /// A clock at the real time now.
    #[must_use]
    pub fn new() -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(
            std::time::SystemTime::now(),
        )))
    }

    /// The clock's time.
    ///
    /// # Panics
    /// If the lock was poisoned.
    #[must_use]
    pub fn now(&self) -> std::time::SystemTime {
        *self.0.lock().unwrap()
    }

    /// Puts the clock at `t` (backwards too: a skewed machine).
    ///
    /// # Panics
    /// If the lock was poisoned.
    pub fn set(&self, t: std::time::SystemTime) {
        *self.0.lock().unwrap() = t;
    }

    /// Moves the clock forward.
    ///
    /// # Panics
    /// If the lock was poisoned.
    pub fn advance(&self, by: std::time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl bsm::aws_smithy_async::time::TimeSource for SimClock {
    fn now(&self) -> std::time::SystemTime {
        *self.0.lock().unwrap()
    }
}

/// A clock that moves with real time, plus an offset the test moves
/// forward: a refresh window can be entered without waiting, and the time a
/// failure takes is real.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl OffsetClock {
    /// Jumps the clock forward by `by`.
    pub fn skip(&self, by: std::time::Duration) {
        self.0
            .fetch_add(by.as_secs(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl bsm::aws_smithy_async::time::TimeSource for OffsetClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now()
            + std::time::Duration::from_secs(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// A manager on static test keys whose SDK configuration reads `time`,
/// changed by `customize` (timeouts, retries).
///
/// # Panics
/// Never in practice: building on static keys sends no request.
pub async fn manager_with_time(
    endpoint: &str,
    time: impl bsm::aws_smithy_async::time::TimeSource + 'static,
    customize: impl FnOnce(bsm::SessionManagerBuilder) -> bsm::SessionManagerBuilder,
) -> bsm::SessionManager {
    let sdk = bsm::aws_config::SdkConfig::builder()
        .behavior_version(bsm::aws_config::BehaviorVersion::latest())
        .time_source(time)
        .build();
    build_on_test_keys(
        customize(bsm::SessionManager::builder().sdk_config(sdk)),
        endpoint,
    )
    .await
}

/// A manager on static test keys whose SDK configuration reads `clock`.
///
/// # Panics
/// Never in practice: building on static keys sends no request.
pub async fn manager_with_clock(endpoint: &str, clock: &SimClock) -> bsm::SessionManager {
    let sdk = bsm::aws_config::SdkConfig::builder()
        .behavior_version(bsm::aws_config::BehaviorVersion::latest())
        .time_source(clock.clone())
        .build();
    build_on_test_keys(bsm::SessionManager::builder().sdk_config(sdk), endpoint).await
}

/// `bsm` assuming `role_arn` for 900 s, refreshed automatically: the role
/// the refresh tests start from.
///
/// # Panics
/// If STS refuses the role.
pub async fn refreshing_role(bsm: &bsm::SessionManager, role_arn: &str) -> bsm::SessionManager {
    bsm.assume_role(role_arn)
        .duration(std::time::Duration::from_secs(900))
        .auto_refresh(true)
        .send()
        .await
        .unwrap()
}

/// An endpoint where nothing listens (the discard port on loopback): every
/// request fails to connect at once. Unlike the port of a stopped proxy, no
/// other test can pick it up meanwhile.
pub const DEAD_ENDPOINT: &str = "http://127.0.0.1:9";

/// Waits for `child` at most `limit` (a FIFO or a stuck peer must not make
/// a test wait for ever); kills it and fails if it is still running.
///
/// # Panics
/// When `limit` passes, or the child cannot be waited on.
#[must_use]
pub fn wait_at_most(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> std::process::Output {
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the command hung for {} s", limit.as_secs());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// SHA-1 in hex (Python's `hashlib`), as the SSO token cache names its
/// files.
///
/// # Panics
/// If the test virtualenv's Python does not run.
#[must_use]
pub fn sha1_hex(text: &str) -> String {
    let out = isolated("python")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())",
            text,
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A new, empty folder under the system's temporary folder.
///
/// # Panics
/// If it cannot be created.
#[must_use]
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The permission bits of a file.
///
/// # Panics
/// If the file cannot be read.
#[cfg(unix)]
#[must_use]
pub fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An error and its causes, `error <- cause <- cause`.
#[must_use]
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(" <- ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

/// A name unique within this test run, for buckets, queues and tables.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits until `done()` holds, polling every 10 ms; `false` if it still
/// does not after `limit` (a background refresh that never happened).
pub async fn eventually(limit: std::time::Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    true
}
