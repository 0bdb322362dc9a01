//! The workers of one `rosterhub serve` process: each claims a job, runs it while a heartbeat
//! renews its lease and publishes progress, and writes its end. A maintenance loop fails jobs
//! that killed their workers too often and deletes files and change logs past retention.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::JobsConfig;
use super::metrics;
use super::run::{self, SharedProgress};
use crate::domain::datetime::now_ms;
use crate::storage::{Store, StoreError};

/// What the API needs to reach the workers: the settings and a bell that wakes an idle worker
/// when a job is queued in this process (other replicas find it at their next poll).
#[derive(Clone)]
pub struct JobsHandle {
    pub config: Arc<JobsConfig>,
    pub wake: Arc<Notify>,
}

impl JobsHandle {
    pub fn new(config: JobsConfig) -> JobsHandle {
        JobsHandle {
            config: Arc::new(config),
            wake: Arc::new(Notify::new()),
        }
    }
}

impl Default for JobsHandle {
    fn default() -> Self {
        JobsHandle::new(JobsConfig::default())
    }
}

/// Starts `config.workers` workers and the maintenance loop.
pub fn spawn_workers(store: Store, handle: &JobsHandle) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for i in 0..handle.config.workers {
        let store = store.clone();
        let handle = handle.clone();
        let owner = format!("{}:w{i}", handle.config.owner);
        let worker = format!("w{i}");
        tasks.push(tokio::spawn(async move {
            work(store, handle, owner, worker).await
        }));
    }
    if handle.config.workers > 0 {
        let store = store.clone();
        let config = handle.config.clone();
        tasks.push(tokio::spawn(async move { maintain(store, config).await }));
    }
    tasks
}

/// Claims and runs jobs for ever; `worker` names it in the metrics (`w0`, `w1`, …).
async fn work(store: Store, handle: JobsHandle, owner: String, worker: String) {
    let config = handle.config.clone();
    loop {
        metrics::heartbeat(&worker);
        match store
            .claim_job(&owner, config.lease_ms, config.max_attempts)
            .await
        {
            Ok(Some(job)) => {
                tracing::info!(job = %job.id, kind = job.kind.as_str(), attempt = job.attempts, "job claimed");
                metrics::started(job.kind);
                run_one(&store, &config, &owner, &worker, job).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot claim a job"),
        }
        tokio::select! {
            _ = handle.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(config.poll_ms)) => {}
        }
    }
}

/// Runs a claimed job with its heartbeat, then records how it ended.
async fn run_one(store: &Store, config: &JobsConfig, owner: &str, worker: &str, job: super::Job) {
    let started = Instant::now();
    let progress = SharedProgress::default();
    let beat = {
        let (store, progress, id, owner, worker) = (
            store.clone(),
            progress.clone(),
            job.id.clone(),
            owner.to_owned(),
            worker.to_owned(),
        );
        // Renew well before expiry; progress is published at the same pace.
        let every = Duration::from_millis((config.lease_ms / 3).clamp(100, 1000) as u64);
        let lease_ms = config.lease_ms;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                // Alive while the job runs, whatever the database answers: a worker stuck
                // in a job shows through the job's lease, not through this gauge.
                metrics::heartbeat(&worker);
                match store
                    .heartbeat_job(&id, &owner, lease_ms, Some(&progress.snapshot()))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %id, "job lease lost to another worker");
                        return;
                    }
                    Err(e) => tracing::warn!(job = %id, error = %e, "job heartbeat failed"),
                }
            }
        })
    };
    // The job's span (exported with the `otel` feature); the import's phases are its children.
    let span = tracing::info_span!(
        "job",
        "otel.name" = %format_args!("job {}", job.kind.as_str()),
        job.id = %job.id,
        job.kind = job.kind.as_str(),
        job.attempt = job.attempts,
    );
    let result =
        tracing::Instrument::instrument(run::run(store, config, owner, &job, &progress), span)
            .await;
    beat.abort();
    let kind = job.kind.as_str();
    let outcome = match result {
        Ok(o) => o,
        Err(StoreError::LeaseLost) => {
            tracing::warn!(job = %job.id, "job taken over by another worker; this run was rolled back");
            return;
        }
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "job failed");
            run::RunResult::failed_plain(format!("the job failed: {e}"))
        }
    };
    let mut final_progress = progress.snapshot();
    final_progress["phase"] = "done".into();
    let mail = config.mail.as_deref();
    match run::finish(store, mail, &job, owner, &outcome, &final_progress).await {
        Ok(()) => {
            tracing::info!(job = %job.id, kind, state = outcome.state.as_str(), "job finished");
            let status = outcome.report.as_ref().and_then(|r| r["status"].as_str());
            let label = metrics::outcome_label(job.kind, outcome.state, status);
            metrics::finished(job.kind, outcome.state, label, started.elapsed());
        }
        Err(StoreError::Conflict(_)) => {
            tracing::warn!(job = %job.id, "job lease lost before its end was written");
            // An export's file is nobody's now.
            if let Some(b) = &outcome.result_blob {
                let _ = store.delete_blob(b).await;
            }
        }
        Err(e) => tracing::error!(job = %job.id, error = %e, "cannot record the job's end"),
    }
}

/// Every minute: give up on jobs that killed their workers too often, discard held imports
/// nobody decided on, delete files, webhook delivery logs and change logs past retention,
/// orphaned files.
async fn maintain(store: Store, config: Arc<JobsConfig>) {
    let every = Duration::from_millis(config.lease_ms.clamp(1000, 60_000) as u64);
    loop {
        metrics::heartbeat("maintenance");
        if let Err(e) = maintain_once(&store, &config).await {
            tracing::warn!(error = %e, "job maintenance failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// One maintenance pass (public for tests).
pub async fn maintain_once(store: &Store, config: &JobsConfig) -> Result<(), StoreError> {
    let failed = store.fail_exhausted_jobs(config.max_attempts).await?;
    if failed > 0 {
        tracing::warn!(failed, "jobs failed after repeated interruptions");
    }
    let cutoff = now_ms() - config.retention_ms;
    store.discard_stale_held_jobs(cutoff).await?;
    for files in store.expired_job_files(cutoff).await? {
        store.delete_job_files(&files).await?;
    }
    // The delivery logs of webhooks and e-mail notices are kept as long as the files.
    store.delete_finished_deliveries(cutoff).await?;
    store.delete_finished_mails(cutoff).await?;
    store.delete_old_pull_runs(cutoff).await?;
    let orphans_cutoff = now_ms() - config.retention_ms.min(24 * 3600 * 1000);
    for b in store.orphan_blobs(orphans_cutoff).await? {
        store.delete_blob(&b).await?;
    }
    if let Some(keep) = config.changelog_retention_ms {
        let pruned = store.prune_changelog(now_ms() - keep).await?;
        if pruned > 0 {
            tracing::info!(imports = pruned, "change logs past retention deleted");
        }
    }
    Ok(())
}
