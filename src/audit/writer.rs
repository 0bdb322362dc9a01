//! The background writer: requests hand their entries to a bounded channel and go on; one task
//! inserts them in batches (up to `batch_max` entries or `batch_ms` after the first, in one
//! transaction).
//!
//! Nothing is lost silently. When the queue is full:
//! - writes, admin actions, logins, token requests and every refusal wait for room (the request
//!   answers once its entry is queued): an audit trail with holes in exactly the busiest
//!   moments is worth less than a slower answer;
//! - a successful or failed OneRoster read (`oneroster.read`) is folded into a per-minute
//!   aggregate instead — entries `oneroster.read.aggregated` per tenant, actor, route, status
//!   and minute whose `result_count` is the number of requests each stands for — so reads never
//!   wait on the audit table. The writer writes the aggregates as soon as it has written what is
//!   queued (so a busy minute may have several aggregates of one key: their counts add up); a
//!   warning (at most once a second) says reads are being aggregated.
//!
//! `/metrics` counts `rosterhub_audit_written_total` (rows written, aggregates included),
//! `rosterhub_audit_aggregated_total` (reads folded into aggregates) and
//! `rosterhub_audit_dropped_total` (rows the database refused even row by row: should stay 0).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::Entry;
use crate::domain::datetime::now_ms;
use crate::storage::Store;

/// The writer's counters on `/metrics` (see the module documentation).
pub const WRITTEN_TOTAL: &str = "rosterhub_audit_written_total";
pub const AGGREGATED_TOTAL: &str = "rosterhub_audit_aggregated_total";
pub const DROPPED_TOTAL: &str = "rosterhub_audit_dropped_total";

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Entries queued at most; beyond it writers wait and reads are aggregated.
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

/// The action of an entry standing for several reads.
pub const AGGREGATED_ACTION: &str = "oneroster.read.aggregated";
/// The action of one OneRoster read (the only kind of entry that may be aggregated).
pub const READ_ACTION: &str = "oneroster.read";

/// What reads are folded by: one aggregate entry per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReadKey {
    tenant: String,
    actor: String,
    method: String,
    route: String,
    status: u16,
    minute: i64,
}

type Aggregates = Arc<Mutex<HashMap<ReadKey, u64>>>;

/// The handle requests record through (cheap to clone).
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    /// Cuts the writer's batch window short (a flush is waiting).
    flush_now: Arc<Notify>,
    /// Reads folded while the queue was full, and the bell that has the writer write them.
    aggregates: Aggregates,
    aggregates_ready: Arc<Notify>,
    aggregated: Arc<AtomicU64>,
    last_warning_ms: Arc<AtomicI64>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("aggregated", &self.aggregated())
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
        // Shown on `/metrics` from the start, at 0: an alert on them needs the series to exist.
        for name in [WRITTEN_TOTAL, AGGREGATED_TOTAL, DROPPED_TOTAL] {
            metrics::counter!(name).increment(0);
        }
        let log = AuditLog {
            tx,
            flush_now: Arc::default(),
            aggregates: Arc::default(),
            aggregates_ready: Arc::default(),
            aggregated: Arc::default(),
            last_warning_ms: Arc::default(),
        };
        tokio::spawn(run(store, rx, settings, log.clone_for_writer()));
        log
    }

    /// What the writer shares with the handles (not the sender: the writer must not keep its
    /// own channel open).
    fn clone_for_writer(&self) -> WriterShared {
        WriterShared {
            flush_now: self.flush_now.clone(),
            aggregates: self.aggregates.clone(),
            aggregates_ready: self.aggregates_ready.clone(),
        }
    }

    /// Queues `entry`, waiting for room when the queue is full (see the module docs).
    pub async fn record(&self, entry: Entry) {
        match self.tx.try_send(Msg::Entry(Box::new(entry))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(m)) => {
                // Closed only when the runtime shuts down: nothing is left to write it then.
                let _ = self.tx.send(m).await;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Queues the entry of a OneRoster read served by `route` (its template); when the queue is
    /// full the read is counted in its minute's aggregate instead, without waiting.
    pub fn record_read(&self, entry: Entry, route: &str) {
        let Err(e) = self.tx.try_send(Msg::Entry(Box::new(entry))) else {
            return;
        };
        let mpsc::error::TrySendError::Full(Msg::Entry(entry)) = e else {
            return;
        };
        let entry = *entry;
        let key = ReadKey {
            tenant: entry.tenant,
            actor: entry.actor,
            method: entry.method,
            route: route.to_owned(),
            status: entry.status,
            minute: entry.at.div_euclid(60_000),
        };
        *self
            .aggregates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
        self.aggregates_ready.notify_one();
        metrics::counter!(AGGREGATED_TOTAL).increment(1);
        let total = self.aggregated.fetch_add(1, Ordering::Relaxed) + 1;
        let now = now_ms();
        let last = self.last_warning_ms.load(Ordering::Relaxed);
        if now - last >= 1000
            && self
                .last_warning_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                aggregated_total = total,
                "audit log queue full: OneRoster reads are recorded as per-minute aggregates \
                 (oneroster.read.aggregated) until the writer catches up"
            );
        }
    }

    /// Reads this process folded into aggregates because the queue was full.
    pub fn aggregated(&self) -> u64 {
        self.aggregated.load(Ordering::Relaxed)
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

/// The writer's side of the handle.
struct WriterShared {
    flush_now: Arc<Notify>,
    aggregates: Aggregates,
    aggregates_ready: Arc<Notify>,
}

impl WriterShared {
    /// The aggregates so far as entries (and none left behind).
    fn take_aggregates(&self) -> Vec<Entry> {
        let folded =
            std::mem::take(&mut *self.aggregates.lock().unwrap_or_else(|e| e.into_inner()));
        folded
            .into_iter()
            .map(|(k, count)| Entry {
                id: uuid::Uuid::now_v7().to_string(),
                tenant: k.tenant,
                at: k.minute * 60_000,
                actor: k.actor,
                action: AGGREGATED_ACTION.to_owned(),
                method: k.method,
                path: k.route,
                query: None,
                status: k.status,
                result_count: Some(count),
                target: None,
                source_ip: None,
                request_id: None,
                user_agent: None,
            })
            .collect()
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
    shared: WriterShared,
) {
    let mut batch: Vec<Entry> = Vec::with_capacity(settings.batch_max);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            // Aggregates with nothing queued behind them: written at once.
            _ = shared.aggregates_ready.notified() => None,
        };
        let closed_now = match first {
            Some(m) => {
                take(m, &mut batch, &mut waiters);
                false
            }
            None => rx.is_closed() && rx.is_empty(),
        };
        if !batch.is_empty() && waiters.is_empty() {
            let deadline = Instant::now() + Duration::from_millis(settings.batch_ms);
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {}
                _ = shared.flush_now.notified() => {}
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
        // Reads folded while the queue was full, after what was queued before them; a flush
        // is answered once they are written too.
        let mut folded = shared.take_aggregates();
        write(&store, &mut folded).await;
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
        if closed || closed_now {
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
                metrics::counter!(WRITTEN_TOTAL).increment(n);
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
    metrics::counter!(WRITTEN_TOTAL).increment(n - lost);
    if lost > 0 {
        metrics::counter!(DROPPED_TOTAL).increment(lost);
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
    async fn a_full_queue_aggregates_reads_and_makes_others_wait() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let store = Store::open(&url).await.unwrap();
        // A tiny queue and a long batch window: the queue fills at once.
        let log = AuditLog::with_settings(
            store.clone(),
            WriterSettings {
                capacity: 4,
                batch_max: 1000,
                batch_ms: 200,
            },
        );
        for i in 0..50 {
            let mut e = entry(i);
            e.action = READ_ACTION.into();
            log.record_read(e, "/users");
        }
        assert_eq!(log.aggregated(), 46, "all but the queue's 4 folded");
        // Waits for room instead of dropping.
        for i in 0..10 {
            log.record(entry(i)).await;
        }
        log.flush().await;
        let (rows, total) = store
            .audit_entries("t", &crate::audit::Filter::default(), 100, 0)
            .await
            .unwrap();
        let plain = rows.iter().filter(|r| r.action == "x").count();
        let single_reads = rows.iter().filter(|r| r.action == READ_ACTION).count() as u64;
        let folded: u64 = rows
            .iter()
            .filter(|r| r.action == AGGREGATED_ACTION)
            .map(|r| r.result_count.unwrap())
            .sum();
        assert_eq!(plain, 10);
        assert_eq!(single_reads + folded, 50);
        assert_eq!(folded, 46);
        assert_eq!(total as usize, rows.len());
        let agg = rows.iter().find(|r| r.action == AGGREGATED_ACTION).unwrap();
        assert_eq!((agg.path.as_str(), agg.at), ("/users", 0));
    }
}
