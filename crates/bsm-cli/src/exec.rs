//! `bsm exec`: runs a command with the credentials in its environment. On
//! Unix, bsm replaces itself with the command (`exec`), so signals, the PID
//! and the exit status are the command's own. A command that cannot run
//! exits 127 (not found) or 126 (not executable), as shells do. Running
//! inside another `bsm exec` is refused unless `--nested`: the identities
//! would silently stack.
//!
//! With `--server`, bsm stays the parent: it serves the role's refreshing
//! credentials on a loopback credential server the command polls, runs the
//! command as a shell runs a job (signals passed on, job control on a
//! terminal: `job.rs`), stops the server when it exits, and exits as it
//! did (128 + the signal when a signal ended it).

use std::ffi::OsString;
use std::process::{Command, ExitCode};

use bsm::AwsCliEnv;

use crate::Failure;

/// Set in the environment of every command `bsm exec` runs.
pub const MARK: &str = "BSM_EXEC";

/// Refuses to run inside another `bsm exec` unless `nested`.
pub fn check_nesting(nested: bool) -> Result<(), Failure> {
    if !nested && std::env::var_os(MARK).is_some() {
        return Err(format!(
            "already inside `bsm exec` ({MARK} is set): the child would get these credentials \
             on top of the outer ones; run the command directly, or give --nested"
        )
        .into());
    }
    Ok(())
}

/// Runs `command` with `env` applied; returns only if it could not start
/// (on Unix) or with its exit code (elsewhere).
pub fn exec(env: &AwsCliEnv, command: &[OsString]) -> Result<ExitCode, Failure> {
    let (program, args) = command.split_first().ok_or("exec needs a command")?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    env.apply(&mut cmd);
    cmd.env(MARK, "1");
    cmd.env_remove(crate::loop_guard::VAR);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let err = cmd.exec();
        Ok(cannot_run(program, &err))
    }
    #[cfg(not(unix))]
    {
        match cmd.status() {
            Ok(status) => Ok(ExitCode::from(
                u8::try_from(status.code().unwrap_or(1) & 0xff).unwrap_or(1),
            )),
            Err(err) => Ok(cannot_run(program, &err)),
        }
    }
}

/// One line, and the shell's exit code: 127 not found, 126 not executable.
fn cannot_run(program: &std::ffi::OsStr, err: &std::io::Error) -> ExitCode {
    let program = program.to_string_lossy();
    if err.kind() == std::io::ErrorKind::NotFound {
        eprintln!("bsm: error: cannot run `{program}`: command not found");
        ExitCode::from(127)
    } else {
        eprintln!("bsm: error: cannot run `{program}`: {err}");
        ExitCode::from(126)
    }
}

/// `exec --server`: serves `role`'s credentials while `command` runs (as a
/// job: see `job.rs`).
pub async fn serve_and_run(
    role: &bsm::SessionManager,
    command: &[OsString],
) -> Result<ExitCode, Failure> {
    let (program, args) = command.split_first().ok_or("exec needs a command")?;
    let server = role.serve_credentials(([127, 0, 0, 1], 0)).await?;
    let mut cmd = Command::new(program);
    cmd.args(args);
    server.env().apply(&mut cmd);
    cmd.env(MARK, "1");
    cmd.env_remove(crate::loop_guard::VAR);
    let status = match crate::job::run(cmd).await {
        Ok(status) => status,
        Err(err) => return Ok(cannot_run(program, &err)),
    };
    server.shutdown().await;
    Ok(exit_code(status))
}

/// The child's exit code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return ExitCode::from(u8::try_from(128 + signal).unwrap_or(1));
        }
    }
    ExitCode::FAILURE
}
