//! The background writer: requests hand their entries to a bounded channel and go on; one task
//! inserts them in batches (up to `batch_max` entries or `batch_ms` after the first, in one
//! transaction).
//!
//! A full channel does not block the request: the entry is dropped, counted in
//! `audit_dropped_total` and warned about (at most once a second). Blocking would tie every API
//! request's latency to the audit table's write speed, and an audit database in trouble would
//! stall the rostering API with it; the channel holds `capacity` entries (10,000 by default,
//! seconds of peak traffic), so drops mean the database cannot keep up at all — which the
//! metric and the warning make visible for alerting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::Entry;
use crate::domain::datetime::now_ms;
use crate::storage::Store;

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Entries queued at most; more are dropped (and counted).
    pub capacity: usize,
    /// Entries per transaction at most.
    pub batch_max: usize,
    /// How long a batch waits for more entries after its first.
    pub batch_ms: u64,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            capacity: 10_000,
            batch_max: 500,
            batch_ms: 100,
        }
    }
}

enum Msg {
    Entry(Box<Entry>),
    Flush(oneshot::Sender<()>),
}

/// The handle requests record through (cheap to clone).
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    /// Cuts the writer's batch window short (a flush is waiting).
    flush_now: Arc<Notify>,
    dropped: Arc<AtomicU64>,
    last_warning_ms: Arc<AtomicI64>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts the writer of `store` with the default settings (needs a Tokio runtime).
    pub fn start(store: Store) -> AuditLog {
        AuditLog::with_settings(store, WriterSettings::default())
    }

    pub fn with_settings(store: Store, settings: WriterSettings) -> AuditLog {
        let (tx, rx) = mpsc::channel(settings.capacity.max(1));
        let flush_now = Arc::new(Notify::new());
        tokio::spawn(run(store, rx, settings, flush_now.clone()));
        AuditLog {
            tx,
            flush_now,
            dropped: Arc::default(),
            last_warning_ms: Arc::default(),
        }
    }

    /// Queues `entry` without waiting; a full queue drops it (see the module docs).
    pub fn record(&self, entry: Entry) {
        if self.tx.try_send(Msg::Entry(Box::new(entry))).is_err() {
            self.count_dropped(1);
        }
    }

    fn count_dropped(&self, n: u64) {
        metrics::counter!("audit_dropped_total").increment(n);
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        let now = now_ms();
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        if now - last >= 1000
            && self
                .last_warning_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                dropped_total = total,
                "audit log queue full: entries dropped"
            );
        }
    }

    /// Entries this process dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every entry recorded before this call is written (or given up on). Used at
    /// shutdown and by tests.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            self.flush_now.notify_one();
            let _ = wait.await;
        }
    }
}

fn take(m: Msg, batch: &mut Vec<Entry>, waiters: &mut Vec<oneshot::Sender<()>>) {
    match m {
        Msg::Entry(e) => batch.push(*e),
        Msg::Flush(w) => waiters.push(w),
    }
}

/// The writer: wakes for the first entry of a batch, then sleeps through the batch window
/// (or until a flush) instead of waking for every entry — at thousands of requests a second,
/// a wake-up per entry costs the API more than the inserts — and then drains the queue.
async fn run(
    store: Store,
    mut rx: mpsc::Receiver<Msg>,
    settings: WriterSettings,
    flush_now: Arc<Notify>,
) {
    let mut batch: Vec<Entry> = Vec::with_capacity(settings.batch_max);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        take(first, &mut batch, &mut waiters);
        if waiters.is_empty() {
            let deadline = Instant::now() + Duration::from_millis(settings.batch_ms);
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {}
                _ = flush_now.notified() => {}
            }
        }
        // Everything queued meanwhile, in batches of at most `batch_max`. A flush is answered
        // once everything sent before it is written.
        let mut closed = false;
        loop {
            while batch.len() < settings.batch_max {
                match rx.try_recv() {
                    Ok(m) => take(m, &mut batch, &mut waiters),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            let full = batch.len() >= settings.batch_max;
            write(&store, &mut batch).await;
            if !full {
                break;
            }
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if closed {
            return;
        }
    }
}

/// Writes the batch in one transaction, retrying twice; if it still fails, row by row, so one
/// bad row cannot lose the others. Rows that cannot be written are counted as dropped.
async fn write(store: &Store, batch: &mut Vec<Entry>) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len() as u64;
    for delay_ms in [200, 1000, 0] {
        match store.insert_audit_entries(batch).await {
            Ok(()) => {
                metrics::counter!("audit_written_total").increment(n);
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, entries = n, "cannot write audit entries");
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
        }
    }
    let mut lost = 0u64;
    for e in batch.drain(..) {
        if store
            .insert_audit_entries(std::slice::from_ref(&e))
            .await
            .is_err()
        {
            lost += 1;
        }
    }
    metrics::counter!("audit_written_total").increment(n - lost);
    if lost > 0 {
        metrics::counter!("audit_dropped_total").increment(lost);
        tracing::error!(lost, "audit entries could not be written and are lost");
    }
}

/// Every hour (and at once): deletes entries older than `retention_ms`. `None`: kept forever.
pub fn spawn_retention(store: Store, retention_ms: Option<i64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(retention_ms) = retention_ms else {
            return;
        };
        loop {
            match store.sweep_audit_log(now_ms() - retention_ms).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "audit entries past retention deleted"),
                Err(e) => tracing::warn!(error = %e, "audit retention sweep failed"),
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> Entry {
        Entry {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: "t".into(),
            at: i as i64,
            actor: "anonymous".into(),
            action: "x".into(),
            method: "GET".into(),
            path: "/".into(),
            query: None,
            status: 200,
            result_count: None,
            target: None,
            source_ip: None,
            request_id: None,
            user_agent: None,
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let store = Store::open(&url).await.unwrap();
        // A writer that batches for a long time with a tiny queue: the queue fills.
        let log = AuditLog::with_settings(
            store.clone(),
            WriterSettings {
                capacity: 4,
                batch_max: 1000,
                batch_ms: 60_000,
            },
        );
        for i in 0..50 {
            log.record(entry(i));
        }
        assert!(log.dropped() > 0, "some were dropped");
        let kept = 50 - log.dropped();
        log.flush().await;
        let (_, written) = store
            .audit_entries("t", &crate::audit::Filter::default(), 1, 0)
            .await
            .unwrap();
        assert_eq!(written, kept);
    }
}
