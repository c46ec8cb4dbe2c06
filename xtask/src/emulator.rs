//! The local Python virtualenv (moto, the AWS CLI, the Python bsm), the AWS
//! SDK for JavaScript v3 the handoff tests run as a child (in `target/js`),
//! and a moto server on loopback for `cargo xtask demo`. The test suite
//! starts its own emulator through `bsm-tests`; this module only installs
//! it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::moto_server::MotoServer;

/// Creates `<root>/.venv` and installs `tests/requirements.txt` into it,
/// unless the same requirements are installed already. Returns the venv path.
/// What the installers print goes to `log` when one is given (the suite
/// installs while it builds), else to the terminal.
pub fn ensure_venv(root: &Path, log: Option<&Path>) -> Result<PathBuf, String> {
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
        log,
    )?;
    check(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&reqs_path),
        "pip install -r tests/requirements.txt",
        log,
    )?;
    std::fs::write(&stamp, reqs).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(venv)
}

/// Installs `tests/js` (the AWS SDK for JavaScript v3 at the version its
/// lock file pins, and the script the tests run) into `<target>/js` with
/// `npm ci`, unless the same lock file is installed already. Returns the
/// folder. `log` as for [`ensure_venv`].
pub fn ensure_js(root: &Path, target: &Path, log: Option<&Path>) -> Result<PathBuf, String> {
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
        log,
    )?;
    std::fs::write(&stamp, lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(to)
}

/// Runs `cmd`; with a `log`, its output is appended there and, should it
/// fail, the log's last lines are part of the error.
fn check(cmd: &mut Command, what: &str, log: Option<&Path>) -> Result<(), String> {
    if let Some(log) = log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        cmd.stdout(file).stderr(err);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let tail = log
        .and_then(|log| std::fs::read_to_string(log).ok())
        .map(|text| {
            let lines: Vec<&str> = text.lines().collect();
            format!("\n{}", lines[lines.len().saturating_sub(40)..].join("\n"))
        })
        .unwrap_or_default();
    Err(format!("{what} failed: {status}{tail}"))
}

/// `PATH` with the venv's `bin` first, so child processes find `aws`.
pub fn path_with(venv: &Path) -> std::ffi::OsString {
    let mut paths = vec![venv.join("bin")];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap_or_default()
}

/// Makes `cmd` run against moto at `endpoint` with fake keys and nothing
/// of the developer's AWS environment (the tests' rule, see
/// `tests/src/aws_env.rs`), so nothing can reach real AWS.
pub fn demo_env<'c>(cmd: &'c mut Command, endpoint: &str) -> &'c mut Command {
    crate::aws_env::without_aws_files(cmd)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
}

/// A moto server on 127.0.0.1 (the tests' launcher, see
/// `tests/src/moto_server.rs`), stopped by PID when dropped; should xtask
/// die first, moto sees its stdin close and exits by itself.
pub struct Moto(MotoServer);

impl Moto {
    /// Starts moto with the venv's Python on a free loopback port and waits
    /// until it accepts connections.
    pub fn start(venv: &Path) -> Result<Self, String> {
        Self::start_with(venv, &[])
    }

    /// Like [`start`](Self::start), with extra environment variables for
    /// moto (e.g. `MOTO_ENABLE_RECORDING`).
    pub fn start_with(venv: &Path, env: &[(&str, &str)]) -> Result<Self, String> {
        MotoServer::start(&venv.join("bin/python"), "", env).map(Self)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.0.endpoint()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.0.stop();
    }
}
