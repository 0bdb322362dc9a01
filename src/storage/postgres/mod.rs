//! The PostgreSQL backend (sqlx): several replicas share one database.
//!
//! Imports: when an entity's first row arrives, the tenant's stored records of it are read once
//! (sourcedId, active, content hash) and every row is classified against them as it is staged,
//! so the plan's counts are exact without a join. New records are streamed with `COPY … FROM
//! STDIN` straight into the entity's table by a task that owns the transaction meanwhile, so the
//! server writes while the caller keeps parsing; changes to stored records (updates, tombstones)
//! go into a temporary staging table (dropped at commit) and are applied by guarded set-wise
//! `UPDATE`s whose row counts must equal the plan. An unchanged re-import writes nothing.

mod import;

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::postgres::{PgPool, PgPoolOptions};

pub use self::import::PgImportTx;
use super::sql::{Dialect, EntitySql};
use super::{ImportStamp, StoreError};
use crate::domain::Entity;
use crate::domain::datetime::now_ms;

/// Any constant: the advisory lock that serialises migrations across replicas.
/// Held shared by every import, exclusively by one that drops indexes (any constant).
pub(super) const IMPORT_DDL_LOCK: i64 = 0x496d_706f_7274;

const MIGRATION_LOCK: i64 = 0x526f_7374_6572;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    sql: Arc<HashMap<Entity, EntitySql>>,
    /// PII encryption keys, when on (set by [`super::Store::with_pii`]).
    pub(super) pii: Option<Arc<crate::pii::Pii>>,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore::connect_as_is(url).await?;
        migrate(&store.pool).await?;
        Ok(store)
    }

    /// A pool on the database without migrating it (for `doctor`).
    pub async fn connect_as_is(url: &str) -> Result<PgStore, StoreError> {
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
        Ok(PgStore {
            pool,
            sql: Arc::new(
                Entity::ALL
                    .map(|e| (e, EntitySql::new(e, Dialect::Postgres)))
                    .into(),
            ),
            pii: None,
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

    /// Starts an import (see [`import::PgImportTx`]). Blocking: must run on a thread outside
    /// the async runtime (e.g. `spawn_blocking`).
    pub fn begin_import(
        &self,
        tenant: &str,
        stamp: &ImportStamp,
    ) -> Result<PgImportTx, StoreError> {
        PgImportTx::begin(self, tenant, stamp)
    }
}

async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(crate::storage::migrate::CREATE_TABLE)
        .execute(&mut *tx)
        .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for (version, name, sql) in crate::storage::migrate::POSTGRES {
        if !applied.contains(version) {
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
