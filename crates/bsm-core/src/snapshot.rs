//! Credential snapshots: [`Snapshot`], a JSON file in the Python package's
//! exact format, so credentials cross process (and language) boundaries.
//!
//! Unlike the original, files are written atomically with mode 0600 from the
//! moment they exist, and an existing file is never overwritten by
//! [`SessionManager::temp_snapshot`] or [`Snapshot::write_new`].

use std::fmt;
use std::path::{Path, PathBuf};

use crate::mask::mask_user_id;
use crate::{Error, Result, SessionManager};

/// Credentials and region, as the Python package's `to_snapshot()` writes
/// them: keys `region_name`, `aws_access_key_id`, `aws_secret_access_key`,
/// and `aws_session_token` only when there is one, in that order. Its
/// `Debug` redacts the secret and the token.
///
/// [`to_json`](Self::to_json) and [`from_json`](Self::from_json) write and
/// read the JSON text; there is no serde impl (bsm-core reads and writes JSON
/// with the SDK's own `aws-smithy-json` rather than add serde to every
/// user's build).
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The region, or `null`.
    pub region_name: Option<String>,
    /// The access key id.
    pub aws_access_key_id: String,
    /// The secret access key.
    pub aws_secret_access_key: String,
    /// The session token of temporary credentials.
    pub aws_session_token: Option<String>,
    /// The endpoint URL every client uses (moto, `LocalStack`), written as
    /// `default_client_kwargs.endpoint_url`, which the Python package
    /// passes to every client it makes.
    pub endpoint_url: Option<String>,
    /// When the credentials end, if that is known. The Python package
    /// cannot read it from the snapshot (its `from_snapshot` passes every
    /// key to `BotoSesManager.__init__`, which refuses unknown keys and
    /// needs `expiration_time` as a `datetime`), so it goes in a file
    /// beside it, `PATH.expiry`, which bsm reads and the Python package
    /// ignores.
    pub expiration: Option<std::time::SystemTime>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("region_name", &self.region_name)
            .field("aws_access_key_id", &self.aws_access_key_id)
            .field("aws_secret_access_key", &"<redacted>")
            .field(
                "aws_session_token",
                &self.aws_session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("endpoint_url", &self.endpoint_url)
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The largest snapshot file read: a snapshot is well under 4 KiB (a
/// session token is at most a few KiB); anything larger is not one.
const MAX_SNAPSHOT_BYTES: u64 = 64 * 1024;

fn snapshot_error(path: &Path, source: impl Into<crate::error::BoxError>) -> Error {
    Error::Snapshot {
        path: path.to_path_buf(),
        source: source.into(),
    }
}

impl Snapshot {
    /// `~/.bsm-snapshot.json`, where the Python package reads and writes by
    /// default; an [`Error::Snapshot`] when there is no home directory.
    pub fn default_path() -> Result<PathBuf> {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".bsm-snapshot.json"))
            .ok_or_else(|| snapshot_error(Path::new("~/.bsm-snapshot.json"), "no home directory"))
    }

    /// The JSON text, byte for byte what Python's `json.dumps` writes for the
    /// same snapshot (`{"region_name": "us-east-1", ...}`, separators `", "`
    /// and `": "`, non-ASCII characters as `\uXXXX`).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"region_name\": ");
        match &self.region_name {
            Some(region) => push_python_json_string(&mut out, region),
            None => out.push_str("null"),
        }
        out.push_str(", \"aws_access_key_id\": ");
        push_python_json_string(&mut out, &self.aws_access_key_id);
        out.push_str(", \"aws_secret_access_key\": ");
        push_python_json_string(&mut out, &self.aws_secret_access_key);
        if let Some(token) = &self.aws_session_token {
            out.push_str(", \"aws_session_token\": ");
            push_python_json_string(&mut out, token);
        }
        if let Some(url) = &self.endpoint_url {
            out.push_str(", \"default_client_kwargs\": {\"endpoint_url\": ");
            push_python_json_string(&mut out, url);
            out.push('}');
        }
        out.push('}');
        out
    }

    /// Parses snapshot JSON: anything but an object, unknown, repeated or
    /// missing keys, a value that is not a string (or `null` where the
    /// Python package writes one), malformed JSON and text after the object
    /// are errors; empty keys are rejected. A missing `region_name` or
    /// `aws_session_token` is `None`.
    ///
    /// Fails with [`Error::InvalidInput`] for [`Input::SnapshotJson`](crate::Input::SnapshotJson),
    /// saying what is wrong (the text itself, which holds a secret, is not
    /// repeated).
    pub fn from_json(text: &str) -> Result<Self> {
        Self::parse(text).map_err(|e| {
            Error::invalid(
                crate::error::Input::SnapshotJson,
                "<redacted>",
                e.to_string(),
            )
        })
    }

    fn parse(text: &str) -> std::result::Result<Self, crate::error::BoxError> {
        use aws_smithy_json::deserialize::{Token, json_token_iter};
        const CUT_SHORT: &str = "the JSON text ends before the snapshot object does";
        let mut tokens = json_token_iter(text.as_bytes());
        if !matches!(tokens.next().transpose()?, Some(Token::StartObject { .. })) {
            return Err("a snapshot is a JSON object".into());
        }
        // Each field: not seen, or seen with a string or null.
        let mut fields: [Option<Option<String>>; 4] = Default::default();
        let mut endpoint: Option<Option<String>> = None;
        loop {
            let key = match tokens.next().transpose()? {
                Some(Token::EndObject { .. }) => break,
                Some(Token::ObjectKey { key, .. }) => key.to_unescaped()?,
                Some(_) => return Err("malformed snapshot object".into()),
                None => return Err(CUT_SHORT.into()),
            };
            if key == "default_client_kwargs" {
                if endpoint.is_some() {
                    return Err("duplicate field `default_client_kwargs`".into());
                }
                endpoint = Some(client_kwargs_endpoint(&mut tokens)?);
                continue;
            }
            let Some(slot) = SNAPSHOT_FIELDS.iter().position(|f| *f == key) else {
                return Err(format!(
                    "unknown field `{key}`, expected one of `{}` or `default_client_kwargs`",
                    SNAPSHOT_FIELDS.join("`, `")
                )
                .into());
            };
            let value = match tokens.next().transpose()? {
                Some(Token::ValueString { value, .. }) => Some(value.to_unescaped()?.into_owned()),
                Some(Token::ValueNull { .. }) => None,
                Some(_) => return Err(format!("`{key}` must be a string or null").into()),
                None => return Err(CUT_SHORT.into()),
            };
            if fields[slot].replace(value).is_some() {
                return Err(format!("duplicate field `{key}`").into());
            }
        }
        if tokens.next().transpose()?.is_some() {
            return Err("text after the snapshot object".into());
        }
        let [region_name, key_id, secret, token] = fields;
        let required = |value: Option<Option<String>>, name: &str| match value {
            Some(Some(value)) if !value.is_empty() => Ok(value),
            Some(Some(_)) => Err(format!("`{name}` must not be empty")),
            Some(None) => Err(format!("`{name}` must be a string, not null")),
            None => Err(format!("missing field `{name}`")),
        };
        Ok(Snapshot {
            region_name: region_name.flatten(),
            aws_access_key_id: required(key_id, SNAPSHOT_FIELDS[1])?,
            aws_secret_access_key: required(secret, SNAPSHOT_FIELDS[2])?,
            aws_session_token: token.flatten(),
            endpoint_url: endpoint.flatten(),
            expiration: None,
        })
    }

    /// Reads a snapshot file, as carefully as OpenSSH reads a key file.
    /// Errors name the path. Refused: a symbolic link, anything but a
    /// regular file, a file owned by another user, a file over 64 KiB
    /// (`/dev/zero` cannot exhaust memory). The checks look at the opened
    /// file, not the path, so the file cannot be swapped in between. A file
    /// that other users can read is read, with a warning (tracing): the
    /// Python package writes its snapshots with mode 0644.
    ///
    /// The expiry comes from `PATH.expiry` beside it, when that file is
    /// there, is the user's own and belongs to these keys (it names their
    /// key id); otherwise it is `None`.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = read_private(path).map_err(|e| snapshot_error(path, e))?;
        let mut snapshot = Self::parse(&text).map_err(|e| snapshot_error(path, e))?;
        snapshot.expiration = read_expiry(&expiry_path(path), &snapshot.aws_access_key_id);
        Ok(snapshot)
    }

    /// Writes the snapshot to `path`, which must not exist yet: atomically
    /// (a temporary file in the same folder, then a no-clobber link into
    /// place) and with mode 0600 from the moment the file exists. An
    /// existing file is left exactly as it was, with
    /// [`Error::Snapshot`] saying so.
    pub fn write_new(&self, path: impl AsRef<Path>) -> Result<()> {
        self.write(path.as_ref(), false)
    }

    /// Like [`write_new`](Self::write_new), but atomically replaces a file
    /// that is there (a rename: readers see the old or the new file, never
    /// half of one).
    pub fn write_replace(&self, path: impl AsRef<Path>) -> Result<()> {
        self.write(path.as_ref(), true)
    }

    fn write(&self, path: &Path, replace: bool) -> Result<()> {
        if path.is_dir() {
            return Err(snapshot_error(path, "the path is a directory"));
        }
        if !replace && path.exists() {
            return Err(snapshot_error(
                path,
                "a file already exists there; it was left as it was",
            ));
        }
        let json = self.to_json();
        let written = if replace {
            crate::secret_file::write_replace(path, json.as_bytes())
        } else {
            crate::secret_file::write_new(path, json.as_bytes())
        };
        written.map_err(|e| {
            let e: crate::error::BoxError = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "a file already exists there; it was left as it was".into()
            } else {
                Box::new(e)
            };
            snapshot_error(path, e)
        })?;
        // The expiry beside it; a stale one of other keys is replaced or
        // removed. Without it, the snapshot is not left half written.
        let sidecar = expiry_path(path);
        let result = match self
            .expiration
            .map(|t| expiry_json(&self.aws_access_key_id, t))
        {
            Some(Some(text)) => crate::secret_file::write_replace(&sidecar, text.as_bytes()),
            _ => match std::fs::remove_file(&sidecar) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        };
        result.map_err(|e| {
            let _ = std::fs::remove_file(path);
            snapshot_error(&sidecar, e)
        })
    }

    /// The snapshot for display: key id masked, secret and token hidden.
    #[must_use]
    pub fn masked(&self) -> String {
        format!(
            "region_name = {}\naws_access_key_id = {}\naws_secret_access_key = ********\naws_session_token = {}",
            self.region_name.as_deref().unwrap_or("<not set>"),
            mask_user_id(&self.aws_access_key_id),
            if self.aws_session_token.is_some() {
                "<set>"
            } else {
                "<not set>"
            },
        )
    }
}

/// The snapshot's keys, in the order the Python package writes them.
const SNAPSHOT_FIELDS: [&str; 4] = [
    "region_name",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// Appends `value` as a JSON string exactly as Python's `json.dumps` writes
/// it (`ensure_ascii`): `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, and every
/// other character outside ASCII 0x20-0x7e as `\uXXXX` (lowercase hex,
/// UTF-16 surrogate pairs beyond the BMP).
fn push_python_json_string(out: &mut String, value: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a `String` cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Opens `path` without following a symbolic link and reads it, refusing
/// what is not the user's own regular file of a snapshot's size.
fn read_private(path: &Path) -> std::result::Result<String, crate::error::BoxError> {
    let read = crate::secret_file::read_private(path, MAX_SNAPSHOT_BYTES)?;
    if read.open_to_others {
        tracing::warn!(
            path = %path.display(),
            "snapshot file is readable by other users; it holds a secret key: chmod 600 it"
        );
    }
    Ok(read.text)
}

/// The value of `default_client_kwargs`, an object of the Python package's
/// client arguments: its `endpoint_url`, if it has one (the others are
/// boto3's own, which bsm has no use for).
fn client_kwargs_endpoint<'a>(
    tokens: &mut impl Iterator<
        Item = std::result::Result<
            aws_smithy_json::deserialize::Token<'a>,
            aws_smithy_json::deserialize::error::DeserializeError,
        >,
    >,
) -> std::result::Result<Option<String>, crate::error::BoxError> {
    use aws_smithy_json::deserialize::Token;
    match tokens.next().transpose()? {
        Some(Token::ValueNull { .. }) => return Ok(None),
        Some(Token::StartObject { .. }) => {}
        _ => return Err("`default_client_kwargs` must be an object".into()),
    }
    let mut endpoint = None;
    loop {
        let key = match tokens.next().transpose()? {
            Some(Token::EndObject { .. }) => return Ok(endpoint),
            Some(Token::ObjectKey { key, .. }) => key.to_unescaped()?,
            _ => return Err("malformed `default_client_kwargs`".into()),
        };
        if key == "endpoint_url" {
            endpoint = match tokens.next().transpose()? {
                Some(Token::ValueString { value, .. }) => Some(value.to_unescaped()?.into_owned()),
                Some(Token::ValueNull { .. }) => None,
                _ => return Err("`default_client_kwargs.endpoint_url` must be a string".into()),
            };
        } else {
            aws_smithy_json::deserialize::token::skip_value(tokens)?;
        }
    }
}

/// `PATH.expiry`: the expiry of the snapshot at `path`.
fn expiry_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".expiry");
    PathBuf::from(name)
}

/// The expiry file's text: the key id it belongs to, and the time.
fn expiry_json(key_id: &str, at: std::time::SystemTime) -> Option<String> {
    let time = aws_smithy_types::DateTime::from(at)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()?;
    let mut out = String::from("{\"aws_access_key_id\": ");
    push_python_json_string(&mut out, key_id);
    out.push_str(", \"expiration\": ");
    push_python_json_string(&mut out, &time);
    out.push('}');
    Some(out)
}

/// The expiry in `sidecar`, if it is the user's own file and belongs to
/// `key_id`; anything else is no known expiry.
fn read_expiry(sidecar: &Path, key_id: &str) -> Option<std::time::SystemTime> {
    let text = match crate::secret_file::read_private(sidecar, 4096) {
        Ok(read) => read.text,
        Err(crate::secret_file::ReadError::NotFound) => return None,
        Err(e) => {
            tracing::warn!(path = %sidecar.display(), error = %e, "not using the snapshot's expiry file");
            return None;
        }
    };
    let (id, time) = expiry_fields(&text)?;
    (id == key_id).then(|| crate::credentials::parse_rfc3339(&time))?
}

/// The key id and the time of an expiry file's JSON object.
fn expiry_fields(text: &str) -> Option<(String, String)> {
    use aws_smithy_json::deserialize::{Token, json_token_iter};
    let mut tokens = json_token_iter(text.as_bytes());
    if !matches!(tokens.next()?.ok()?, Token::StartObject { .. }) {
        return None;
    }
    let (mut id, mut time) = (None, None);
    loop {
        let key = match tokens.next()?.ok()? {
            Token::EndObject { .. } => break,
            Token::ObjectKey { key, .. } => key.to_unescaped().ok()?.into_owned(),
            _ => return None,
        };
        let Token::ValueString { value, .. } = tokens.next()?.ok()? else {
            return None;
        };
        let value = value.to_unescaped().ok()?.into_owned();
        match key.as_str() {
            "aws_access_key_id" => id = Some(value),
            "expiration" => time = Some(value),
            _ => return None,
        }
    }
    Some((id?, time?))
}

impl SessionManager {
    /// The current credentials, region, endpoint URL and, when it is
    /// fixed, expiry as a [`Snapshot`] (through the identity cache every
    /// client uses).
    pub async fn to_snapshot(&self) -> Result<Snapshot> {
        let creds = self.credentials().await?;
        Ok(Snapshot {
            region_name: self.aws_region().map(str::to_owned),
            aws_access_key_id: creds.access_key_id().to_owned(),
            aws_secret_access_key: creds.secret_access_key().to_owned(),
            aws_session_token: creds.session_token().map(str::to_owned),
            endpoint_url: self.endpoint_url().map(str::to_owned),
            expiration: self.expiration_time(),
        })
    }

    /// A manager on a snapshot's credentials, region, endpoint URL and
    /// expiry. For other settings, use
    /// [`SessionManagerBuilder::snapshot`](crate::SessionManagerBuilder::snapshot).
    pub async fn from_snapshot(snapshot: &Snapshot) -> Result<Self> {
        Self::builder().snapshot(snapshot).build().await
    }

    /// A manager from a snapshot file (read as [`Snapshot::read`] says).
    pub async fn from_snapshot_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_snapshot(&Snapshot::read(path)?).await
    }

    /// A manager from the default snapshot file, `~/.bsm-snapshot.json`
    /// ([`Snapshot::default_path`]).
    pub async fn from_snapshot_file_default() -> Result<Self> {
        Self::from_snapshot_file(Snapshot::default_path()?).await
    }

    /// Writes a snapshot file (see [`Snapshot::write_new`]: atomic, mode
    /// 0600, never over an existing file) and returns a guard that deletes
    /// it when dropped, also when the scope unwinds from a panic, and only
    /// if the file there is still the one it wrote.
    ///
    /// If a file already stands at the path, nothing is written and it is
    /// kept: the call fails with [`Error::Snapshot`].
    pub async fn temp_snapshot(&self, path: impl AsRef<Path>) -> Result<SnapshotGuard> {
        let path = path.as_ref();
        // Absolute now, so a later change of directory deletes the same file.
        let path = std::path::absolute(path).map_err(|e| snapshot_error(path, e))?;
        self.to_snapshot().await?.write_new(&path)?;
        let id = file_id(&path).map_err(|e| snapshot_error(&path, e))?;
        Ok(SnapshotGuard { path, id })
    }

    /// [`temp_snapshot`](Self::temp_snapshot) at the default path,
    /// `~/.bsm-snapshot.json` ([`Snapshot::default_path`]).
    pub async fn temp_snapshot_default(&self) -> Result<SnapshotGuard> {
        self.temp_snapshot(Snapshot::default_path()?).await
    }
}

/// What tells one file from another at the same path: device and inode,
/// and the change time and size (a file created after ours was deleted may
/// get the same inode number, and file times are coarse).
type FileId = (u64, u64, i64, i64, u64);

#[cfg(unix)]
fn file_id(path: &Path) -> std::io::Result<FileId> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(path)?;
    Ok((
        meta.dev(),
        meta.ino(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.len(),
    ))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> std::io::Result<FileId> {
    std::fs::symlink_metadata(path).map(|m| (0, 0, 0, 0, m.len()))
}

/// Deletes the snapshot file it guards when dropped: only the file it
/// wrote (same device, inode, change time and size), never one another process
/// put at the path since.
#[derive(Debug)]
#[must_use = "the snapshot file is deleted when the guard is dropped"]
pub struct SnapshotGuard {
    path: PathBuf,
    id: FileId,
}

impl SnapshotGuard {
    /// The snapshot file (absolute).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SnapshotGuard {
    fn drop(&mut self) {
        match file_id(&self.path) {
            Ok(id) if id == self.id => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot delete the snapshot file");
                }
                // Its expiry file, if it wrote one.
                let _ = std::fs::remove_file(expiry_path(&self.path));
            }
            Ok(_) => tracing::warn!(
                path = %self.path.display(),
                "another file now stands where the snapshot was written; it is left alone"
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot check the snapshot file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::chain;

    /// A new empty folder under `base`.
    fn scratch(base: &Path, name: &str) -> PathBuf {
        let dir = base.join(format!(
            "bsm-unit-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The error and its causes, as one text.

    #[test]
    fn the_default_path_is_in_home() {
        // Read only: the test does not change the environment.
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => assert_eq!(
                Snapshot::default_path().unwrap(),
                PathBuf::from(home).join(".bsm-snapshot.json")
            ),
            None => assert!(Snapshot::default_path().is_err()),
        }
    }

    #[test]
    fn write_replace_replaces_and_write_new_refuses() {
        let dir = scratch(&std::env::temp_dir(), "replace");
        let path = dir.join("snap.json");
        snap(None).write_new(&path).unwrap();
        let second = snap(Some("second"));
        let err = second.write_new(&path).unwrap_err();
        assert!(chain(&err).contains("a file already exists there"), "{err}");
        assert_eq!(Snapshot::read(&path).unwrap(), snap(None), "left as it was");
        second.write_replace(&path).unwrap();
        assert_eq!(Snapshot::read(&path).unwrap(), second);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["snap.json"], "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_temporary_file_is_made_beside_the_target() {
        // On another file system than the working folder (tmpfs), a
        // temporary file made anywhere else could not be linked into place.
        let Ok(shm) = std::fs::metadata("/dev/shm") else {
            return;
        };
        assert!(shm.is_dir());
        let dir = scratch(Path::new("/dev/shm"), "beside");
        let path = dir.join("snap.json");
        snap(None).write_new(&path).unwrap();
        assert_eq!(Snapshot::read(&path).unwrap(), snap(None));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn io_errors_keep_their_cause_and_only_an_existing_file_says_so() {
        let missing = Path::new("/nonexistent-bsm-dir/snap.json");
        let err = snap(None).write_new(missing).unwrap_err();
        let text = chain(&err);
        assert!(!text.contains("already exists"), "{text}");
        assert!(text.contains("No such file or directory"), "{text}");
        let text = chain(&Snapshot::read(missing).unwrap_err());
        assert!(!text.contains("symbolic link"), "{text}");
        assert!(text.contains("no such file or directory"), "{text}");
        #[cfg(unix)]
        {
            let dir = scratch(&std::env::temp_dir(), "link");
            let target = dir.join("snap.json");
            snap(None).write_new(&target).unwrap();
            let link = dir.join("link.json");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let text = chain(&Snapshot::read(&link).unwrap_err());
            assert!(text.contains("the path is a symbolic link"), "{text}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn masked_hides_the_secret_and_the_token() {
        assert_eq!(
            snap(Some("tok")).masked(),
            "region_name = us-east-1\naws_access_key_id = AKIA***EY01\n\
             aws_secret_access_key = ********\naws_session_token = <set>"
        );
        let mut s = snap(None);
        s.region_name = None;
        assert_eq!(
            s.masked(),
            "region_name = <not set>\naws_access_key_id = AKIA***EY01\n\
             aws_secret_access_key = ********\naws_session_token = <not set>"
        );
    }

    #[test]
    fn debug_shows_region_and_key_id_and_redacts_the_secrets() {
        let mut s = snap(Some("debug-token"));
        s.aws_access_key_id = "AKIADEBUGSHOWN000001".into();
        s.aws_secret_access_key = "debug-secret".into();
        assert_eq!(
            format!("{s:?}"),
            "Snapshot { region_name: Some(\"us-east-1\"), aws_access_key_id: \"AKIADEBUGSHOWN000001\", \
             aws_secret_access_key: \"<redacted>\", aws_session_token: Some(\"<redacted>\"), \
             endpoint_url: None, expiration: None }"
        );
        s.aws_session_token = None;
        assert!(format!("{s:?}").contains("aws_session_token: None,"));
    }

    fn snap(token: Option<&str>) -> Snapshot {
        Snapshot {
            region_name: Some("us-east-1".into()),
            aws_access_key_id: "AKIAEXAMPLEFAKEKEY01".into(),
            aws_secret_access_key: "fakeSecretKey/EXAMPLE+abc".into(),
            aws_session_token: token.map(str::to_owned),
            endpoint_url: None,
            expiration: None,
        }
    }

    #[test]
    fn json_matches_python_byte_for_byte() {
        assert_eq!(
            snap(Some("FakeSessionToken==")).to_json(),
            r#"{"region_name": "us-east-1", "aws_access_key_id": "AKIAEXAMPLEFAKEKEY01", "aws_secret_access_key": "fakeSecretKey/EXAMPLE+abc", "aws_session_token": "FakeSessionToken=="}"#
        );
        let unicode = Snapshot {
            region_name: Some("é-😀".into()),
            ..snap(None)
        };
        assert!(
            unicode
                .to_json()
                .starts_with(r#"{"region_name": "\u00e9-\ud83d\ude00", "#),
            "{}",
            unicode.to_json()
        );
        assert_eq!(Snapshot::from_json(&unicode.to_json()).unwrap(), unicode);
        let no_region = Snapshot {
            region_name: None,
            ..snap(None)
        };
        assert_eq!(
            no_region.to_json(),
            r#"{"region_name": null, "aws_access_key_id": "AKIAEXAMPLEFAKEKEY01", "aws_secret_access_key": "fakeSecretKey/EXAMPLE+abc"}"#
        );
    }

    #[test]
    fn parsing_reads_what_python_writes_and_says_what_is_wrong() {
        assert_eq!(
            Snapshot::from_json(&snap(Some("t")).to_json()).unwrap(),
            snap(Some("t"))
        );
        // A null region and no token, as Python writes them.
        let parsed = Snapshot::from_json(
            r#"{"region_name": null, "aws_access_key_id": "AKIA", "aws_secret_access_key": "s"}"#,
        )
        .unwrap();
        assert_eq!(parsed.region_name, None);
        assert_eq!(parsed.aws_session_token, None);
        assert_eq!(parsed.aws_access_key_id, "AKIA");
        for (bad, why) in [
            (
                r#"{"region_name": null, "aws_access_key_id": "a", "aws_secret_access_key": "b", "extra": 1}"#,
                "unknown field `extra`",
            ),
            (
                r#"{"region_name": null, "aws_access_key_id": "a"}"#,
                "missing field `aws_secret_access_key`",
            ),
            (
                r#"{"region_name": null, "aws_access_key_id": "", "aws_secret_access_key": "b"}"#,
                "must not be empty",
            ),
            ("{", "ends before the snapshot object does"),
            (
                r#"{"region_name": null, "aws_access_key_id": "a""#,
                "ends before the snapshot object does",
            ),
            (
                r#"{"region_name": null, "aws_access_key_id": "a", "aws_secret_access_key": "b", "aws_access_key_id": "c"}"#,
                "duplicate field `aws_access_key_id`",
            ),
            (
                r#"{"aws_access_key_id": null, "aws_secret_access_key": "b"}"#,
                "`aws_access_key_id` must be a string, not null",
            ),
            (
                r#"{"aws_access_key_id": "a", "aws_secret_access_key": 7}"#,
                "`aws_secret_access_key` must be a string or null",
            ),
            (
                r#"{"aws_access_key_id": "a", "aws_secret_access_key": "b"} {}"#,
                "text after the snapshot object",
            ),
            (
                r#"{"aws_access_key_id": "a", "aws_secret_access_key": "b\x"}"#,
                "invalid JSON escape",
            ),
            (r#"{"aws_access_key_id" "a"}"#, "unexpected token"),
            ("", "a snapshot is a JSON object"),
            ("[]", "a snapshot is a JSON object"),
            (r#"[null, "a", "b"]"#, "a snapshot is a JSON object"),
        ] {
            let err = Snapshot::from_json(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn every_escape_is_python_s_and_standard_json_reads_it_back() {
        // `json.dumps` of this dict, run with Python 3.11.
        let python = r#"{"region_name": null, "aws_access_key_id": "AK\"\\/\u0000\u001f\u007f\b\f\n\r\t", "aws_secret_access_key": "\u00e9\ud83d\ude00\u2028"}"#;
        let snapshot = Snapshot {
            region_name: None,
            aws_access_key_id: "AK\"\\/\u{0}\u{1f}\u{7f}\u{8}\u{c}\n\r\t".into(),
            aws_secret_access_key: "é😀\u{2028}".into(),
            aws_session_token: None,
            endpoint_url: None,
            expiration: None,
        };
        assert_eq!(snapshot.to_json(), python);
        assert_eq!(Snapshot::from_json(python).unwrap(), snapshot);
        // A standard JSON reader agrees on every value, and bsm reads what a
        // standard writer writes (compact, unescaped UTF-8, another key order).
        let value: serde_json::Value = serde_json::from_str(&snapshot.to_json()).unwrap();
        assert_eq!(
            value["aws_access_key_id"],
            snapshot.aws_access_key_id.as_str()
        );
        assert_eq!(
            value["aws_secret_access_key"],
            snapshot.aws_secret_access_key.as_str()
        );
        assert!(value["region_name"].is_null());
        let standard = serde_json::json!({
            "aws_session_token": "tok/\u{e9}",
            "aws_secret_access_key": snapshot.aws_secret_access_key,
            "aws_access_key_id": snapshot.aws_access_key_id,
        })
        .to_string();
        let read = Snapshot::from_json(&standard).unwrap();
        assert_eq!(read.region_name, None, "a missing region is None");
        assert_eq!(read.aws_session_token.as_deref(), Some("tok/\u{e9}"));
        assert_eq!(read.aws_access_key_id, snapshot.aws_access_key_id);
    }

    #[test]
    fn debug_and_masked_hide_secrets() {
        let s = snap(Some("FakeSessionToken=="));
        for text in [format!("{s:?}"), s.masked()] {
            assert!(!text.contains("fakeSecretKey"), "{text}");
            assert!(!text.contains("FakeSessionToken"), "{text}");
        }
    }
}
