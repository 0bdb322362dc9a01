//! Temporary files (uploads being received, bundles being imported, exports being written) in a
//! directory RosterHub owns instead of the system's: they hold full rosters, and a process killed
//! mid-job leaves them behind, where nothing would ever remove them.
//!
//! The root (`--temp-dir`, by default `tmp` beside the SQLite database) is mode 0700. Each
//! process works in its own subdirectory `<name>/` and holds an exclusive lock on `<name>.lock`
//! for as long as it lives; the operating system releases the lock when the process dies,
//! however it dies. At start a process sweeps the root: a subdirectory whose lock it can take
//! belonged to a dead process and is removed; one whose lock is held belongs to a live replica
//! sharing the data directory and is kept.
//!
//! The lock file is locked before it gets its final name (it is created as `.new-<name>` and
//! renamed), so no sweep can ever see an unlocked lock of a live process.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// This process's directory of temporary files, locked for its lifetime.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    /// Held (and locked) until the process ends; dropping it releases the directory.
    _lock: File,
}

const LOCK_SUFFIX: &str = ".lock";
const PENDING_PREFIX: &str = ".new-";

impl Scratch {
    /// Creates `root` (0700) if needed, removes what dead processes left there, and makes this
    /// process's own locked subdirectory.
    pub fn open(root: &Path) -> io::Result<Scratch> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)?;
        // An existing directory keeps its mode through `create`: tighten it.
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))?;
        let removed = sweep(root)?;
        if removed > 0 {
            tracing::info!(
                dir = %root.display(),
                removed,
                "temporary files of stopped processes removed"
            );
        }
        loop {
            let name = format!("p{}-{:016x}", std::process::id(), rand::random::<u64>());
            let pending = root.join(format!("{PENDING_PREFIX}{name}"));
            let lock = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&pending)?;
            // A sweep may take and delete a `.new-` file before it is locked here; the rename
            // then fails and another name is tried.
            if lock.try_lock().is_err() {
                continue;
            }
            match fs::rename(&pending, root.join(format!("{name}{LOCK_SUFFIX}"))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            let dir = root.join(&name);
            fs::DirBuilder::new().mode(0o700).create(&dir)?;
            return Ok(Scratch { dir, _lock: lock });
        }
    }

    /// The directory this process's temporary files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A new temporary file `<prefix>…<suffix>` (mode 0600) in `scratch`'s directory, or in the
/// system's temporary directory when there is none (library use without `serve`). Deleted when
/// dropped.
pub fn temp_file(
    scratch: Option<&Scratch>,
    prefix: &str,
    suffix: &str,
) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    match scratch {
        Some(s) => builder.tempfile_in(s.dir()),
        None => builder.tempfile(),
    }
}

/// Removes the subdirectories (and lock files) of processes that no longer hold their lock;
/// the number of subdirectories removed.
pub fn sweep(root: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        let stem = if let Some(stem) = name.strip_suffix(LOCK_SUFFIX) {
            stem
        } else if name.starts_with(PENDING_PREFIX) {
            // A process that died between creating and naming its lock: no directory yet.
            if lockable(&entry.path())? {
                remove_quietly(fs::remove_file(entry.path()))?;
            }
            continue;
        } else {
            // A directory whose lock file is gone was being removed by an interrupted sweep.
            if entry.file_type()?.is_dir() && !root.join(format!("{name}{LOCK_SUFFIX}")).exists() {
                remove_quietly(fs::remove_dir_all(entry.path()))?;
                removed += 1;
            }
            continue;
        };
        if !lockable(&entry.path())? {
            continue;
        }
        // The directory first: a lock file without its directory is harmless, the reverse
        // would look like the interrupted case above.
        remove_quietly(fs::remove_dir_all(root.join(stem)))?;
        remove_quietly(fs::remove_file(entry.path()))?;
        removed += 1;
    }
    Ok(removed)
}

/// How many live processes hold a directory under `root` (0 when `root` does not exist): a
/// `rosterhub serve` using this temporary-file root is running.
pub fn live_processes(root: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut live = 0;
    for entry in entries {
        let entry = entry?;
        let is_lock = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(LOCK_SUFFIX));
        if is_lock && !lockable(&entry.path())? && entry.path().exists() {
            live += 1;
        }
    }
    Ok(live)
}

/// Whether no live process holds the lock on `path` (the lock taken here is released at once).
fn lockable(path: &Path) -> io::Result<bool> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(file.try_lock().is_ok())
}

/// Another sweep removing the same leftover at the same time is not an error.
fn remove_quietly(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_s_files_are_swept_and_a_live_one_s_kept() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().join("tmp");
        let live = Scratch::open(&root).unwrap();
        fs::write(live.dir().join("rosterhub-upload-1.zip"), b"live").unwrap();
        // A process killed with -9: its directory and an unlocked lock file stay behind.
        fs::create_dir(root.join("p1-dead")).unwrap();
        fs::write(root.join("p1-dead/rosterhub-import-1.zip"), b"dead").unwrap();
        fs::write(root.join("p1-dead.lock"), b"").unwrap();

        let second = Scratch::open(&root).unwrap();
        assert!(!root.join("p1-dead").exists());
        assert!(!root.join("p1-dead.lock").exists());
        assert!(live.dir().join("rosterhub-upload-1.zip").exists());
        assert!(second.dir().exists());
        let mode = fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let mode = fs::metadata(second.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);

        assert_eq!(live_processes(&root).unwrap(), 2);
        assert_eq!(live_processes(&root.join("none")).unwrap(), 0);

        // Once the first process is gone, its directory goes at the next start.
        let first_dir = live.dir().to_owned();
        drop(live);
        let _third = Scratch::open(&root).unwrap();
        assert!(!first_dir.exists());
        assert!(second.dir().exists());
    }
}
