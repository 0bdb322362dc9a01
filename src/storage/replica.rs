//! A PostgreSQL read replica (`serve --read-database-url`): the OneRoster API's roster reads go
//! there, everything else — tokens, clients, the audit log, imports, the admin API and the web
//! UI — stays on the primary. The replica is a copy kept by PostgreSQL's own replication, so
//! it is opened as it is: no migration, nothing written, the primary's PII keys.

use super::postgres::PgStore;
use super::{BackendKind, Store, StoreError};

impl Store {
    /// The read replica at `url` of this PostgreSQL store. `UnsupportedUrl` for anything but two
    /// PostgreSQL databases (a SQLite file has no replicas).
    pub async fn read_replica(&self, url: &str) -> Result<Store, StoreError> {
        let (Store::Postgres(primary), BackendKind::Postgres) = (self, BackendKind::from_url(url)?)
        else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let mut replica = PgStore::connect_as_is(url).await?;
        replica.pii = primary.pii.clone();
        Ok(Store::Postgres(replica))
    }

    /// The tenant's data generation (0 for an unknown tenant): what a reader's caches are keyed
    /// by, read from the database that serves the data.
    pub async fn data_generation(&self, tenant: &str) -> Result<i64, StoreError> {
        let mut q = super::read::Query::new(self.dialect());
        q.push("SELECT data_generation FROM tenants WHERE id = ")
            .bind(tenant);
        match self.rows(q).await?.first() {
            Some(r) => r.int(0),
            None => Ok(0),
        }
    }
}
