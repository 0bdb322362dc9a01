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

pub mod blob;
mod run;
pub mod store;
pub mod worker;

use serde::{Deserialize, Serialize};

pub use store::Job;
pub use worker::{JobsHandle, spawn_workers};

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
    /// Export: `bulk` or `delta`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Export (delta): records changed after this time, epoch ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Export: the CSV profile (`jp-1.2.1`, `jp-k12`, `oneroster-1.2.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The base URL for links in webhook payloads (`--public-url`, else the request's Host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
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
    /// The largest accepted upload.
    pub upload_limit_bytes: u64,
    /// This replica's name in `lease_owner` (host:pid:random).
    pub owner: String,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            workers: 2,
            lease_ms: 30_000,
            poll_ms: 500,
            max_attempts: 3,
            retention_ms: 7 * 24 * 3600 * 1000,
            upload_limit_bytes: 2 << 30,
            owner: default_owner(),
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
