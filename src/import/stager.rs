//! Both cores on an import: one thread parses and checks a file's rows (`rows.rs`) while a
//! second stages them into the store's transaction. Rows cross in batches over a bounded
//! channel; emptied batches come back, so their strings are reused and a file of any size
//! holds at most [`QUEUE`] + 2 batches in memory.
//!
//! Nothing else changes: the rows are staged in file order, in the same one transaction, and a
//! store error ends the file's reading with that error, as when staging ran on the parsing
//! thread.

use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use crate::domain::datetime::EpochMs;
use crate::domain::vocab::Status;
use crate::storage::{StageRow, StoreError};

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
    to_writer: SyncSender<Batch>,
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
        self.to_writer.send(full).is_ok()
    }

    /// Sends the last, partial batch; dropping `self` closes the channel.
    fn finish(mut self) {
        if self.batch.len > 0 {
            self.send();
        }
    }
}

/// Runs `parse` on this thread with a [`Stager`] whose rows `stage` takes, in order, on a
/// second thread. Returns what `parse` returned, or the first error of `stage` (after which it
/// is not called again and [`Stager::push`] says so).
pub(super) fn stage_file<T>(
    mut stage: impl FnMut(&StageRow<'_>) -> Result<(), StoreError> + Send,
    parse: impl FnOnce(&mut Stager) -> T,
) -> Result<T, StoreError> {
    let (to_writer, from_parser) = sync_channel::<Batch>(QUEUE);
    let (to_parser, emptied) = channel::<Batch>();
    std::thread::scope(|s| {
        let writer = std::thread::Builder::new()
            .name("import-stage".into())
            .spawn_scoped(s, move || write(&mut stage, from_parser, to_parser))?;
        let mut stager = Stager {
            batch: Batch::default(),
            to_writer,
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
    stage: &mut impl FnMut(&StageRow<'_>) -> Result<(), StoreError>,
    batches: Receiver<Batch>,
    emptied: Sender<Batch>,
) -> Result<(), StoreError> {
    for batch in batches {
        for owned in &batch.rows[..batch.len] {
            stage(&owned.as_stage_row())?;
        }
        let _ = emptied.send(Batch { len: 0, ..batch });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes rows `0..n` (the id is the number) until the stager refuses one; returns how
    /// many it took.
    fn push_numbered(stager: &mut Stager, n: usize) -> usize {
        let values = vec!["v".to_owned(); 3];
        for i in 0..n {
            let id = i.to_string();
            let meta = (i % 2 == 0).then_some("{\"k\":\"x\"}");
            let row = StageRow {
                sourced_id: &id,
                status: Status::Active,
                source_modified: None,
                values: &values,
                metadata: meta,
                hash: [0; 16],
            };
            if !stager.push(&row) {
                return i;
            }
        }
        n
    }

    #[test]
    fn every_row_arrives_in_order_with_its_metadata() {
        let mut seen = Vec::new();
        let taken = stage_file(
            |row| {
                seen.push((row.sourced_id.to_owned(), row.metadata.map(str::to_owned)));
                Ok(())
            },
            |stager| push_numbered(stager, 3 * BATCH + 7),
        )
        .unwrap();
        assert_eq!(taken, 3 * BATCH + 7);
        assert_eq!(seen.len(), taken);
        for (i, (id, meta)) in seen.iter().enumerate() {
            assert_eq!(id, &i.to_string());
            assert_eq!(meta.is_some(), i % 2 == 0, "row {i}");
        }
    }

    #[test]
    fn the_first_store_error_is_returned_and_stops_the_reading() {
        let mut staged = 0;
        let out = stage_file(
            |_| {
                staged += 1;
                if staged == BATCH + 5 {
                    return Err(StoreError::Injected("stage"));
                }
                Ok(())
            },
            |stager| push_numbered(stager, 100 * BATCH),
        );
        assert!(matches!(out, Err(StoreError::Injected("stage"))), "{out:?}");
        assert_eq!(staged, BATCH + 5, "nothing is staged after the error");
    }
}
