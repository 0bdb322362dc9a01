//! What the web UI's dashboard counts: per entity the active and tombstoned records, and a few
//! roster sanity counts.
//!
//! The dashboard reads them from `tenant_counts`, one row per (tenant, counter): a page costs
//! one primary-key range whatever the tenant's size. An applied import or undo brings them up
//! to date inside its own transaction ([`recount_sql`]): the counters of every entity it
//! changed, adjusted from its change log, and each sanity count that reads a changed table,
//! counted again. So a row is exact whenever the data it describes is visible; an unchanged
//! re-import touches nothing. A counter without a row is 0 (migration
//! 0011 filled the table for data imported before it). [`Store::fresh_entity_counts`] and
//! [`Store::fresh_sanity`] count the tables themselves (the `(tenant_id, …)` indexes of the
//! rostering migrations): what the stored counters must equal.

use super::read::Query;
use super::sql::Dialect;
use super::value::{Value, params, sqlite_exec, timed};
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
            // `mj.j`: the metadata parsed once per record (see `shortfall_pred`).
            Dialect::Postgres => format!("((mj.j -> '{key}') IS NULL OR mj.j ->> '{key}' = '')"),
        },
    }
}

/// The condition (on a record `m`) of a shortfall counter: active and leaving a required
/// column empty.
fn shortfall_pred(dialect: Dialect, entity: Entity, home_class: bool) -> String {
    let mut check = TargetCheck::new(crate::csv::target::Target::Eportal4);
    check.home_class = home_class;
    let required = check.required(entity.name());
    let (meta, plain): (Vec<&str>, Vec<&str>) = required
        .iter()
        .map(|c| c.as_ref())
        .partition(|c: &&str| c.starts_with("metadata."));
    let mut any_empty: Vec<String> = plain.iter().map(|c| empty(dialect, c)).collect();
    if !meta.is_empty() {
        let conds: Vec<String> = meta.iter().map(|c| empty(dialect, c)).collect();
        any_empty.push(match dialect {
            Dialect::Sqlite => conds.join(" OR "),
            // Each `metadata::jsonb` in a condition parsed the text again (three keys: 4 s for
            // a million users); the subquery parses it once per record (`OFFSET 0` keeps the
            // planner from inlining it back).
            Dialect::Postgres => format!(
                "EXISTS (SELECT 1 FROM (SELECT m.metadata::jsonb AS j OFFSET 0) mj WHERE {})",
                conds.join(" OR ")
            ),
        });
    }
    format!("m.status = 'active' AND ({})", any_empty.join(" OR "))
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

/// One statement of a recount: `$1` is the tenant, and `$2` the number of the import whose
/// change log it reads when `with_seq` (SQLite reads `$n` as parameter n).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recount {
    pub sql: String,
    pub with_seq: bool,
}

impl Recount {
    /// The statement's values: the tenant, and `seq` when it reads the change log.
    pub fn params(&self, tenant: &str, seq: i64) -> Vec<Value> {
        if self.with_seq {
            params![tenant, seq]
        } else {
            params![tenant]
        }
    }
}

/// The statements an applied import (or undo) runs in its transaction, after writing, to make
/// the tenant's `tenant_counts` exact again: the counters of the `changed` entities and the
/// sanity counts that read one of them.
///
/// A per-record counter (active, tombstoned, national-model shortfall) is adjusted from the
/// import's change log rather than counted again: it gains the logged records that match its
/// condition now and loses those whose before-image in the log matched it. At a million
/// students a recount read the whole tenant (14 s of an undo's 16 s, the shortfall's JSON
/// checks most of it); the adjustment reads the changed records only. An entity in `loaded`
/// was a first load, logged by one marker instead of a row per record: its counters are
/// counted from the table (the load wrote all of its rows anyway). The sanity counts join
/// several tables and are always counted again.
pub(super) fn recount_sql(dialect: Dialect, changed: &[Entity], loaded: &[Entity]) -> Vec<Recount> {
    let mut out = Vec::new();
    let mut full = |sql: String| {
        out.push(Recount {
            sql,
            with_seq: false,
        })
    };
    let mut per_record: Vec<(String, Entity, String)> = Vec::new();
    for &e in changed {
        let t = e.table();
        let mut counters = vec![
            (format!("{t}.active"), "m.status = 'active'".to_owned()),
            (format!("{t}.tombstoned"), "m.status <> 'active'".to_owned()),
        ];
        for (c, entity, home_class) in SHORTFALL {
            if entity == e {
                counters.push((c.to_owned(), shortfall_pred(dialect, entity, home_class)));
            }
        }
        if loaded.contains(&e) {
            for (c, _) in &counters {
                full(format!(
                    "DELETE FROM tenant_counts WHERE tenant_id = $1 AND counter = '{c}'"
                ));
            }
            // Active and tombstoned are counted on an index; the shortfall counters read
            // every record (their metadata's JSON), so they share one pass over the table (at
            // a million users each pass took ~9 s on SQLite).
            let (indexed, scanned) = counters.split_at(2);
            for (c, pred) in indexed {
                full(format!(
                    "INSERT INTO tenant_counts (tenant_id, counter, value) \
                     SELECT $1, '{c}', COUNT(*) FROM {t} m WHERE m.tenant_id = $1 AND {pred}"
                ));
            }
            if !scanned.is_empty() {
                full(one_pass(t, scanned));
            }
        } else {
            per_record.extend(counters.into_iter().map(|(c, pred)| (c, e, pred)));
        }
    }
    for (c, tables) in SANITY.iter().zip(SANITY_TABLES) {
        if changed.iter().any(|e| tables.contains(e)) {
            full(format!(
                "DELETE FROM tenant_counts WHERE tenant_id = $1 AND counter = '{c}'"
            ));
            full(format!(
                "INSERT INTO tenant_counts (tenant_id, counter, value) \
                 SELECT $1, '{c}', COUNT(*) {}",
                sanity_sql(c)
            ));
        }
    }
    for (c, e, pred) in per_record {
        out.push(Recount {
            sql: format!(
                "INSERT INTO tenant_counts (tenant_id, counter, value) VALUES ($1, '{c}', 0) \
                 ON CONFLICT (tenant_id, counter) DO NOTHING"
            ),
            with_seq: false,
        });
        out.push(Recount {
            sql: adjust_sql(e, &c, &pred),
            with_seq: true,
        });
    }
    out
}

/// Runs [`recount_sql`] in the SQLite import's transaction, `seq` its number.
pub(super) fn recount_sqlite(
    conn: &rusqlite::Connection,
    tenant: &str,
    seq: i64,
    changed: &[Entity],
    loaded: &[Entity],
) -> Result<(), StoreError> {
    for r in recount_sql(Dialect::Sqlite, changed, loaded) {
        timed(&r.sql, || sqlite_exec(conn, &r.sql, &r.params(tenant, seq)))?;
    }
    Ok(())
}

/// Counts every `(counter, condition)` of `counters` over the tenant's records of table `t` in
/// one pass, inserting a row per counter.
fn one_pass(t: &str, counters: &[(String, String)]) -> String {
    let sums: Vec<String> = counters
        .iter()
        .enumerate()
        .map(|(i, (_, pred))| {
            format!("COALESCE(SUM(CASE WHEN {pred} THEN 1 ELSE 0 END), 0) AS v{i}")
        })
        .collect();
    let rows: Vec<String> = counters
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("SELECT $1, '{c}', v{i} FROM counted"))
        .collect();
    format!(
        "WITH counted AS MATERIALIZED (SELECT {} FROM {t} m WHERE m.tenant_id = $1) \
         INSERT INTO tenant_counts (tenant_id, counter, value) {}",
        sums.join(", "),
        rows.join(" UNION ALL ")
    )
}

/// Adds to counter `c` of entity `e` the records of the import `$2`'s log that match `pred`
/// now, less those whose before-image matched it (an inserted record had none).
fn adjust_sql(e: Entity, c: &str, pred: &str) -> String {
    let (t, log) = (e.table(), super::changelog::sql::log_table(e));
    format!(
        "UPDATE tenant_counts SET value = value \
         + (SELECT COUNT(*) FROM {t} m WHERE m.tenant_id = $1 AND m.sourced_id IN \
         (SELECT l.sourced_id FROM {log} l WHERE l.tenant_id = $1 AND l.seq = $2) AND {pred}) \
         - (SELECT COUNT(*) FROM {log} m WHERE m.tenant_id = $1 AND m.seq = $2 \
         AND m.action <> 'inserted' AND {pred}) \
         WHERE tenant_id = $1 AND counter = '{c}'"
    )
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
            let pred = shortfall_pred(self.dialect(), *entity, *home_class);
            let mut q = Query::new(self.dialect());
            q.push(&format!(
                "SELECT COUNT(*) FROM {} m WHERE m.tenant_id = ",
                entity.table()
            ))
            .bind(tenant)
            .push(&format!(" AND {pred}"));
            n[i] = self.count(q).await?;
        }
        Ok(Shortfall {
            users: n[0],
            users_home_class: n[1],
            enrollments: n[2],
        })
    }
}
