//! `bsm snapshot save|show`: credential snapshot files, mode 0600, in the
//! Python package's format.

use std::path::PathBuf;
use std::process::ExitCode;

use bsm::{SessionManager, Snapshot};

use crate::Failure;

/// Shows a snapshot file, masked (needs no credentials).
pub fn show(path: Option<PathBuf>) -> Result<ExitCode, Failure> {
    let path = match path {
        Some(p) => p,
        None => Snapshot::default_path()?,
    };
    crate::out(&format!("{}\n", Snapshot::read(&path)?.masked()))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the current credentials to a snapshot file; `force` replaces an
/// existing file (atomically).
pub async fn save(
    bsm: &SessionManager,
    path: Option<PathBuf>,
    force: bool,
) -> Result<ExitCode, Failure> {
    let path = match path {
        Some(p) => p,
        None => Snapshot::default_path()?,
    };
    let snap = bsm.to_snapshot().await?;
    if force {
        snap.write_replace(&path)?;
    } else {
        snap.write_new(&path)?;
    }
    eprintln!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}
