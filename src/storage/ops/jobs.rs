//! The `jobs` table: the job vocabulary (kind, state, parameters), the row, and every statement
//! the API and the workers run on it — creation with an idempotency key, the claim, heartbeats,
//! guarded transitions (a state changes only from the state and lease the writer saw) and the
//! retention queries. The rules around them (when to claim, what a run's outcome means) are
//! the `jobs` feature's.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::deliveries::NewDelivery;
use super::mails::NewMail;
use super::{Stmt, blobs};
use crate::domain::datetime::now_ms;
use crate::storage::value::{Row, params};
use crate::storage::{BackendKind, Store, StoreError};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Import,
    Export,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Export => "export",
        }
    }
    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "import" => Some(JobKind::Import),
            "export" => Some(JobKind::Export),
            _ => None,
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Held,
    Succeeded,
    Failed,
    Cancelled,
    Discarded,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Running,
        JobState::Held,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Discarded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Held => "held",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Discarded => "discarded",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No worker will touch the job again (held waits for a person, so it is not final).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled | JobState::Discarded
        )
    }
}

/// What the job was asked to do (stored as JSON in `jobs.params`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobParams {
    /// Import: validate and plan only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Import: apply even past the safety threshold (set by approving a held import).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// Import: `utf-8` (default), `cp932` or `auto`, as the CLI's `--encoding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Import: the uploaded file's name, when the upload gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Import: the upload's size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Import: the upload is a school's list (CSV, or a ZIP of CSVs) mapped with this profile
    /// (`auto`: the built-in layouts; else a stored profile's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
    /// Import with a stored profile: its version when the upload was queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_version: Option<i64>,
    /// Import with a stored profile: its text at that version, so a retry or an approval maps
    /// exactly as the first run did, whatever was saved since (not shown on the API: the
    /// profile itself is `GET /mappings/{name}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_profile: Option<String>,
    /// Import with a mapping: the school, `CODE` or `CODE:NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school: Option<String>,
    /// Import with a mapping: the 年度.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_year: Option<i32>,
    /// Import: the April rollover with these graduating grades (`P6,J3,H3`), as `--rollover`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollover: Option<String>,
    /// Import: held for approval whatever its plan, for this reason (an unattended import in a
    /// blackout window); approving it applies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    /// Import: an undo of this import (its `import_id`), not a bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_of: Option<String>,
    /// Export: `bulk` or `delta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Export (delta): records changed after this time, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Export: the CSV profile (`jp-1.2.1`, `jp-k12`, `oneroster-1.2.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Export: the national model to meet (`eportal-4`, …), overriding `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The base URL for links in webhook payloads (`--public-url`, else the request's Host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// SHA-256 (hex) of what the request asked for — the uploaded bytes, the export request —
    /// so that an idempotency key sent again with something else is refused, not replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<String>,
}

impl JobParams {
    /// The stored form (a struct of strings, numbers and booleans always serialises).
    fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// One row of `jobs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub tenant: String,
    pub kind: JobKind,
    pub state: JobState,
    pub params: JobParams,
    pub idempotency_key: Option<String>,
    pub upload_blob: Option<String>,
    pub result_blob: Option<String>,
    /// `{"phase", "file", "rows"}` while running.
    pub progress: Option<Json>,
    /// The final report (imports: the CLI's JSON report; exports: the files written).
    pub report: Option<Json>,
    pub error: Option<String>,
    /// The `imports` row of the run that finished the job.
    pub import_id: Option<String>,
    pub attempts: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, kind, state, params, idempotency_key, upload_blob, \
    result_blob, progress, report, error, import_id, attempts, lease_owner, lease_until, \
    created_by, created_at, started_at, updated_at, finished_at";

/// [`COLUMNS`] with the report's brief in place of the report: what lists select.
const LIST_COLUMNS: &str = "id, tenant_id, kind, state, params, idempotency_key, upload_blob, \
    result_blob, progress, COALESCE(brief, report), error, import_id, attempts, lease_owner, \
    lease_until, created_by, created_at, started_at, updated_at, finished_at";

/// The keys of a report a list of jobs shows.
pub const BRIEF_KEYS: [&str; 7] = [
    "status",
    "error_count",
    "warning_count",
    "entities",
    "files",
    "mode",
    "profile",
];

/// A report's brief (its [`BRIEF_KEYS`]): stored beside the report, so that a list reads a few
/// hundred bytes per job rather than findings that may run to megabytes.
pub fn report_brief(report: &Json) -> Json {
    let mut brief = serde_json::Map::new();
    for key in BRIEF_KEYS {
        if let Some(x) = report.get(key) {
            brief.insert(key.into(), x.clone());
        }
    }
    brief.into()
}

impl Job {
    /// A row selected as [`COLUMNS`].
    fn from_row(r: &Row) -> Result<Job, StoreError> {
        Ok(Job {
            id: r.text(0)?,
            tenant: r.text(1)?,
            kind: r.parse(2, "a job kind", JobKind::parse)?,
            state: r.parse(3, "a job state", JobState::parse)?,
            params: r.json(4, "job parameters (JSON)")?,
            idempotency_key: r.opt_text(5)?,
            upload_blob: r.opt_text(6)?,
            result_blob: r.opt_text(7)?,
            progress: r.opt_json(8, "progress (JSON)")?,
            report: r.opt_json(9, "a report (JSON)")?,
            error: r.opt_text(10)?,
            import_id: r.opt_text(11)?,
            attempts: r.int(12)?,
            lease_owner: r.opt_text(13)?,
            lease_until: r.opt_int(14)?,
            created_by: r.opt_text(15)?,
            created_at: r.int(16)?,
            started_at: r.opt_int(17)?,
            updated_at: r.int(18)?,
            finished_at: r.opt_int(19)?,
        })
    }
}

/// A new job as the API creates it.
pub struct NewJob<'a> {
    pub tenant: &'a str,
    pub kind: JobKind,
    pub params: &'a JobParams,
    pub idempotency_key: Option<&'a str>,
    pub upload_blob: Option<&'a str>,
    pub created_by: &'a str,
}

/// How a run ended.
pub struct JobEnd<'a> {
    pub state: JobState,
    pub report: Option<&'a Json>,
    pub error: Option<&'a str>,
    pub import_id: Option<&'a str>,
    pub result_blob: Option<&'a str>,
    pub progress: Option<&'a Json>,
}

/// A job whose files are past retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredFiles {
    pub job_id: String,
    pub upload_blob: Option<String>,
    pub result_blob: Option<String>,
}

impl Store {
    /// Queues a job. With an idempotency key already used by the tenant, nothing is created
    /// and the earlier job is returned with `false`.
    pub async fn create_job(&self, new: NewJob<'_>) -> Result<(Job, bool), StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        // RETURNING, not a read after the insert: a worker polling meanwhile may already have
        // claimed the job, and the caller answers with the job as it was created (`queued`).
        let sql = format!(
            "INSERT INTO jobs (id, tenant_id, kind, state, params, idempotency_key, \
             upload_blob, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING \
             RETURNING {COLUMNS}"
        );
        let p = params![
            id.as_str(),
            new.tenant,
            new.kind.as_str(),
            new.params.to_stored(),
            new.idempotency_key,
            new.upload_blob,
            new.created_by,
            now_ms()
        ];
        if let Some(job) = self.ops_fetch_opt_as(&sql, p, Job::from_row).await? {
            return Ok((job, true));
        }
        let key = new.idempotency_key.unwrap_or_default();
        match self.job_by_idempotency_key(new.tenant, key).await? {
            Some(job) => Ok((job, false)),
            None => Err(StoreError::Conflict("INSERT INTO jobs".into())),
        }
    }

    /// A job that ran outside the queue (`rosterhub import` on the command line), recorded as
    /// ended with its report so that the tenant's history (`GET /api/v1/imports`) shows it
    /// beside the uploads. It holds no file: nothing can be approved or downloaded from it.
    pub async fn record_ended_job(
        &self,
        new: NewJob<'_>,
        end: &JobEnd<'_>,
        started_at: i64,
    ) -> Result<String, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        self.ops_exec(
            "INSERT INTO jobs (id, tenant_id, kind, state, params, created_by, report, error, \
             import_id, attempts, created_at, started_at, updated_at, finished_at, brief) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10, $11, $11, $12)",
            params![
                id.as_str(),
                new.tenant,
                new.kind.as_str(),
                end.state.as_str(),
                new.params.to_stored(),
                new.created_by,
                end.report.map(|r| r.to_string()),
                end.error,
                end.import_id,
                started_at,
                now_ms(),
                end.report.map(|r| report_brief(r).to_string())
            ],
        )
        .await?;
        Ok(id)
    }

    /// The tenant's job with this idempotency key.
    pub async fn job_by_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<Job>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2");
        self.ops_fetch_opt_as(&sql, params![tenant, key], Job::from_row)
            .await
    }

    /// The tenant's job `id` (another tenant's job does not exist for the caller).
    pub async fn job(&self, tenant: &str, id: &str) -> Result<Option<Job>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2");
        self.ops_fetch_opt_as(&sql, params![id, tenant], Job::from_row)
            .await
    }

    /// A page of the tenant's jobs of a kind, newest first, and how many there are. Each
    /// job's `report` is only its brief ([`report_brief`]).
    pub async fn list_jobs(
        &self,
        tenant: &str,
        kind: JobKind,
        state: Option<JobState>,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<Job>, u64), StoreError> {
        let state_sql = if state.is_some() {
            " AND state = $3"
        } else {
            ""
        };
        let mut p = params![tenant, kind.as_str()];
        if let Some(s) = state {
            p.push(s.as_str().into());
        }
        let total = self
            .ops_count(
                &format!("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND kind = $2{state_sql}"),
                p.clone(),
            )
            .await?;
        let n = p.len();
        p.push(limit.into());
        p.push(offset.into());
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM jobs WHERE tenant_id = $1 AND kind = $2{state_sql} \
             ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        Ok((self.ops_fetch_as(&sql, p, Job::from_row).await?, total))
    }

    /// Takes the oldest queued job, or a running one whose lease expired (fewer than
    /// `max_attempts` times: see [`Store::fail_exhausted_jobs`]), for `owner`.
    pub async fn claim_job(
        &self,
        owner: &str,
        lease_ms: i64,
        max_attempts: i64,
    ) -> Result<Option<Job>, StoreError> {
        let now = now_ms();
        let lock = match self.backend() {
            // Replicas skip each other's candidates instead of waiting on them.
            BackendKind::Postgres => " FOR UPDATE SKIP LOCKED",
            // One writer at a time: the UPDATE is atomic by itself.
            BackendKind::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' \
             OR (state = 'running' AND lease_until < $3 AND attempts < $4) \
             ORDER BY created_at, id LIMIT 1{lock}) RETURNING {COLUMNS}"
        );
        let p = params![owner, now + lease_ms, now, max_attempts];
        self.ops_fetch_opt_as(&sql, p, Job::from_row).await
    }

    /// Fails running jobs whose lease expired after `max_attempts` claims: a bundle that kills
    /// its worker every time must not take the replicas down one after another.
    pub async fn fail_exhausted_jobs(&self, max_attempts: i64) -> Result<u64, StoreError> {
        let now = now_ms();
        let error =
            format!("the job was interrupted {max_attempts} times (its worker stopped); giving up");
        self.ops_exec(
            "UPDATE jobs SET state = 'failed', error = $1, lease_owner = NULL, lease_until = NULL, \
             finished_at = $2, updated_at = $2 \
             WHERE state = 'running' AND lease_until < $2 AND attempts >= $3",
            params![error, now, max_attempts],
        )
        .await
    }

    /// Renews the lease and records progress; `false` when the lease is no longer `owner`'s.
    pub async fn heartbeat_job(
        &self,
        id: &str,
        owner: &str,
        lease_ms: i64,
        progress: Option<&Json>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let progress = progress.map(|p| p.to_string());
        let n = self
            .ops_exec(
                "UPDATE jobs SET lease_until = $1, updated_at = $2, \
                 progress = COALESCE($3, progress) \
                 WHERE id = $4 AND lease_owner = $5 AND state = 'running'",
                params![now + lease_ms, now, progress, id, owner],
            )
            .await?;
        Ok(n == 1)
    }

    /// Writes a run's end, its webhook deliveries and its e-mail notices in one transaction (the
    /// outbox), only while `owner` still holds the job: otherwise nothing is written and the answer is
    /// [`StoreError::Conflict`] — whoever holds the lease now finishes the job.
    pub async fn finish_job(
        &self,
        id: &str,
        owner: &str,
        end: &JobEnd<'_>,
        deliveries: &[NewDelivery],
        mails: &[NewMail],
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let finished = end.state.is_final().then_some(now);
        let mut stmts = vec![Stmt::guard(
            "UPDATE jobs SET state = $1, report = $2, error = $3, import_id = $4, \
             result_blob = COALESCE($5, result_blob), progress = COALESCE($6, progress), \
             lease_owner = NULL, lease_until = NULL, finished_at = $7, updated_at = $8, \
             brief = $11 WHERE id = $9 AND lease_owner = $10 AND state = 'running'",
            params![
                end.state.as_str(),
                end.report.map(|r| r.to_string()),
                end.error,
                end.import_id,
                end.result_blob,
                end.progress.map(|p| p.to_string()),
                finished,
                now,
                id,
                owner,
                end.report.map(|r| report_brief(r).to_string())
            ],
        )];
        stmts.extend(deliveries.iter().map(super::deliveries::enqueue_stmt));
        stmts.extend(mails.iter().map(super::mails::enqueue_stmt));
        self.ops_atomic(stmts).await.map(|_| ())
    }

    /// Approving a held import queues it again, forced past the threshold (`params` with
    /// `force` set). [`StoreError::Conflict`] when the job is no longer held.
    pub async fn approve_held_job(
        &self,
        tenant: &str,
        id: &str,
        params: &JobParams,
    ) -> Result<(), StoreError> {
        let forced = JobParams {
            force: true,
            ..params.clone()
        };
        let approve = Stmt::guard(
            "UPDATE jobs SET state = 'queued', params = $1, progress = NULL, updated_at = $2 \
             WHERE id = $3 AND tenant_id = $4 AND state = 'held'",
            params![forced.to_stored(), now_ms(), id, tenant],
        );
        self.ops_atomic(vec![approve]).await.map(|_| ())
    }

    /// A state change made by a person on a job that waits (held → discarded, queued →
    /// cancelled): `job.state` → `to`, only if the job is still in `job.state`, and in the same
    /// transaction its upload is deleted — it will never run. [`StoreError::Conflict`] when the
    /// job changed meanwhile (nothing is written then).
    pub async fn end_waiting_job(&self, job: &Job, to: JobState) -> Result<(), StoreError> {
        let now = now_ms();
        let mut stmts = vec![Stmt::guard(
            "UPDATE jobs SET state = $1, updated_at = $2, finished_at = $3, upload_blob = NULL \
             WHERE id = $4 AND tenant_id = $5 AND state = $6",
            params![
                to.as_str(),
                now,
                to.is_final().then_some(now),
                job.id.as_str(),
                job.tenant.as_str(),
                job.state.as_str()
            ],
        )];
        if let Some(b) = &job.upload_blob {
            stmts.extend(blobs::delete_stmts(b));
        }
        self.ops_atomic(stmts).await.map(|_| ())
    }

    /// Jobs whose files are past retention (at most 100 per call).
    pub async fn expired_job_files(&self, cutoff: i64) -> Result<Vec<ExpiredFiles>, StoreError> {
        self.ops_fetch_as(
            "SELECT id, upload_blob, result_blob FROM jobs \
             WHERE (upload_blob IS NOT NULL OR result_blob IS NOT NULL) \
             AND state IN ('succeeded', 'failed', 'cancelled', 'discarded') AND finished_at < $1 \
             LIMIT 100",
            params![cutoff],
            |r| {
                Ok(ExpiredFiles {
                    job_id: r.text(0)?,
                    upload_blob: r.opt_text(1)?,
                    result_blob: r.opt_text(2)?,
                })
            },
        )
        .await
    }

    /// Deletes a job's expired files and forgets them on the job, in one transaction (the
    /// job's report stays).
    pub async fn delete_job_files(&self, files: &ExpiredFiles) -> Result<(), StoreError> {
        let mut stmts: Vec<Stmt> = files
            .upload_blob
            .iter()
            .chain(files.result_blob.iter())
            .flat_map(|b| blobs::delete_stmts(b))
            .collect();
        stmts.push(Stmt::new(
            "UPDATE jobs SET upload_blob = NULL, result_blob = NULL WHERE id = $1",
            params![files.job_id.as_str()],
        ));
        self.ops_atomic(stmts).await.map(|_| ())
    }

    /// Held imports nobody decided on within the retention: discarded (their upload goes next).
    pub async fn discard_stale_held_jobs(&self, cutoff: i64) -> Result<u64, StoreError> {
        let now = now_ms();
        self.ops_exec(
            "UPDATE jobs SET state = 'discarded', \
             error = 'held past the retention period; discarded', \
             finished_at = $1, updated_at = $1 WHERE state = 'held' AND updated_at < $2",
            params![now, cutoff],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with a queued import whose upload is a stored file; the job.
    async fn queued_with_upload(store: &Store) -> Job {
        store.ensure_tenant("t1", "T1").await.unwrap();
        let blob = store.create_blob("t1").await.unwrap();
        store.add_blob_chunk(&blob, 0, vec![1, 2, 3]).await.unwrap();
        store.complete_blob(&blob, 3, "x").await.unwrap();
        let params = JobParams::default();
        let new = NewJob {
            tenant: "t1",
            kind: JobKind::Import,
            params: &params,
            idempotency_key: None,
            upload_blob: Some(&blob),
            created_by: "test",
        };
        store.create_job(new).await.unwrap().0
    }

    #[tokio::test]
    async fn ending_a_waiting_job_deletes_its_upload_in_the_same_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("j.db").display());
        let store = Store::open(&url).await.unwrap();
        let job = queued_with_upload(&store).await;
        let blob = job.upload_blob.clone().unwrap();

        // Seen as held, but it is queued: the guard fails and nothing is written.
        let stale = Job {
            state: JobState::Held,
            ..job.clone()
        };
        let err = store
            .end_waiting_job(&stale, JobState::Discarded)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert_eq!(store.job("t1", &job.id).await.unwrap().unwrap(), job);
        assert_eq!(store.blob_size(&blob).await.unwrap(), Some(3));

        store
            .end_waiting_job(&job, JobState::Cancelled)
            .await
            .unwrap();
        let ended = store.job("t1", &job.id).await.unwrap().unwrap();
        assert_eq!(ended.state, JobState::Cancelled);
        assert_eq!(ended.upload_blob, None);
        assert!(ended.finished_at.is_some());
        assert_eq!(store.blob_size(&blob).await.unwrap(), None);
        assert_eq!(store.blob_chunk(&blob, 0).await.unwrap(), None);
    }
}
