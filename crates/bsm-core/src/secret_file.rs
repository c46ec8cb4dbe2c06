//! Files that hold credentials, written atomically with mode 0600.
//!
//! The bytes go to a temporary file beside the target (same folder, so the
//! same file system), created with mode 0600 from its first moment and
//! synced, then put in place in one step: a reader sees no file or the
//! whole file, never half of one, and never a moment where it is readable
//! by others. [`Snapshot::write_new`](crate::Snapshot::write_new) and the
//! `bsm` command's session cache write this way.
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
//! # Ok(())
//! # }
//! ```

use std::io::Write as _;
use std::path::Path;

/// Writes `contents` to `path`, which must not exist: the temporary file is
/// hard-linked into place, which fails with
/// [`AlreadyExists`](std::io::ErrorKind::AlreadyExists) if a file is there,
/// even one created a moment before. An existing file is left as it was.
///
/// # Errors
/// `AlreadyExists` as above; any error creating, writing, syncing or
/// linking the file (the temporary file is removed then).
pub fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write(path, contents, false)
}

/// Writes `contents` to `path`, replacing a file that is there by a rename
/// (readers see the old file or the new one).
///
/// # Errors
/// Any error creating, writing, syncing or renaming the file (the temporary
/// file is removed then).
pub fn write_replace(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write(path, contents, true)
}

fn write(path: &Path, contents: &[u8], replace: bool) -> std::io::Result<()> {
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
        if replace {
            std::fs::rename(&tmp, path)
        } else {
            // A hard link fails if the target exists: no clobbering.
            std::fs::hard_link(&tmp, path)?;
            // The file is in place; a temporary name left over is only
            // untidy (it is 0600 too).
            if let Err(e) = std::fs::remove_file(&tmp) {
                tracing::warn!(path = %tmp.display(), error = %e, "cannot remove a temporary file");
            }
            Ok(())
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
            write(&path, b"x", replace).unwrap();
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
}
