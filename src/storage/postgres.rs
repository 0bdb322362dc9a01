//! The PostgreSQL backend (sqlx): several replicas share one database.
//!
//! Staging uses `COPY … FROM STDIN` into a temporary table (dropped at commit), then the same
//! set-wise plan and upsert statements as SQLite.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};
use tokio::runtime::Handle;

use super::sql::{Dialect, EntitySql};
use super::{Counts, FileMode, ImportRecord, ImportStamp, ImportTx, StageRow, StoreError};
use crate::domain::Entity;
use crate::domain::datetime::now_ms;

/// Flush a staging buffer to the server once it holds this many bytes.
const COPY_CHUNK: usize = 4 << 20;

/// Any constant: the advisory lock that serialises migrations across replicas.
const MIGRATION_LOCK: i64 = 0x526f_7374_6572;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    sql: Arc<HashMap<Entity, EntitySql>>,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        use sqlx::ConnectOptions;
        // Bulk statements of a big import legitimately run for seconds: no slow-query warnings,
        // and statements are logged at debug level only (they never contain values: all bound).
        let options = url
            .parse::<sqlx::postgres::PgConnectOptions>()?
            .log_statements(tracing::log::LevelFilter::Debug)
            .log_slow_statements(
                tracing::log::LevelFilter::Debug,
                std::time::Duration::from_secs(60),
            );
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(30))
            .connect_with(options)
            .await?;
        migrate(&pool).await?;
        Ok(PgStore {
            pool,
            sql: Arc::new(
                Entity::ALL
                    .map(|e| (e, EntitySql::new(e, Dialect::Postgres)))
                    .into(),
            ),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn ensure_tenant(&self, id: &str, name: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn tenant_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Blocking: must run on a thread outside the async runtime (e.g. `spawn_blocking`).
    pub fn begin_import(
        &self,
        tenant: &str,
        stamp: &ImportStamp,
    ) -> Result<PgImportTx, StoreError> {
        let handle = Handle::current();
        let tx = handle.block_on(async {
            let mut tx = self.pool.begin().await?;
            // Several imports of one tenant must not interleave: serialise them per tenant.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(tenant)
                .execute(&mut *tx)
                .await?;
            let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !exists {
                return Err(StoreError::UnknownTenant(tenant.to_owned()));
            }
            Ok::<_, StoreError>(tx)
        })?;
        Ok(PgImportTx {
            tx: Some(tx),
            handle,
            tenant: tenant.to_owned(),
            stamp: stamp.clone(),
            sql: self.sql.clone(),
            buffers: HashMap::new(),
            plans: HashMap::new(),
        })
    }
}

async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(super::migrate::CREATE_TABLE)
        .execute(&mut *tx)
        .await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
    for (version, name, sql) in super::migrate::POSTGRES {
        if *version > current {
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub struct PgImportTx {
    tx: Option<Transaction<'static, Postgres>>,
    handle: Handle,
    tenant: String,
    stamp: ImportStamp,
    sql: Arc<HashMap<Entity, EntitySql>>,
    /// COPY text per entity not yet sent; present once the staging table exists.
    buffers: HashMap<Entity, Vec<u8>>,
    /// Plans already computed (nothing changes between plan and apply).
    plans: HashMap<Entity, Counts>,
}

/// Appends a value in COPY text format.
fn copy_text(buf: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl PgImportTx {
    fn tx(&mut self) -> &mut Transaction<'static, Postgres> {
        self.tx.as_mut().expect("transaction is open until commit")
    }

    fn ensure_stage(&mut self, entity: Entity) -> Result<(), StoreError> {
        if self.buffers.contains_key(&entity) {
            return Ok(());
        }
        let sql = self.sql[&entity].create_stage.clone();
        let handle = self.handle.clone();
        handle.block_on(sqlx::query(AssertSqlSafe(sql)).execute(&mut **self.tx()))?;
        self.buffers
            .insert(entity, Vec::with_capacity(COPY_CHUNK + 4096));
        Ok(())
    }

    fn flush(&mut self, entity: Entity) -> Result<(), StoreError> {
        let data = match self.buffers.get_mut(&entity) {
            Some(b) if !b.is_empty() => std::mem::take(b),
            _ => return Ok(()),
        };
        let statement = format!("COPY {} FROM STDIN", super::sql::stage_table(entity));
        let handle = self.handle.clone();
        let tx = self.tx();
        handle.block_on(async {
            let mut copy = tx.copy_in_raw(&statement).await?;
            copy.send(data.as_slice()).await?;
            copy.finish().await?;
            Ok::<_, sqlx::Error>(())
        })?;
        let mut data = data;
        data.clear();
        self.buffers.insert(entity, data);
        Ok(())
    }

    fn run<T>(&self, fut: impl std::future::Future<Output = T>) -> T {
        self.handle.block_on(fut)
    }
}

impl ImportTx for PgImportTx {
    fn stage(&mut self, entity: Entity, row: &StageRow<'_>) -> Result<(), StoreError> {
        self.ensure_stage(entity)?;
        let buf = self.buffers.get_mut(&entity).expect("created above");
        copy_text(buf, row.sourced_id);
        buf.push(b'\t');
        buf.extend_from_slice(row.status.as_str().as_bytes());
        buf.push(b'\t');
        match row.source_modified {
            Some(ms) => buf.extend_from_slice(ms.to_string().as_bytes()),
            None => buf.extend_from_slice(b"\\N"),
        }
        for v in row.values {
            buf.push(b'\t');
            if v.is_empty() {
                buf.extend_from_slice(b"\\N");
            } else {
                copy_text(buf, v);
            }
        }
        buf.push(b'\t');
        match row.metadata {
            Some(m) => copy_text(buf, m),
            None => buf.extend_from_slice(b"\\N"),
        }
        buf.extend_from_slice(b"\t\\\\x");
        for b in row.hash {
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 15)]);
        }
        buf.push(b'\n');
        if buf.len() >= COPY_CHUNK {
            self.flush(entity)?;
        }
        Ok(())
    }

    fn finish_staging(
        &mut self,
        entity: Entity,
        _mode: FileMode,
        _in_bundle: &dyn Fn(&str) -> bool,
    ) -> Result<(), StoreError> {
        self.ensure_stage(entity)?;
        self.flush(entity)?;
        let index = self.sql[&entity].index_stage.clone();
        let analyze = format!("ANALYZE {}", super::sql::stage_table(entity));
        let handle = self.handle.clone();
        let tx = self.tx();
        handle.block_on(async {
            sqlx::query(AssertSqlSafe(index)).execute(&mut **tx).await?;
            // Autovacuum never analyses temporary tables; without statistics the planner
            // guesses badly for the joins below.
            sqlx::query(AssertSqlSafe(analyze))
                .execute(&mut **tx)
                .await?;
            Ok::<_, sqlx::Error>(())
        })?;
        Ok(())
    }

    fn missing_ids(&mut self, entity: Entity, ids: &[&str]) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT x FROM UNNEST($2::text[]) AS x WHERE NOT EXISTS \
             (SELECT 1 FROM {} m WHERE m.tenant_id = $1 AND m.sourced_id = x)",
            entity.table()
        );
        let tenant = self.tenant.clone();
        let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        let handle = self.handle.clone();
        let tx = self.tx();
        let rows = handle.block_on(
            sqlx::query_scalar::<_, String>(AssertSqlSafe(sql))
                .bind(tenant)
                .bind(ids)
                .fetch_all(&mut **tx),
        )?;
        Ok(rows)
    }

    fn stored_org_types(&mut self, ids: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        let tenant = self.tenant.clone();
        let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        let handle = self.handle.clone();
        let tx = self.tx();
        let rows = handle.block_on(
            sqlx::query(
                "SELECT sourced_id, type FROM orgs WHERE tenant_id = $1 AND sourced_id = ANY($2)",
            )
            .bind(tenant)
            .bind(ids)
            .fetch_all(&mut **tx),
        )?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
            .collect())
    }

    fn active_count(&mut self, entity: Entity) -> Result<u64, StoreError> {
        let sql = self.sql[&entity].active_count.clone();
        let tenant = self.tenant.clone();
        let handle = self.handle.clone();
        let tx = self.tx();
        let n: i64 = handle.block_on(
            sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(tenant)
                .fetch_one(&mut **tx),
        )?;
        Ok(n as u64)
    }

    fn plan(&mut self, entity: Entity, mode: FileMode) -> Result<Counts, StoreError> {
        if let Some(c) = self.plans.get(&entity) {
            return Ok(*c);
        }
        let sql = self.sql[&entity].clone();
        let tenant = self.tenant.clone();
        let handle = self.handle.clone();
        let tx = self.tx();
        handle
            .block_on(async {
                let row = sqlx::query(AssertSqlSafe(sql.plan_staged))
                    .bind(&tenant)
                    .fetch_one(&mut **tx)
                    .await?;
                let tombstoned: i64 = match mode {
                    FileMode::Delta => row.get(3),
                    FileMode::Bulk => {
                        sqlx::query_scalar(AssertSqlSafe(sql.plan_bulk_tombstones))
                            .bind(&tenant)
                            .fetch_one(&mut **tx)
                            .await?
                    }
                };
                Ok::<_, StoreError>(Counts {
                    inserted: row.get::<i64, _>(0) as u64,
                    updated: row.get::<i64, _>(1) as u64,
                    unchanged: row.get::<i64, _>(2) as u64,
                    tombstoned: tombstoned as u64,
                })
            })
            .inspect(|c| {
                self.plans.insert(entity, *c);
            })
    }

    fn apply(&mut self, entity: Entity, mode: FileMode) -> Result<Counts, StoreError> {
        let planned = self.plan(entity, mode)?;
        let stamp = self.stamp.clone();
        let sql = self.sql[&entity].clone();
        let tenant = self.tenant.clone();
        let handle = self.handle.clone();
        let tx = self.tx();
        let (upserted, tombstoned) = handle.block_on(async {
            let up = sqlx::query(AssertSqlSafe(sql.upsert))
                .bind(&tenant)
                .bind(stamp.now)
                .bind(&stamp.import_id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            let tomb_sql = match mode {
                FileMode::Delta => sql.tombstone_delta,
                FileMode::Bulk => sql.tombstone_bulk,
            };
            let tomb = sqlx::query(AssertSqlSafe(tomb_sql))
                .bind(&tenant)
                .bind(stamp.now)
                .bind(&stamp.import_id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            Ok::<_, sqlx::Error>((up, tomb))
        })?;
        check_applied(entity, &planned, upserted, tombstoned)?;
        Ok(planned)
    }

    fn save_import(&mut self, r: &ImportRecord) -> Result<(), StoreError> {
        let tenant = self.tenant.clone();
        let r = r.clone();
        let handle = self.handle.clone();
        let tx = self.tx();
        handle.block_on(
            sqlx::query(
                "INSERT INTO imports (id, tenant_id, status, profile, started_at, finished_at, report) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(r.id)
            .bind(tenant)
            .bind(r.status)
            .bind(r.profile)
            .bind(r.started_at)
            .bind(r.finished_at)
            .bind(r.report_json)
            .execute(&mut **tx),
        )?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        let tx = self.tx.take().expect("transaction is open until commit");
        self.run(tx.commit())?;
        Ok(())
    }
}

/// The statements must have done exactly what the plan said; anything else aborts the import.
fn check_applied(
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
    fn copy_text_escapes_what_copy_would_misread() {
        let mut b = Vec::new();
        copy_text(&mut b, "a\tb\\c\nd\re");
        assert_eq!(b, b"a\\tb\\\\c\\nd\\re");
    }
}
