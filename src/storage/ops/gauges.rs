//! What `/metrics` reads of the database at each scrape: jobs per state, since when the
//! longest-held import has waited, the database's size, and the connection pools.
//!
//! Cheap by design — every Prometheus scrapes every replica every 15–30 s: the counts per state
//! read only the `jobs_queue (state, created_at)` index (never the rows, whose reports can be
//! large), the held imports are found through the same index, the SQLite size is file
//! metadata and the PostgreSQL size `pg_database_size` (a directory listing, no table scan).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::jobs::JobState;
use crate::storage::value::params;
use crate::storage::{Store, StoreError};

/// The database as `/metrics` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsGauges {
    /// Every job state with its number of jobs (0 included), in [`JobState::ALL`]'s order.
    pub jobs: Vec<(JobState, u64)>,
    /// When the longest-held import was held (its `updated_at`, epoch ms); `None`: none held.
    pub oldest_held_ms: Option<i64>,
    /// The database on disk, in bytes: SQLite's two files with their write-ahead logs, or
    /// PostgreSQL's `pg_database_size`.
    pub database_bytes: u64,
}

/// One connection pool as `/metrics` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGauge {
    /// `postgres`, `sqlite_read` (the API's readers) or `sqlite_ops` (the operational file).
    pub name: &'static str,
    pub idle: u64,
    pub busy: u64,
    /// PostgreSQL: the pool's most connections. SQLite: the most idle connections kept (a
    /// busy pool opens more, and closes them when they come back).
    pub max: u64,
}

/// Connections handed out and not yet back (the SQLite pools count them for [`PoolGauge`]).
#[derive(Debug, Clone, Default)]
pub(in crate::storage) struct BusyCount(Arc<AtomicUsize>);

/// One connection counted busy until dropped (also when the work on it panics).
pub(in crate::storage) struct Busy(Arc<AtomicUsize>);

impl BusyCount {
    pub(in crate::storage) fn take(&self) -> Busy {
        self.0.fetch_add(1, Ordering::Relaxed);
        Busy(self.0.clone())
    }

    pub(in crate::storage) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed) as u64
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Store {
    /// The jobs per state, the oldest held import and the database's size (see the module
    /// documentation for why this is cheap).
    pub async fn ops_gauges(&self) -> Result<OpsGauges, StoreError> {
        let rows = self
            .ops_fetch("SELECT state, COUNT(*) FROM jobs GROUP BY state", params![])
            .await?;
        let mut jobs: Vec<(JobState, u64)> = JobState::ALL.iter().map(|s| (*s, 0)).collect();
        for row in &rows {
            let state = row.parse(0, "a job state", JobState::parse)?;
            let n: u64 = row.int_as(1, "a count")?;
            if let Some(slot) = jobs.iter_mut().find(|(s, _)| *s == state) {
                slot.1 = n;
            }
        }
        let oldest_held_ms = match self
            .ops_fetch_opt(
                "SELECT MIN(updated_at) FROM jobs WHERE state = $1",
                params![JobState::Held.as_str()],
            )
            .await?
        {
            Some(row) => row.opt_int(0)?,
            None => None,
        };
        let database_bytes = match self {
            Store::Sqlite(s) => {
                let files = [s.path().to_owned(), s.ops_path().to_owned()];
                files
                    .iter()
                    .flat_map(|f| {
                        let wal = format!("{}-wal", f.display());
                        [f.clone(), wal.into()]
                    })
                    .filter_map(|f| std::fs::metadata(f).ok())
                    .map(|m| m.len())
                    .sum()
            }
            Store::Postgres(_) => {
                self.ops_count("SELECT pg_database_size(current_database())", params![])
                    .await?
            }
        };
        Ok(OpsGauges {
            jobs,
            oldest_held_ms,
            database_bytes,
        })
    }

    /// The connection pools of this process, now (no database round trip).
    pub fn pool_gauges(&self) -> Vec<PoolGauge> {
        match self {
            Store::Sqlite(s) => s.pool_gauges(),
            Store::Postgres(p) => {
                let pool = p.pool();
                let open = u64::from(pool.size());
                let idle = pool.num_idle() as u64;
                vec![PoolGauge {
                    name: "postgres",
                    idle,
                    busy: open.saturating_sub(idle),
                    max: u64::from(pool.options().get_max_connections()),
                }]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_connection_is_counted_until_it_is_dropped() {
        let count = BusyCount::default();
        let a = count.take();
        let b = count.take();
        assert_eq!(count.get(), 2);
        drop(a);
        assert_eq!(count.get(), 1);
        drop(b);
        assert_eq!(count.get(), 0);
    }
}
