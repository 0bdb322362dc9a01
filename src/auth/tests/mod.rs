//! Tests of the API client storage (both backends) and of the token endpoint.

mod endpoint;
mod keys;
mod settings;
mod storage;

use crate::storage::Store;
use crate::storage::test_db::FreshPg;

/// A fresh database with tenants `t1` and `t2`: SQLite in a temporary folder, or a uniquely
/// named PostgreSQL database dropped when this is dropped.
pub(super) struct TestStore {
    pub store: Store,
    _dir: tempfile::TempDir,
    // After `store`: its pool is closed before the database is dropped.
    _pg: Option<FreshPg>,
}

impl TestStore {
    pub async fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("auth.db").display());
        TestStore::open(&url, dir, None).await
    }

    /// `None` (with a printed line) when no PostgreSQL server answers.
    pub async fn postgres() -> Option<TestStore> {
        let pg = FreshPg::create("PostgreSQL client storage tests").await?;
        let url = pg.url.clone();
        Some(TestStore::open(&url, tempfile::tempdir().unwrap(), Some(pg)).await)
    }

    async fn open(url: &str, dir: tempfile::TempDir, pg: Option<FreshPg>) -> TestStore {
        let store = Store::open(url).await.unwrap();
        store.ensure_tenant("t1", "Tenant 1").await.unwrap();
        store.ensure_tenant("t2", "Tenant 2").await.unwrap();
        TestStore {
            store,
            _dir: dir,
            _pg: pg,
        }
    }
}
