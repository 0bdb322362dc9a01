//! Imports and exports as jobs: a `jobs` table with leases and heartbeats, workers inside
//! `rosterhub serve`, files (uploads, exports) kept in the database so replicas share nothing
//! but it.
//!
//! A job moves `queued → running → succeeded | failed`, or `running → held → (approve) queued |
//! (discard) discarded`, or `queued → cancelled`. A worker owns a running job through its lease
//! (`lease_owner`, `lease_until`), renewed by heartbeats; a job whose lease expired (its replica
//! died) is claimed again by any worker. An import commits only while its worker holds the lease
//! (PostgreSQL checks it inside the import's transaction), and a run that committed before its
//! worker died is recognised by its `imports.job_id`, so a job is applied at most once.
//!
//! The `jobs` table, its row ([`Job`]) and its vocabulary are storage's
//! (`storage::ops::jobs`); files are `storage::ops::blobs` with [`blob`] cutting them into
//! chunks. Here: the workers, the runs, and the job as the admin API shows it.

pub mod blob;
pub mod metrics;
mod run;
pub mod scratch;
pub mod worker;

use serde_json::{Value as Json, json};

use crate::domain::datetime::format_ms;
pub use crate::storage::ops::jobs::{Job, JobKind, JobParams, JobState, report_brief};
pub use worker::{JobsHandle, spawn_workers};

impl Job {
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
                    "base_url" | "request_sha256" | "mapping_profile" => {}
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

/// How the job machinery behaves (flags of `rosterhub serve`).
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// Workers in this process (0: this replica only serves the API).
    pub workers: usize,
    /// How long a claimed job stays this worker's without a heartbeat.
    pub lease_ms: i64,
    /// How often an idle worker looks for queued jobs.
    pub poll_ms: u64,
    /// A job whose worker died this many times is failed instead of claimed again.
    pub max_attempts: i64,
    /// Uploaded and exported files are deleted this long after their job ended (reports stay).
    pub retention_ms: i64,
    /// Change logs are deleted this long after their import (`None`: kept forever).
    pub changelog_retention_ms: Option<i64>,
    /// The largest accepted upload.
    pub upload_limit_bytes: u64,
    /// This replica's name in `lease_owner` (host:pid:random).
    pub owner: String,
    /// Where uploads, imports and exports keep their temporary files (`--temp-dir`); `None`:
    /// the system's temporary directory (library use; `serve` always sets it).
    pub scratch: Option<std::sync::Arc<scratch::Scratch>>,
    /// E-mail notices of held and failed imports (`None`: SMTP not configured, none are sent).
    pub mail: Option<std::sync::Arc<crate::mail::MailConfig>>,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            workers: 2,
            lease_ms: 30_000,
            poll_ms: 500,
            max_attempts: 3,
            retention_ms: 7 * 24 * 3600 * 1000,
            changelog_retention_ms: Some(90 * 24 * 3600 * 1000),
            upload_limit_bytes: 2 << 30,
            owner: default_owner(),
            scratch: None,
            mail: None,
        }
    }
}

/// `host:pid:random`: unique per process, readable in the jobs table.
pub fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let rand: u32 = rand::random();
    format!("{host}:{}:{rand:08x}", std::process::id())
}
