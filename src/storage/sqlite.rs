//! The SQLite backend (rusqlite, bundled SQLite): the zero-set-up default.
//!
//! rusqlite rather than sqlx here: it is several times faster per row (DEPENDENCIES.md), and
//! the import hot path is prepared statements per row: a primary-key probe, then an insert or
//! update only when the record changed. No staging table: an unchanged re-import reads and
//! writes nothing but the probes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::sql::RowSql;
use super::{ImportStamp, StoreError};
use crate::domain::Entity;
use crate::domain::datetime::now_ms;

/// The page cache of an import connection, in KiB (negative: SQLite's unit for KiB).
pub(super) const IMPORT_CACHE_KIB: i64 = -98304;

#[derive(Clone)]
pub struct SqliteStore {
    path: Arc<PathBuf>,
    sql: Arc<HashMap<Entity, RowSql>>,
    /// Idle read connections for the API (WAL: readers never wait for an import).
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Read connections handed out now (for `/metrics`).
    busy_readers: super::ops::gauges::BusyCount,
    /// The operational tables, in their own file (see [`super::ops`]).
    ops: Arc<super::ops::SqliteOps>,
    /// PII encryption keys, when on (set by [`super::Store::with_pii`]).
    pub(super) pii: Option<Arc<crate::pii::Pii>>,
}

/// How many idle read connections are kept.
const MAX_IDLE_READERS: usize = 16;

/// `sqlite://./data/x.db`, `sqlite:./x.db`, `sqlite:///abs/x.db` → the file path.
pub fn path_from_url(url: &str) -> PathBuf {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = rest.split('?').next().unwrap_or(rest);
    PathBuf::from(rest)
}

impl SqliteStore {
    pub fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let path = path_from_url(url);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let ops = Arc::new(super::ops::SqliteOps::open(&path)?);
        let store = SqliteStore::with_ops(path, ops);
        let mut conn = store.connect()?;
        migrate(&mut conn, super::migrate::SQLITE)?;
        // A database that never had statistics (or was migrated just now) gets them once.
        let has_stats = conn
            .prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")?
            .exists([])?;
        if !has_stats {
            conn.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE;")?;
        }
        Ok(store)
    }

    fn with_ops(path: PathBuf, ops: Arc<super::ops::SqliteOps>) -> SqliteStore {
        SqliteStore {
            ops,
            path: Arc::new(path),
            sql: Arc::new(Entity::ALL.map(|e| (e, RowSql::new(e))).into()),
            readers: Arc::new(Mutex::new(Vec::new())),
            busy_readers: Default::default(),
            pii: None,
        }
    }

    /// Opens existing files as they are: no migration, no statistics, nothing created (for
    /// `doctor`, which must not wait for an import's write lock nor change what it checks).
    pub fn open_as_is(url: &str) -> SqliteStore {
        let path = path_from_url(url);
        let ops = Arc::new(super::ops::SqliteOps::at(&path));
        SqliteStore::with_ops(path, ops)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn ops(&self) -> &Arc<super::ops::SqliteOps> {
        &self.ops
    }

    /// The file of the operational tables (`<name>-ops.db` beside the database).
    pub fn ops_path(&self) -> &Path {
        self.ops.path()
    }

    /// A new connection with the settings every connection needs.
    pub fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&*self.path)?;
        // WAL: readers never block the importer and a crash mid-import loses nothing committed.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Runs `f` on a pooled read connection. Blocking: call it from a blocking thread.
    pub fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = self.connect()?;
                // Reads map the file instead of copying pages through read(2).
                c.pragma_update(None, "mmap_size", 1_i64 << 30)?;
                c.pragma_update(None, "query_only", true)?;
                c
            }
        };
        let busy = self.busy_readers.take();
        let out = f(&conn);
        drop(busy);
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        out
    }

    /// The read pool and the operational file's pool, for `/metrics`.
    pub(super) fn pool_gauges(&self) -> Vec<super::ops::gauges::PoolGauge> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).len();
        vec![
            super::ops::gauges::PoolGauge {
                name: "sqlite_read",
                idle: idle as u64,
                busy: self.busy_readers.get(),
                max: MAX_IDLE_READERS as u64,
            },
            self.ops.pool_gauge(),
        ]
    }

    pub fn ping(&self) -> Result<(), StoreError> {
        let conn = self.connect()?;
        conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn ensure_tenant(&self, id: &str, name: &str) -> Result<(), StoreError> {
        self.connect()?.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
            params![id, name, now_ms()],
        )?;
        Ok(())
    }

    pub fn tenant_exists(&self, id: &str) -> Result<bool, StoreError> {
        let conn = self.connect()?;
        Ok(conn
            .query_row("SELECT 1 FROM tenants WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn begin_import(
        &self,
        tenant: &str,
        stamp: &ImportStamp,
    ) -> Result<SqliteImportTx, StoreError> {
        SqliteImportTx::begin(
            self.connect()?,
            tenant,
            stamp,
            self.sql.clone(),
            self.pii.clone(),
        )
    }
}

pub(super) use super::migrate::apply_sqlite as migrate;

mod import;
pub use import::SqliteImportTx;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_become_paths() {
        assert_eq!(
            path_from_url("sqlite://./data/r.db"),
            PathBuf::from("./data/r.db")
        );
        assert_eq!(path_from_url("sqlite:r.db"), PathBuf::from("r.db"));
        assert_eq!(
            path_from_url("sqlite:///tmp/r.db?mode=rwc"),
            PathBuf::from("/tmp/r.db")
        );
    }
}
