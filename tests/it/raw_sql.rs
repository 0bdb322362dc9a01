//! Raw SQL on the operational tables (jobs, files, webhooks, admin users, the audit log) through
//! the test's own connection — rusqlite on the `<name>-ops.db` file beside a SQLite database,
//! sqlx on the PostgreSQL URL — for what a test must see or break behind storage's back (a
//! stored hash, a corrupted row). Storage's own runners are private to it.
//!
//! Statements are written once for both backends, with `$1`, `$2`, … text parameters. Cells
//! come back as JSON: integers as numbers, texts as strings, bytes as hex, NULL as null.

use rosterhub::storage::Store;
use serde_json::{Value, json};

use crate::helpers::TestDb;

/// The rows a query selects.
pub async fn query(db: &TestDb, sql: &str, params: &[&str]) -> Vec<Vec<Value>> {
    match &db.store {
        Store::Sqlite(s) => {
            let conn = sqlite(s.ops_path());
            let mut stmt = conn.prepare(&sqlite_sql(sql)).unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(params), |r| {
                    (0..n).map(|i| Ok(sqlite_cell(r.get_ref(i)?))).collect()
                })
                .unwrap();
            rows.map(Result::unwrap).collect()
        }
        Store::Postgres(_) => {
            use sqlx::Row as _;
            let mut conn = postgres(&db.url).await;
            let rows = pg_query(sql, params).fetch_all(&mut conn).await.unwrap();
            rows.iter()
                .map(|r| (0..r.len()).map(|i| pg_cell(r, i)).collect())
                .collect()
        }
    }
}

/// Runs a statement; the rows it changed.
pub async fn exec(db: &TestDb, sql: &str, params: &[&str]) -> u64 {
    match &db.store {
        Store::Sqlite(s) => {
            let conn = sqlite(s.ops_path());
            conn.execute(&sqlite_sql(sql), rusqlite::params_from_iter(params))
                .unwrap() as u64
        }
        Store::Postgres(_) => {
            let mut conn = postgres(&db.url).await;
            pg_query(sql, params)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
    }
}

/// The integer a query selects first (a `COUNT(*)`).
pub async fn ops_count(db: &TestDb, sql: &str) -> i64 {
    query(db, sql, &[]).await[0][0].as_i64().unwrap()
}

/// [`query`] without parameters, from synchronous test code.
pub fn ops_rows(db: &TestDb, sql: &str) -> Vec<Vec<Value>> {
    db.block_on(query(db, sql, &[]))
}

/// [`exec`] without parameters, from synchronous test code.
pub fn ops_exec(db: &TestDb, sql: &str) {
    db.block_on(exec(db, sql, &[]));
}

fn sqlite(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    conn
}

/// `$1` → `?1` (the statements of these tests have no `$` in literals).
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn sqlite_cell(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => json!(hex::encode(b)),
    }
}

async fn postgres(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection as _;
    sqlx::PgConnection::connect(url).await.unwrap()
}

fn pg_query<'q>(
    sql: &'q str,
    params: &[&'q str],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    params
        .iter()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, p| q.bind(*p))
}

fn pg_cell(r: &sqlx::postgres::PgRow, i: usize) -> Value {
    use sqlx::{Column as _, Row as _, TypeInfo as _};
    let json_of = |v: Option<Value>| v.unwrap_or(Value::Null);
    match r.columns()[i].type_info().name() {
        "INT8" => json_of(r.get::<Option<i64>, _>(i).map(|v| json!(v))),
        "INT4" => json_of(r.get::<Option<i32>, _>(i).map(|v| json!(v))),
        "INT2" => json_of(r.get::<Option<i16>, _>(i).map(|v| json!(v))),
        "BOOL" => json_of(r.get::<Option<bool>, _>(i).map(|v| json!(i64::from(v)))),
        "BYTEA" => json_of(
            r.get::<Option<Vec<u8>>, _>(i)
                .map(|v| json!(hex::encode(v))),
        ),
        _ => json_of(r.get::<Option<String>, _>(i).map(|v| json!(v))),
    }
}
