//! Which import last changed a record, for the web UI's detail pages. Every rostering row keeps
//! the id of the import that last wrote it (`import_id`, set by the import's stamp); the
//! `imports` row of that id names the job that ran it (`job_id`, absent for a CLI import).

use super::read::Query;
use super::{Store, StoreError};
use crate::domain::Entity;

/// The import that last wrote a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastImport {
    pub import_id: String,
    /// The job of an import run by the server; `None` for one run from the command line.
    pub job_id: Option<String>,
    /// When that import started (epoch milliseconds).
    pub started_at: Option<i64>,
}

impl Store {
    /// The import that last wrote `id` of `entity` in `tenant` (one primary-key lookup).
    pub async fn last_import(
        &self,
        tenant: &str,
        entity: Entity,
        id: &str,
    ) -> Result<Option<LastImport>, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push(&format!(
            "SELECT m.import_id, i.job_id, i.started_at FROM {} m \
             LEFT JOIN imports i ON i.id = m.import_id WHERE m.tenant_id = ",
            entity.table()
        ))
        .bind(tenant)
        .push(" AND m.sourced_id = ")
        .bind(id);
        let Some(r) = self.rows(q).await?.into_iter().next() else {
            return Ok(None);
        };
        let Some(import_id) = r.opt_text(0)? else {
            return Ok(None);
        };
        Ok(Some(LastImport {
            import_id,
            job_id: r.opt_text(1)?,
            started_at: r.opt_int(2)?,
        }))
    }
}
