//! The change log's SQL, per entity, built from the column tables like the import's
//! (`storage::sql`). Statements of the undo and the reads are one text for both backends with
//! `$n` parameters (SQLite reads them as `?n`); the capture statements on the import's hot path
//! are written in each backend's own form. Every value is a bound parameter.

use crate::domain::Entity;
use crate::storage::sql::{Dialect, stage_table, write_columns};

/// The log table of an entity.
pub fn log_table(entity: Entity) -> String {
    format!("changelog_{}", entity.table())
}

/// The columns of a before-image: what an undo puts back, named alike in the entity's table
/// and its log table.
fn image_columns(entity: Entity) -> Vec<&'static str> {
    let mut cols = vec!["status", "content_hash", "source_date_last_modified"];
    cols.extend(write_columns(entity));
    cols.push("metadata");
    cols
}

fn prefixed(entity: Entity, alias: &str) -> String {
    image_columns(entity)
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQLite import's per-row capture. Parameters: 1 tenant, 2 the import's number,
/// 3 sourcedId; `before` also 4 the action (`updated` or `tombstoned`).
#[derive(Debug, Clone)]
pub struct RowCapture {
    /// Notes that the record was inserted.
    pub inserted: String,
    /// Copies the stored record before it is changed; before a tombstone only an active one
    /// (the tombstone statement is guarded alike).
    pub before: String,
}

impl RowCapture {
    pub fn new(entity: Entity) -> RowCapture {
        let (log, t) = (log_table(entity), entity.table());
        let cols = image_columns(entity).join(", ");
        RowCapture {
            inserted: format!(
                "INSERT INTO {log} (tenant_id, seq, sourced_id, action) VALUES (?1, ?2, ?3, 'inserted')"
            ),
            before: format!(
                "INSERT INTO {log} (tenant_id, seq, sourced_id, action, {cols}) \
                 SELECT tenant_id, ?2, sourced_id, ?4, {cols} FROM {t} \
                 WHERE tenant_id = ?1 AND sourced_id = ?3 AND (?4 = 'updated' OR status = 'active')"
            ),
        }
    }
}

/// The PostgreSQL import's set-wise capture at apply, before the statements that change the
/// rows. Parameters: 1 tenant, 2 the import's number; `inserted` also 3 now, 4 import id.
#[derive(Debug, Clone)]
pub struct SetCapture {
    /// The records this import's `COPY` inserted: until its updates run, the only rows that
    /// carry its id (found through the `(tenant, date_last_modified)` index).
    pub inserted: String,
    /// The records `update_staged` is about to change (its own guard).
    pub updated: String,
    /// The records a tombstone statement is about to change (its own guard).
    pub tombstoned: String,
}

impl SetCapture {
    pub fn new(entity: Entity) -> SetCapture {
        let (log, t, stage) = (log_table(entity), entity.table(), stage_table(entity));
        let cols = image_columns(entity).join(", ");
        let from_stage = |action: &str, guard: &str| {
            format!(
                "INSERT INTO {log} (tenant_id, seq, sourced_id, action, {cols}) \
                 SELECT m.tenant_id, $2, m.sourced_id, '{action}', {} FROM {t} m \
                 JOIN {stage} s ON m.sourced_id = s.sourced_id WHERE m.tenant_id = $1 AND {guard}",
                prefixed(entity, "m")
            )
        };
        SetCapture {
            inserted: format!(
                "INSERT INTO {log} (tenant_id, seq, sourced_id, action) \
                 SELECT tenant_id, $2, sourced_id, 'inserted' FROM {t} \
                 WHERE tenant_id = $1 AND date_last_modified = $3 AND import_id = $4"
            ),
            updated: from_stage(
                "updated",
                "s.status = 'active' AND (m.status <> 'active' OR m.content_hash <> s.content_hash)",
            ),
            tombstoned: from_stage(
                "tombstoned",
                "s.status = 'tobedeleted' AND m.status = 'active'",
            ),
        }
    }
}

/// The marker of a first load. Parameters: tenant, the import's number, the table.
pub fn load_marker(d: Dialect) -> String {
    format!(
        "INSERT INTO changelog_loads (tenant_id, seq, entity) VALUES ({}, {}, {})",
        d.param(1),
        d.param(2),
        d.param(3)
    )
}

/// The number the next applied import of a tenant gets. Parameter: tenant.
pub fn next_seq(d: Dialect) -> String {
    format!(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM changelog_imports WHERE tenant_id = {}",
        d.param(1)
    )
}

/// The row of an applied import. Parameters: tenant, number, import id, time, actor, undo of.
pub fn header(d: Dialect) -> String {
    let p: Vec<String> = (1..=6).map(|n| d.param(n)).collect();
    format!(
        "INSERT INTO changelog_imports (tenant_id, seq, import_id, at, actor, undo_of) \
         VALUES ({})",
        p.join(", ")
    )
}

// The undo. Parameters of every statement below: $1 tenant, $2 the undone import's number,
// $3 the undo's number, $4 now, $5 the undo's import id — each uses a prefix of them.

/// Records of the undone import that a later import changed too: (sourcedId, that import's
/// id), by sourcedId. `$1`, `$2`.
pub fn conflicts(entity: Entity) -> String {
    let log = log_table(entity);
    format!(
        "SELECT c.sourced_id, i.import_id FROM (SELECT x.sourced_id AS sourced_id, \
         MIN(y.seq) AS later FROM {log} x JOIN {log} y ON y.tenant_id = x.tenant_id \
         AND y.sourced_id = x.sourced_id AND y.seq > x.seq WHERE x.tenant_id = $1 \
         AND x.seq = $2 GROUP BY x.sourced_id) c \
         JOIN changelog_imports i ON i.tenant_id = $1 AND i.seq = c.later ORDER BY c.sourced_id"
    )
}

/// The same for a first load: every record a later import changed, except those a later
/// import inserted (they were not the first load's). `$1`, `$2`.
pub fn load_conflicts(entity: Entity) -> String {
    let log = log_table(entity);
    format!(
        "SELECT c.sourced_id, i.import_id FROM (SELECT y.sourced_id AS sourced_id, \
         MIN(y.seq) AS later FROM {log} y WHERE y.tenant_id = $1 AND y.seq > $2 \
         AND NOT EXISTS (SELECT 1 FROM {log} n WHERE n.tenant_id = $1 \
         AND n.sourced_id = y.sourced_id AND n.seq > $2 AND n.action = 'inserted') \
         GROUP BY y.sourced_id) c \
         JOIN changelog_imports i ON i.tenant_id = $1 AND i.seq = c.later ORDER BY c.sourced_id"
    )
}

/// No import between the undone one and the undo touched the record `{alias}.sourced_id`.
fn untouched_since(entity: Entity, alias: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM {} y WHERE y.tenant_id = $1 AND y.sourced_id = {alias}.sourced_id \
         AND y.seq > $2 AND y.seq < $3)",
        log_table(entity)
    )
}

/// The undo's own log, written first: each record it will revert, as it is now (what undoing
/// the undo puts back). Reverting an insert or a restored tombstone is a tombstone; anything
/// else an update. Records a later import changed are left out (the conflicts). `$1`–`$3`.
pub fn log_reverted(entity: Entity, dialect: Dialect) -> String {
    let (log, t) = (log_table(entity), entity.table());
    // SQLite's planner walked the whole table and looked each record up in the log (a million
    // users for a delta's thousand); `CROSS JOIN` keeps the log as the outer loop there.
    let join = match dialect {
        Dialect::Sqlite => "CROSS JOIN",
        Dialect::Postgres => "JOIN",
    };
    format!(
        "INSERT INTO {log} (tenant_id, seq, sourced_id, action, {}) \
         SELECT m.tenant_id, $3, m.sourced_id, CASE WHEN x.action = 'inserted' \
         OR x.status <> 'active' THEN 'tombstoned' ELSE 'updated' END, {} \
         FROM {log} x {join} {t} m ON m.tenant_id = x.tenant_id AND m.sourced_id = x.sourced_id \
         WHERE x.tenant_id = $1 AND x.seq = $2 AND NOT (x.action = 'inserted' AND m.status <> 'active') \
         AND {}",
        image_columns(entity).join(", "),
        prefixed(entity, "m"),
        untouched_since(entity, "x")
    )
}

/// The same for a first load: its records still active that no later import touched.
/// `$1`–`$3`.
pub fn log_reverted_load(entity: Entity) -> String {
    let (log, t) = (log_table(entity), entity.table());
    format!(
        "INSERT INTO {log} (tenant_id, seq, sourced_id, action, {}) \
         SELECT m.tenant_id, $3, m.sourced_id, 'tombstoned', {} FROM {t} m \
         WHERE m.tenant_id = $1 AND m.status = 'active' AND {}",
        image_columns(entity).join(", "),
        prefixed(entity, "m"),
        untouched_since(entity, "m")
    )
}

/// Puts back the before-image of every record the undo logged that the undone import had
/// updated or tombstoned, stamped with the undo. `$1`–`$5`.
pub fn restore(entity: Entity) -> String {
    let (log, t) = (log_table(entity), entity.table());
    let sets: Vec<String> = image_columns(entity)
        .iter()
        .map(|c| format!("{c} = x.{c}"))
        .collect();
    format!(
        "UPDATE {t} SET {}, date_last_modified = $4, updated_at = $4, import_id = $5 \
         FROM {log} u JOIN {log} x ON x.tenant_id = u.tenant_id AND x.sourced_id = u.sourced_id \
         AND x.seq = $2 AND x.action <> 'inserted' \
         WHERE u.tenant_id = $1 AND u.seq = $3 AND {t}.tenant_id = $1 AND {t}.sourced_id = u.sourced_id",
        sets.join(", ")
    )
}

/// Tombstones every record the undo logged that the undone import had inserted (its own
/// rows, or those of its first load). `$1`–`$5`.
pub fn tombstone_inserted(entity: Entity) -> String {
    let (log, t) = (log_table(entity), entity.table());
    format!(
        // `IN (…)` rather than `FROM {log}`: SQLite then walks the log and looks each record up,
        // where the join walked the whole table (a million users for a delta's thousand).
        "UPDATE {t} SET status = 'tobedeleted', date_last_modified = $4, updated_at = $4, \
         import_id = $5 WHERE {t}.tenant_id = $1 AND {t}.sourced_id IN (SELECT u.sourced_id \
         FROM {log} u WHERE u.tenant_id = $1 AND u.seq = $3 AND NOT EXISTS (SELECT 1 FROM {log} x \
         WHERE x.tenant_id = $1 AND x.seq = $2 AND x.sourced_id = u.sourced_id \
         AND x.action <> 'inserted'))"
    )
}

/// What the undo did to an entity: (action, count) of its log. `$1` tenant, `$2` its number.
pub fn actions(entity: Entity) -> String {
    format!(
        "SELECT action, COUNT(*) FROM {} WHERE tenant_id = $1 AND seq = $2 GROUP BY action",
        log_table(entity)
    )
}

/// The first ids of one action in an import's log, for the sample of a dry run. `$1` tenant,
/// `$2` number, `$3` action.
pub fn first_ids(entity: Entity, limit: usize) -> String {
    format!(
        "SELECT sourced_id FROM {} WHERE tenant_id = $1 AND seq = $2 AND action = $3 \
         ORDER BY sourced_id LIMIT {limit}",
        log_table(entity)
    )
}

/// Whether an import logged anything for an entity. `$1` tenant, `$2` number.
pub fn any_logged(entity: Entity) -> String {
    format!(
        "SELECT 1 FROM {} WHERE tenant_id = $1 AND seq = $2 LIMIT 1",
        log_table(entity)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_every_written_column_and_bind_every_value() {
        let c = RowCapture::new(Entity::Users);
        assert!(c.before.contains("email_bidx"), "{}", c.before);
        assert!(c.before.starts_with("INSERT INTO changelog_users"));
        let r = restore(Entity::Demographics);
        assert!(r.contains("birth_date = x.birth_date"), "{r}");
        assert!(r.contains("birth_date_bidx = x.birth_date_bidx"), "{r}");
        // Only the five parameters of the undo, no literal values.
        for s in [
            conflicts(Entity::Orgs),
            load_conflicts(Entity::Orgs),
            log_reverted(Entity::Orgs, Dialect::Sqlite),
            log_reverted_load(Entity::Orgs),
            restore(Entity::Orgs),
            tombstone_inserted(Entity::Orgs),
        ] {
            assert!(!s.contains("$6"), "{s}");
            assert!(!s.contains('?'), "{s}");
        }
        let s = SetCapture::new(Entity::Enrollments);
        assert!(
            s.updated.contains("JOIN stage_enrollments s"),
            "{}",
            s.updated
        );
    }
}
