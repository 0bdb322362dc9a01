//! What the April rollover (年次更新) reads: the students a new 年度's first bulk is expected to
//! withdraw (those in a graduating grade), and when the tenant last applied an import (to tell
//! a new 年度's first import from the others).

use std::collections::HashSet;

use super::read::Query;
use super::{Store, StoreError};

impl Store {
    /// The sourcedIds of `tenant`'s active users with one of `grades` among their `grades`
    /// (a comma-separated list of MEXT codes). One pass over the tenant's users with a grade;
    /// run once per rollover import, before its transaction opens.
    pub async fn active_users_in_grades(
        &self,
        tenant: &str,
        grades: &[&str],
    ) -> Result<HashSet<String>, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push("SELECT sourced_id, grades FROM users WHERE tenant_id = ")
            .bind(tenant)
            .push(" AND status = 'active' AND grades IS NOT NULL AND grades <> ''");
        let rows = self.rows(q).await?;
        let mut out = HashSet::new();
        for r in &rows {
            let cell = r.text(1)?;
            if cell.split(',').any(|g| grades.contains(&g.trim())) {
                out.insert(r.text(0)?);
            }
        }
        Ok(out)
    }

    /// When `tenant`'s last applied import started (epoch ms), if it has one.
    pub async fn last_applied_import_at(&self, tenant: &str) -> Result<Option<i64>, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push("SELECT MAX(started_at) FROM imports WHERE tenant_id = ")
            .bind(tenant)
            .push(" AND status = 'applied'");
        let rows = self.rows(q).await?;
        match rows.first() {
            Some(r) => r.opt_int(0),
            None => Ok(None),
        }
    }
}
