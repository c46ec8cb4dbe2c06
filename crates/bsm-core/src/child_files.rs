//! The private folder of a server-mode child's files (its generated config,
//! an empty credentials file and boto config): made only where no other
//! user can reach it, removed when the server stops.

use std::path::{Path, PathBuf};

/// The private folder of a server-mode child's files: a config with no
/// secret, an empty credentials file and an empty boto config, in a new
/// folder of mode 0700 in a private parent ([`private_base`]): no other
/// user can look into it, or replace it while the child runs or after it
/// is gone. Removed when dropped.
#[cfg_attr(not(feature = "credential-server"), allow(dead_code))]
pub(crate) struct ChildFiles {
    pub(crate) dir: PathBuf,
}

#[cfg_attr(not(feature = "credential-server"), allow(dead_code))]
impl ChildFiles {
    /// Makes the folder and its three files; the error names the folder
    /// that could not be made or written.
    pub(crate) fn create(config: &str) -> crate::Result<Self> {
        let handoff = |path: &Path, e: std::io::Error| crate::Error::Handoff {
            path: path.to_path_buf(),
            source: Box::new(e),
        };
        let base = private_base().map_err(|(path, e)| handoff(&path, e))?;
        let files = Self::make_dir(&base).map_err(|e| handoff(&base, e))?;
        for (name, contents) in [("config", config), ("credentials", ""), ("boto", "")] {
            let path = files.dir.join(name);
            let written = (|| {
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                let mut file = opts.open(&path)?;
                std::io::Write::write_all(&mut file, contents.as_bytes())?;
                // Errors a full disk reports only when the data is flushed.
                file.sync_all()
            })();
            written.map_err(|e| handoff(&files.dir, e))?;
        }
        Ok(files)
    }

    /// A new folder with a random name (an existing name is never reused,
    /// so no one can have prepared it).
    pub(crate) fn make_dir(base: &Path) -> std::io::Result<Self> {
        let mut last = None;
        for _ in 0..8 {
            let dir = base.join(format!(
                "bsm-child-{}-{:016x}",
                std::process::id(),
                fastrand::u64(..)
            ));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&dir) {
                Ok(()) => return Ok(Self { dir }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free folder name")))
    }

    /// The folder.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The private parent of the children's folders, in which no other user
/// can create, rename or replace anything: `$XDG_RUNTIME_DIR` when it is
/// this user's own with mode 0700 (the login session's runtime folder),
/// else `bsm-<uid>` in the temporary folder, made with mode 0700 and used
/// only while it is this user's own folder (not a link) of mode 0700.
#[cfg_attr(not(feature = "credential-server"), allow(dead_code))]
pub(crate) fn private_base() -> Result<PathBuf, (PathBuf, std::io::Error)> {
    let absolute = |p: PathBuf| {
        if p.is_absolute() {
            p
        } else {
            std::env::current_dir().map_or(p.clone(), |d| d.join(p))
        }
    };
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && runtime.is_absolute()
        && private_dir(&runtime).is_ok()
        && runtime.to_str().is_some()
    {
        return Ok(runtime);
    }
    #[cfg(unix)]
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    #[cfg(not(unix))]
    let uid = 0;
    let base = absolute(std::env::temp_dir()).join(format!("bsm-{uid}"));
    let fail = |e: std::io::Error| (base.clone(), e);
    if base.to_str().is_none() {
        return Err(fail(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the temporary folder's path is not UTF-8, which the child's environment cannot carry",
        )));
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(&base) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(fail(e)),
        _ => {}
    }
    private_dir(&base).map_err(|why| {
        fail(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("not used: {why}; remove it, or set XDG_RUNTIME_DIR to a folder of your own"),
        ))
    })?;
    Ok(base)
}

/// Why `path` is not a private folder of this user's (`Ok` if it is).
pub(crate) fn private_dir(path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_dir() {
        return Err("not a folder (or a symbolic link)".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(format!("it belongs to user id {}, not {me}", meta.uid()));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "its mode {:o} lets other users in (want 700)",
                meta.mode() & 0o777
            ));
        }
    }
    Ok(())
}

impl Drop for ChildFiles {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.dir.display(), error = %e, "cannot remove the folder of a child's settings");
        }
    }
}
