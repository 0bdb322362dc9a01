//! One SQL text for both backends on the main database (`api_clients`, `signing_keys`):
//! `$1`, `$2`, … parameters (`?1`, `?2`, … on SQLite), integer and text values only — the
//! conventions of `storage::plain`, on the main file instead of the operational one.

use rusqlite::Connection;
use sqlx::{AssertSqlSafe, Row as _, TypeInfo as _};

use crate::storage::plain::{Row, Value};
use crate::storage::sqlite::SqliteStore;
use crate::storage::{Store, StoreError};

/// `$1` → `?1`. The statements here have no `$` in literals.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn sqlite_params(params: &[Value]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    params
        .iter()
        .map(|p| match p {
            Value::Int(i) => V::Integer(*i),
            Value::Text(s) => V::Text(s.clone()),
            Value::Bytes(b) => V::Blob(b.clone()),
            Value::NullInt | Value::NullText => V::Null,
        })
        .collect()
}

fn sqlite_exec(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
    let mut st = conn.prepare_cached(&sqlite_sql(sql))?;
    Ok(st.execute(rusqlite::params_from_iter(sqlite_params(params)))? as u64)
}

fn sqlite_fetch(conn: &Connection, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
    use rusqlite::types::ValueRef;
    let mut st = conn.prepare_cached(&sqlite_sql(sql))?;
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(sqlite_params(params)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(match r.get_ref(i)? {
                ValueRef::Null => Value::NullText,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Int(v as i64),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
            });
        }
        out.push(Row(row));
    }
    Ok(out)
}

type PgQuery = sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn pg_query(sql: &str, params: Vec<Value>) -> PgQuery {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
    for p in params {
        q = match p {
            Value::Int(i) => q.bind(i),
            Value::Text(s) => q.bind(s),
            Value::Bytes(b) => q.bind(b),
            Value::NullInt => q.bind(None::<i64>),
            Value::NullText => q.bind(None::<String>),
        };
    }
    q
}

fn pg_row(r: &sqlx::postgres::PgRow) -> Result<Row, StoreError> {
    use sqlx::Column as _;
    let mut row = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match col.type_info().name() {
            "INT8" => r.try_get::<Option<i64>, _>(i)?.map(Value::Int),
            "INT4" => r
                .try_get::<Option<i32>, _>(i)?
                .map(|v| Value::Int(v.into())),
            _ => r.try_get::<Option<String>, _>(i)?.map(Value::Text),
        };
        row.push(v.unwrap_or(Value::NullText));
    }
    Ok(Row(row))
}

/// Runs `f` on a blocking thread; panics propagate.
async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => Err(StoreError::Io(std::io::Error::other(e))),
        },
    }
}

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
pub(super) async fn exec(
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
pub(super) async fn fetch(
    store: &Store,
    sql: &'static str,
    params: Vec<Value>,
) -> Result<Vec<Row>, StoreError> {
    match store {
        Store::Sqlite(s) => {
            let s = s.clone();
            blocking(move || s.with_reader(|conn| sqlite_fetch(conn, sql, &params))).await
        }
        Store::Postgres(p) => pg_query(sql, params)
            .fetch_all(p.pool())
            .await?
            .iter()
            .map(pg_row)
            .collect(),
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
