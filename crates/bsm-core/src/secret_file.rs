//! Files that hold credentials: written atomically with mode 0600, and read
//! only when they are the user's own regular files.
//!
//! The bytes go to a temporary file beside the target (same folder, so the
//! same file system), created with mode 0600 from its first moment and
//! synced, then put in place in one step, and the folder is synced after:
//! a reader sees no file or the whole file, never half of one, and never a
//! moment where it is readable by others; after a crash the file is there
//! or it is not. [`Snapshot::write_new`](crate::Snapshot::write_new) and the
//! `bsm` command's session cache write this way.
//!
//! [`read_private`] is the one reader of such files: it never follows a
//! symbolic link, never blocks on a FIFO or a device, and reads a bounded
//! number of bytes of a regular file that belongs to this user.
//!
//! ```no_run
//! # use bsm_core as bsm;
//! # fn main() -> std::io::Result<()> {
//! use bsm::secret_file;
//! let path = std::path::Path::new("/run/user/1000/creds.json");
//! match secret_file::write_new(path, br#"{"AccessKeyId": "..."}"#) {
//!     Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
//!         eprintln!("{} is there already; left as it was", path.display());
//!     }
//!     other => other?,
//! }
//! secret_file::write_replace(path, br#"{"AccessKeyId": "..."}"#)?;
//! let read = secret_file::read_private(path, 64 * 1024).map_err(std::io::Error::other)?;
//! assert!(!read.open_to_others);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::Path;

/// Writes `contents` to `path`, which must not exist: the temporary file is
/// moved into place only if nothing is there, which fails with
/// [`AlreadyExists`](std::io::ErrorKind::AlreadyExists) if a file is there,
/// even one created a moment before. An existing file is left as it was.
///
/// The move is a `renameat2(RENAME_NOREPLACE)` where the kernel and file
/// system have it (Linux), else a hard link; on a file system without hard
/// links (FAT, exFAT, some network and FUSE file systems) the name is first
/// claimed with an exclusive create, then the file renamed over the claim
/// (a reader may then see an empty file for a moment, never a partial one).
///
/// # Errors
/// `AlreadyExists` as above; any error creating, writing, syncing or
/// moving the file (the temporary file is removed then).
pub fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write(path, contents, Place::New(NoReplace::Best))
}

/// Writes `contents` to `path`, replacing a file that is there by a rename
/// (readers see the old file or the new one).
///
/// # Errors
/// Any error creating, writing, syncing or renaming the file (the temporary
/// file is removed then).
pub fn write_replace(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write(path, contents, Place::Replace)
}

/// How the temporary file is put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Replace,
    New(NoReplace),
}

/// The ways to move a file to a name that must be free, best first (each
/// falls back to the next where the file system lacks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The fallbacks are chosen by `Best` when the file system lacks the others;
// the tests choose them directly.
#[cfg_attr(not(test), allow(dead_code))]
enum NoReplace {
    /// `renameat2(RENAME_NOREPLACE)`, then the others.
    Best,
    /// A hard link, then the claim.
    Link,
    /// An exclusive create of the name, then a rename over it.
    Claim,
}

fn write(path: &Path, contents: &[u8], place: Place) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "secret".into(), |n| n.to_string_lossy().into_owned());
    // Beside the target: the same folder, so the same file system.
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    let result = (|| -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        match place {
            Place::Replace => std::fs::rename(&tmp, path)?,
            Place::New(how) => move_no_replace(&tmp, path, how)?,
        }
        sync_folder(path);
        Ok(())
    })();
    // Gone after a rename; left over after a link or a failure.
    if let Err(e) = std::fs::remove_file(&tmp)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %tmp.display(), error = %e, "cannot remove a temporary file");
    }
    result
}

/// Moves `tmp` to `path` unless something is at `path`.
fn move_no_replace(tmp: &Path, path: &Path, how: NoReplace) -> std::io::Result<()> {
    let unsupported = |e: &std::io::Error| {
        e.kind() == std::io::ErrorKind::Unsupported
            || matches!(
                e.raw_os_error(),
                Some(code) if [libc::EINVAL, libc::ENOSYS, libc::ENOTSUP, libc::EOPNOTSUPP, libc::EPERM]
                    .contains(&code)
            )
    };
    if how == NoReplace::Best {
        match rename_no_replace(tmp, path) {
            Err(e) if unsupported(&e) => {}
            other => return other,
        }
    }
    if matches!(how, NoReplace::Best | NoReplace::Link) {
        // A hard link fails if the target exists: no clobbering.
        match std::fs::hard_link(tmp, path) {
            Err(e) if unsupported(&e) => {}
            other => return other,
        }
    }
    // No hard links here: claim the name, then rename over the claim.
    let mut claim = std::fs::OpenOptions::new();
    claim.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut claim, 0o600);
    drop(claim.open(path)?);
    std::fs::rename(tmp, path)
}

#[cfg(target_os = "linux")]
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: two valid NUL-terminated paths, relative to the working folder.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn rename_no_replace(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Syncs the folder of `path`, so that the new name survives a crash (the
/// file itself was synced before it was moved). Best effort: some file
/// systems cannot sync a folder, and the file is in place either way.
fn sync_folder(path: &Path) {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(d) = std::fs::File::open(dir)
            && let Err(e) = d.sync_all()
            && e.raw_os_error() != Some(libc::EINVAL)
        {
            tracing::debug!(path = %dir.display(), error = %e, "cannot sync a folder");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A file read by [`read_private`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrivateFile {
    /// Its text.
    pub text: String,
    /// Its mode lets other users read or write it (bits `0o077`).
    pub open_to_others: bool,
}

impl fmt::Debug for PrivateFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateFile")
            .field("bytes", &self.text.len())
            .field("open_to_others", &self.open_to_others)
            .finish_non_exhaustive()
    }
}

/// Why [`read_private`] did not read a file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// Nothing is at the path.
    NotFound,
    /// The path is a symbolic link (never followed).
    SymbolicLink,
    /// The path is a folder.
    Directory,
    /// A FIFO, a socket or a device: not read, and not waited on.
    NotRegular,
    /// Another user's file.
    OtherOwner {
        /// Its owner's user id.
        uid: u32,
        /// This process's effective user id.
        me: u32,
    },
    /// Larger than the limit given.
    TooLarge {
        /// The limit.
        max_bytes: u64,
    },
    /// The file could not be opened or read.
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("no such file or directory"),
            ReadError::SymbolicLink => f.write_str(
                "the path is a symbolic link; files with credentials are read only from                  regular files",
            ),
            ReadError::Directory => f.write_str("the path is a directory"),
            ReadError::NotRegular => f.write_str("not a regular file (a FIFO, socket or device)"),
            ReadError::OtherOwner { uid, me } => write!(
                f,
                "the file belongs to user id {uid}, not to this user ({me}); a file with                  credentials is read only from the user's own"
            ),
            ReadError::TooLarge { max_bytes } => write!(f, "the file is over {max_bytes} bytes"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads a file with credentials: a regular file of this user's, at most
/// `max_bytes` long. The path is opened without following a symbolic link
/// and without blocking (a FIFO or a device is refused at once, never
/// waited on), and checked on the open file, not by name, so it cannot be
/// swapped between the check and the read. Whether others may read it is
/// reported, not refused: the caller decides.
///
/// # Errors
/// A [`ReadError`] naming what is wrong with the file.
pub fn read_private(path: &Path, max_bytes: u64) -> Result<PrivateFile, ReadError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = opts.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        #[cfg(unix)]
        _ if e.raw_os_error() == Some(libc::ELOOP) => ReadError::SymbolicLink,
        #[cfg(unix)]
        _ if e.raw_os_error() == Some(libc::ENXIO) => ReadError::NotRegular,
        _ => ReadError::Io(e),
    })?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if meta.is_dir() {
        return Err(ReadError::Directory);
    }
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    #[cfg(unix)]
    let open_to_others = {
        use std::os::unix::fs::MetadataExt as _;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(ReadError::OtherOwner {
                uid: meta.uid(),
                me,
            });
        }
        meta.mode() & 0o077 != 0
    };
    #[cfg(not(unix))]
    let open_to_others = false;
    if meta.len() > max_bytes {
        return Err(ReadError::TooLarge { max_bytes });
    }
    let mut text = String::new();
    // Bounded even if the size lied (a file growing while read).
    file.take(max_bytes.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(ReadError::Io)?;
    if text.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge { max_bytes });
    }
    Ok(PrivateFile {
        text,
        open_to_others,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "bsm-secret-file-{name}-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn new_refuses_an_existing_file_and_replace_replaces_it() {
        let dir = scratch("new-replace");
        let path = dir.join("creds.json");
        write_new(&path, b"first").unwrap();
        let e = write_new(&path, b"second").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"first", "left as it was");
        write_replace(&path, b"third").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"third");
        assert_eq!(names(&dir), ["creds.json"], "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_0600_from_its_first_moment() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = scratch("mode");
        for (path, replace) in [(dir.join("a"), false), (dir.join("b"), true)] {
            write(
                &path,
                b"x",
                if replace {
                    Place::Replace
                } else {
                    Place::New(NoReplace::Best)
                },
            )
            .unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = scratch("failed");
        // The target is a folder: the rename onto it fails after the
        // temporary file was made.
        std::fs::create_dir(dir.join("taken")).unwrap();
        std::fs::write(dir.join("taken/inside"), b"kept").unwrap();
        assert!(write_replace(&dir.join("taken"), b"x").is_err());
        assert_eq!(names(&dir), ["taken"]);
        assert_eq!(std::fs::read(dir.join("taken/inside")).unwrap(), b"kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_way_of_placing_a_new_file_refuses_an_existing_one() {
        for how in [NoReplace::Best, NoReplace::Link, NoReplace::Claim] {
            let dir = scratch("no-replace");
            let path = dir.join("creds.json");
            write(&path, b"first", Place::New(how)).unwrap();
            let e = write(&path, b"second", Place::New(how)).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{how:?}");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                b"first",
                "{how:?}: left as it was"
            );
            assert_eq!(
                names(&dir),
                ["creds.json"],
                "{how:?}: no temporary file left"
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{how:?}");
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_reader_refuses_at_once_what_is_not_the_users_regular_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = scratch("read");
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        assert!(matches!(
            read_private(&fifo, 100),
            Err(ReadError::NotRegular)
        ));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "not waited on"
        );
        let file = dir.join("f");
        write_new(&file, b"0123456789").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(
            read_private(&link, 100),
            Err(ReadError::SymbolicLink)
        ));
        assert!(matches!(read_private(&dir, 100), Err(ReadError::Directory)));
        assert!(matches!(
            read_private(&dir.join("none"), 100),
            Err(ReadError::NotFound)
        ));
        assert!(matches!(
            read_private(Path::new("/dev/zero"), 100),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read_private(&file, 9),
            Err(ReadError::TooLarge { max_bytes: 9 })
        ));
        let read = read_private(&file, 10).unwrap();
        assert_eq!(
            (read.text.as_str(), read.open_to_others),
            ("0123456789", false)
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_private(&file, 10).unwrap().open_to_others);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
