//! `bsm exec`: runs a command with the credentials in its environment. On
//! Unix, bsm replaces itself with the command (`exec`), so signals, the PID
//! and the exit status are the command's own. A command that cannot run
//! exits 127 (not found) or 126 (not executable), as shells do. Running
//! inside another `bsm exec` is refused unless `--nested`: the identities
//! would silently stack.
//!
//! With `--server`, bsm stays the parent: it serves the role's refreshing
//! credentials on a loopback credential server the command polls, forwards
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT to it, stops the server when it
//! exits, and exits as it did (128 + the signal when a signal ended it). On
//! a terminal, the command gets a process group of its own in the
//! foreground, as a shell gives a job: Ctrl-C reaches it once, from the
//! terminal, and bsm waits.

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

/// `exec --server`: serves `role`'s credentials while `command` runs.
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
    #[cfg(unix)]
    let terminal = foreground::Terminal::of_stdin(&mut cmd);
    let mut child = match tokio::process::Command::from(cmd).spawn() {
        Ok(child) => child,
        Err(err) => return Ok(cannot_run(program, &err)),
    };
    #[cfg(unix)]
    let _foreground = terminal.map(|t| t.hand_to(child.id()));
    let status = wait_forwarding(&mut child).await?;
    server.shutdown().await;
    Ok(exit_code(status))
}

/// Waits for `child`, passing on the signals bsm receives.
#[cfg(unix)]
async fn wait_forwarding(
    child: &mut tokio::process::Child,
) -> Result<std::process::ExitStatus, Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut quit = signal(SignalKind::quit())?;
    loop {
        let sig = tokio::select! {
            status = child.wait() => return Ok(status?),
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
            _ = quit.recv() => libc::SIGQUIT,
        };
        if let Some(pid) = pid {
            // SAFETY: kill(2) on the PID of the child bsm started and waits for.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_forwarding(
    child: &mut tokio::process::Child,
) -> Result<std::process::ExitStatus, Failure> {
    Ok(child.wait().await?)
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

/// Job control on a terminal: the child gets a process group of its own,
/// in the foreground, so keys like Ctrl-C reach it (once) and not bsm.
#[cfg(unix)]
mod foreground {
    use std::os::unix::process::CommandExt as _;

    /// Standard input is a terminal.
    pub struct Terminal;

    /// Gives the terminal back to bsm's process group when dropped.
    pub struct Handed;

    impl Terminal {
        /// When standard input is a terminal, sets `cmd` to start in a
        /// process group of its own.
        pub fn of_stdin(cmd: &mut std::process::Command) -> Option<Self> {
            // SAFETY: isatty has no preconditions.
            if unsafe { libc::isatty(0) } != 1 {
                return None;
            }
            // SAFETY: setpgid is async-signal-safe, as pre_exec requires.
            unsafe {
                cmd.pre_exec(|| {
                    libc::setpgid(0, 0);
                    Ok(())
                });
            }
            Some(Self)
        }

        /// Puts the child's process group in the terminal's foreground
        /// (consumes the proof that there is a terminal).
        #[allow(clippy::unused_self)]
        pub fn hand_to(self, pid: Option<u32>) -> Handed {
            if let Some(pid) = pid.and_then(|p| libc::pid_t::try_from(p).ok()) {
                // SAFETY: plain system calls on our own child and terminal;
                // SIGTTOU is ignored so that a background bsm may call
                // tcsetpgrp.
                unsafe {
                    libc::setpgid(pid, pid);
                    libc::signal(libc::SIGTTOU, libc::SIG_IGN);
                    libc::tcsetpgrp(0, pid);
                }
            }
            Handed
        }
    }

    impl Drop for Handed {
        fn drop(&mut self) {
            // SAFETY: as above; SIGTTOU stays ignored.
            unsafe {
                libc::tcsetpgrp(0, libc::getpgrp());
            }
        }
    }
}
