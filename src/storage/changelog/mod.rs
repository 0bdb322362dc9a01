//! The change log (migration 0014): for every applied import, each record it inserted, changed
//! or tombstoned, as it was before — what an undo puts back ([`Store::undo_import`]) and what a
//! record's history reads ([`Store::record_history`]).
//!
//! It is written by the import's own transaction, so it exists exactly when the import's
//! changes do: SQLite copies the stored row into the log just before its per-row update or
//! tombstone and notes each insert; PostgreSQL copies, at apply, the rows its set-wise
//! statements are about to change and the rows its `COPY` inserted. A first load of an entity
//! into a tenant (none of those records stored yet) writes one marker (`changelog_loads`)
//! instead of a row per record: a first import costs what it cost without the log. Encrypted
//! cells are copied as stored, ciphertext.
//!
//! The applied imports of a tenant are numbered (`seq`) in the order they were applied: they
//! never run side by side (SQLite has one writer; PostgreSQL takes the tenant's advisory lock),
//! so "a later import" is a larger number whatever the clocks say. The number is taken when the
//! import's transaction begins; one that is not applied leaves no trace of it.

mod exec;
mod history;
pub mod sql;
mod undo;

pub use history::HistoryEntry;

use super::value::params;
use super::{ImportStamp, Store, StoreError};
use crate::domain::Entity;

/// What an import did to a record, as its log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Inserted,
    /// Changed, or reactivated from a tombstone.
    Updated,
    Tombstoned,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Inserted => "inserted",
            Action::Updated => "updated",
            Action::Tombstoned => "tombstoned",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        [Action::Inserted, Action::Updated, Action::Tombstoned]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// A record the undo would revert that a later import changed too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub entity: Entity,
    pub sourced_id: String,
    /// The first later import that changed it.
    pub later_import: String,
}

/// How many conflicts an answer lists (all are counted).
pub const CONFLICTS_LISTED: usize = 1000;

/// Records per entity and kind a dry run's sample names.
pub const SAMPLE_IDS: usize = 20;

/// An undo to run.
#[derive(Debug, Clone)]
pub struct UndoRequest {
    pub tenant: String,
    /// The import to undo.
    pub target: String,
    /// The undo's own id and time: the reverted records are stamped with them.
    pub stamp: ImportStamp,
    /// Who asked (`cli:<user>`, `client:<id>`, `user:<id>`), kept for the history.
    pub actor: Option<String>,
    /// Work it out, then roll back.
    pub dry_run: bool,
    /// Revert what does not conflict, skip what does.
    pub force: bool,
}

/// Why an undo was not run. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoRefused {
    /// The import has no change log: it was not applied, was applied before change logs were
    /// kept, or its log passed the retention.
    NoChangeLog,
    /// Another undo reverted it already.
    AlreadyUndone { by: String },
    /// Later imports changed some of its records (the first [`CONFLICTS_LISTED`] listed).
    Conflicts { listed: Vec<Conflict>, total: u64 },
}

/// What an undo of one entity did (or would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityUndo {
    /// Records put back as active (changed back, or reactivated).
    pub restored: u64,
    /// Records made tombstones (inserted by the undone import, or tombstones again).
    pub tombstoned: u64,
    /// Dry runs: the first [`SAMPLE_IDS`] ids of each, by sourcedId.
    pub restored_ids: Vec<String>,
    pub tombstoned_ids: Vec<String>,
}

/// An undo done, or worked out (dry run).
#[derive(Debug, Clone, Default)]
pub struct UndoDone {
    /// The entities it changes, in [`Entity::ALL`] order.
    pub entities: Vec<(Entity, EntityUndo)>,
    /// Records left as they are because a later import changed them (forced undo).
    pub skipped: Vec<Conflict>,
    pub skipped_total: u64,
}

/// The outcome of [`Store::undo_import`].
pub type UndoResult = Result<UndoDone, UndoRefused>;

/// What the undo's `imports` row holds, made from what it did: the report.
pub type UndoRecord = Box<dyn FnOnce(&UndoDone) -> super::ImportRecord + Send>;

impl Store {
    /// Undoes an applied import as a new import (`req.stamp`), in one transaction that holds
    /// the tenant's import lock: the records it inserted become tombstones, the ones it changed
    /// or tombstoned get their before-image back, all stamped now. The undo has a log of its
    /// own, so it can be undone too. Applied, `record` makes its `imports` row; a dry run rolls
    /// back. Blocking work runs on a blocking thread.
    pub async fn undo_import(
        &self,
        req: UndoRequest,
        record: UndoRecord,
    ) -> Result<UndoResult, StoreError> {
        match self {
            Store::Sqlite(s) => {
                let s = s.clone();
                super::value::blocking(move || undo::sqlite(&s, &req, record)).await
            }
            Store::Postgres(p) => {
                let p = p.clone();
                super::value::blocking(move || undo::postgres(&p, &req, record)).await
            }
        }
    }

    /// The status of one of the tenant's import runs (`applied`, `dry_run`, …), if it exists.
    pub async fn import_status(
        &self,
        tenant: &str,
        import_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut q = super::read::Query::new(self.dialect());
        q.push("SELECT status FROM imports WHERE tenant_id = ")
            .bind(tenant)
            .push(" AND id = ")
            .bind(import_id);
        match self.rows(q).await?.first() {
            Some(r) => Ok(Some(r.text(0)?)),
            None => Ok(None),
        }
    }

    /// Deletes the change logs of imports applied before `cutoff` (epoch ms), oldest first, one
    /// transaction per import; returns how many imports' logs went. Those imports can no longer
    /// be undone, and record histories start after them.
    pub async fn prune_changelog(&self, cutoff: i64) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            let mut q = super::read::Query::new(self.dialect());
            q.push("SELECT tenant_id, seq FROM changelog_imports WHERE at < ")
                .bind(cutoff)
                .push(" ORDER BY at LIMIT 100");
            let old = self.rows(q).await?;
            if old.is_empty() {
                return Ok(pruned);
            }
            for r in &old {
                let (tenant, seq) = (r.text(0)?, r.int(1)?);
                let mut batch = Vec::new();
                for e in Entity::ALL {
                    batch.push((
                        format!(
                            "DELETE FROM {} WHERE tenant_id = $1 AND seq = $2",
                            sql::log_table(e)
                        ),
                        params![tenant.as_str(), seq],
                    ));
                }
                for table in ["changelog_loads", "changelog_imports"] {
                    batch.push((
                        format!("DELETE FROM {table} WHERE tenant_id = $1 AND seq = $2"),
                        params![tenant.as_str(), seq],
                    ));
                }
                exec::batch(self, batch).await?;
                pruned += 1;
            }
        }
    }
}
