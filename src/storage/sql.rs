//! SQL text for the import path, built once per entity from the column tables in
//! `domain::entity`, in the dialect of each backend. All values are bound parameters.

use crate::domain::Entity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The n-th (1-based) bind parameter.
    pub fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

/// The database columns holding an entity's content, in CSV order (full 1.2 shape).
pub fn content_columns(entity: Entity) -> Vec<&'static str> {
    entity.columns().iter().map(|c| c.db).collect()
}

pub fn stage_table(entity: Entity) -> String {
    format!("stage_{}", entity.table())
}

/// Every import statement for one entity. Parameters: 1 = tenant, 2 = now, 3 = import id.
#[derive(Debug, Clone)]
pub struct EntitySql {
    pub create_stage: String,
    pub index_stage: String,
    pub insert_stage: String,
    pub plan_staged: String,
    pub plan_bulk_tombstones: String,
    pub upsert: String,
    pub tombstone_delta: String,
    pub tombstone_bulk: String,
    pub active_count: String,
}

impl EntitySql {
    pub fn new(entity: Entity, d: Dialect) -> EntitySql {
        let main = entity.table();
        let stage = stage_table(entity);
        let cols = content_columns(entity);
        let (text, blob, int, temp_suffix) = match d {
            Dialect::Sqlite => ("TEXT", "BLOB", "INTEGER", ""),
            Dialect::Postgres => ("TEXT COLLATE \"C\"", "BYTEA", "BIGINT", " ON COMMIT DROP"),
        };
        let col_defs: String = cols.iter().map(|c| format!(", {c} {text}")).collect();
        let create_stage = format!(
            "CREATE TEMP TABLE {stage} (sourced_id {text} NOT NULL, status {text} NOT NULL, \
             source_date_last_modified {int}{col_defs}, metadata TEXT, \
             content_hash {blob} NOT NULL){temp_suffix}"
        );
        let index_stage = format!("CREATE INDEX {stage}_id ON {stage} (sourced_id)");
        let n_stage = cols.len() + 5;
        let stage_cols = format!(
            "sourced_id, status, source_date_last_modified, {}, metadata, content_hash",
            cols.join(", ")
        );
        let insert_stage = format!(
            "INSERT INTO {stage} ({stage_cols}) VALUES ({})",
            (1..=n_stage)
                .map(|n| d.param(n))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let (p1, p2, p3) = (d.param(1), d.param(2), d.param(3));
        let plan_staged = format!(
            "SELECT \
             COALESCE(SUM(CASE WHEN m.sourced_id IS NULL AND s.status = 'active' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN m.sourced_id IS NOT NULL AND s.status = 'active' \
                 AND (m.status <> 'active' OR m.content_hash <> s.content_hash) THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN m.sourced_id IS NOT NULL AND ((s.status = 'active' \
                 AND m.status = 'active' AND m.content_hash = s.content_hash) \
                 OR (s.status = 'tobedeleted' AND m.status <> 'active')) THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN m.sourced_id IS NOT NULL AND s.status = 'tobedeleted' \
                 AND m.status = 'active' THEN 1 ELSE 0 END), 0) \
             FROM {stage} s LEFT JOIN {main} m ON m.tenant_id = {p1} AND m.sourced_id = s.sourced_id"
        );
        let plan_bulk_tombstones = format!(
            "SELECT COUNT(*) FROM {main} m WHERE m.tenant_id = {p1} AND m.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.sourced_id = m.sourced_id)"
        );
        let s_cols: String = cols.iter().map(|c| format!(", s.{c}")).collect();
        let updates: String = cols
            .iter()
            .map(|c| format!(", {c} = excluded.{c}"))
            .collect();
        // Unchanged active records are filtered out before the insert is attempted, so an
        // unchanged re-import costs one index probe per row and writes nothing.
        let upsert = format!(
            "INSERT INTO {main} (tenant_id, sourced_id, status, date_last_modified, \
             source_date_last_modified, {cols}, metadata, content_hash, created_at, updated_at, import_id) \
             SELECT {p1}, s.sourced_id, 'active', {p2}, s.source_date_last_modified{s_cols}, \
             s.metadata, s.content_hash, {p2}, {p2}, {p3} FROM {stage} s \
             WHERE s.status = 'active' AND NOT EXISTS (SELECT 1 FROM {main} m WHERE m.tenant_id = {p1} \
             AND m.sourced_id = s.sourced_id AND m.status = 'active' AND m.content_hash = s.content_hash) \
             ON CONFLICT (tenant_id, sourced_id) DO UPDATE SET status = 'active', \
             date_last_modified = excluded.date_last_modified, \
             source_date_last_modified = excluded.source_date_last_modified{updates}, \
             metadata = excluded.metadata, content_hash = excluded.content_hash, \
             updated_at = excluded.updated_at, import_id = excluded.import_id",
            cols = cols.join(", ")
        );
        let tombstone_delta = format!(
            "UPDATE {main} SET status = 'tobedeleted', date_last_modified = {p2}, updated_at = {p2}, \
             import_id = {p3}, source_date_last_modified = (SELECT s.source_date_last_modified \
             FROM {stage} s WHERE s.sourced_id = {main}.sourced_id) \
             WHERE tenant_id = {p1} AND status = 'active' AND sourced_id IN \
             (SELECT sourced_id FROM {stage} WHERE status = 'tobedeleted')"
        );
        let tombstone_bulk = format!(
            "UPDATE {main} SET status = 'tobedeleted', date_last_modified = {p2}, updated_at = {p2}, \
             import_id = {p3} WHERE tenant_id = {p1} AND status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE s.sourced_id = {main}.sourced_id)"
        );
        let active_count =
            format!("SELECT COUNT(*) FROM {main} WHERE tenant_id = {p1} AND status = 'active'");
        EntitySql {
            create_stage,
            index_stage,
            insert_stage,
            plan_staged,
            plan_bulk_tombstones,
            upsert,
            tombstone_delta,
            tombstone_bulk,
            active_count,
        }
    }
}

/// SQLite's per-row statements (see `sqlite.rs`). Parameters, the same in `insert` and
/// `update`: 1 tenant, 2 sourcedId, 3 now, 4 source dateLastModified, 5.. content columns,
/// then metadata, content hash, import id.
#[derive(Debug, Clone)]
pub struct RowSql {
    pub probe: String,
    pub insert: String,
    pub update: String,
    /// 1 tenant, 2 sourcedId, 3 now, 4 source dateLastModified, 5 import id.
    pub tombstone: String,
    pub ids: String,
}

impl RowSql {
    pub fn new(entity: Entity) -> RowSql {
        let t = entity.table();
        let cols = content_columns(entity);
        let n = cols.len();
        let (meta, hash, import) = (5 + n, 6 + n, 7 + n);
        let values: String = (0..n).map(|i| format!(", ?{}", 5 + i)).collect();
        let sets: String = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!(", {c} = ?{}", 5 + i))
            .collect();
        RowSql {
            probe: format!(
                "SELECT status, content_hash FROM {t} WHERE tenant_id = ?1 AND sourced_id = ?2"
            ),
            insert: format!(
                "INSERT INTO {t} (tenant_id, sourced_id, status, date_last_modified, \
                 source_date_last_modified, {}, metadata, content_hash, created_at, updated_at, import_id) \
                 VALUES (?1, ?2, 'active', ?3, ?4{values}, ?{meta}, ?{hash}, ?3, ?3, ?{import})",
                cols.join(", ")
            ),
            update: format!(
                "UPDATE {t} SET status = 'active', date_last_modified = ?3, source_date_last_modified = ?4\
                 {sets}, metadata = ?{meta}, content_hash = ?{hash}, updated_at = ?3, import_id = ?{import} \
                 WHERE tenant_id = ?1 AND sourced_id = ?2"
            ),
            tombstone: format!(
                "UPDATE {t} SET status = 'tobedeleted', date_last_modified = ?3, \
                 source_date_last_modified = ?4, updated_at = ?3, import_id = ?5 \
                 WHERE tenant_id = ?1 AND sourced_id = ?2 AND status = 'active'"
            ),
            // Served by the primary key index alone.
            ids: format!("SELECT sourced_id FROM {t} WHERE tenant_id = ?1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_bind_every_value_and_name_the_right_tables() {
        let s = EntitySql::new(Entity::Users, Dialect::Postgres);
        assert!(
            s.insert_stage
                .starts_with("INSERT INTO stage_users (sourced_id, status")
        );
        // 20 content columns + 5 system columns, all bound.
        assert!(s.insert_stage.contains("$25)"));
        assert!(!s.insert_stage.contains("$26"));
        assert!(s.upsert.contains("ON CONFLICT (tenant_id, sourced_id)"));
        let q = EntitySql::new(Entity::Orgs, Dialect::Sqlite);
        assert!(q.plan_staged.contains("m.tenant_id = ?1"));
        assert!(!q.upsert.contains('$'));
    }
}
