//! Fresh databases on both backends (`TestDb`): imports, exports and table dumps on them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use rosterhub::domain::Entity;
use rosterhub::export::{ExportOptions, ExportProfile, ExportSummary, export_zip};
use rosterhub::import::{self, ImportOptions, Report};
use rosterhub::storage::Store;

use super::read_zip;

/// The backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn pg_admin_url() -> String {
    std::env::var("ROSTERHUB_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether PostgreSQL tests can run; decided once per test binary.
fn pg_available(rt: &tokio::runtime::Runtime) -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let ok = rt.block_on(async {
            use sqlx::Connection;
            sqlx::PgConnection::connect(&pg_admin_url())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        match ok {
            Ok(()) => true,
            Err(e) => {
                if std::env::var("ROSTERHUB_REQUIRE_PG").is_ok_and(|v| v == "1") {
                    panic!("ROSTERHUB_REQUIRE_PG=1 but PostgreSQL is unreachable: {e}");
                }
                eprintln!("SKIPPED: PostgreSQL tests (no server at ROSTERHUB_TEST_PG: {e})");
                false
            }
        }
    })
}

/// A fresh database, dropped at the end of the test.
pub struct TestDb {
    pub rt: tokio::runtime::Runtime,
    pub store: Store,
    /// The database URL (for processes started by a test).
    pub url: String,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    /// `None` when the backend is not available here (PostgreSQL without a server).
    pub fn new(backend: Backend) -> Option<TestDb> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (url, pg_name) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("test.db").display()),
                None,
            ),
            Backend::Postgres => {
                if !pg_available(&rt) {
                    return None;
                }
                let name = format!("rosterhub_test_{}", uuid::Uuid::new_v4().simple());
                rt.block_on(admin_exec(&format!("CREATE DATABASE {name}")));
                let base = pg_admin_url();
                let base = base
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_owned())
                    .unwrap_or(base);
                (format!("{base}/{name}"), Some(name))
            }
        };
        let store = rt.block_on(Store::open(&url)).unwrap();

        Some(TestDb {
            rt,
            store,
            url,
            pg_name,
            _dir: dir,
        })
    }

    pub fn import(&self, bundle: &Path, opts: ImportOptions) -> Report {
        self.try_import(bundle, opts).unwrap()
    }

    pub fn try_import(
        &self,
        bundle: &Path,
        opts: ImportOptions,
    ) -> Result<Report, import::ImportError> {
        let store = self.store.clone();
        let bundle = bundle.to_owned();
        let task = self
            .rt
            .spawn_blocking(move || import::import(&store, &bundle, &opts, &()));
        self.rt.block_on(task).unwrap()
    }

    /// Runs `fut` to completion, also from inside this runtime's tasks (tests that call the
    /// helpers from an async block).
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        match tokio::runtime::Handle::try_current() {
            Ok(h) => tokio::task::block_in_place(|| h.block_on(fut)),
            Err(_) => self.rt.block_on(fut),
        }
    }

    /// Exports into the ZIP file `path`.
    pub fn export(&self, path: &Path, opts: &ExportOptions) -> ExportSummary {
        let file = std::fs::File::create(path).unwrap();
        self.block_on(export_zip(&self.store, std::io::BufWriter::new(file), opts))
            .unwrap()
    }

    /// A bulk export of `tenant`: file name → text.
    pub fn bulk_export(&self, tenant: &str) -> BTreeMap<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.zip");
        self.export(&path, &bulk(tenant));
        read_zip(&path)
    }

    pub fn tenant(&self, id: &str) {
        self.rt.block_on(self.store.ensure_tenant(id, id)).unwrap();
    }

    /// Creates `tenant` and imports `bundle` into it, which must be applied.
    pub fn import_tenant(&self, tenant: &str, bundle: &Path) {
        self.tenant(tenant);
        let r = self.import(
            bundle,
            ImportOptions {
                tenant: tenant.into(),
                ..opts()
            },
        );
        assert_eq!(r.status, import::Outcome::Applied, "{}", r.to_text());
    }

    /// Runs a query whose columns are all text (CAST others), returning rows of cells.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match &self.store {
            Store::Sqlite(s) => {
                let conn = s.connect().unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let n = stmt.column_count();
                let rows = stmt
                    .query_map([], |r| {
                        (0..n)
                            .map(|i| r.get::<_, Option<String>>(i))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .unwrap();
                rows.map(Result::unwrap).collect()
            }
            Store::Postgres(p) => self.block_on(async {
                use sqlx::Row;
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(p.pool())
                    .await
                    .unwrap();
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.get::<Option<String>, _>(i))
                            .collect()
                    })
                    .collect()
            }),
        }
    }

    pub fn scalar(&self, sql: &str) -> String {
        self.rows(sql)[0][0].clone().unwrap_or_default()
    }

    /// How many indexes the schema has (an import may rebuild them, never lose them).
    pub fn index_count(&self) -> u64 {
        let sql = match self.store {
            Store::Sqlite(_) => {
                "SELECT CAST(COUNT(*) AS TEXT) FROM sqlite_master WHERE type = 'index'"
            }
            Store::Postgres(_) => {
                "SELECT CAST(COUNT(*) AS TEXT) FROM pg_indexes WHERE schemaname = 'public'"
            }
        };
        self.scalar(sql).parse().unwrap()
    }

    pub fn count(&self, table: &str, tenant: &str) -> u64 {
        self.scalar(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM {table} WHERE tenant_id = '{tenant}'"
        ))
        .parse()
        .unwrap()
    }

    /// Every record of a tenant as text, content and status (not times), sorted: two tenants
    /// that imported equivalent bundles have equal dumps.
    pub fn dump(&self, tenant: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in Entity::ALL {
            let cols: Vec<String> = e
                .columns()
                .iter()
                .map(|c| format!("COALESCE({}, '')", c.db))
                .chain(["COALESCE(metadata, '')".to_owned()])
                .collect();
            let sql = format!(
                "SELECT '{}|' || sourced_id || '|' || status || '|' || {} FROM {} WHERE tenant_id = '{tenant}' ORDER BY sourced_id",
                e.name(),
                cols.join(" || '|' || "),
                e.table()
            );
            out.extend(
                self.rows(&sql)
                    .into_iter()
                    .map(|r| r[0].clone().unwrap_or_default()),
            );
        }
        out
    }

    /// Everything a failed import must leave untouched, times included.
    pub fn full_state(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in Entity::ALL {
            let sql = format!(
                "SELECT tenant_id || '|' || sourced_id || '|' || status || '|' || CAST(date_last_modified AS TEXT) || '|' || CAST(updated_at AS TEXT) || '|' || COALESCE(import_id, '') FROM {} ORDER BY tenant_id, sourced_id",
                e.table()
            );
            out.extend(
                self.rows(&sql)
                    .into_iter()
                    .map(|r| r[0].clone().unwrap_or_default()),
            );
        }
        out.push(self.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM imports"));
        out
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            if let Store::Postgres(p) = &self.store {
                self.rt.block_on(p.pool().close());
            }
            self.rt.block_on(admin_exec(&format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )));
        }
    }
}

async fn admin_exec(sql: &str) {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
}

/// The import's default options (tenant `default`).
pub fn opts() -> ImportOptions {
    ImportOptions::default()
}

/// An entity's (inserted, updated, unchanged, tombstoned) in a report.
pub fn counts(report: &Report, entity: &str) -> (u64, u64, u64, u64) {
    let c = &report.entities[entity];
    let g = |k: &str| c[k].as_u64().unwrap();
    (g("inserted"), g("updated"), g("unchanged"), g("tombstoned"))
}

/// The (file, line, code) of every error in a report.
pub fn errors(report: &Report) -> Vec<(String, u64, &'static str)> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == rosterhub::import::Severity::Error)
        .map(|f| {
            (
                f.file.clone().unwrap_or_default(),
                f.line.unwrap_or(0),
                f.code,
            )
        })
        .collect()
}

/// A bulk export of `tenant`'s records, in the Japan Profile 1.2.1 binding.
pub fn bulk(tenant: &str) -> ExportOptions {
    ExportOptions {
        tenant: tenant.into(),
        since: None,
        profile: ExportProfile::Jp121,
        target: None,
    }
}
