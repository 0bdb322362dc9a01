//! Both cores on an import: one thread parses and checks a file's rows (`rows.rs`) while a
//! second stages them into the store's transaction. Rows cross in batches over a bounded
//! channel; emptied batches come back, so their strings are reused and a file of any size
//! holds at most [`QUEUE`] + 2 batches in memory.
//!
//! Nothing else changes: the rows are staged in file order, in the same one transaction, and a
//! store error ends the file's reading with that error, as when staging ran on the parsing
//! thread.

use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use crate::domain::Entity;
use crate::domain::datetime::EpochMs;
use crate::domain::vocab::Status;
use crate::storage::{ImportTx, StageRow, StoreError};

use super::changes::Collector;

/// Rows handed over at a time: enough to make the hand-over cost nothing per row.
const BATCH: usize = 1024;
/// Batches waiting for the staging thread before the parsing thread waits in turn.
const QUEUE: usize = 4;

/// A [`StageRow`] that owns its strings, so that it can cross to the staging thread.
struct OwnedRow {
    sourced_id: String,
    status: Status,
    source_modified: Option<EpochMs>,
    values: Vec<String>,
    metadata: Option<String>,
    hash: [u8; 16],
}

impl OwnedRow {
    fn new(row: &StageRow<'_>) -> OwnedRow {
        OwnedRow {
            sourced_id: row.sourced_id.to_owned(),
            status: row.status,
            source_modified: row.source_modified,
            values: row.values.to_vec(),
            metadata: row.metadata.map(str::to_owned),
            hash: row.hash,
        }
    }

    /// Copies `row` in, reusing the strings' memory.
    fn fill(&mut self, row: &StageRow<'_>) {
        self.sourced_id.clear();
        self.sourced_id.push_str(row.sourced_id);
        self.status = row.status;
        self.source_modified = row.source_modified;
        self.values.resize_with(row.values.len(), String::new);
        for (mine, theirs) in self.values.iter_mut().zip(row.values) {
            mine.clone_from(theirs);
        }
        match (&mut self.metadata, row.metadata) {
            (Some(mine), Some(theirs)) => {
                mine.clear();
                mine.push_str(theirs);
            }
            (mine, theirs) => *mine = theirs.map(str::to_owned),
        }
        self.hash = row.hash;
    }

    fn as_stage_row(&self) -> StageRow<'_> {
        StageRow {
            sourced_id: &self.sourced_id,
            status: self.status,
            source_modified: self.source_modified,
            values: &self.values,
            metadata: self.metadata.as_deref(),
            hash: self.hash,
        }
    }
}

/// Rows in order; the first `len` are this batch's, the rest kept for their memory.
#[derive(Default)]
struct Batch {
    rows: Vec<OwnedRow>,
    len: usize,
}

/// The parsing thread's end: collects rows into batches and sends them on.
pub(super) struct Stager {
    batch: Batch,
    to_writer: Option<SyncSender<Batch>>,
    emptied: Receiver<Batch>,
}

impl Stager {
    /// Hands `row` over; false once the staging thread has stopped (a store error, which
    /// [`stage_file`] returns).
    pub(super) fn push(&mut self, row: &StageRow<'_>) -> bool {
        let b = &mut self.batch;
        match b.rows.get_mut(b.len) {
            Some(kept) => kept.fill(row),
            None => b.rows.push(OwnedRow::new(row)),
        }
        b.len += 1;
        if b.len < BATCH {
            return true;
        }
        self.send()
    }

    fn send(&mut self) -> bool {
        // A batch the staging thread emptied, or a new one while none has come back yet.
        let next = self.emptied.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, next);
        match &self.to_writer {
            Some(to) => to.send(full).is_ok(),
            None => false,
        }
    }

    /// Sends the last, partial batch and closes the channel.
    fn finish(mut self) {
        if self.batch.len > 0 {
            self.send();
        }
        self.to_writer = None;
    }
}

/// Runs `parse` on this thread with a [`Stager`] whose rows `tx` stages on a second thread,
/// noting each row's change in `changes`. Returns what `parse` returned, or the store's error.
pub(super) fn stage_file<T>(
    tx: &mut (dyn ImportTx + Send + '_),
    entity: Entity,
    changes: &mut Collector,
    parse: impl FnOnce(&mut Stager) -> T,
) -> Result<T, StoreError> {
    let (to_writer, from_parser) = sync_channel::<Batch>(QUEUE);
    let (to_parser, emptied) = channel::<Batch>();
    std::thread::scope(|s| {
        let writer = std::thread::Builder::new()
            .name("import-stage".into())
            .spawn_scoped(s, || write(tx, entity, changes, from_parser, to_parser))?;
        let mut stager = Stager {
            batch: Batch::default(),
            to_writer: Some(to_writer),
            emptied,
        };
        let parsed = parse(&mut stager);
        stager.finish();
        match writer.join() {
            Ok(written) => written.map(|()| parsed),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The staging thread: stages every row of every batch in order, then returns the batch.
fn write(
    tx: &mut (dyn ImportTx + Send + '_),
    entity: Entity,
    changes: &mut Collector,
    batches: Receiver<Batch>,
    emptied: Sender<Batch>,
) -> Result<(), StoreError> {
    for batch in batches {
        for owned in &batch.rows[..batch.len] {
            let row = owned.as_stage_row();
            let change = tx.stage(entity, &row)?;
            changes.note(entity, change, &row);
        }
        let _ = emptied.send(Batch { len: 0, ..batch });
    }
    Ok(())
}
