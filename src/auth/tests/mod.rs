//! Tests of the API client storage (both backends) and of the token endpoint.

mod endpoint;
mod keys;
mod settings;
mod storage;

use crate::storage::Store;

/// A fresh database: SQLite in a temporary folder, or a uniquely named PostgreSQL database
/// dropped when this is dropped.
pub(super) struct TestStore {
    pub store: Store,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestStore {
    pub async fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        let store = Store::open(&url).await.unwrap();
        store.ensure_tenant("t1", "Tenant 1").await.unwrap();
        store.ensure_tenant("t2", "Tenant 2").await.unwrap();
        TestStore {
            store,
            _dir: dir,
            pg: None,
        }
    }

    /// `None` (with a printed line) when no PostgreSQL server answers.
    pub async fn postgres() -> Option<TestStore> {
        use sqlx::Connection as _;
        let admin = std::env::var("ROSTERHUB_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("ROSTERHUB_REQUIRE_PG").is_ok_and(|v| v == "1") {
                    panic!("ROSTERHUB_REQUIRE_PG=1 but PostgreSQL is unreachable: {e}");
                }
                println!("SKIPPED: PostgreSQL client storage tests (no server: {e})");
                return None;
            }
        };
        let name = format!("rosterhub_auth_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let store = Store::open(&format!("{base}/{name}")).await.unwrap();
        store.ensure_tenant("t1", "Tenant 1").await.unwrap();
        store.ensure_tenant("t2", "Tenant 2").await.unwrap();
        Some(TestStore {
            store,
            _dir: tempfile::tempdir().unwrap(),
            pg: Some((admin, name)),
        })
    }
}

impl TestStore {
    /// Runs one statement on the main database (to set times in the past).
    pub async fn exec(&self, sql: &str) {
        match &self.store {
            Store::Sqlite(s) => {
                s.connect().unwrap().execute_batch(sql).unwrap();
            }
            Store::Postgres(p) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(p.pool())
                    .await
                    .unwrap();
            }
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop runs inside the test's runtime: use a thread with its own.
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
            eprintln!("could not drop a test database");
        }
    }
}
