//! Backups of a SQLite database file: a consistent copy made while `serve` runs, checked, and
//! the schema version of a file read without migrating it.
//!
//! The copy uses SQLite's online backup API in one step: the step reads the source inside one
//! read transaction, so the copy is the database as of one commit. In WAL mode that read waits
//! for nobody and blocks nobody — an import holding the write lock for minutes goes on, and the
//! copy holds what was committed before it (or, after its commit, everything it wrote). The
//! copy is then switched to a rollback journal, so that it is one self-contained file.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// How long a copy waits for a busy source (a checkpoint restarting the WAL) at most.
const BUSY_FOR: Duration = Duration::from_secs(60);

/// Copies the database at `src` into the new file `dst`: one snapshot, whole.
pub fn sqlite_snapshot(src: &Path, dst: &Path) -> Result<(), StoreError> {
    if !src.exists() {
        return Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no database file at {}", src.display()),
        )));
    }
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    from.busy_timeout(BUSY_FOR)?;
    let mut to = Connection::open(dst)?;
    {
        let backup = Backup::new(&from, &mut to)?;
        let started = Instant::now();
        loop {
            // -1: every page in this one step, so in one read transaction of the source.
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => continue,
                StepResult::Busy | StepResult::Locked if started.elapsed() < BUSY_FOR => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    return Err(StoreError::Conflict(format!(
                        "the database {} stayed locked for {} s",
                        src.display(),
                        BUSY_FOR.as_secs()
                    )));
                }
            }
        }
    }
    // The copy carries the source's WAL flag: back to a rollback journal, one file.
    to.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// Opens a copy read-only (never creating it, never changing its journal mode).
fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    Ok(Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?)
}

/// `PRAGMA integrity_check` of a file: empty when it is sound, else its first problems.
pub fn sqlite_integrity(path: &Path) -> Result<Vec<String>, StoreError> {
    let conn = open_read_only(path)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
    let found: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(if found == ["ok"] { Vec::new() } else { found })
}

/// The newest migration applied to a SQLite file (0: none), read without migrating.
pub fn sqlite_schema_version(path: &Path) -> Result<i64, StoreError> {
    let conn = open_read_only(path)?;
    let has_table = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")?
        .exists([])?;
    if !has_table {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}
