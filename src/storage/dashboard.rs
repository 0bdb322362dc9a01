//! What the web UI's dashboard counts: per entity the active and tombstoned records, and a few
//! roster sanity counts. Every count is one indexed query per tenant (the `(tenant_id, …)`
//! indexes of the rostering migrations: `enrollments_user`, `enrollments_class`,
//! `enrollments_school`, `roles_user`), on both backends in one SQL text.

use super::read::Query;
use super::{Store, StoreError};
use crate::domain::Entity;

/// One entity's records in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityCount {
    pub entity: Entity,
    pub active: u64,
    pub tombstoned: u64,
}

/// Signs of a roster that is probably incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sanity {
    /// Active users with an active student role and no active enrollment.
    pub students_without_enrollment: u64,
    /// Active classes with no active teacher enrollment.
    pub classes_without_teacher: u64,
    /// Active schools with no active student enrollment.
    pub schools_without_students: u64,
}

impl Store {
    /// Active and tombstoned records of every entity of `tenant`, in `Entity::ALL` order.
    pub async fn entity_counts(&self, tenant: &str) -> Result<Vec<EntityCount>, StoreError> {
        let mut q = Query::new(self.dialect());
        for (i, e) in Entity::ALL.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            q.push(&format!(
                "SELECT CAST({i} AS BIGINT), COALESCE(SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN status = 'active' THEN 0 ELSE 1 END), 0) FROM {} \
                 WHERE tenant_id = ",
                e.table()
            ))
            .bind(tenant);
        }
        let rows = self.rows(q).await?;
        let mut out: Vec<EntityCount> = Entity::ALL
            .iter()
            .map(|&entity| EntityCount {
                entity,
                active: 0,
                tombstoned: 0,
            })
            .collect();
        for r in &rows {
            let i = r.int(0)? as usize;
            if let Some(c) = out.get_mut(i) {
                c.active = r.int(1)? as u64;
                c.tombstoned = r.int(2)? as u64;
            }
        }
        Ok(out)
    }

    /// The sanity counts of `tenant`.
    pub async fn sanity(&self, tenant: &str) -> Result<Sanity, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push("SELECT COUNT(*) FROM users u WHERE u.tenant_id = ")
            .bind(tenant)
            .push(
                " AND u.status = 'active' AND EXISTS (SELECT 1 FROM roles r \
             WHERE r.tenant_id = u.tenant_id AND r.user_sourced_id = u.sourced_id \
             AND r.role = 'student' AND r.status = 'active') AND NOT EXISTS (SELECT 1 FROM \
             enrollments e WHERE e.tenant_id = u.tenant_id AND e.user_sourced_id = u.sourced_id \
             AND e.status = 'active')",
            );
        let students_without_enrollment = self.count(q).await?;
        let mut q = Query::new(self.dialect());
        q.push("SELECT COUNT(*) FROM classes c WHERE c.tenant_id = ")
            .bind(tenant)
            .push(
                " AND c.status = 'active' AND NOT EXISTS (SELECT 1 FROM enrollments e \
                 WHERE e.tenant_id = c.tenant_id AND e.class_sourced_id = c.sourced_id \
                 AND e.role = 'teacher' AND e.status = 'active')",
            );
        let classes_without_teacher = self.count(q).await?;
        let mut q = Query::new(self.dialect());
        q.push("SELECT COUNT(*) FROM orgs o WHERE o.tenant_id = ")
            .bind(tenant)
            .push(
                " AND o.status = 'active' AND o.type = 'school' AND NOT EXISTS (SELECT 1 FROM \
                 enrollments e WHERE e.tenant_id = o.tenant_id \
                 AND e.school_sourced_id = o.sourced_id AND e.role = 'student' \
                 AND e.status = 'active')",
            );
        let schools_without_students = self.count(q).await?;
        Ok(Sanity {
            students_without_enrollment,
            classes_without_teacher,
            schools_without_students,
        })
    }
}
