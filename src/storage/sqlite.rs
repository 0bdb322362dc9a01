//! The SQLite backend (rusqlite, bundled SQLite): the zero-set-up default.
//!
//! rusqlite rather than sqlx here: it is several times faster per row (DEPENDENCIES.md), and
//! the import hot path is one prepared statement per staged row.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use super::sql::{Dialect, EntitySql};
use super::{Counts, FileMode, ImportRecord, ImportStamp, ImportTx, StageRow, StoreError};
use crate::domain::Entity;
use crate::domain::datetime::now_ms;

#[derive(Clone)]
pub struct SqliteStore {
    path: Arc<PathBuf>,
    sql: Arc<HashMap<Entity, EntitySql>>,
}

/// `sqlite://./data/x.db`, `sqlite:./x.db`, `sqlite:///abs/x.db` → the file path.
fn path_from_url(url: &str) -> PathBuf {
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
        let store = SqliteStore {
            path: Arc::new(path),
            sql: Arc::new(Entity::ALL.map(|e| (e, EntitySql::new(e, Dialect::Sqlite))).into()),
        };
        let mut conn = store.connect()?;
        migrate(&mut conn)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    pub fn begin_import(&self, tenant: &str) -> Result<SqliteImportTx, StoreError> {
        let conn = self.connect()?;
        // A larger page cache for the staging tables and the big upserts; bounded (64 MiB).
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.pragma_update(None, "temp_store", "FILE")?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let tx = SqliteImportTx {
            conn,
            tenant: tenant.to_owned(),
            sql: self.sql.clone(),
            staged: HashSet::new(),
            open: true,
        };
        let exists: Option<i64> =
            tx.conn.query_row("SELECT 1 FROM tenants WHERE id = ?1", [tenant], |r| r.get(0)).optional()?;
        if exists.is_none() {
            return Err(StoreError::UnknownTenant(tenant.to_owned()));
        }
        Ok(tx)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(super::migrate::CREATE_TABLE)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    for (version, name, sql) in super::migrate::SQLITE {
        if *version > current {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![version, name, now_ms()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub struct SqliteImportTx {
    conn: Connection,
    tenant: String,
    sql: Arc<HashMap<Entity, EntitySql>>,
    staged: HashSet<Entity>,
    open: bool,
}

impl SqliteImportTx {
    fn sql(&self, entity: Entity) -> &EntitySql {
        &self.sql[&entity]
    }
}

impl ImportTx for SqliteImportTx {
    fn stage(&mut self, entity: Entity, row: &StageRow<'_>) -> Result<(), StoreError> {
        if self.staged.insert(entity) {
            self.conn.execute(&self.sql[&entity].create_stage, [])?;
        }
        let mut stmt = self.conn.prepare_cached(&self.sql[&entity].insert_stage)?;
        stmt.raw_bind_parameter(1, row.sourced_id)?;
        stmt.raw_bind_parameter(2, row.status.as_str())?;
        stmt.raw_bind_parameter(3, row.source_modified)?;
        let mut n = 4;
        for v in row.values {
            stmt.raw_bind_parameter(n, (!v.is_empty()).then_some(v.as_str()))?;
            n += 1;
        }
        stmt.raw_bind_parameter(n, row.metadata)?;
        stmt.raw_bind_parameter(n + 1, &row.hash[..])?;
        stmt.raw_execute()?;
        Ok(())
    }

    fn finish_staging(&mut self, entity: Entity) -> Result<(), StoreError> {
        if self.staged.insert(entity) {
            self.conn.execute(&self.sql[&entity].create_stage, [])?;
        }
        self.conn.execute(&self.sql[&entity].index_stage, [])?;
        Ok(())
    }

    fn missing_ids(&mut self, entity: Entity, ids: &[&str]) -> Result<Vec<String>, StoreError> {
        let sql = format!("SELECT 1 FROM {} WHERE tenant_id = ?1 AND sourced_id = ?2", entity.table());
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut missing = Vec::new();
        for id in ids {
            if !stmt.exists(params![self.tenant, id])? {
                missing.push((*id).to_owned());
            }
        }
        Ok(missing)
    }

    fn stored_org_types(&mut self, ids: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT type FROM orgs WHERE tenant_id = ?1 AND sourced_id = ?2")?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(t) =
                stmt.query_row(params![self.tenant, id], |r| r.get::<_, String>(0)).optional()?
            {
                out.insert((*id).to_owned(), t);
            }
        }
        Ok(out)
    }

    fn active_count(&mut self, entity: Entity) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn.query_row(&self.sql(entity).active_count, [&self.tenant], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn plan(&mut self, entity: Entity, mode: FileMode) -> Result<Counts, StoreError> {
        let sql = self.sql(entity);
        let (inserted, updated, unchanged, deleted): (i64, i64, i64, i64) =
            self.conn.query_row(&sql.plan_staged, [&self.tenant], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
        let tombstoned = match mode {
            FileMode::Delta => deleted,
            FileMode::Bulk => {
                self.conn.query_row(&sql.plan_bulk_tombstones, [&self.tenant], |r| r.get(0))?
            }
        };
        Ok(Counts {
            inserted: inserted as u64,
            updated: updated as u64,
            unchanged: unchanged as u64,
            tombstoned: tombstoned as u64,
        })
    }

    fn apply(
        &mut self,
        entity: Entity,
        mode: FileMode,
        stamp: &ImportStamp,
    ) -> Result<Counts, StoreError> {
        let planned = self.plan(entity, mode)?;
        let sql = self.sql[&entity].clone();
        let p = params![self.tenant, stamp.now, stamp.import_id];
        let upserted = self.conn.execute(&sql.upsert, p)? as u64;
        let tombstoned = match mode {
            FileMode::Delta => self.conn.execute(&sql.tombstone_delta, p)?,
            FileMode::Bulk => self.conn.execute(&sql.tombstone_bulk, p)?,
        } as u64;
        check_applied(entity, &planned, upserted, tombstoned)?;
        Ok(planned)
    }

    fn save_import(&mut self, r: &ImportRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO imports (id, tenant_id, status, profile, started_at, finished_at, report) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![r.id, self.tenant, r.status, r.profile, r.started_at, r.finished_at, r.report_json],
        )?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        for e in self.staged.clone() {
            self.conn.execute(&format!("DROP TABLE IF EXISTS temp.{}", super::sql::stage_table(e)), [])?;
        }
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteImportTx {
    fn drop(&mut self) {
        if self.open {
            // Nothing of an uncommitted import may remain.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The statements must have done exactly what the plan said; anything else aborts the import.
pub(super) fn check_applied(
    entity: Entity,
    planned: &Counts,
    upserted: u64,
    tombstoned: u64,
) -> Result<(), StoreError> {
    if upserted != planned.inserted + planned.updated || tombstoned != planned.tombstoned {
        tracing::error!(
            entity = entity.name(),
            upserted,
            tombstoned,
            ?planned,
            "apply did not match the plan"
        );
        return Err(StoreError::PlanMismatch(entity.name()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_become_paths() {
        assert_eq!(path_from_url("sqlite://./data/r.db"), PathBuf::from("./data/r.db"));
        assert_eq!(path_from_url("sqlite:r.db"), PathBuf::from("r.db"));
        assert_eq!(path_from_url("sqlite:///tmp/r.db?mode=rwc"), PathBuf::from("/tmp/r.db"));
    }
}
