//! What an import reads of the stored records before it classifies rows (the tenant's ids,
//! active flags and hashes per table), and the index drop/rebuild of a first load into an
//! empty table; the stored state that reference checks ask about.

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, Row};

use super::{PgImportTx, Staged, Stored, id_key};
use crate::domain::Entity;
use crate::storage::postgres::IMPORT_DDL_LOCK;
use crate::storage::sql::Dialect;
use crate::storage::{Counts, Referrer, StoreError, reference_columns};

impl PgImportTx {
    /// Loads what the tenant has stored of `entity`, the first time the entity is staged.
    pub(super) fn ensure_staged(&mut self, entity: Entity) -> Result<(), StoreError> {
        if self.staged.contains_key(&entity) {
            return Ok(());
        }
        let sql = self.sql[&entity].stored.clone();
        let tenant = self.tenant.clone();
        let handle = self.handle.clone();
        let tx = self.tx()?;
        let mut stored = HashMap::new();
        let mut after = String::new();
        loop {
            let rows = handle.block_on(
                sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(&tenant)
                    .bind(&after)
                    .fetch_all(&mut **tx),
            )?;
            let full = rows.len() == crate::storage::sql::STORED_PAGE;
            for r in rows {
                let id: String = r.try_get(0)?;
                let active: bool = r.try_get(1)?;
                let hash: &[u8] = r.try_get(2)?;
                // A stored hash of another length never equals a row's: such a record is changed.
                let hash = <[u8; 16]>::try_from(hash).ok();
                after.clone_from(&id);
                stored.insert(id_key(&id), Stored { active, hash });
            }
            if !full {
                break;
            }
        }
        let first_load = stored.is_empty();
        if first_load {
            self.loaded.push(entity);
            self.drop_indexes_of_empty_table(entity)?;
            // One marker in the change log for every record this first load inserts.
            let marker = crate::storage::changelog::sql::load_marker(Dialect::Postgres);
            let (tenant, seq) = (self.tenant.clone(), self.seq);
            let tx = self.tx()?;
            handle.block_on(
                sqlx::query(AssertSqlSafe(marker))
                    .bind(tenant)
                    .bind(seq)
                    .bind(entity.table())
                    .execute(&mut **tx),
            )?;
        }
        let active_before = stored.values().filter(|s| s.active).count() as u64;
        self.insert_staged(
            entity,
            stored,
            Some(active_before),
            active_before,
            first_load,
        );
        Ok(())
    }

    /// Reads just the stored records of `ids` (a delta file's, read ahead), when the tenant
    /// has records of `entity`: a daily delta names 1 % of a tenant, and reading every stored
    /// record cost it 1–3 s per million. Without stored records (a first load) this leaves
    /// the entity to [`Self::ensure_staged`]. Rows naming other ids are classified as new.
    pub(super) fn stage_known(&mut self, entity: Entity, ids: &[String]) -> Result<(), StoreError> {
        if self.staged.contains_key(&entity) {
            return Ok(());
        }
        let table = entity.table();
        let tenant = self.tenant.clone();
        let handle = self.handle.clone();
        let tx = self.tx()?;
        let (stored, estimate) = handle.block_on(async {
            let any = sqlx::query(AssertSqlSafe(format!(
                "SELECT 1 FROM {table} WHERE tenant_id = $1 LIMIT 1"
            )))
            .bind(&tenant)
            .fetch_optional(&mut **tx)
            .await?;
            if any.is_none() {
                return Ok::<_, sqlx::Error>((None, 0));
            }
            // The planner's estimate of the table's rows (kept by ANALYZE and autovacuum).
            let estimate: f32 =
                sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = $1::regclass")
                    .bind(table)
                    .fetch_one(&mut **tx)
                    .await?;
            let sql = format!(
                "SELECT sourced_id, status = 'active', content_hash FROM {table} \
                 WHERE tenant_id = $1 AND sourced_id = ANY($2)"
            );
            let mut stored = HashMap::new();
            for chunk in ids.chunks(10_000) {
                let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(&tenant)
                    .bind(chunk)
                    .fetch_all(&mut **tx)
                    .await?;
                for r in rows {
                    let id: &str = r.try_get(0)?;
                    let hash = <[u8; 16]>::try_from(r.try_get::<&[u8], _>(2)?).ok();
                    stored.insert(
                        id_key(id),
                        Stored {
                            active: r.try_get(1)?,
                            hash,
                        },
                    );
                }
            }
            Ok((Some(stored), estimate.max(0.0) as u64))
        })?;
        if let Some(stored) = stored {
            tracing::debug!(
                entity = entity.name(),
                ids = ids.len(),
                stored = stored.len(),
                "read ahead"
            );
            self.insert_staged(entity, stored, None, estimate, false);
        }
        Ok(())
    }

    fn insert_staged(
        &mut self,
        entity: Entity,
        stored: HashMap<u128, Stored>,
        active_before: Option<u64>,
        rows_before: u64,
        first_load: bool,
    ) {
        self.staged.insert(
            entity,
            Staged {
                stored,
                active_before,
                rows_before,
                counts: Counts::default(),
                main_buf: Vec::new(),
                main_lines: Vec::new(),
                stage_buf: Vec::new(),
                main_copied: 0,
                stage_copied: 0,
                stage_rows: 0,
                stage_created: false,
                finished: false,
                first_load,
            },
        );
    }

    /// A first load into an empty table: drop its secondary indexes and build them once at
    /// the end of the entity, which is much cheaper than maintaining them row by row. All of it
    /// is inside the import's transaction (and holds the table's lock until commit: nobody can
    /// be reading rows that do not exist yet).
    pub(super) fn drop_indexes_of_empty_table(&mut self, entity: Entity) -> Result<(), StoreError> {
        let table = entity.table();
        let handle = self.handle.clone();
        let tx = self.tx()?;
        let defs = handle.block_on(async {
            // DDL takes the table's exclusive lock until commit: with another import running
            // (of another tenant) that is a deadlock waiting to happen, so the indexes are only
            // dropped when this import is the only one (its own shared hold does not count).
            let alone: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(IMPORT_DDL_LOCK)
                .fetch_one(&mut **tx)
                .await?;
            if !alone {
                return Ok::<_, sqlx::Error>(Vec::new());
            }
            let any = sqlx::query(AssertSqlSafe(format!("SELECT 1 FROM {table} LIMIT 1")))
                .fetch_optional(&mut **tx)
                .await?;
            if any.is_some() {
                return Ok::<_, sqlx::Error>(Vec::new());
            }
            let rows = sqlx::query(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
                 AND tablename = $1 AND indexname <> $1 || '_pkey' ORDER BY indexname",
            )
            .bind(table)
            .fetch_all(&mut **tx)
            .await?;
            let mut defs = Vec::new();
            for r in rows {
                let name: String = r.try_get(0)?;
                defs.push(r.try_get::<String, _>(1)?);
                sqlx::query(AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(defs)
        })?;
        if !defs.is_empty() {
            self.dropped_indexes.insert(entity, defs);
        }
        Ok(())
    }

    /// The sourcedIds of the tenant's active records stored before this import that are not
    /// in the bundle, read in keyset pages.
    pub(super) fn stored_active_ids(
        &mut self,
        entity: Entity,
        in_bundle: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT sourced_id FROM {} WHERE tenant_id = $1 AND status = 'active' \
             AND import_id IS DISTINCT FROM $2 AND sourced_id > $3 ORDER BY sourced_id LIMIT {}",
            entity.table(),
            crate::storage::sql::STORED_PAGE
        );
        let (tenant, import) = (self.tenant.clone(), self.stamp.import_id.clone());
        let handle = self.handle.clone();
        let tx = self.tx()?;
        let mut absent = Vec::new();
        let mut after = String::new();
        loop {
            let ids: Vec<String> = handle.block_on(
                sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
                    .bind(&tenant)
                    .bind(&import)
                    .bind(&after)
                    .fetch_all(&mut **tx),
            )?;
            let full = ids.len() == crate::storage::sql::STORED_PAGE;
            if let Some(last) = ids.last() {
                after.clone_from(last);
            }
            absent.extend(ids.into_iter().filter(|id| !in_bundle(id)));
            if !full {
                return Ok(absent);
            }
        }
    }

    pub(super) fn rebuild_indexes(&mut self, entity: Entity) -> Result<(), StoreError> {
        let Some(defs) = self.dropped_indexes.remove(&entity) else {
            return Ok(());
        };
        let handle = self.handle.clone();
        let tx = self.tx()?;
        handle.block_on(async {
            for def in defs {
                sqlx::query(AssertSqlSafe(def)).execute(&mut **tx).await?;
            }
            Ok::<_, sqlx::Error>(())
        })?;
        Ok(())
    }

    pub(super) fn status_of(
        &mut self,
        entity: Entity,
        ids: &[&str],
    ) -> Result<HashMap<String, bool>, StoreError> {
        // What was stored before this import: not the new records it has copied already.
        let sql = format!(
            "SELECT sourced_id, status = 'active' FROM {} WHERE tenant_id = $1 \
             AND sourced_id = ANY($2) AND import_id IS DISTINCT FROM $3",
            entity.table()
        );
        let tenant = self.tenant.clone();
        let import_id = self.stamp.import_id.clone();
        let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        let handle = self.handle.clone();
        let tx = self.tx()?;
        let rows = handle.block_on(
            sqlx::query(AssertSqlSafe(sql))
                .bind(tenant)
                .bind(ids)
                .bind(import_id)
                .fetch_all(&mut **tx),
        )?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<bool, _>(1)?)))
            .collect()
    }

    pub(super) fn referrers_of(
        &mut self,
        target: Entity,
        ids: &[&str],
        limit: usize,
    ) -> Result<Vec<Referrer>, StoreError> {
        let tenant = self.tenant.clone();
        let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        let handle = self.handle.clone();
        let mut out = Vec::new();
        for (entity, column) in reference_columns(target) {
            if out.len() >= limit {
                break;
            }
            let sql = format!(
                "SELECT sourced_id, {col} FROM {table} WHERE tenant_id = $1 AND status = 'active' \
                 AND {col} = ANY($2) ORDER BY sourced_id LIMIT {}",
                limit - out.len(),
                col = column.db,
                table = entity.table(),
            );
            let tx = self.tx()?;
            let rows = handle.block_on(
                sqlx::query(AssertSqlSafe(sql))
                    .bind(&tenant)
                    .bind(&ids)
                    .fetch_all(&mut **tx),
            )?;
            for r in rows {
                out.push(Referrer {
                    entity,
                    sourced_id: r.try_get(0)?,
                    column: column.csv,
                    target_id: r.try_get(1)?,
                });
            }
        }
        Ok(out)
    }

    pub(super) fn org_parents(&mut self) -> Result<HashMap<String, String>, StoreError> {
        let tenant = self.tenant.clone();
        let handle = self.handle.clone();
        let tx = self.tx()?;
        let rows = handle.block_on(
            sqlx::query(
                "SELECT sourced_id, parent_sourced_id FROM orgs WHERE tenant_id = $1 \
                 AND status = 'active' AND parent_sourced_id IS NOT NULL \
                 AND parent_sourced_id <> ''",
            )
            .bind(tenant)
            .fetch_all(&mut **tx),
        )?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
            .collect()
    }
}
