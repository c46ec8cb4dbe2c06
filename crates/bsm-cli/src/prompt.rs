//! Prompts on the controlling terminal (`/dev/tty`), never stdout, stderr
//! or stdin, which the AWS CLI and the SDKs capture when they run bsm as a
//! `credential_process`, and which belong to the child under `bsm exec`:
//! the MFA code, and the keys of `bsm keys add` (the secret without echo).

use std::io::{BufRead as _, Write as _};

use crate::Failure;

/// The terminal, when bsm's process group holds it; `why` says what was to
/// be asked, for the error.
fn terminal(why: &str, otherwise: &str) -> Result<std::fs::File, Failure> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| format!("{why} and there is no terminal to ask on: {otherwise}"))?;
    // Reading the terminal while another process group has it would stop
    // bsm (SIGTTIN): when bsm runs in the background, or under `exec
    // --server` while the command has the terminal.
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        // SAFETY: tcgetpgrp on an open terminal; getpgrp has no
        // preconditions.
        let (holder, ours) = unsafe { (libc::tcgetpgrp(tty.as_raw_fd()), libc::getpgrp()) };
        if holder != ours {
            return Err(
                format!("{why}, and the terminal belongs to another job: {otherwise}").into(),
            );
        }
    }
    Ok(tty)
}

fn ask(tty: &std::fs::File, question: &str) -> Result<String, Failure> {
    let mut out = tty;
    write!(out, "{question}")?;
    out.flush()?;
    let mut line = String::new();
    std::io::BufReader::new(tty).read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

/// Asks for the MFA code of `serial` on the terminal; without one, fails at
/// once saying how to give the code.
pub fn mfa_code(serial: &str) -> Result<String, Failure> {
    let tty = terminal(
        &format!("an MFA code is needed for {serial}"),
        "give it with --mfa-code or BSM_MFA_CODE, or use --mfa-session (under exec --server, \
         roles then refresh without a code)",
    )?;
    ask(&tty, &format!("MFA code for {serial}: "))
}

/// Asks for a line that may be seen (an access key id).
pub fn line(question: &str) -> Result<String, Failure> {
    let tty = terminal(
        "keys are asked for",
        "give them on standard input with --stdin",
    )?;
    ask(&tty, question)
}

/// Asks for a secret with the terminal's echo off, and turns it back on
/// after, also when a signal (Ctrl-C, a hang-up) ends bsm meanwhile.
pub fn hidden(question: &str) -> Result<String, Failure> {
    let tty = terminal(
        "keys are asked for",
        "give them on standard input with --stdin",
    )?;
    #[cfg(unix)]
    let _echo = no_echo::NoEcho::on(&tty)?;
    let answer = ask(&tty, question);
    let mut out = &tty;
    let _ = writeln!(out);
    answer
}

#[cfg(unix)]
mod no_echo {
    //! The terminal's echo off for as long as a [`NoEcho`] lives; a signal
    //! that ends bsm meanwhile restores it first. The suspend key (Ctrl-Z)
    //! is off too: a shell that stops a job puts its own terminal modes
    //! back, and the rest of the secret would be typed with echo on after
    //! `fg`.

    use std::os::fd::AsRawFd as _;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The terminal's settings before the echo went off, for the signal
    /// handler (which may only read statics).
    static mut SAVED: Option<libc::termios> = None;
    static FD: AtomicI32 = AtomicI32::new(-1);
    const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

    extern "C" fn restore_and_die(sig: libc::c_int) {
        let fd = FD.load(Ordering::SeqCst);
        // SAFETY: tcsetattr, signal and raise are async-signal-safe; SAVED
        // is written before FD is set and not while it is, so it is not
        // being written while this runs.
        unsafe {
            if fd >= 0
                && let Some(t) = (*std::ptr::addr_of!(SAVED)).as_ref()
            {
                libc::tcsetattr(fd, libc::TCSANOW, t);
            }
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }

    pub struct NoEcho {
        fd: i32,
        saved: libc::termios,
        /// The dispositions replaced, put back on drop exactly as they were
        /// (flags and all: `sigaction`, not `signal`).
        handlers: Vec<(libc::c_int, libc::sigaction)>,
    }

    impl NoEcho {
        pub fn on(tty: &std::fs::File) -> std::io::Result<NoEcho> {
            let fd = tty.as_raw_fd();
            // SAFETY: termios is plain data; tcgetattr fills it or fails.
            let mut saved: libc::termios = unsafe { std::mem::zeroed() };
            // SAFETY: fd is an open terminal, saved a valid termios.
            if unsafe { libc::tcgetattr(fd, &raw mut saved) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: one prompt at a time (bsm asks on one thread, once),
            // and FD is still -1, so no handler reads SAVED now.
            unsafe {
                *std::ptr::addr_of_mut!(SAVED) = Some(saved);
            }
            FD.store(fd, Ordering::SeqCst);
            let mut handlers = Vec::new();
            for sig in SIGNALS {
                // SAFETY: sigaction is plain data; the handler only makes
                // async-signal-safe calls.
                unsafe {
                    let mut new: libc::sigaction = std::mem::zeroed();
                    new.sa_sigaction = restore_and_die as *const () as libc::sighandler_t;
                    libc::sigemptyset(&raw mut new.sa_mask);
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(sig, &raw const new, &raw mut old) == 0 {
                        handlers.push((sig, old));
                    }
                }
            }
            let mut quiet = saved;
            quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
            quiet.c_lflag |= libc::ICANON;
            // No character suspends (Ctrl-Z; on the BSDs also the delayed
            // suspend, Ctrl-Y).
            quiet.c_cc[libc::VSUSP] = libc::_POSIX_VDISABLE;
            #[cfg(any(
                target_os = "macos",
                target_os = "freebsd",
                target_os = "openbsd",
                target_os = "netbsd",
                target_os = "dragonfly"
            ))]
            {
                quiet.c_cc[libc::VDSUSP] = libc::_POSIX_VDISABLE;
            }
            let guard = NoEcho {
                fd,
                saved,
                handlers,
            };
            // SAFETY: fd is an open terminal, quiet a valid termios.
            if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &raw const quiet) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(guard)
        }
    }

    impl Drop for NoEcho {
        fn drop(&mut self) {
            // SAFETY: restores what `on` read, then the dispositions it
            // replaced.
            unsafe {
                libc::tcsetattr(self.fd, libc::TCSANOW, &raw const self.saved);
                for (sig, old) in &self.handlers {
                    libc::sigaction(*sig, old, std::ptr::null_mut());
                }
            }
            FD.store(-1, Ordering::SeqCst);
        }
    }
}
