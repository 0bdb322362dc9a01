//! The runs of scheduled pulls (`intake_pull_runs`, migration 0017): a run is claimed by
//! inserting its row, keyed by (tenant, pull, scheduled minute), so of several replicas that
//! find it due exactly one pulls; the row is finished with the outcome, and a run that fetched
//! a body keeps its validators (`ETag`, `Last-Modified`) and SHA-256 for the next request. The
//! schedule, the download and the queueing are `intake::pull`'s.

use super::Stmt;
use crate::domain::datetime::now_ms;
use crate::storage::value::params;
use crate::storage::{Store, StoreError};

/// The body a run fetched: what the next request sends back, and what an unchanged body is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PulledBody {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub sha256: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    /// The body was queued as this import job.
    Queued { job_id: String, body: PulledBody },
    /// Nothing new (HTTP 304, or the SHA-256 of the last body): no job.
    Unchanged { detail: String, body: PulledBody },
    /// The pull failed (HTTP error, timeout, too large, not a bundle), for this reason.
    Failed { reason: String },
}

/// A run as stored (for the admin's and the tests' reading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRun {
    pub pull: String,
    pub scheduled_at: i64,
    pub claimed_by: String,
    /// `queued`, `unchanged`, `failed`; `None` while under way.
    pub outcome: Option<String>,
    pub job_id: Option<String>,
    pub detail: Option<String>,
    pub sha256: Option<String>,
    pub finished_at: Option<i64>,
}

impl Store {
    /// Claims the run of `pull` for the minute `scheduled_at`: `false` (nothing written) when a
    /// replica claimed it already.
    pub async fn claim_pull_run(
        &self,
        tenant: &str,
        pull: &str,
        scheduled_at: i64,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let claim = Stmt::guard(
            "INSERT INTO intake_pull_runs (tenant_id, pull, scheduled_at, claimed_by, claimed_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, pull, scheduled_at) DO NOTHING",
            params![tenant, pull, scheduled_at, owner, now_ms()],
        );
        match self.ops_atomic(vec![claim]).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The scheduled minute of the pull's latest claimed run.
    pub async fn last_pull_run_at(
        &self,
        tenant: &str,
        pull: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = self
            .ops_fetch_opt(
                "SELECT MAX(scheduled_at) FROM intake_pull_runs \
                 WHERE tenant_id = $1 AND pull = $2",
                params![tenant, pull],
            )
            .await?;
        match row {
            Some(r) => r.opt_int(0),
            None => Ok(None),
        }
    }

    /// The body of the pull's latest run that fetched one (queued or unchanged).
    pub async fn last_pulled_body(
        &self,
        tenant: &str,
        pull: &str,
    ) -> Result<Option<PulledBody>, StoreError> {
        self.ops_fetch_opt_as(
            "SELECT etag, last_modified, sha256 FROM intake_pull_runs \
             WHERE tenant_id = $1 AND pull = $2 AND sha256 IS NOT NULL \
             ORDER BY scheduled_at DESC LIMIT 1",
            params![tenant, pull],
            |r| {
                Ok(PulledBody {
                    etag: r.opt_text(0)?,
                    last_modified: r.opt_text(1)?,
                    sha256: r.text(2)?,
                })
            },
        )
        .await
    }

    /// Records how the claimed run ended.
    pub async fn finish_pull_run(
        &self,
        tenant: &str,
        pull: &str,
        scheduled_at: i64,
        outcome: &PullOutcome,
    ) -> Result<(), StoreError> {
        let none = PulledBody::default();
        let (name, job_id, detail, body) = match outcome {
            PullOutcome::Queued { job_id, body } => ("queued", Some(job_id.as_str()), None, body),
            PullOutcome::Unchanged { detail, body } => {
                ("unchanged", None, Some(detail.as_str()), body)
            }
            PullOutcome::Failed { reason } => ("failed", None, Some(reason.as_str()), &none),
        };
        let sha = (!body.sha256.is_empty()).then_some(body.sha256.as_str());
        self.ops_exec(
            "UPDATE intake_pull_runs SET outcome = $1, job_id = $2, detail = $3, etag = $4, \
             last_modified = $5, sha256 = $6, finished_at = $7 \
             WHERE tenant_id = $8 AND pull = $9 AND scheduled_at = $10",
            params![
                name,
                job_id,
                detail,
                body.etag.as_deref(),
                body.last_modified.as_deref(),
                sha,
                now_ms(),
                tenant,
                pull,
                scheduled_at
            ],
        )
        .await
        .map(|_| ())
    }

    /// The tenant's runs, newest first (at most `limit`).
    pub async fn pull_runs(&self, tenant: &str, limit: u64) -> Result<Vec<PullRun>, StoreError> {
        self.ops_fetch_as(
            "SELECT pull, scheduled_at, claimed_by, outcome, job_id, detail, sha256, finished_at \
             FROM intake_pull_runs WHERE tenant_id = $1 \
             ORDER BY scheduled_at DESC, pull LIMIT $2",
            params![tenant, limit],
            |r| {
                Ok(PullRun {
                    pull: r.text(0)?,
                    scheduled_at: r.int(1)?,
                    claimed_by: r.text(2)?,
                    outcome: r.opt_text(3)?,
                    job_id: r.opt_text(4)?,
                    detail: r.opt_text(5)?,
                    sha256: r.opt_text(6)?,
                    finished_at: r.opt_int(7)?,
                })
            },
        )
        .await
    }

    /// Deletes runs claimed before `cutoff`, except each pull's latest run and its latest run
    /// with a body (what the next run compares with).
    pub async fn delete_old_pull_runs(&self, cutoff: i64) -> Result<u64, StoreError> {
        self.ops_exec(
            "DELETE FROM intake_pull_runs AS r WHERE r.claimed_at < $1 \
             AND EXISTS (SELECT 1 FROM intake_pull_runs n WHERE n.tenant_id = r.tenant_id \
                         AND n.pull = r.pull AND n.scheduled_at > r.scheduled_at) \
             AND (r.sha256 IS NULL \
                  OR EXISTS (SELECT 1 FROM intake_pull_runs b WHERE b.tenant_id = r.tenant_id \
                             AND b.pull = r.pull AND b.scheduled_at > r.scheduled_at \
                             AND b.sha256 IS NOT NULL))",
            params![cutoff],
        )
        .await
    }
}
