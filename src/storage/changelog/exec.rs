//! One statement text for both backends inside one transaction — what the undo and the
//! retention sweep run: `$n` parameters (SQLite reads `?n`), values as [`Value`]s. Blocking:
//! PostgreSQL's statements are driven from the blocking thread, as the import's are.

use rusqlite::Connection;
use sqlx::{Postgres, Transaction};
use tokio::runtime::Handle;

use crate::storage::postgres::PgStore;
use crate::storage::sqlite::SqliteStore;
use crate::storage::value::{
    Row, Value, blocking, pg_query, pg_rows, sqlite_exec, sqlite_fetch, timed,
};
use crate::storage::{Store, StoreError};

/// A transaction that runs statements.
pub(super) trait Exec {
    /// Runs a statement; the rows it changed.
    fn exec(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError>;
    fn fetch(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError>;
    /// The backend's SQL dialect (the dashboard's shortfall counts differ in their JSON).
    fn dialect(&self) -> crate::storage::sql::Dialect;
}

/// A write transaction on the SQLite database (`BEGIN IMMEDIATE`: the one writer, as an
/// import is). Dropped without [`SqliteTx::commit`], it rolls back.
pub(super) struct SqliteTx {
    conn: Connection,
    open: bool,
}

impl SqliteTx {
    pub fn begin(store: &SqliteStore) -> Result<SqliteTx, StoreError> {
        let conn = store.connect()?;
        // An import's page cache: an undo looks up and rewrites records all over a big table,
        // and with the default 2 MiB it read the same pages from the file again and again.
        conn.pragma_update(None, "cache_size", crate::storage::sqlite::IMPORT_CACHE_KIB)?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteTx { conn, open: true })
    }

    pub fn commit(mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Exec for SqliteTx {
    fn dialect(&self) -> crate::storage::sql::Dialect {
        crate::storage::sql::Dialect::Sqlite
    }

    fn exec(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        timed(sql, || sqlite_exec(&self.conn, sql, &params))
    }

    fn fetch(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        timed(sql, || sqlite_fetch(&self.conn, sql, &params))
    }
}

/// A PostgreSQL transaction driven from a blocking thread. Dropped without
/// [`PgTx::commit`], it rolls back.
pub(super) struct PgTx {
    tx: Transaction<'static, Postgres>,
    handle: Handle,
}

impl PgTx {
    pub fn begin(store: &PgStore) -> Result<PgTx, StoreError> {
        let handle = Handle::current();
        let tx = handle.block_on(store.pool().begin())?;
        Ok(PgTx { tx, handle })
    }

    pub fn commit(self) -> Result<(), StoreError> {
        self.handle.block_on(self.tx.commit())?;
        Ok(())
    }
}

impl Exec for PgTx {
    fn dialect(&self) -> crate::storage::sql::Dialect {
        crate::storage::sql::Dialect::Postgres
    }

    fn exec(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        let (handle, tx) = (&self.handle, &mut self.tx);
        let done = timed(sql, || {
            Ok(handle.block_on(pg_query(sql, params).execute(&mut **tx))?)
        })?;
        Ok(done.rows_affected())
    }

    fn fetch(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        let (handle, tx) = (&self.handle, &mut self.tx);
        let rows = timed(sql, || {
            Ok(handle.block_on(pg_query(sql, params).fetch_all(&mut **tx))?)
        })?;
        pg_rows(&rows)
    }
}

/// Runs the statements in one transaction, on a blocking thread.
pub(super) async fn batch(
    store: &Store,
    stmts: Vec<(String, Vec<Value>)>,
) -> Result<(), StoreError> {
    match store {
        Store::Sqlite(s) => {
            let s = s.clone();
            blocking(move || {
                let mut tx = SqliteTx::begin(&s)?;
                for (sql, params) in stmts {
                    tx.exec(&sql, params)?;
                }
                tx.commit()
            })
            .await
        }
        Store::Postgres(p) => {
            let mut tx = p.pool().begin().await?;
            for (sql, params) in stmts {
                pg_query(&sql, params).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        }
    }
}
