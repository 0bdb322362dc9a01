//! The operational tables — jobs and their files, webhooks and their deliveries, admin users
//! and sessions, the audit log — and every statement on them, one file per table family:
//! [`jobs`], [`blobs`], [`webhooks`] (subscriptions), [`deliveries`] (the webhooks' outbox, its
//! claim and attempts), [`mails`] (the e-mail notices' outbox and daily-summary claims),
//! [`pulls`] (the runs of scheduled pulls, claimed per scheduled minute),
//! [`users`] (admin users, roles, sessions, failed logins), [`throttle`] (the
//! failed-credential counters of the login and token endpoints) and [`audit`]; [`gauges`] is
//! what `/metrics` reads of them.
//! Each exposes typed methods on [`Store`] and the row types they return (decoded strictly: see
//! [`Row`]); the features (`jobs`, `webhooks`, `users`, `audit`) keep their rules, re-export
//! the types and call these.
//!
//! This file holds the machinery they share, private to them: each statement is written once
//! for both backends. Parameters are written `$1`, `$2`, … (on SQLite they become `?1`, `?2`,
//! …); values are integers, texts and bytes only — booleans are 0/1 and times epoch
//! milliseconds — so one text means the same on both. Only what cannot be said alike (`FOR
//! UPDATE SKIP LOCKED`) is chosen per backend.
//!
//! On SQLite these tables live in a second file beside the database (`<name>-ops.db`): an import
//! holds the main file's write lock for its whole run, and uploads, progress, heartbeats and
//! webhook deliveries must not wait for it. On PostgreSQL they are tables of the same database.
//!
//! Times are stamped by each replica's own clock (`now_ms`), never the database's: leases
//! assume clocks in sync within a fraction of the lease (NTP).

pub mod audit;
pub mod blobs;
pub mod deliveries;
pub mod gauges;
pub mod jobs;
pub mod liveness;
pub mod mails;
pub mod pulls;
pub mod throttle;
pub mod users;
pub mod webhooks;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::value::{Row, Value, blocking, pg_query, pg_rows, sqlite_exec, sqlite_fetch};
use super::{Store, StoreError};
use rusqlite::Connection;

/// A statement of an atomic batch.
#[derive(Debug, Clone)]
struct Stmt {
    sql: Cow<'static, str>,
    params: Vec<Value>,
    /// The batch is rolled back (and fails with [`StoreError::Conflict`]) when this statement
    /// changes no row: the guard of a state transition.
    must_change: bool,
}

impl Stmt {
    fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Stmt {
        Stmt {
            sql: sql.into(),
            params,
            must_change: false,
        }
    }
    fn guard(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Stmt {
        Stmt {
            must_change: true,
            ..Stmt::new(sql, params)
        }
    }
}

/// The operational file that belongs beside the SQLite database `main`: `<name>-ops.db`.
pub fn sqlite_ops_path(main: &Path) -> PathBuf {
    let stem = main
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rosterhub".into());
    main.with_file_name(format!("{stem}-ops.db"))
}

/// The SQLite operational file and its idle connections.
pub(super) struct SqliteOps {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Connections handed out now (for `/metrics`).
    busy: gauges::BusyCount,
}

/// How many idle connections of the operational file are kept.
const MAX_IDLE_OPS: usize = 8;

impl SqliteOps {
    /// Opens (and migrates) the operational file that belongs beside `main`.
    pub(super) fn open(main: &Path) -> Result<SqliteOps, StoreError> {
        let ops = SqliteOps::at(main);
        let mut conn = ops.connect()?;
        super::sqlite::migrate(&mut conn, super::migrate::SQLITE_OPS)?;
        Ok(ops)
    }

    /// The operational file beside `main`, not opened yet.
    pub(super) fn at(main: &Path) -> SqliteOps {
        SqliteOps {
            path: sqlite_ops_path(main),
            idle: Mutex::new(Vec::new()),
            busy: Default::default(),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// This pool as `/metrics` shows it.
    pub(super) fn pool_gauge(&self) -> gauges::PoolGauge {
        gauges::PoolGauge {
            name: "sqlite_ops",
            idle: self.idle.lock().unwrap_or_else(|e| e.into_inner()).len() as u64,
            busy: self.busy.get(),
            max: MAX_IDLE_OPS as u64,
        }
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => self.connect()?,
        };
        let busy = self.busy.take();
        let out = f(&mut conn);
        drop(busy);
        // A connection left inside a transaction (an error mid-batch) is not reused.
        if conn.is_autocommit() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_OPS {
                idle.push(conn);
            }
        }
        out
    }
}

/// Runs `f` on the SQLite operational file on a blocking thread.
async fn on_sqlite_ops<T, F>(ops: &Arc<SqliteOps>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
{
    let ops = ops.clone();
    blocking(move || ops.with(f)).await
}

impl Store {
    /// Runs one statement on the operational tables; returns the rows it changed.
    async fn ops_exec(&self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => {
                let sql = sql.to_owned();
                on_sqlite_ops(s.ops(), move |c| sqlite_exec(c, &sql, &params)).await
            }
            Store::Postgres(p) => Ok(pg_query(sql, params)
                .execute(p.pool())
                .await?
                .rows_affected()),
        }
    }

    /// Runs one query on the operational tables.
    async fn ops_fetch(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self {
            Store::Sqlite(s) => {
                let sql = sql.to_owned();
                on_sqlite_ops(s.ops(), move |c| sqlite_fetch(c, &sql, &params)).await
            }
            Store::Postgres(p) => pg_rows(&pg_query(sql, params).fetch_all(p.pool()).await?),
        }
    }

    /// The first row of a query, if any.
    async fn ops_fetch_opt(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.ops_fetch(sql, params).await?.into_iter().next())
    }

    /// The rows of a query, each read by `decode`.
    async fn ops_fetch_as<T>(
        &self,
        sql: &str,
        params: Vec<Value>,
        decode: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.ops_fetch(sql, params)
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    /// The first row of a query read by `decode`, if any.
    async fn ops_fetch_opt_as<T>(
        &self,
        sql: &str,
        params: Vec<Value>,
        decode: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.ops_fetch_opt(sql, params)
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    /// The `COUNT(*)` a query selects as its one column.
    async fn ops_count(&self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        match self.ops_fetch_opt(sql, params).await? {
            Some(row) => row.int_as(0, "a count"),
            None => Ok(0),
        }
    }

    /// Runs the statements in one transaction: all or nothing. A [`Stmt::guard`] that changes
    /// no row rolls everything back with [`StoreError::Conflict`].
    async fn ops_atomic(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, StoreError> {
        match self {
            Store::Sqlite(s) => {
                on_sqlite_ops(s.ops(), move |c| {
                    let tx =
                        c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let mut counts = Vec::with_capacity(stmts.len());
                    for st in &stmts {
                        let n = sqlite_exec(&tx, &st.sql, &st.params)?;
                        if st.must_change && n == 0 {
                            return Err(StoreError::Conflict(guard_name(&st.sql)));
                        }
                        counts.push(n);
                    }
                    tx.commit()?;
                    Ok(counts)
                })
                .await
            }
            Store::Postgres(p) => {
                let mut tx = p.pool().begin().await?;
                let mut counts = Vec::with_capacity(stmts.len());
                for st in stmts {
                    let n = pg_query(&st.sql, st.params)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if st.must_change && n == 0 {
                        return Err(StoreError::Conflict(guard_name(&st.sql)));
                    }
                    counts.push(n);
                }
                tx.commit().await?;
                Ok(counts)
            }
        }
    }
}

/// The first words of a statement, to say which guard failed.
fn guard_name(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::value::params;

    #[tokio::test]
    async fn one_text_runs_on_sqlite_with_guards() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url).await.unwrap();
        store.ensure_tenant("t1", "T1").await.unwrap();
        let sql = "INSERT INTO blobs (id, tenant_id, size_bytes, sha256, complete, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        let n = store
            .ops_exec(
                sql,
                params!["b1", "t1", 3_i64, None::<String>, false, 7_i64],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let row = store
            .ops_fetch_opt(
                "SELECT id, size_bytes, sha256 FROM blobs WHERE id = $1",
                params!["b1"],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.text(0).unwrap(), "b1");
        assert_eq!(row.int(1).unwrap(), 3);
        assert_eq!(row.opt_text(2).unwrap(), None);
        // A failing guard rolls back the statements before it.
        let err = store
            .ops_atomic(vec![
                Stmt::new("UPDATE blobs SET complete = 1 WHERE id = $1", params!["b1"]),
                Stmt::guard(
                    "UPDATE blobs SET size_bytes = 9 WHERE id = $1",
                    params!["nope"],
                ),
            ])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let row = store
            .ops_fetch_opt("SELECT complete FROM blobs WHERE id = $1", params!["b1"])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.int(0).unwrap(), 0);
        assert!(dir.path().join("t-ops.db").exists());
    }
}
