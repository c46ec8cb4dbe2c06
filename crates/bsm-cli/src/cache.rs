//! The session cache of `bsm export --format process` and `bsm exec`: an
//! assumed role's credentials (and an MFA session's) kept until a refresh
//! window before they end, so that the AWS CLI, which runs its
//! `credential_process` on every command, gets one `AssumeRole` (and one MFA
//! prompt) per session instead of one per command.
//!
//! - Where: `$XDG_CACHE_HOME/bsm`, else `~/.cache/bsm`; the folder is made
//!   with mode 0700, each file written atomically with mode 0600.
//! - Trust: a file (or the folder) that is not the user's own, or that other
//!   users may read or write, is not used, with a warning; so is a symbolic
//!   link.
//! - Key: a SHA-256 of everything that changes the answer, read from the
//!   command line, the environment and the shared files without resolving
//!   anything (the source profile, its credential settings or the keys in
//!   the environment, the role ARN, session name, duration, external id,
//!   MFA serial, and every input to the STS endpoint: `--endpoint-url`,
//!   `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_STS`, the profile's
//!   `endpoint_url` and `services`); no secret goes into it, and the name
//!   shows none. A hit therefore builds nothing (see `manager.rs`).
//! - `--no-cache` bypasses it; `bsm cache clear` removes it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bsm::aws_credential_types::Credentials;
use serde::{Deserialize, Serialize};

use crate::Failure;

/// One cached session, in the `credential_process` JSON format.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    version: u8,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
}

/// The cache folder, checked.
pub struct Cache {
    dir: PathBuf,
}

/// The largest cache file read.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

impl Cache {
    /// The default folder: `$XDG_CACHE_HOME/bsm`, else `~/.cache/bsm`. A
    /// relative or empty value is ignored, as the XDG base directory spec
    /// says, so that no cache of credentials lands in the current folder.
    pub fn default_dir() -> Option<PathBuf> {
        let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        std::env::var_os("XDG_CACHE_HOME")
            .and_then(absolute)
            .or_else(|| {
                std::env::var_os("HOME")
                    .and_then(absolute)
                    .map(|h| h.join(".cache"))
            })
            .map(|d| d.join("bsm"))
    }

    /// The cache in `dir`, made with mode 0700 if missing; `None` (with a
    /// warning on stderr) when the folder cannot be trusted.
    pub fn open(dir: PathBuf) -> Option<Self> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        if let Err(e) = builder.create(&dir) {
            warn(&format!(
                "cannot make the cache folder {}: {e}",
                dir.display()
            ));
            return None;
        }
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {
                if let Some(problem) = untrusted(&meta, 0o077) {
                    warn(&format!(
                        "not using the cache folder {}: {problem}",
                        dir.display()
                    ));
                    return None;
                }
            }
            _ => {
                warn(&format!(
                    "not using the cache folder {}: not a folder",
                    dir.display()
                ));
                return None;
            }
        }
        Some(Self { dir })
    }

    /// The key of a session: a SHA-256 of its parts, as hex.
    pub fn key(parts: &[(&str, String)]) -> String {
        use sha2::Digest as _;
        let mut hash = sha2::Sha256::new();
        hash.update(b"bsm-session-cache-v1\n");
        for (name, value) in parts {
            // Length-prefixed, so that no two lists of parts hash alike.
            hash.update((name.len() as u64).to_le_bytes());
            hash.update(name.as_bytes());
            hash.update((value.len() as u64).to_le_bytes());
            hash.update(value.as_bytes());
        }
        hex::encode(hash.finalize())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The cached credentials of `key` if they stay valid beyond
    /// `refresh_window` from now, and the file can be trusted.
    pub fn get(&self, key: &str, refresh_window: Duration) -> Option<Credentials> {
        let path = self.path(key);
        let text = match read_trusted(&path) {
            Ok(Some(t)) => t,
            Ok(None) => return None,
            Err(problem) => {
                warn(&format!(
                    "not using the cached session {}: {problem}",
                    path.display()
                ));
                return None;
            }
        };
        let entry: Entry = serde_json::from_str(&text).ok()?;
        let expiration = bsm::aws_smithy_types::DateTime::from_str(
            &entry.expiration,
            bsm::aws_smithy_types::date_time::Format::DateTime,
        )
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())?;
        // A window too large to add to now reaches past any session.
        if SystemTime::now()
            .checked_add(refresh_window)
            .is_none_or(|t| t >= expiration)
        {
            return None;
        }
        let mut creds = Credentials::builder()
            .access_key_id(entry.access_key_id)
            .secret_access_key(entry.secret_access_key)
            .session_token(entry.session_token)
            .expiry(expiration)
            .provider_name("bsm-session-cache");
        creds.set_account_id(entry.account_id.map(Into::into));
        Some(creds.build())
    }

    /// Keeps `creds` under `key`: a new file, mode 0600, put in place by a
    /// rename (a reader sees the old file or the new one, never half).
    pub fn put(&self, key: &str, creds: &Credentials) -> Result<(), Failure> {
        let (Some(token), Some(expiry)) = (creds.session_token(), creds.expiry()) else {
            return Ok(()); // long-lived keys are not a session
        };
        let entry = Entry {
            version: 1,
            access_key_id: creds.access_key_id().to_owned(),
            secret_access_key: creds.secret_access_key().to_owned(),
            session_token: token.to_owned(),
            expiration: bsm::aws_smithy_types::DateTime::from(expiry)
                .fmt(bsm::aws_smithy_types::date_time::Format::DateTime)?,
            account_id: creds.account_id().map(|a| a.as_str().to_owned()),
        };
        let path = self.path(key);
        let json = serde_json::to_string(&entry)?;
        bsm::secret_file::write_replace(&path, json.as_bytes())
            .map_err(|e| format!("cannot write the cached session {}: {e}", path.display()))?;
        Ok(())
    }

    /// Removes every cached session; returns how many.
    pub fn clear(&self) -> Result<usize, Failure> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json" || e == "tmp") {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn warn(message: &str) {
    tracing::warn!("{message}");
}

/// Why a file or folder cannot be trusted: not the user's own, or open to
/// others beyond `allowed_mask`.
fn untrusted(meta: &std::fs::Metadata, forbidden: u32) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Some(format!("it belongs to user id {}, not {me}", meta.uid()));
        }
        if meta.mode() & forbidden != 0 {
            return Some(format!(
                "its mode {:o} lets other users in (want {:o})",
                meta.mode() & 0o777,
                0o777 & !forbidden & if meta.is_dir() { 0o777 } else { 0o666 }
            ));
        }
    }
    let _ = (meta, forbidden);
    None
}

/// The file's text, if there is a trustworthy file: `Ok(None)` when there
/// is none, `Err` with the reason when there is one that cannot be trusted
/// (a FIFO or a device is refused at once, never waited on).
fn read_trusted(path: &Path) -> Result<Option<String>, String> {
    match bsm::secret_file::read_private(path, MAX_ENTRY_BYTES) {
        Ok(read) if read.open_to_others => Err("its mode lets other users in (want 600)".into()),
        Ok(read) => Ok(Some(read.text)),
        Err(bsm::secret_file::ReadError::NotFound) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}
