//! One SQL text for both backends on the main database (`api_clients`, `signing_keys`):
//! `$1`, `$2`, … parameters (`?1`, `?2`, … on SQLite), integer and text values only — the
//! conventions and value binders of `storage::ops`, on the main file instead of the operational
//! one.

use rusqlite::Connection;

use crate::storage::sqlite::SqliteStore;
use crate::storage::value::{Row, Value, blocking, pg_query, pg_rows, sqlite_exec, sqlite_fetch};
use crate::storage::{Store, StoreError};

/// Runs `f` on a fresh SQLite connection (for writes) on a blocking thread.
pub(super) async fn with_sqlite<T, F>(store: &SqliteStore, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    blocking(move || f(&mut store.connect()?)).await
}

/// One statement; the number of rows it changed.
pub(in crate::storage) async fn exec(
    store: &Store,
    sql: &'static str,
    params: Vec<Value>,
) -> Result<u64, StoreError> {
    match store {
        Store::Sqlite(s) => with_sqlite(s, move |conn| sqlite_exec(conn, sql, &params)).await,
        Store::Postgres(p) => Ok(pg_query(sql, params)
            .execute(p.pool())
            .await?
            .rows_affected()),
    }
}

/// The rows of a query (SQLite: on a pooled read connection).
pub(in crate::storage) async fn fetch(
    store: &Store,
    sql: &'static str,
    params: Vec<Value>,
) -> Result<Vec<Row>, StoreError> {
    match store {
        Store::Sqlite(s) => {
            let s = s.clone();
            blocking(move || s.with_reader(|conn| sqlite_fetch(conn, sql, &params))).await
        }
        Store::Postgres(p) => pg_rows(&pg_query(sql, params).fetch_all(p.pool()).await?),
    }
}

/// One writing statement with `RETURNING`: the rows it returned (SQLite: on a write
/// connection, not a pooled reader).
pub(in crate::storage) async fn write_fetch(
    store: &Store,
    sql: &'static str,
    params: Vec<Value>,
) -> Result<Vec<Row>, StoreError> {
    match store {
        Store::Sqlite(s) => with_sqlite(s, move |conn| sqlite_fetch(conn, sql, &params)).await,
        Store::Postgres(p) => pg_rows(&pg_query(sql, params).fetch_all(p.pool()).await?),
    }
}

/// Statements in one transaction (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: after
/// `pg_advisory_xact_lock(lock)`); the rows each changed.
pub(super) async fn atomic(
    store: &Store,
    lock: i64,
    stmts: Vec<(&'static str, Vec<Value>)>,
) -> Result<Vec<u64>, StoreError> {
    match store {
        Store::Sqlite(s) => {
            with_sqlite(s, move |conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut counts = Vec::with_capacity(stmts.len());
                for (sql, params) in &stmts {
                    counts.push(sqlite_exec(&tx, sql, params)?);
                }
                tx.commit()?;
                Ok(counts)
            })
            .await
        }
        Store::Postgres(p) => {
            let mut tx = p.pool().begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock)
                .execute(&mut *tx)
                .await?;
            let mut counts = Vec::with_capacity(stmts.len());
            for (sql, params) in stmts {
                counts.push(
                    pg_query(sql, params)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                );
            }
            tx.commit().await?;
            Ok(counts)
        }
    }
}
