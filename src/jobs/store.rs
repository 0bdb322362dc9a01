//! The `jobs` table: every statement the API and the workers run on it.

use serde_json::{Value as Json, json};

use super::{JobKind, JobParams, JobState};
use crate::domain::datetime::{format_ms, now_ms};
use crate::params;
use crate::storage::{BackendKind, Store, StoreError};
use crate::storage::{plain::Stmt, value::Row};

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

fn parse_json(text: Option<String>) -> Option<Json> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

impl Job {
    fn from_row(r: &Row) -> Job {
        Job {
            id: r.text(0),
            tenant: r.text(1),
            kind: JobKind::parse(&r.text(2)).unwrap_or(JobKind::Import),
            state: JobState::parse(&r.text(3)).unwrap_or(JobState::Failed),
            params: serde_json::from_str(&r.text(4)).unwrap_or_default(),
            idempotency_key: r.opt_text(5),
            upload_blob: r.opt_text(6),
            result_blob: r.opt_text(7),
            progress: parse_json(r.opt_text(8)),
            report: parse_json(r.opt_text(9)),
            error: r.opt_text(10),
            import_id: r.opt_text(11),
            attempts: r.int(12),
            lease_owner: r.opt_text(13),
            lease_until: r.opt_int(14),
            created_by: r.opt_text(15),
            created_at: r.int(16),
            started_at: r.opt_int(17),
            updated_at: r.int(18),
            finished_at: r.opt_int(19),
        }
    }

    /// The job as the admin API shows it (without the report's findings: see the handlers).
    pub fn summary_json(&self) -> Json {
        let mut v = json!({
            "id": self.id,
            "kind": self.kind.as_str(),
            "state": self.state.as_str(),
            "created_at": format_ms(self.created_at),
            "updated_at": format_ms(self.updated_at),
            "attempts": self.attempts,
        });
        let o = v.as_object_mut().expect("object");
        let params = serde_json::to_value(&self.params).unwrap_or(Json::Null);
        if let Json::Object(p) = params {
            for (k, val) in p {
                match k.as_str() {
                    "base_url" => {}
                    "since" => {
                        let text = val.as_i64().map(format_ms).unwrap_or_default();
                        o.insert(k, text.into());
                    }
                    _ => {
                        o.insert(k, val);
                    }
                }
            }
        }
        if let Some(t) = self.started_at {
            o.insert("started_at".into(), format_ms(t).into());
        }
        if let Some(t) = self.finished_at {
            o.insert("finished_at".into(), format_ms(t).into());
        }
        if let Some(p) = &self.progress {
            o.insert("progress".into(), p.clone());
        }
        if let Some(e) = &self.error {
            o.insert("error".into(), e.clone().into());
        }
        if let Some(k) = &self.idempotency_key {
            o.insert("idempotency_key".into(), k.clone().into());
        }
        v
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

/// Queues a job. With an idempotency key already used by the tenant, nothing is created and
/// the earlier job is returned with `false`.
pub async fn create(store: &Store, new: NewJob<'_>) -> Result<(Job, bool), StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let params = serde_json::to_string(new.params).unwrap_or_else(|_| "{}".into());
    let n = store
        .ops_exec(
            "INSERT INTO jobs (id, tenant_id, kind, state, params, idempotency_key, upload_blob, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $8) \
             ON CONFLICT DO NOTHING",
            params![
                id.as_str(),
                new.tenant,
                new.kind.as_str(),
                params,
                new.idempotency_key,
                new.upload_blob,
                new.created_by,
                now
            ],
        )
        .await?;
    if n == 1 {
        let job = get(store, new.tenant, &id).await?.expect("just inserted");
        return Ok((job, true));
    }
    let key = new.idempotency_key.unwrap_or_default();
    match by_idempotency_key(store, new.tenant, key).await? {
        Some(job) => Ok((job, false)),
        None => Err(StoreError::Conflict("INSERT INTO jobs".into())),
    }
}

/// The tenant's job with this idempotency key.
pub async fn by_idempotency_key(
    store: &Store,
    tenant: &str,
    key: &str,
) -> Result<Option<Job>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2");
    Ok(store
        .ops_fetch_opt(&sql, params![tenant, key])
        .await?
        .map(|r| Job::from_row(&r)))
}

/// The tenant's job `id` (another tenant's job does not exist for the caller).
pub async fn get(store: &Store, tenant: &str, id: &str) -> Result<Option<Job>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2");
    Ok(store
        .ops_fetch_opt(&sql, params![id, tenant])
        .await?
        .map(|r| Job::from_row(&r)))
}

/// A page of the tenant's jobs of a kind, newest first, and how many there are.
pub async fn list(
    store: &Store,
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
    let total = store
        .ops_fetch_opt(
            &format!("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND kind = $2{state_sql}"),
            p.clone(),
        )
        .await?
        .map_or(0, |r| r.int(0)) as u64;
    let n = p.len();
    p.push((limit as i64).into());
    p.push((offset as i64).into());
    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND kind = $2{state_sql} \
         ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let jobs = store.ops_fetch(&sql, p).await?;
    Ok((jobs.iter().map(Job::from_row).collect(), total))
}

/// Takes the oldest queued job, or a running one whose lease expired (fewer than
/// `max_attempts` times: see [`fail_exhausted`]), for `owner`.
pub async fn claim(
    store: &Store,
    owner: &str,
    lease_ms: i64,
    max_attempts: i64,
) -> Result<Option<Job>, StoreError> {
    let now = now_ms();
    let lock = match store.backend() {
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
    Ok(store
        .ops_fetch_opt(&sql, params![owner, now + lease_ms, now, max_attempts])
        .await?
        .map(|r| Job::from_row(&r)))
}

/// Fails running jobs whose lease expired after `max_attempts` claims: a bundle that kills
/// its worker every time must not take the replicas down one after another.
pub async fn fail_exhausted(store: &Store, max_attempts: i64) -> Result<u64, StoreError> {
    let now = now_ms();
    store
        .ops_exec(
            "UPDATE jobs SET state = 'failed', error = $1, lease_owner = NULL, lease_until = NULL, \
             finished_at = $2, updated_at = $2 \
             WHERE state = 'running' AND lease_until < $2 AND attempts >= $3",
            params![
                format!(
                    "the job was interrupted {max_attempts} times (its worker stopped); giving up"
                ),
                now,
                max_attempts
            ],
        )
        .await
}

/// Renews the lease and records progress; `false` when the lease is no longer this worker's.
pub async fn heartbeat(
    store: &Store,
    id: &str,
    owner: &str,
    lease_ms: i64,
    progress: Option<&Json>,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let progress = progress.map(|p| p.to_string());
    let n = store
        .ops_exec(
            "UPDATE jobs SET lease_until = $1, updated_at = $2, progress = COALESCE($3, progress) \
             WHERE id = $4 AND lease_owner = $5 AND state = 'running'",
            params![now + lease_ms, now, progress, id, owner],
        )
        .await?;
    Ok(n == 1)
}

/// How a run ended.
pub struct Finish<'a> {
    pub state: JobState,
    pub report: Option<&'a Json>,
    pub error: Option<&'a str>,
    pub import_id: Option<&'a str>,
    pub result_blob: Option<&'a str>,
    pub progress: Option<&'a Json>,
}

/// The guarded statement that ends a run (part of an atomic batch with its webhook events).
pub fn finish_stmt(id: &str, owner: &str, f: &Finish<'_>) -> Stmt {
    let now = now_ms();
    let finished = f.state.is_final().then_some(now);
    Stmt::guard(
        "UPDATE jobs SET state = $1, report = $2, error = $3, import_id = $4, \
         result_blob = COALESCE($5, result_blob), progress = COALESCE($6, progress), \
         lease_owner = NULL, lease_until = NULL, finished_at = $7, updated_at = $8 \
         WHERE id = $9 AND lease_owner = $10 AND state = 'running'",
        params![
            f.state.as_str(),
            f.report.map(|r| r.to_string()),
            f.error,
            f.import_id,
            f.result_blob,
            f.progress.map(|p| p.to_string()),
            finished,
            now,
            id,
            owner
        ],
    )
}

/// A state change made by a person: `from` → `to`, only if the job is in `from`.
pub fn transition_stmt(tenant: &str, id: &str, from: JobState, to: JobState) -> Stmt {
    let now = now_ms();
    Stmt::guard(
        "UPDATE jobs SET state = $1, updated_at = $2, finished_at = $3 \
         WHERE id = $4 AND tenant_id = $5 AND state = $6",
        params![
            to.as_str(),
            now,
            to.is_final().then_some(now),
            id,
            tenant,
            from.as_str()
        ],
    )
}

/// Approving a held import queues it again, forced past the threshold.
pub fn approve_stmt(tenant: &str, id: &str, params: &JobParams) -> Stmt {
    let mut p = params.clone();
    p.force = true;
    Stmt::guard(
        "UPDATE jobs SET state = 'queued', params = $1, progress = NULL, updated_at = $2 \
         WHERE id = $3 AND tenant_id = $4 AND state = 'held'",
        params![
            serde_json::to_string(&p).unwrap_or_default(),
            now_ms(),
            id,
            tenant
        ],
    )
}

/// Jobs whose files are past retention: (job id, upload blob, result blob).
pub async fn expired_files(
    store: &Store,
    cutoff: i64,
) -> Result<Vec<(String, Option<String>, Option<String>)>, StoreError> {
    let rows = store
        .ops_fetch(
            "SELECT id, upload_blob, result_blob FROM jobs \
             WHERE (upload_blob IS NOT NULL OR result_blob IS NOT NULL) \
             AND state IN ('succeeded', 'failed', 'cancelled', 'discarded') AND finished_at < $1 \
             LIMIT 100",
            params![cutoff],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.text(0), r.opt_text(1), r.opt_text(2)))
        .collect())
}

/// Held imports nobody decided on within the retention: discarded (their upload goes next).
pub async fn discard_stale_held(store: &Store, cutoff: i64) -> Result<u64, StoreError> {
    let now = now_ms();
    store
        .ops_exec(
            "UPDATE jobs SET state = 'discarded', error = 'held past the retention period; discarded', \
             finished_at = $1, updated_at = $1 WHERE state = 'held' AND updated_at < $2",
            params![now, cutoff],
        )
        .await
}
