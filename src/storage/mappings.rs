//! Stored mapping profiles (`mappings`, migration 0013): one row per tenant and name holding the
//! profile's text as saved, its version (1, then one more per save) and who created and last
//! changed it. Checking a profile is the `mapping` feature's; this file only keeps the text.
//!
//! On SQLite the table is in the main file, beside `api_clients`: tenant configuration with the
//! tenant as a foreign key. A save waits for a running import's write lock (as a client's
//! does); reading one (an upload naming it) does not.

use super::clients::sql::{exec, fetch, write_fetch};
use super::value::Row;
use super::{Store, StoreError};
use crate::domain::datetime::now_ms;

/// One stored profile; `body` is empty in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMapping {
    pub name: String,
    pub body: String,
    pub version: i64,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

impl StoredMapping {
    /// A row selected as `name, body, version, created_at, created_by, updated_at, updated_by`.
    fn from_row(r: &Row) -> Result<StoredMapping, StoreError> {
        Ok(StoredMapping {
            name: r.text(0)?,
            body: r.text(1)?,
            version: r.int(2)?,
            created_at: r.int(3)?,
            created_by: r.text(4)?,
            updated_at: r.int(5)?,
            updated_by: r.text(6)?,
        })
    }
}

impl Store {
    /// The tenant's profiles by name, without their text.
    pub async fn list_mappings(&self, tenant: &str) -> Result<Vec<StoredMapping>, StoreError> {
        let rows = fetch(
            self,
            "SELECT name, '' AS body, version, created_at, created_by, updated_at, updated_by \
             FROM mappings WHERE tenant_id = $1 ORDER BY name",
            vec![tenant.into()],
        )
        .await?;
        rows.iter().map(StoredMapping::from_row).collect()
    }

    /// One profile with its text.
    pub async fn mapping(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<StoredMapping>, StoreError> {
        let rows = fetch(
            self,
            "SELECT name, body, version, created_at, created_by, updated_at, updated_by \
             FROM mappings WHERE tenant_id = $1 AND name = $2",
            vec![tenant.into(), name.into()],
        )
        .await?;
        rows.first().map(StoredMapping::from_row).transpose()
    }

    /// Stores `body` under `name`: a new profile at version 1, or the next version of the
    /// stored one. One statement, so two saves racing get two versions. The caller checked the
    /// name and the text.
    pub async fn save_mapping(
        &self,
        tenant: &str,
        name: &str,
        body: &str,
        by: &str,
    ) -> Result<StoredMapping, StoreError> {
        let rows = write_fetch(
            self,
            "INSERT INTO mappings \
             (tenant_id, name, body, version, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, 1, $4, $5, $4, $5) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET body = excluded.body, \
             version = mappings.version + 1, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by \
             RETURNING name, body, version, created_at, created_by, updated_at, updated_by",
            vec![
                tenant.into(),
                name.into(),
                body.into(),
                now_ms().into(),
                by.into(),
            ],
        )
        .await?;
        match rows.first() {
            Some(r) => StoredMapping::from_row(r),
            None => Err(StoreError::Io(std::io::Error::other(
                "saving a mapping returned no row",
            ))),
        }
    }

    /// Deletes a profile; false when there was none. Jobs that used it keep their own copy.
    pub async fn delete_mapping(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let n = exec(
            self,
            "DELETE FROM mappings WHERE tenant_id = $1 AND name = $2",
            vec![tenant.into(), name.into()],
        )
        .await?;
        Ok(n > 0)
    }
}
