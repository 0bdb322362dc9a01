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

/// The columns an import writes: the content columns, then the blind indexes of the columns
/// that may be encrypted (`crate::pii::bidx_columns`; NULL unless the value is encrypted).
pub fn write_columns(entity: Entity) -> Vec<&'static str> {
    let mut cols = content_columns(entity);
    cols.extend(crate::pii::bidx_columns(entity).map(|(_, index)| index));
    cols
}

pub fn stage_table(entity: Entity) -> String {
    format!("stage_{}", entity.table())
}

/// Rows per page when the PostgreSQL import reads a tenant's stored records.
pub const STORED_PAGE: usize = 20_000;

/// Every import statement of the PostgreSQL import path for one entity. Parameters: 1 = tenant,
/// 2 = now, 3 = import id.
///
/// New records are copied straight into the entity's table; the staging table holds only the
/// rows that change a stored record (updates and tombstones), so an unchanged re-import stages
/// nothing.
#[derive(Debug, Clone)]
pub struct EntitySql {
    /// The staging table: one row per stored record that this import changes.
    pub create_stage: String,
    /// `COPY` of staging rows (every column of the staging table, in order).
    pub copy_stage: String,
    /// `COPY` of new records straight into the entity's table: tenant, sourcedId, status,
    /// dateLastModified, source dateLastModified, content columns (then blind indexes, see
    /// [`write_columns`]), metadata, content hash, created, updated, import id.
    pub copy_main: String,
    /// Every stored record of the tenant: sourcedId, whether it is active, content hash.
    pub stored: String,
    /// Rewrites the records staged as `active`; guarded, so it touches only records that
    /// really change (their count must equal the plan's).
    pub update_staged: String,
    /// Tombstones the active records staged as `tobedeleted`, keeping the source's
    /// `dateLastModified` of the delta row.
    pub tombstone_delta: String,
    /// Tombstones the active records staged as `tobedeleted` (absent from a bulk file).
    pub tombstone_bulk: String,
    pub active_count: String,
    /// The change log's set-wise statements (`storage::changelog`).
    pub capture: super::changelog::sql::SetCapture,
}

impl EntitySql {
    pub fn new(entity: Entity, d: Dialect) -> EntitySql {
        let main = entity.table();
        let stage = stage_table(entity);
        let cols = write_columns(entity);
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
        let copy_stage = format!("COPY {stage} FROM STDIN");
        let copy_main = format!(
            "COPY {main} (tenant_id, sourced_id, status, date_last_modified, \
             source_date_last_modified, {}, metadata, content_hash, created_at, updated_at, import_id) \
             FROM STDIN",
            cols.join(", ")
        );
        let (p1, p2, p3) = (d.param(1), d.param(2), d.param(3));
        // Read in keyset pages (parameter 2: the last sourcedId of the previous page), so a
        // million stored records never sit in memory twice (rows and map) at once.
        let stored = format!(
            "SELECT sourced_id, status = 'active', content_hash FROM {main} WHERE tenant_id = {p1} \
             AND sourced_id > {p2} ORDER BY sourced_id LIMIT {STORED_PAGE}"
        );
        let sets: String = cols.iter().map(|c| format!(", {c} = s.{c}")).collect();
        let update_staged = format!(
            "UPDATE {main} m SET status = 'active', date_last_modified = {p2}, \
             source_date_last_modified = s.source_date_last_modified{sets}, metadata = s.metadata, \
             content_hash = s.content_hash, updated_at = {p2}, import_id = {p3} \
             FROM {stage} s WHERE m.tenant_id = {p1} AND m.sourced_id = s.sourced_id \
             AND s.status = 'active' AND (m.status <> 'active' OR m.content_hash <> s.content_hash)"
        );
        let tombstone_delta = format!(
            "UPDATE {main} m SET status = 'tobedeleted', date_last_modified = {p2}, updated_at = {p2}, \
             import_id = {p3}, source_date_last_modified = s.source_date_last_modified \
             FROM {stage} s WHERE m.tenant_id = {p1} AND m.sourced_id = s.sourced_id \
             AND s.status = 'tobedeleted' AND m.status = 'active'"
        );
        let tombstone_bulk = format!(
            "UPDATE {main} m SET status = 'tobedeleted', date_last_modified = {p2}, updated_at = {p2}, \
             import_id = {p3} FROM {stage} s WHERE m.tenant_id = {p1} AND m.sourced_id = s.sourced_id \
             AND s.status = 'tobedeleted' AND m.status = 'active'"
        );
        let active_count =
            format!("SELECT COUNT(*) FROM {main} WHERE tenant_id = {p1} AND status = 'active'");
        EntitySql {
            create_stage,
            copy_stage,
            copy_main,
            stored,
            update_staged,
            tombstone_delta,
            tombstone_bulk,
            active_count,
            capture: super::changelog::sql::SetCapture::new(entity),
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
    /// A first load (the tenant has none of these records yet) stages rows unindexed here…
    pub create_load: String,
    /// …with the same parameters as `insert`…
    pub insert_load: String,
    /// …and moves them into the table in primary-key order: appends instead of random B-tree
    /// inserts.
    pub move_load: String,
    pub drop_load: String,
    /// The change log's per-row statements (`storage::changelog`).
    pub capture: super::changelog::sql::RowCapture,
}

impl RowSql {
    pub fn new(entity: Entity) -> RowSql {
        let t = entity.table();
        let cols = write_columns(entity);
        let n = cols.len();
        let (meta, hash, import) = (5 + n, 6 + n, 7 + n);
        let values: String = (0..n).map(|i| format!(", ?{}", 5 + i)).collect();
        let sets: String = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!(", {c} = ?{}", 5 + i))
            .collect();
        let insert = format!(
            "INSERT INTO {t} (tenant_id, sourced_id, status, date_last_modified, \
             source_date_last_modified, {}, metadata, content_hash, created_at, updated_at, import_id) \
             VALUES (?1, ?2, 'active', ?3, ?4{values}, ?{meta}, ?{hash}, ?3, ?3, ?{import})",
            cols.join(", ")
        );
        RowSql {
            // The covering index of migration 0004: the probe never reads the table row.
            probe: format!(
                "SELECT status, content_hash FROM {t} INDEXED BY {t}_probe \
                 WHERE tenant_id = ?1 AND sourced_id = ?2"
            ),
            insert: insert.clone(),
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
            create_load: format!("CREATE TEMP TABLE load_{t} AS SELECT * FROM main.{t} WHERE 0"),
            insert_load: insert.replacen(
                &format!("INSERT INTO {t} "),
                &format!("INSERT INTO temp.load_{t} "),
                1,
            ),
            move_load: format!(
                "INSERT INTO main.{t} SELECT * FROM temp.load_{t} ORDER BY tenant_id, sourced_id"
            ),
            drop_load: format!("DROP TABLE temp.load_{t}"),
            capture: super::changelog::sql::RowCapture::new(entity),
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
            s.copy_main
                .starts_with("COPY users (tenant_id, sourced_id, status")
        );
        assert!(s.copy_stage.starts_with("COPY stage_users FROM STDIN"));
        assert!(s.update_staged.contains("m.content_hash <> s.content_hash"));
        assert!(s.tombstone_bulk.contains("m.status = 'active'"));
        let q = EntitySql::new(Entity::Orgs, Dialect::Sqlite);
        assert!(q.stored.contains("tenant_id = ?1"));
        assert!(!q.update_staged.contains('$'));
    }
}
