//! The MFA code prompt: written to and read from the controlling terminal
//! (`/dev/tty`), never stdout, stderr or stdin, which the AWS CLI and the
//! SDKs capture when they run bsm as a `credential_process`, and which
//! belong to the child under `bsm exec`.

use std::io::{BufRead as _, Write as _};

use crate::Failure;

/// Asks for the MFA code of `serial` on the terminal; without one, fails at
/// once saying how to give the code.
pub fn mfa_code(serial: &str) -> Result<String, Failure> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            format!(
                "an MFA code is needed for {serial} and there is no terminal to ask on: \
                 give it with --mfa-code"
            )
        })?;
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
            return Err(format!(
                "an MFA code is needed for {serial}, and the terminal belongs to another job: \
                 give it with --mfa-code or BSM_MFA_CODE, or use --mfa-session (under exec \
                 --server, roles then refresh without a code)"
            )
            .into());
        }
    }
    let mut out = &tty;
    write!(out, "MFA code for {serial}: ")?;
    out.flush()?;
    let mut line = String::new();
    std::io::BufReader::new(&tty).read_line(&mut line)?;
    Ok(line.trim().to_owned())
}
