//! The case table of `tests` on a real PostgreSQL: a fresh database per run (`test_db::FreshPg`),
//! dropped at the end. Skipped (with a printed line) when no server answers at
//! `ROSTERHUB_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/postgres`).

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use super::tests::{CASES, Cell, FIXTURE, query};
use super::*;
use crate::filter::{Resource, parse_filter};
use crate::storage::test_db::FreshPg;

async fn load(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(include_str!(
        "../../../migrations/postgres/0001_rostering.sql"
    ))
    .execute(&mut *conn)
    .await?;
    conn.execute(
        "INSERT INTO tenants (id, name, created_at) VALUES ('default', 'd', 0), ('t2', 't2', 0) \
         ON CONFLICT DO NOTHING",
    )
    .await?;
    for (table, cols, rows) in FIXTURE {
        let marks: Vec<String> = (1..=cols.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}, content_hash, created_at, updated_at) \
             VALUES ({}, '\\x00'::bytea, 0, 0)",
            cols.join(", "),
            marks.join(", ")
        );
        for row in *rows {
            let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
            for c in *row {
                q = match c {
                    Cell::T(s) => q.bind(*s),
                    Cell::N => q.bind(None::<&str>),
                    Cell::Ms(_) => q.bind(c.int()),
                };
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

async fn run(conn: &mut PgConnection, filter: &str) -> Result<Vec<String>, String> {
    let expr = parse_filter(Resource::Users, filter).map_err(|e| e.to_string())?;
    let frag = filter_sql(&expr, Dialect::Postgres, "u", 2).map_err(|e| e.to_string())?;
    let sql = query(Dialect::Postgres, &frag);
    let rows = crate::storage::value::pg_query(&sql, super::tests::params(frag))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| format!("{e}\n{sql}"))?;
    rows.iter()
        .map(|r| sqlx::Row::try_get(r, 0).map_err(|e| e.to_string()))
        .collect()
}

async fn cases_on_postgres() {
    let Some(db) = FreshPg::create("sql_filter PostgreSQL cases").await else {
        return;
    };
    let mut failures = Vec::new();
    match PgConnection::connect(&db.url).await {
        Ok(mut conn) => {
            if let Err(e) = load(&mut conn).await {
                failures.push(format!("loading the fixture: {e}"));
            }
            for (filter, want) in CASES {
                match run(&mut conn, filter).await {
                    Ok(got) if got == *want => {}
                    Ok(got) => failures.push(format!("{filter}: got {got:?}, want {want:?}")),
                    Err(e) => failures.push(format!("{filter}: {e}")),
                }
            }
            let _ = conn.close().await;
        }
        Err(e) => failures.push(format!("connecting to {}: {e}", db.url)),
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn filters_select_the_expected_users_on_postgres() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(cases_on_postgres());
}
