//! `aws login` sessions: what bsm checks before aws-config reads a cached
//! login token, because the token holds a refresh token and a private key
//! and aws-config reads the file as it finds it and writes it back in place.
//!
//! The rule (the one bsm's own session cache follows): the folder
//! (`AWS_LOGIN_CACHE_DIRECTORY`, else `~/.aws/login/cache`) must be an
//! absolute path, and when it exists, a folder of this user that no other
//! user can write to; the token, when it exists, a regular file of this
//! user (never a symbolic link, a FIFO or a device, which would be followed
//! or waited on). A token other users can read is used, with a warning.
//! aws-config and botocore take an empty or relative
//! `AWS_LOGIN_CACHE_DIRECTORY` as a folder under the current one, where
//! anyone who owns that folder can plant a token or swap a link.

use std::path::PathBuf;

use crate::chain::{Step, load_profiles, steps};
use crate::credentials::ProfilePaths;
use crate::{Error, Input, Result};

/// The largest token file read (a token is about 2 KiB).
const MAX_TOKEN_BYTES: u64 = 64 * 1024;

/// The login cache folder, as aws-config finds it; an error when
/// `AWS_LOGIN_CACHE_DIRECTORY` is empty or relative.
fn cache_dir() -> Result<Option<PathBuf>> {
    match std::env::var_os("AWS_LOGIN_CACHE_DIRECTORY") {
        Some(dir) => {
            let path = PathBuf::from(&dir);
            if path.is_absolute() {
                Ok(Some(path))
            } else {
                Err(Error::invalid(
                    Input::LoginCacheDirectory,
                    dir.to_string_lossy(),
                    "must be an absolute path: an empty or relative one is a folder under the \
                     current one, which another user may own",
                ))
            }
        }
        None => Ok(std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".aws/login/cache"))),
    }
}

/// Checks the login cache of `profile`'s chain, if its root is an
/// `aws login` session (see the module's rule).
pub(crate) async fn check(profile: &str, paths: &ProfilePaths) -> Result<()> {
    let Some(set) = load_profiles(profile, paths).await else {
        return Ok(());
    };
    let Some(session) = steps(&set, profile).into_iter().find_map(|s| match s {
        Step::Login { session, .. } => Some(session),
        _ => None,
    }) else {
        return Ok(());
    };
    let Some(dir) = cache_dir()? else {
        return Ok(());
    };
    let untrusted = |what: String| Error::Credentials {
        profile: Some(profile.to_owned()),
        source: format!("not using the `aws login` token: {what}").into(),
    };
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(untrusted(format!("{} is not a folder", dir.display())));
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt as _;
                // SAFETY: geteuid has no preconditions and cannot fail.
                let me = unsafe { libc::geteuid() };
                if meta.uid() != me {
                    return Err(untrusted(format!(
                        "the folder {} belongs to user id {}, not {me}",
                        dir.display(),
                        meta.uid()
                    )));
                }
                if meta.mode() & 0o022 != 0 {
                    return Err(untrusted(format!(
                        "other users can write to the folder {} (mode {:o})",
                        dir.display(),
                        meta.mode() & 0o777
                    )));
                }
            }
        }
        // aws-config reports the missing token, and the hint says `aws login`.
        Err(_) => return Ok(()),
    }
    let digest = <sha2::Sha256 as sha2::Digest>::digest(session.trim().as_bytes());
    let name = hex::encode(digest);
    let token = dir.join(format!("{name}.json"));
    match crate::secret_file::read_private(&token, MAX_TOKEN_BYTES) {
        Ok(file) => {
            if file.open_to_others {
                tracing::warn!(
                    "the `aws login` token {} is readable by other users: chmod 600 it",
                    token.display()
                );
            }
            Ok(())
        }
        Err(crate::secret_file::ReadError::NotFound) => Ok(()),
        Err(e) => Err(untrusted(format!("{}: {e}", token.display()))),
    }
}
