//! For the crate's own tests: a fresh PostgreSQL database, and the few statements a test runs to
//! put a row where no public function puts it (a time in the past). Here because SQL lives only
//! under `storage`; compiled for tests only.

use super::Store;
use super::value::{Value, pg_query, sqlite_exec};

/// The server the PostgreSQL tests use (`ROSTERHUB_TEST_PG`); its database is only for creating
/// and dropping the fresh ones.
fn admin_url() -> String {
    std::env::var("ROSTERHUB_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A uniquely named, empty PostgreSQL database, dropped when this is dropped.
pub(crate) struct FreshPg {
    /// Its URL, for `Store::open` or a connection of the test's own.
    pub url: String,
    admin: String,
    name: String,
}

impl FreshPg {
    /// `None` when no server answers: the caller skips its test, with a `SKIPPED: {what}` line;
    /// unless `ROSTERHUB_REQUIRE_PG=1`, which makes that a failure.
    pub(crate) async fn create(what: &str) -> Option<FreshPg> {
        use sqlx::Connection as _;
        let admin = admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("ROSTERHUB_REQUIRE_PG").is_ok_and(|v| v == "1") {
                    panic!("ROSTERHUB_REQUIRE_PG=1 but PostgreSQL is unreachable: {e}");
                }
                eprintln!("SKIPPED: {what} (no PostgreSQL at ROSTERHUB_TEST_PG: {e})");
                return None;
            }
        };
        let name = format!("rosterhub_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(FreshPg {
            url: format!("{base}/{name}"),
            admin,
            name,
        })
    }
}

impl Drop for FreshPg {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside a test's runtime, where nothing can block on a future: a thread
        // with a runtime of its own. `FORCE` ends connections a pool still holds.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// One statement on the main database, the same text on both backends (`$n` parameters).
async fn exec(store: &Store, sql: &str, params: Vec<Value>) {
    match store {
        Store::Sqlite(s) => {
            sqlite_exec(&s.connect().unwrap(), sql, &params).unwrap();
        }
        Store::Postgres(p) => {
            pg_query(sql, params).execute(p.pool()).await.unwrap();
        }
    }
}

/// Ends the overlap of a client's previous secret at `until` (epoch ms): what the clock would
/// do, without waiting for it.
pub(crate) async fn expire_previous_secret(store: &Store, client_id: &str, until: i64) {
    exec(
        store,
        "UPDATE api_clients SET previous_secret_until = $1 WHERE client_id = $2",
        crate::storage::value::params![until, client_id],
    )
    .await;
}

/// Sets when a signing key was retired (epoch ms), to move its retirement into the past.
pub(crate) async fn retire_signing_key(store: &Store, kid: &str, at: i64) {
    exec(
        store,
        "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2",
        crate::storage::value::params![at, kid],
    )
    .await;
}
