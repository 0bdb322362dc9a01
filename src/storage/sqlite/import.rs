//! The SQLite import transaction: every row probed and written as it is staged, inside one
//! `BEGIN IMMEDIATE` transaction that the import commits or drops.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use super::super::sql::RowSql;
use super::super::{
    Change, Counts, FileMode, ImportRecord, ImportStamp, ImportTx, Referrer, StageRow, StoreError,
    TOMBSTONE_SAMPLE, reference_columns,
};
use super::IMPORT_CACHE_KIB;
use crate::domain::Entity;
use crate::domain::vocab::Status;
use crate::storage::value::timed;

pub struct SqliteImportTx {
    conn: Connection,
    /// The import's number in the tenant's change log.
    seq: i64,
    tenant: String,
    stamp: ImportStamp,
    sql: Arc<HashMap<Entity, RowSql>>,
    counts: HashMap<Entity, Counts>,
    /// Secondary indexes dropped while an empty table is loaded, recreated at its end.
    dropped_indexes: HashMap<Entity, Vec<String>>,
    /// Entities of which the tenant had no records: their rows go to an unindexed temporary
    /// table first and into the table in key order at the end (see [`RowSql::move_load`]).
    loading: std::collections::HashSet<Entity>,
    /// Entities this import first-loaded: their dashboard counters are counted, not adjusted.
    loaded: Vec<Entity>,
    open: bool,
    /// Encrypts the configured columns of each row written.
    pii: Option<Arc<crate::pii::Pii>>,
}

impl SqliteImportTx {
    /// Opens the import's write transaction on `conn` (the tenant must exist).
    pub(super) fn begin(
        conn: Connection,
        tenant: &str,
        stamp: &ImportStamp,
        sql: Arc<HashMap<Entity, RowSql>>,
        pii: Option<Arc<crate::pii::Pii>>,
    ) -> Result<SqliteImportTx, StoreError> {
        // A larger page cache for the probes and writes of a big import, bounded (96 MiB): it
        // holds most of the primary-key index of a million-row table, which random sourcedIds hit
        // everywhere.
        conn.pragma_update(None, "cache_size", IMPORT_CACHE_KIB)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        // The number this import's change log gets if it is applied (see `changelog`).
        let seq: i64 = conn.query_row(
            &crate::storage::changelog::sql::next_seq(crate::storage::sql::Dialect::Sqlite),
            [tenant],
            |r| r.get(0),
        )?;
        let tx = SqliteImportTx {
            seq,
            conn,
            tenant: tenant.to_owned(),
            stamp: stamp.clone(),
            sql,
            counts: HashMap::new(),
            dropped_indexes: HashMap::new(),
            loading: Default::default(),
            loaded: Vec::new(),
            open: true,
            pii,
        };
        let exists: Option<i64> = tx
            .conn
            .query_row("SELECT 1 FROM tenants WHERE id = ?1", [tenant], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::UnknownTenant(tenant.to_owned()));
        }
        Ok(tx)
    }

    /// First row of an entity: if its table is empty (a first import), drop its secondary
    /// indexes; building them once from the loaded rows is several times cheaper than
    /// maintaining them row by row. All of it is inside the import's transaction.
    fn start_entity(&mut self, entity: Entity) -> Result<(), StoreError> {
        let table = entity.table();
        let tenant_has_rows = self
            .conn
            .prepare(&format!(
                "SELECT 1 FROM {table} WHERE tenant_id = ?1 LIMIT 1"
            ))?
            .exists([&self.tenant])?;
        if !tenant_has_rows {
            // Every row is new: no probes needed, and sorted appends beat random inserts. The
            // change log keeps one marker instead of a row per record.
            self.conn.execute(&self.sql[&entity].create_load, [])?;
            self.conn.execute(
                &crate::storage::changelog::sql::load_marker(crate::storage::sql::Dialect::Sqlite),
                params![self.tenant, self.seq, table],
            )?;
            self.loading.insert(entity);
            self.loaded.push(entity);
        }
        let empty = !self
            .conn
            .prepare(&format!("SELECT 1 FROM {table} LIMIT 1"))?
            .exists([])?;
        if !empty {
            return Ok(());
        }
        let indexes: Vec<(String, String)> = self
            .conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL",
            )?
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (name, _) in &indexes {
            self.conn.execute(&format!("DROP INDEX {name}"), [])?;
        }
        self.dropped_indexes
            .insert(entity, indexes.into_iter().map(|(_, sql)| sql).collect());
        Ok(())
    }
}

/// Binds the parameters shared by the insert and update statements (see [`RowSql`]): the
/// values as `sealed` has them (encrypted, when PII encryption is on), then blind indexes.
fn bind_row(
    stmt: &mut rusqlite::CachedStatement<'_>,
    tenant: &str,
    stamp: &ImportStamp,
    row: &StageRow<'_>,
    sealed: &crate::pii::Sealed,
) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(1, tenant)?;
    stmt.raw_bind_parameter(2, row.sourced_id)?;
    stmt.raw_bind_parameter(3, stamp.now)?;
    stmt.raw_bind_parameter(4, row.source_modified)?;
    let mut n = 5;
    for v in sealed.values.as_deref().unwrap_or(row.values) {
        stmt.raw_bind_parameter(n, (!v.is_empty()).then_some(v.as_str()))?;
        n += 1;
    }
    for b in sealed.bidx() {
        stmt.raw_bind_parameter(n, b.as_deref())?;
        n += 1;
    }
    stmt.raw_bind_parameter(n, row.metadata)?;
    stmt.raw_bind_parameter(n + 1, &row.hash[..])?;
    stmt.raw_bind_parameter(n + 2, stamp.import_id.as_str())?;
    Ok(())
}

impl ImportTx for SqliteImportTx {
    /// Probes the stored record and writes the row right away if it changes anything: one
    /// index probe per unchanged row, one probe and one write per changed row.
    fn stage(&mut self, entity: Entity, row: &StageRow<'_>) -> Result<Change, StoreError> {
        if let std::collections::hash_map::Entry::Vacant(v) = self.counts.entry(entity) {
            v.insert(Counts::default());
            self.start_entity(entity)?;
        }
        if self.loading.contains(&entity) {
            // The tenant has none of these records: every active row is an insert, and a
            // delete of what was never stored changes nothing.
            if row.status == Status::Active {
                let sealed = crate::pii::seal_row(
                    self.pii.as_deref(),
                    entity,
                    &self.tenant,
                    row.sourced_id,
                    row.values,
                );
                let mut stmt = self.conn.prepare_cached(&self.sql[&entity].insert_load)?;
                bind_row(&mut stmt, &self.tenant, &self.stamp, row, &sealed)?;
                stmt.raw_execute()?;
                self.counts.entry(entity).or_default().inserted += 1;
                return Ok(Change::Inserted);
            }
            return Ok(Change::Nothing);
        }
        let sql = &self.sql[&entity];
        let stored: Option<(String, Vec<u8>)> = self
            .conn
            .prepare_cached(&sql.probe)?
            .query_row(params![self.tenant, row.sourced_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let counts = self.counts.entry(entity).or_default();
        Ok(match (row.status, stored) {
            (Status::Active, None) => {
                let sealed = crate::pii::seal_row(
                    self.pii.as_deref(),
                    entity,
                    &self.tenant,
                    row.sourced_id,
                    row.values,
                );
                let mut stmt = self.conn.prepare_cached(&sql.insert)?;
                bind_row(&mut stmt, &self.tenant, &self.stamp, row, &sealed)?;
                stmt.raw_execute()?;
                self.conn
                    .prepare_cached(&sql.capture.inserted)?
                    .execute(params![self.tenant, self.seq, row.sourced_id])?;
                counts.inserted += 1;
                Change::Inserted
            }
            (Status::Active, Some((status, hash))) if status == "active" && hash == row.hash => {
                counts.unchanged += 1;
                Change::Unchanged
            }
            (Status::Active, Some(_)) => {
                let sealed = crate::pii::seal_row(
                    self.pii.as_deref(),
                    entity,
                    &self.tenant,
                    row.sourced_id,
                    row.values,
                );
                self.conn
                    .prepare_cached(&sql.capture.before)?
                    .execute(params![self.tenant, self.seq, row.sourced_id, "updated"])?;
                let mut stmt = self.conn.prepare_cached(&sql.update)?;
                bind_row(&mut stmt, &self.tenant, &self.stamp, row, &sealed)?;
                stmt.raw_execute()?;
                counts.updated += 1;
                Change::Updated
            }
            (Status::ToBeDeleted, Some((status, _))) if status == "active" => {
                self.conn
                    .prepare_cached(&sql.capture.before)?
                    .execute(params![self.tenant, self.seq, row.sourced_id, "tombstoned"])?;
                self.conn.prepare_cached(&sql.tombstone)?.execute(params![
                    self.tenant,
                    row.sourced_id,
                    self.stamp.now,
                    row.source_modified,
                    self.stamp.import_id
                ])?;
                counts.tombstoned += 1;
                Change::Tombstoned
            }
            (Status::ToBeDeleted, Some(_)) => {
                counts.unchanged += 1;
                Change::Unchanged
            }
            // Deleting what was never stored changes nothing.
            (Status::ToBeDeleted, None) => Change::Nothing,
        })
    }

    fn finish_staging(
        &mut self,
        entity: Entity,
        mode: FileMode,
        in_bundle: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let loaded = self.loading.remove(&entity);
        let rebuild = self.dropped_indexes.remove(&entity).unwrap_or_default();
        if loaded || !rebuild.is_empty() {
            // SQLite's sorter (behind ORDER BY and CREATE INDEX) takes as much memory as the
            // page cache allows: give it less while it runs, so peak memory stays flat.
            self.conn.pragma_update(None, "cache_size", -16384)?;
            self.conn.pragma_update(None, "threads", sorter_threads())?;
            if loaded {
                let sql = &self.sql[&entity];
                self.conn.execute(&sql.move_load, [])?;
                self.conn.execute(&sql.drop_load, [])?;
            }
            for sql in rebuild {
                self.conn.execute(&sql, [])?;
            }
            self.conn
                .pragma_update(None, "cache_size", IMPORT_CACHE_KIB)?;
        }
        let counts = self.counts.entry(entity).or_default();
        // Nothing was stored before a first load, so nothing can be absent from it.
        if mode == FileMode::Delta || loaded {
            return Ok(Vec::new());
        }
        let sql = &self.sql[&entity];
        let mut absent = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(&sql.ids)?;
            let mut rows = stmt.query([&self.tenant])?;
            while let Some(r) = rows.next()? {
                let id = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
                if !in_bundle(id) {
                    absent.push(id.to_owned());
                }
            }
        }
        let mut stmt = self.conn.prepare_cached(&sql.tombstone)?;
        let mut log = self.conn.prepare_cached(&sql.capture.before)?;
        for id in &absent {
            log.execute(params![self.tenant, self.seq, id, "tombstoned"])?;
            let none: Option<i64> = None;
            counts.tombstoned += stmt.execute(params![
                self.tenant,
                id,
                self.stamp.now,
                none,
                self.stamp.import_id
            ])? as u64;
        }
        absent.truncate(TOMBSTONE_SAMPLE);
        Ok(absent)
    }

    fn stored_status(
        &mut self,
        entity: Entity,
        ids: &[&str],
    ) -> Result<HashMap<String, bool>, StoreError> {
        let sql = format!(
            "SELECT status FROM {} WHERE tenant_id = ?1 AND sourced_id = ?2",
            entity.table()
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(status) = stmt
                .query_row(params![self.tenant, id], |r| r.get::<_, String>(0))
                .optional()?
            {
                out.insert((*id).to_owned(), status == "active");
            }
        }
        Ok(out)
    }

    fn active_referrers(
        &mut self,
        target: Entity,
        ids: &[&str],
        limit: usize,
    ) -> Result<Vec<Referrer>, StoreError> {
        let mut out = Vec::new();
        for (entity, column) in reference_columns(target) {
            // One statement per chunk of ids (SQLite binds at most 32,766 values). `+sourced_id`:
            // with hundreds of ids SQLite would rather walk the whole table in key order than
            // sort the few matches (400 ms a chunk at a million roles); the `+` keeps the
            // order from an index, so it looks the ids up and sorts them.
            for chunk in ids.chunks(500) {
                if out.len() >= limit {
                    return Ok(out);
                }
                let marks = vec!["?"; chunk.len()].join(", ");
                let sql = format!(
                    "SELECT sourced_id, {col} FROM {table} WHERE tenant_id = ? AND status = 'active' \
                     AND {col} IN ({marks}) ORDER BY +sourced_id LIMIT {}",
                    limit - out.len(),
                    col = column.db,
                    table = entity.table(),
                );
                let mut stmt = self.conn.prepare(&sql)?;
                let binds = std::iter::once(self.tenant.as_str()).chain(chunk.iter().copied());
                timed(&sql, || {
                    let rows = stmt.query_map(rusqlite::params_from_iter(binds), |r| {
                        Ok(Referrer {
                            entity,
                            sourced_id: r.get(0)?,
                            column: column.csv,
                            target_id: r.get(1)?,
                        })
                    })?;
                    for row in rows {
                        out.push(row?);
                    }
                    Ok(())
                })?;
            }
        }
        Ok(out)
    }

    fn stored_org_parents(&mut self) -> Result<HashMap<String, String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sourced_id, parent_sourced_id FROM orgs WHERE tenant_id = ?1 \
             AND status = 'active' AND parent_sourced_id IS NOT NULL AND parent_sourced_id <> ''",
        )?;
        let rows = stmt.query_map(params![self.tenant], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.collect::<Result<_, _>>().map_err(Into::into)
    }

    fn stored_org_types(&mut self, ids: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT type FROM orgs WHERE tenant_id = ?1 AND sourced_id = ?2")?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(t) = stmt
                .query_row(params![self.tenant, id], |r| r.get::<_, String>(0))
                .optional()?
            {
                out.insert((*id).to_owned(), t);
            }
        }
        Ok(out)
    }

    fn active_count(&mut self, entity: Entity) -> Result<u64, StoreError> {
        // Before this import: what is active now, plus what this import tombstoned, minus
        // what it inserted.
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE tenant_id = ?1 AND status = 'active'",
            entity.table()
        );
        let now: i64 = self.conn.query_row(&sql, [&self.tenant], |r| r.get(0))?;
        let c = self.counts.get(&entity).copied().unwrap_or_default();
        Ok((now as u64 + c.tombstoned).saturating_sub(c.inserted))
    }

    fn plan(&mut self, entity: Entity, _mode: FileMode) -> Result<Counts, StoreError> {
        Ok(self.counts.get(&entity).copied().unwrap_or_default())
    }

    fn apply(&mut self, entity: Entity, mode: FileMode) -> Result<Counts, StoreError> {
        // Already written while staging; the transaction makes it all-or-nothing.
        self.plan(entity, mode)
    }

    fn save_import(&mut self, r: &ImportRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO imports (id, tenant_id, status, profile, started_at, finished_at, report, \
             job_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                r.id,
                self.tenant,
                r.status,
                r.profile,
                r.started_at,
                r.finished_at,
                r.report_json,
                r.job.as_ref().map(|j| j.job_id.as_str())
            ],
        )?;
        if r.status == "applied" {
            // Readers cache per generation: an applied import invalidates them all at once.
            self.conn.execute(
                "UPDATE tenants SET data_generation = data_generation + 1 WHERE id = ?1",
                [&self.tenant],
            )?;
            let header =
                crate::storage::changelog::sql::header(crate::storage::sql::Dialect::Sqlite);
            let none: Option<&str> = None;
            self.conn.execute(
                &header,
                params![self.tenant, self.seq, r.id, self.stamp.now, r.actor, none],
            )?;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let changed: Vec<Entity> = Entity::ALL
            .into_iter()
            .filter(|e| self.counts.get(e).is_some_and(|c| c.written() > 0))
            .collect();
        // Fresh statistics for the API's query planner (sampled) on the tables this import
        // changed a lot — a first load, or more rows than 50 + 10 % of what the statistics
        // last counted, as on PostgreSQL; without them SQLite walks a whole table in
        // primary-key order for a selective filter. A small delta leaves them as good as they
        // were (analysing every table of a million students cost it ~0.6 s).
        let mut stale = Vec::new();
        for &e in &changed {
            let counted = stat_rows(&self.conn, e.table())?;
            let written = self.counts[&e].written();
            if self.loaded.contains(&e) || counted.is_none_or(|n| written > 50 + n / 10) {
                stale.push(e.table());
            }
        }
        if !stale.is_empty() {
            let analyze = format!(
                "PRAGMA analysis_limit = 1000; ANALYZE {};",
                stale.join("; ANALYZE ")
            );
            timed(&analyze, || Ok(self.conn.execute_batch(&analyze)?))?;
        }
        // The dashboard's counters, exact at the commit that makes these rows visible (after
        // ANALYZE: their NOT EXISTS counts are planned on fresh statistics).
        let (tenant, seq) = (&self.tenant, self.seq);
        crate::storage::dashboard::recount_sqlite(&self.conn, tenant, seq, &changed, &self.loaded)?;
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        timed("COMMIT", || Ok(self.conn.execute_batch("COMMIT")?))?;
        self.open = false;
        timed("PRAGMA wal_checkpoint(PASSIVE)", || {
            Ok(self.conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")?)
        })?;
        Ok(())
    }
}

/// Helper threads SQLite's sorter may use for a first load's `ORDER BY` and `CREATE INDEX`:
/// the machine's other cores (the import's own thread is the first).
fn sorter_threads() -> i64 {
    std::thread::available_parallelism().map_or(0, |n| n.get() as i64 - 1)
}

/// The rows `table` had when it was last analysed (`sqlite_stat1`), if it ever was.
fn stat_rows(conn: &Connection, table: &str) -> Result<Option<u64>, StoreError> {
    let analysed = conn
        .prepare_cached("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")?
        .exists([])?;
    if !analysed {
        return Ok(None);
    }
    // The first number of a stat is the row count of the table or index it describes; a
    // partial index counts fewer, so the largest is the table's.
    let rows: Option<i64> = conn
        .prepare_cached("SELECT MAX(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = ?1")?
        .query_row([table], |r| r.get(0))?;
    Ok(rows.map(|n| n.max(0) as u64))
}

impl Drop for SqliteImportTx {
    fn drop(&mut self) {
        if self.open {
            // Nothing of an uncommitted import may remain.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
