//! The local Python virtualenv (moto, the AWS CLI, the Python bsm), the AWS
//! SDK for JavaScript v3 the handoff tests run as a child (in `target/js`),
//! and a moto server on loopback for `cargo xtask demo`. The test suite
//! starts its own emulator through `bsm-tests`; this module only installs
//! it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Creates `<root>/.venv` and installs `tests/requirements.txt` into it,
/// unless the same requirements are installed already. Returns the venv path.
pub fn ensure_venv(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join(".venv");
    let reqs_path = root.join("tests/requirements.txt");
    let reqs = std::fs::read_to_string(&reqs_path)
        .map_err(|e| format!("cannot read {}: {e}", reqs_path.display()))?;
    let stamp = venv.join("bsm-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(reqs.as_str())
        && venv.join("bin/moto_server").exists()
    {
        return Ok(venv);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    println!(
        "installing the emulator and the AWS CLI into {}",
        venv.display()
    );
    check(
        Command::new(&python).args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    check(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&reqs_path),
        "pip install -r tests/requirements.txt",
    )?;
    std::fs::write(&stamp, reqs).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(venv)
}

/// Installs `tests/js` (the AWS SDK for JavaScript v3 at the version its
/// lock file pins, and the script the tests run) into `<target>/js` with
/// `npm ci`, unless the same lock file is installed already. Returns the
/// folder.
pub fn ensure_js(root: &Path, target: &Path) -> Result<PathBuf, String> {
    let from = root.join("tests/js");
    let to = target.join("js");
    let lock = std::fs::read_to_string(from.join("package-lock.json"))
        .map_err(|e| format!("cannot read tests/js/package-lock.json: {e}"))?;
    std::fs::create_dir_all(&to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for name in ["package.json", "package-lock.json", "whoami.mjs"] {
        std::fs::copy(from.join(name), to.join(name))
            .map_err(|e| format!("cannot copy tests/js/{name}: {e}"))?;
    }
    let stamp = to.join("node_modules/.bsm-package-lock.json");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(lock.as_str()) {
        return Ok(to);
    }
    println!(
        "installing the AWS SDK for JavaScript v3 into {}",
        to.display()
    );
    check(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&to),
        "npm ci in target/js (Node.js and npm come with the machine; see README, Set-up)",
    )?;
    std::fs::write(&stamp, lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(to)
}

fn check(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed: {status}"))
    }
}

/// `PATH` with the venv's `bin` first, so child processes find `aws`.
pub fn path_with(venv: &Path) -> std::ffi::OsString {
    let mut paths = vec![venv.join("bin")];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap_or_default()
}

/// The environment the demo runs under: moto's endpoint and fake keys, so
/// nothing can reach real AWS.
pub fn demo_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

/// A moto server on 127.0.0.1, stopped by PID when dropped.
pub struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Moto {
    /// Starts `moto_server` from the venv on a free loopback port and waits
    /// until it accepts connections.
    pub fn start(venv: &Path) -> Result<Self, String> {
        Self::start_with(venv, &[])
    }

    /// Like [`start`](Self::start), with extra environment variables for
    /// moto (e.g. `MOTO_ENABLE_RECORDING`).
    pub fn start_with(venv: &Path, env: &[(&str, &str)]) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start moto_server: {e}"))?;
        let mut moto = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("moto_server exited at start: {status}"));
            }
            if Instant::now() > deadline {
                return Err("moto_server did not listen within 60 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
