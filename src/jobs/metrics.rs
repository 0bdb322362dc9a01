//! The job workers' Prometheus metrics: jobs started and finished, how long they ran, the rows
//! an import read, and when each worker last showed it was alive. Every label takes values
//! from a closed list (kinds, states, outcomes, entities, worker numbers), so the number of
//! series stays bounded whatever the uploads contain.
//!
//! `http::metrics` installs the recorder and shows these names at 0 from the start; the
//! dashboards and alerts under `deploy/` use them (`tests/it/metrics_coverage.rs`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{JobKind, JobState};
use crate::domain::Entity;
use crate::import::Outcome;

/// Jobs claimed, by `kind`.
pub const STARTED: &str = "jobs_started_total";
/// Jobs whose end was written, by `kind` and final `state`.
pub const FINISHED: &str = "jobs_finished_total";
/// From claim to end, by `kind` and `outcome` (an import's report status, else the state).
pub const DURATION_SECONDS: &str = "rosterhub_job_duration_seconds";
/// Data rows an import job read, by `entity` (counted while the files are read).
pub const IMPORT_ROWS: &str = "rosterhub_import_rows_total";
/// When a worker last looked for work or renewed its job's lease, by `worker` (`w0`, `w1`, …,
/// `maintenance`), in seconds since the epoch.
pub const HEARTBEAT: &str = "rosterhub_worker_heartbeat_timestamp_seconds";

/// The buckets of [`DURATION_SECONDS`]: imports take from a second to an hour.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
];

/// The `outcome` label of an import whose report has this status, or of a job without one.
pub fn outcome_label(kind: JobKind, state: JobState, report_status: Option<&str>) -> &'static str {
    match (kind, report_status.and_then(Outcome::parse)) {
        (JobKind::Import, Some(outcome)) => outcome.as_str(),
        _ => state.as_str(),
    }
}

/// The `entity` label of a bundle file (`users.csv` → `users`); `None` for another file (a
/// school's list read through a mapping is counted as the bundle files written from it).
pub fn entity_label(file: &str) -> Option<&'static str> {
    let name = file.rsplit('/').next().unwrap_or(file);
    Entity::ALL
        .into_iter()
        .find(|e| e.file_name() == name || e.name() == name)
        .map(Entity::name)
}

pub fn started(kind: JobKind) {
    metrics::counter!(STARTED, "kind" => kind.as_str()).increment(1);
}

/// A job's end was written after `elapsed` since its claim.
pub fn finished(kind: JobKind, state: JobState, outcome: &'static str, elapsed: Duration) {
    metrics::counter!(FINISHED, "kind" => kind.as_str(), "state" => state.as_str()).increment(1);
    metrics::histogram!(DURATION_SECONDS, "kind" => kind.as_str(), "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// `rows` more rows of `file` were read.
pub fn rows_read(file: &str, rows: u64) {
    if let Some(entity) = entity_label(file).filter(|_| rows > 0) {
        metrics::counter!(IMPORT_ROWS, "entity" => entity).increment(rows);
    }
}

/// Worker `worker` is alive now.
pub fn heartbeat(worker: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    metrics::gauge!(HEARTBEAT, "worker" => worker.to_owned()).set(now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_closed_lists() {
        assert_eq!(entity_label("users.csv"), Some("users"));
        assert_eq!(
            entity_label("bundle/academicSessions.csv"),
            Some("academicSessions")
        );
        assert_eq!(entity_label("demographics"), Some("demographics"));
        assert_eq!(entity_label("manifest.csv"), None);
        assert_eq!(entity_label("児童生徒名簿.csv"), None);
        let import = |status| outcome_label(JobKind::Import, JobState::Succeeded, status);
        assert_eq!(import(Some("dry_run")), "dry_run");
        assert_eq!(import(Some("made up")), "succeeded");
        assert_eq!(import(None), "succeeded");
        assert_eq!(
            outcome_label(JobKind::Export, JobState::Failed, Some("applied")),
            "failed"
        );
    }
}
