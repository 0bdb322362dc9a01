//! What the web UI's dashboard counts: per entity the active and tombstoned records, and a few
//! roster sanity counts.
//!
//! The dashboard reads them from `tenant_counts`, one row per (tenant, counter): a page costs
//! one primary-key range whatever the tenant's size. An applied import recomputes, inside its
//! own transaction, the counters of every entity it changed and each sanity count that reads
//! a changed table ([`recount_sql`]), so the row is exact whenever the data it describes is
//! visible; an unchanged re-import recomputes nothing. A counter without a row is 0 (migration
//! 0011 filled the table for data imported before it). [`Store::fresh_entity_counts`] and
//! [`Store::fresh_sanity`] count the tables themselves (the `(tenant_id, …)` indexes of the
//! rostering migrations): what the stored counters must equal.

use super::read::Query;
use super::sql::Dialect;
use super::{Store, StoreError};
use crate::csv::target::TargetCheck;
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

/// The counters of the sanity counts, in [`Sanity`] field order.
const SANITY: [&str; 3] = [
    "students_without_enrollment",
    "classes_without_teacher",
    "schools_without_students",
];

/// The tables each sanity count reads, in [`SANITY`] order: a change to one of them recomputes
/// that count.
const SANITY_TABLES: [&[Entity]; 3] = [
    &[Entity::Users, Entity::Roles, Entity::Enrollments],
    &[Entity::Classes, Entity::Enrollments],
    &[Entity::Orgs, Entity::Enrollments],
];

/// Records that would fall short of a national model (`csv::target`): per counter, the entity
/// it counts and whether `metadata.jp.homeClass` is required too (`--require-home-class`).
/// Every model requires the same columns of a record (half-width katakana is converted on
/// export, never a shortfall), so one count serves all four; the dashboard shows it per model.
const SHORTFALL: [(&str, Entity, bool); 3] = [
    ("target_shortfall.users", Entity::Users, false),
    ("target_shortfall.users_home_class", Entity::Users, true),
    ("target_shortfall.enrollments", Entity::Enrollments, false),
];

/// Records that would fall short of a national model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shortfall {
    /// Active users leaving a column every model requires empty.
    pub users: u64,
    /// The same, with `metadata.jp.homeClass` required too.
    pub users_home_class: u64,
    /// Active enrollments without `primary`.
    pub enrollments: u64,
}

/// The condition "this column of `m` is empty", as `export::target::conform` judges it: a
/// metadata key absent or an empty string (a JSON `null` or number is present).
fn empty(dialect: Dialect, csv: &str) -> String {
    match csv.strip_prefix("metadata.") {
        None => {
            let col = Entity::ALL
                .iter()
                .flat_map(|e| e.columns())
                .find(|c| c.csv == csv)
                .map_or(csv, |c| c.db);
            format!("COALESCE(m.\"{col}\", '') = ''")
        }
        // Keys are constants of `csv::target`: no quote to escape.
        Some(key) => match dialect {
            Dialect::Sqlite => format!(
                "(json_type(m.metadata, '$.\"{key}\"') IS NULL \
                 OR json_extract(m.metadata, '$.\"{key}\"') = '')"
            ),
            Dialect::Postgres => format!(
                "((m.metadata::jsonb -> '{key}') IS NULL \
                 OR m.metadata::jsonb ->> '{key}' = '')"
            ),
        },
    }
}

/// `FROM … WHERE` (after `SELECT COUNT(*)`) of a shortfall counter, `$1` the tenant.
fn shortfall_sql(dialect: Dialect, entity: Entity, home_class: bool) -> String {
    let mut check = TargetCheck::new(crate::csv::target::Target::Eportal4);
    check.home_class = home_class;
    let any_empty: Vec<String> = check
        .required(entity.name())
        .iter()
        .map(|c| empty(dialect, c))
        .collect();
    format!(
        "FROM {} m WHERE m.tenant_id = $1 AND m.status = 'active' AND ({})",
        entity.table(),
        any_empty.join(" OR ")
    )
}

/// The `WHERE` part (after the tenant) of each sanity count, `$1` the tenant.
fn sanity_sql(counter: &str) -> &'static str {
    match counter {
        "students_without_enrollment" => {
            "FROM users u WHERE u.tenant_id = $1 AND u.status = 'active' AND EXISTS (SELECT 1 \
             FROM roles r WHERE r.tenant_id = u.tenant_id AND r.user_sourced_id = u.sourced_id \
             AND r.role = 'student' AND r.status = 'active') AND NOT EXISTS (SELECT 1 FROM \
             enrollments e WHERE e.tenant_id = u.tenant_id AND e.user_sourced_id = u.sourced_id \
             AND e.status = 'active')"
        }
        "classes_without_teacher" => {
            "FROM classes c WHERE c.tenant_id = $1 AND c.status = 'active' AND NOT EXISTS \
             (SELECT 1 FROM enrollments e WHERE e.tenant_id = c.tenant_id \
             AND e.class_sourced_id = c.sourced_id AND e.role = 'teacher' AND e.status = 'active')"
        }
        _ => {
            "FROM orgs o WHERE o.tenant_id = $1 AND o.status = 'active' AND o.type = 'school' \
             AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.tenant_id = o.tenant_id \
             AND e.school_sourced_id = o.sourced_id AND e.role = 'student' AND e.status = 'active')"
        }
    }
}

/// The statements an applied import runs in its transaction, after writing, to make the
/// tenant's `tenant_counts` exact again: the counters of the `changed` entities and the sanity
/// counts that read one of them. `$1` is the tenant, the only parameter (SQLite reads `$1` as
/// parameter 1); only the shortfall counts' JSON differs between the backends.
pub(super) fn recount_sql(dialect: Dialect, changed: &[Entity]) -> Vec<String> {
    let mut out = Vec::new();
    for e in changed {
        let t = e.table();
        out.push(format!(
            "DELETE FROM tenant_counts WHERE tenant_id = $1 \
             AND counter IN ('{t}.active', '{t}.tombstoned')"
        ));
        out.push(format!(
            "INSERT INTO tenant_counts (tenant_id, counter, value) SELECT tenant_id, \
             CASE WHEN status = 'active' THEN '{t}.active' ELSE '{t}.tombstoned' END, COUNT(*) \
             FROM {t} WHERE tenant_id = $1 GROUP BY tenant_id, \
             CASE WHEN status = 'active' THEN '{t}.active' ELSE '{t}.tombstoned' END"
        ));
    }
    for (c, tables) in SANITY.iter().zip(SANITY_TABLES) {
        if changed.iter().any(|e| tables.contains(e)) {
            out.push(format!(
                "DELETE FROM tenant_counts WHERE tenant_id = $1 AND counter = '{c}'"
            ));
            out.push(format!(
                "INSERT INTO tenant_counts (tenant_id, counter, value) \
                 SELECT $1, '{c}', COUNT(*) {}",
                sanity_sql(c)
            ));
        }
    }
    for (c, entity, home_class) in SHORTFALL {
        if changed.contains(&entity) {
            out.push(format!(
                "DELETE FROM tenant_counts WHERE tenant_id = $1 AND counter = '{c}'"
            ));
            out.push(format!(
                "INSERT INTO tenant_counts (tenant_id, counter, value) \
                 SELECT $1, '{c}', COUNT(*) {}",
                shortfall_sql(dialect, entity, home_class)
            ));
        }
    }
    out
}

impl Store {
    /// The stored counters of `tenant` (those without a row are 0).
    async fn counters(&self, tenant: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push("SELECT counter, value FROM tenant_counts WHERE tenant_id = ")
            .bind(tenant);
        let rows = self.rows(q).await?;
        rows.iter()
            .map(|r| Ok((r.text(0)?, r.int(1)?.max(0) as u64)))
            .collect()
    }

    /// Active and tombstoned records of every entity of `tenant`, in `Entity::ALL` order, the
    /// sanity counts and the national models' shortfall, as the last applied import left
    /// them: one indexed read.
    pub async fn dashboard_counts(
        &self,
        tenant: &str,
    ) -> Result<(Vec<EntityCount>, Sanity, Shortfall), StoreError> {
        let stored = self.counters(tenant).await?;
        let get = |name: &str| {
            stored
                .iter()
                .find(|(c, _)| c == name)
                .map_or(0, |(_, v)| *v)
        };
        let entities = Entity::ALL
            .iter()
            .map(|&entity| EntityCount {
                entity,
                active: get(&format!("{}.active", entity.table())),
                tombstoned: get(&format!("{}.tombstoned", entity.table())),
            })
            .collect();
        let sanity = Sanity {
            students_without_enrollment: get(SANITY[0]),
            classes_without_teacher: get(SANITY[1]),
            schools_without_students: get(SANITY[2]),
        };
        let shortfall = Shortfall {
            users: get(SHORTFALL[0].0),
            users_home_class: get(SHORTFALL[1].0),
            enrollments: get(SHORTFALL[2].0),
        };
        Ok((entities, sanity, shortfall))
    }

    /// Active and tombstoned records of every entity of `tenant`, in `Entity::ALL` order,
    /// counted now: a scan of the tenant's rows (what the stored counters must equal).
    pub async fn fresh_entity_counts(&self, tenant: &str) -> Result<Vec<EntityCount>, StoreError> {
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

    /// The sanity counts of `tenant`, counted now.
    pub async fn fresh_sanity(&self, tenant: &str) -> Result<Sanity, StoreError> {
        let mut n = [0u64; 3];
        for (i, c) in SANITY.iter().enumerate() {
            let (before, after) = sanity_sql(c)
                .split_once("$1")
                .expect("the tenant parameter");
            let mut q = Query::new(self.dialect());
            q.push(&format!("SELECT COUNT(*) {before}"))
                .bind(tenant)
                .push(after);
            n[i] = self.count(q).await?;
        }
        Ok(Sanity {
            students_without_enrollment: n[0],
            classes_without_teacher: n[1],
            schools_without_students: n[2],
        })
    }

    /// The national models' shortfall of `tenant`, counted now.
    pub async fn fresh_shortfall(&self, tenant: &str) -> Result<Shortfall, StoreError> {
        let mut n = [0u64; 3];
        for (i, (_, entity, home_class)) in SHORTFALL.iter().enumerate() {
            let sql = shortfall_sql(self.dialect(), *entity, *home_class);
            let (before, after) = sql.split_once("$1").expect("the tenant parameter");
            let mut q = Query::new(self.dialect());
            q.push(&format!("SELECT COUNT(*) {before}"))
                .bind(tenant)
                .push(after);
            n[i] = self.count(q).await?;
        }
        Ok(Shortfall {
            users: n[0],
            users_home_class: n[1],
            enrollments: n[2],
        })
    }
}
