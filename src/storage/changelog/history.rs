//! A record's history from the change logs: each retained import that touched it, with the
//! record before and after. The log keeps before-images only; the after-image of one import is
//! the before-image of the next, and for the last one the record as it is now.

use super::{Action, sql};
use crate::domain::Entity;
use crate::storage::read::{Query, Record, record_select};
use crate::storage::select::Selection;
use crate::storage::{Store, StoreError};

/// One import that touched a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub import_id: String,
    /// When it ran (its stamp, epoch ms).
    pub at: i64,
    pub actor: Option<String>,
    /// The import it undid, when it was an undo.
    pub undo_of: Option<String>,
    /// The undo that reverted it, if any.
    pub undone_by: Option<String>,
    pub action: Action,
    /// The record before (`None`: this import inserted it) and after; decrypted.
    pub before: Option<Record>,
    pub after: Option<Record>,
}

/// An entry's import, before the images are attached.
struct Touch {
    seq: i64,
    action: Action,
    import_id: String,
    at: i64,
    actor: Option<String>,
    undo_of: Option<String>,
    undone_by: Option<String>,
}

const IMPORT_COLUMNS: &str = "i.import_id, i.at, i.actor, i.undo_of, i.undone_by";

impl Store {
    /// Every retained import that touched `id` of `entity`, oldest first; `None` if there is
    /// no such record.
    pub async fn record_history(
        &self,
        tenant: &str,
        entity: Entity,
        id: &str,
    ) -> Result<Option<Vec<HistoryEntry>>, StoreError> {
        let log = sql::log_table(entity);
        let mut q = Query::new(self.dialect());
        q.push(&format!(
            "SELECT l.seq, l.action, {IMPORT_COLUMNS} FROM {log} l JOIN changelog_imports i \
             ON i.tenant_id = l.tenant_id AND i.seq = l.seq WHERE l.tenant_id = "
        ))
        .bind(tenant)
        .push(" AND l.sourced_id = ")
        .bind(id)
        .push(" ORDER BY l.seq");
        let mut touches = Vec::new();
        for r in self.rows(q).await? {
            let action = r.text(1)?;
            touches.push(Touch {
                seq: r.int(0)?,
                action: Action::parse(&action).ok_or_else(|| {
                    r.decode_error(1, "inserted, updated or tombstoned", action.clone())
                })?,
                import_id: r.text(2)?,
                at: r.int(3)?,
                actor: r.opt_text(4)?,
                undo_of: r.opt_text(5)?,
                undone_by: r.opt_text(6)?,
            });
        }
        let current = self
            .record(tenant, entity, id, &Selection::All, None)
            .await?;
        if current.is_none() {
            return Ok(None);
        }
        // A record with no insert in the log was inserted by a first load (or before the
        // retained logs): the latest marker before its first entry names that import.
        if !touches.iter().any(|t| t.action == Action::Inserted) {
            let before = touches.first().map_or(i64::MAX, |t| t.seq);
            let mut q = Query::new(self.dialect());
            q.push(&format!(
                "SELECT l.seq, {IMPORT_COLUMNS} FROM changelog_loads l JOIN changelog_imports i \
                 ON i.tenant_id = l.tenant_id AND i.seq = l.seq WHERE l.tenant_id = "
            ))
            .bind(tenant)
            .push(" AND l.entity = ")
            .bind(entity.table())
            .push(" AND l.seq < ")
            .bind(before)
            .push(" ORDER BY l.seq DESC LIMIT 1");
            if let Some(r) = self.rows(q).await?.first() {
                touches.insert(
                    0,
                    Touch {
                        seq: r.int(0)?,
                        action: Action::Inserted,
                        import_id: r.text(1)?,
                        at: r.int(2)?,
                        actor: r.opt_text(3)?,
                        undo_of: r.opt_text(4)?,
                        undone_by: r.opt_text(5)?,
                    },
                );
            }
        }
        let mut images = self.before_images(tenant, entity, id).await?;
        let mut out: Vec<HistoryEntry> = Vec::with_capacity(touches.len());
        for t in touches {
            let before = match t.action {
                Action::Inserted => None,
                _ => images.remove(&t.seq),
            };
            if let Some(prev) = out.last_mut() {
                prev.after = before.clone();
            }
            out.push(HistoryEntry {
                import_id: t.import_id,
                at: t.at,
                actor: t.actor,
                undo_of: t.undo_of,
                undone_by: t.undone_by,
                action: t.action,
                before,
                after: None,
            });
        }
        if let Some(last) = out.last_mut() {
            last.after = current;
        }
        Ok(Some(out))
    }

    /// The record as it was before import `import_id` changed it, from that import's log
    /// (`None`: the import inserted it, or its log is gone).
    pub async fn logged_before(
        &self,
        tenant: &str,
        entity: Entity,
        import_id: &str,
        id: &str,
    ) -> Result<Option<Record>, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push("SELECT seq FROM changelog_imports WHERE tenant_id = ")
            .bind(tenant)
            .push(" AND import_id = ")
            .bind(import_id);
        let Some(seq) = self.rows(q).await?.first().map(|r| r.int(0)).transpose()? else {
            return Ok(None);
        };
        Ok(self.before_images(tenant, entity, id).await?.remove(&seq))
    }

    /// The logged before-images of a record by import number, decrypted as records are.
    async fn before_images(
        &self,
        tenant: &str,
        entity: Entity,
        id: &str,
    ) -> Result<std::collections::HashMap<i64, Record>, StoreError> {
        // The record query's own columns, read from the log; its time column carries the
        // import's number instead (a log row keeps no time of its own).
        let select = record_select(entity)
            .replacen("m.date_last_modified", "m.seq", 1)
            .replacen(
                &format!("FROM {} m", entity.table()),
                &format!("FROM {} m", sql::log_table(entity)),
                1,
            );
        let mut q = Query::new(self.dialect());
        q.push(&select)
            .push("m.tenant_id = ")
            .bind(tenant)
            .push(" AND m.sourced_id = ")
            .bind(id)
            .push(" AND m.action <> 'inserted'");
        Ok(self
            .records(entity, q)
            .await?
            .into_iter()
            .map(|r| (r.modified, r))
            .collect())
    }
}
