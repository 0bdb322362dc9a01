//! Whether the workers are alive, as the jobs table shows it: a running job's lease is renewed by
//! its worker's heartbeat every third of the lease, so a running job whose lease has passed
//! belongs to a worker that stopped; jobs queued for long with none running mean no worker
//! claims them. (An idle worker leaves no trace in the database: the `/metrics` of each replica
//! show its own.)

use crate::storage::value::params;
use crate::storage::{Store, StoreError};

/// A running job whose lease passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleJob {
    pub id: String,
    pub kind: String,
    pub lease_until: i64,
}

/// The jobs table's view of the workers at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobLiveness {
    pub running: u64,
    /// Running jobs whose lease passed before `now`, the longest passed first (at most 5).
    pub stale: Vec<StaleJob>,
    pub stale_count: u64,
    pub queued: u64,
    pub oldest_queued_at: Option<i64>,
    /// The newest time a job row was written (a clock check: no replica's clock was ahead).
    pub newest_update: Option<i64>,
}

impl Store {
    /// The running, stale and queued jobs as of `now` (epoch ms).
    pub async fn job_liveness(&self, now: i64) -> Result<JobLiveness, StoreError> {
        let running = self
            .ops_count("SELECT COUNT(*) FROM jobs WHERE state = 'running'", vec![])
            .await?;
        let stale_count = self
            .ops_count(
                "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_until < $1",
                params![now],
            )
            .await?;
        let stale = self
            .ops_fetch_as(
                "SELECT id, kind, lease_until FROM jobs WHERE state = 'running' \
                 AND lease_until < $1 ORDER BY lease_until, id LIMIT 5",
                params![now],
                |r| {
                    Ok(StaleJob {
                        id: r.text(0)?,
                        kind: r.text(1)?,
                        lease_until: r.int(2)?,
                    })
                },
            )
            .await?;
        let queued = self
            .ops_fetch_opt(
                "SELECT COUNT(*), MIN(created_at) FROM jobs WHERE state = 'queued'",
                vec![],
            )
            .await?;
        let (queued, oldest_queued_at) = match queued {
            Some(r) => (r.int_as(0, "a count")?, r.opt_int(1)?),
            None => (0, None),
        };
        let newest_update = match self
            .ops_fetch_opt("SELECT MAX(updated_at) FROM jobs", vec![])
            .await?
        {
            Some(r) => r.opt_int(0)?,
            None => None,
        };
        Ok(JobLiveness {
            running,
            stale,
            stale_count,
            queued,
            oldest_queued_at,
            newest_update,
        })
    }
}
