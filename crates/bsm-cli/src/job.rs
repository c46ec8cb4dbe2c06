//! `exec --server`'s command run the way a shell runs a job, since bsm stays
//! its parent: the signals bsm receives are passed on, and on a terminal
//! the command is a process group of its own in the foreground, with
//! job control carried through.
//!
//! - Signal listeners are in place before the command starts: a SIGTERM a
//!   moment after the start reaches the command, not just bsm.
//! - On a terminal, bsm gives the terminal to the command only when bsm
//!   itself has it (`bsm exec --server -- CMD &` leaves the shell's
//!   terminal alone), and takes it back at the end only from the command.
//! - Ctrl-Z stops the command; bsm then takes the terminal back and stops
//!   too, so the shell sees the job stopped and gets its terminal. `fg`
//!   continues bsm, which gives the terminal to the command again and
//!   continues it; `bg` continues both without the terminal. A command
//!   stopped because it read the terminal from the background stops bsm
//!   the same way, until `fg`.

use std::process::{Command, ExitStatus};

/// Runs `cmd` to its end as a job; `Err` if it cannot start.
#[cfg(unix)]
pub async fn run(mut cmd: Command) -> std::io::Result<ExitStatus> {
    use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
    use tokio::signal::unix::{SignalKind, signal};
    // Listening before the command starts: a signal that arrives from now
    // on is passed on.
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut quit = signal(SignalKind::quit())?;
    let terminal = terminal::Terminal::of_stdin();
    if let Some(t) = terminal {
        let foreground = t.is_ours();
        // SAFETY: setpgid, signal and tcsetpgrp are async-signal-safe, as
        // pre_exec requires. The command puts itself in its own group and,
        // if bsm has the terminal, in the foreground, before it runs
        // anything (as shells do, in the child and in the parent, so that
        // neither order of the two can lose).
        unsafe {
            cmd.pre_exec(move || {
                libc::setpgid(0, 0);
                if foreground {
                    terminal::give(libc::getpid());
                }
                Ok(())
            });
        }
    }
    let child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    // The status is read with waitpid below, not through `child`.
    drop(child);
    if let Some(t) = terminal {
        // SAFETY: setpgid on our own child.
        unsafe {
            libc::setpgid(pid, pid);
        }
        if t.is_ours() {
            terminal::give(pid);
        }
    }
    let (done, mut ended) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(wait(pid, terminal));
    });
    loop {
        let sig = tokio::select! {
            status = &mut ended => {
                let raw = status.map_err(std::io::Error::other)??;
                return Ok(ExitStatus::from_raw(raw));
            }
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
            _ = quit.recv() => libc::SIGQUIT,
        };
        // SAFETY: kill(2) on the command bsm started and has not reaped.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Waits for `pid` to end, carrying job control through its stops; the
/// raw wait status.
#[cfg(unix)]
fn wait(pid: libc::pid_t, terminal: Option<terminal::Terminal>) -> std::io::Result<i32> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child, with a valid status pointer.
        let rc = unsafe { libc::waitpid(pid, &raw mut status, libc::WUNTRACED) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if libc::WIFSTOPPED(status) {
            if let Some(t) = terminal {
                t.stopped(pid);
            } else {
                // No terminal: nothing stops bsm; the command goes on.
                // SAFETY: kill(2) on our own child.
                unsafe {
                    libc::kill(pid, libc::SIGCONT);
                }
            }
            continue;
        }
        if let Some(t) = terminal {
            t.ended(pid);
        }
        return Ok(status);
    }
}

#[cfg(not(unix))]
pub async fn run(mut cmd: Command) -> std::io::Result<ExitStatus> {
    tokio::task::spawn_blocking(move || cmd.status())
        .await
        .map_err(std::io::Error::other)?
}

/// The terminal on standard input, and who has it.
#[cfg(unix)]
mod terminal {
    /// Standard input is a terminal.
    #[derive(Debug, Clone, Copy)]
    pub struct Terminal;

    /// Gives the terminal to the process group `pgid`. SIGTTOU is ignored
    /// for the call only: a process that is not in the foreground may give
    /// the terminal away, as shells do. Async-signal-safe.
    pub fn give(pgid: libc::pid_t) {
        // SAFETY: signal and tcsetpgrp on standard input; the previous
        // disposition is put back.
        unsafe {
            let old = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            libc::tcsetpgrp(0, pgid);
            libc::signal(libc::SIGTTOU, old);
        }
    }

    impl Terminal {
        /// When standard input is a terminal.
        pub fn of_stdin() -> Option<Self> {
            // SAFETY: isatty has no preconditions.
            (unsafe { libc::isatty(0) } == 1).then_some(Self)
        }

        /// The process group that has the terminal (a method, so that only
        /// a proof of the terminal can ask).
        #[allow(clippy::unused_self)]
        fn foreground(self) -> libc::pid_t {
            // SAFETY: tcgetpgrp on standard input.
            unsafe { libc::tcgetpgrp(0) }
        }

        /// bsm's process group has the terminal.
        pub fn is_ours(self) -> bool {
            // SAFETY: getpgrp has no preconditions.
            self.foreground() == unsafe { libc::getpgrp() }
        }

        /// The command (group `pgid`) stopped. If it had the terminal
        /// (Ctrl-Z) or bsm runs in the background, bsm takes the terminal
        /// back and stops too, as the job the shell knows; when continued,
        /// it gives the terminal to the command again if bsm is in the
        /// foreground then (`fg`), and continues the command.
        pub fn stopped(self, pgid: libc::pid_t) {
            let had_it = self.foreground() == pgid;
            if had_it {
                // SAFETY: getpgrp has no preconditions.
                give(unsafe { libc::getpgrp() });
            }
            if had_it || !self.is_ours() {
                // SAFETY: raise stops this process (SIGTSTP's default
                // action); the shell continues it with SIGCONT.
                unsafe {
                    libc::raise(libc::SIGTSTP);
                }
            }
            if self.is_ours() {
                give(pgid);
            }
            // SAFETY: kill(2) on the group of our own child.
            unsafe {
                libc::kill(-pgid, libc::SIGCONT);
            }
        }

        /// The command (group `pgid`) ended: if it had the terminal, bsm's
        /// group (the shell's job) gets it back; otherwise it is left with
        /// whoever has it (the shell, when bsm ran in the background).
        pub fn ended(self, pgid: libc::pid_t) {
            if self.foreground() == pgid {
                // SAFETY: getpgrp has no preconditions.
                give(unsafe { libc::getpgrp() });
            }
        }
    }
}
