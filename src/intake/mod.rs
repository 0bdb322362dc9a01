//! Unattended intake: `serve --intake-dir DIR` watches `DIR/<tenant>/` for OneRoster ZIP
//! bundles and imports each one as a job, exactly as an HTTP upload would be.
//!
//! A file is read only once it is complete: a `<name>.done` marker beside it, or the same size
//! and modification time on two polls in a row (a copy in progress keeps changing both).
//! Replicas share the folder, so a file is claimed by renaming it into
//! `DIR/<tenant>/.claimed/<owner>-<uuid>-<name>`: `rename(2)` on one filesystem succeeds for
//! exactly one of them, and the others see it gone. When its job ends the file moves to
//! `processed/` (succeeded) or `failed/` (failed, cancelled, discarded, or not a bundle) with
//! `<name>.report.json` beside it. A held import stays claimed until it is approved or
//! discarded, like an upload. `<claimed>.job` holds the job id so a restarted replica resumes
//! the move. A refused file (not a bundle) raises the `intake.refused` webhook event and e-mail
//! notice; a bundle's job that fails or holds raises the job's own.
//!
//! In a blackout window (`--intake-blackout`, [`calendar`]) a dropped file is imported but held
//! for approval whatever its plan; with `--intake-rollover` the first one applied in a new 年度
//! runs in rollover mode (`import::rollover`).

pub mod calendar;
pub mod cron;
pub mod pull;
pub mod queue;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Value as Json, json};

pub use queue::Unattended;

use crate::audit::AuditLog;
use crate::jobs::{JobState, JobsHandle};
use crate::storage::Store;

/// The audit log's actor for everything intake does.
pub const ACTOR: &str = "intake";

/// How intake runs (flags of `rosterhub serve`).
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    pub dir: PathBuf,
    pub poll: Duration,
    /// This replica's name (the jobs' lease owner), part of claimed names for the record.
    pub owner: String,
    /// Days in which dropped files are held for approval.
    pub blackout: Vec<calendar::Window>,
    /// The graduating grades of the rollover a new 年度's first unattended import runs in;
    /// `None`: no rollover mode.
    pub rollover: Option<crate::import::rollover::Rollover>,
    /// The zone the windows and the 年度 are read in (`--time-zone`).
    pub zone: crate::http::ui::zone::Zone,
}

/// The poll loop, until the task is aborted.
pub fn spawn(
    store: Store,
    jobs: JobsHandle,
    audit: AuditLog,
    config: IntakeConfig,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut intake = Intake {
            u: Unattended { store, jobs, audit },
            config,
            seen: HashMap::new(),
        };
        loop {
            if let Err(e) = intake.poll_once().await {
                tracing::warn!(error = %e, "intake poll failed; retrying");
            }
            tokio::time::sleep(intake.config.poll).await;
        }
    })
}

struct Intake {
    u: Unattended,
    config: IntakeConfig,
    /// Size and modification time of each file at the last poll.
    seen: HashMap<PathBuf, (u64, SystemTime)>,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

impl Intake {
    async fn poll_once(&mut self) -> Result<(), Error> {
        for (tenant, _) in self.u.store.tenants().await? {
            let dir = self.config.dir.join(&tenant);
            if !dir.is_dir() {
                continue;
            }
            for sub in [".claimed", "processed", "failed"] {
                std::fs::create_dir_all(dir.join(sub))?;
            }
            self.finish_claimed(&tenant, &dir).await?;
            for name in self.ready_files(&dir)? {
                self.claim(&tenant, &dir, &name).await?;
            }
        }
        Ok(())
    }

    /// ZIP files that are complete.
    fn ready_files(&mut self, dir: &Path) -> Result<Vec<String>, Error> {
        let mut ready = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.to_ascii_lowercase().ends_with(".zip") {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let now = (meta.len(), meta.modified()?);
            let path = entry.path();
            let marker = dir.join(format!("{name}.done"));
            let stable = self.seen.insert(path.clone(), now) == Some(now);
            if marker.exists() || stable {
                self.seen.remove(&path);
                ready.push(name);
            }
        }
        Ok(ready)
    }

    async fn claim(&mut self, tenant: &str, dir: &Path, name: &str) -> Result<(), Error> {
        let owner: String = self
            .config
            .owner
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let claimed = dir
            .join(".claimed")
            .join(format!("{owner}-{}-{name}", uuid::Uuid::now_v7()));
        match std::fs::rename(dir.join(name), &claimed) {
            Ok(()) => {}
            // Another replica claimed it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let _ = std::fs::remove_file(dir.join(format!("{name}.done")));
        let c = &self.config;
        let rules = queue::Rules {
            blackout: &c.blackout,
            rollover: c.rollover.as_ref(),
            zone: &c.zone,
        };
        let arrival = queue::Arrival {
            tenant,
            path: &claimed,
            file_name: name,
            came: format!("{name} arrived in the drop folder"),
            audit_path: name,
            mapping: None,
        };
        match self.u.queue(arrival, rules).await? {
            queue::Queued::Job(id) => std::fs::write(job_file(&claimed), id)?,
            queue::Queued::Refused(error) => {
                let report = json!({
                    "state": "refused",
                    "file_name": name,
                    "error": error,
                });
                self.u
                    .record(tenant, "intake.refuse", name, 400, None)
                    .await;
                move_out(dir, &claimed, name, "failed", &report)?;
                // Once the file is in `failed/` (a crash before leaves it claimed, and it is
                // refused again).
                let data = json!({
                    "kind": "intake", "state": "refused", "file_name": name, "error": error,
                });
                let notice = queue::Notice::IntakeRefused {
                    tenant: tenant.to_owned(),
                    file_name: name.to_owned(),
                    error,
                };
                self.u.tell_refused(tenant, data, notice).await?;
            }
        }
        Ok(())
    }

    /// Claimed files whose job has ended move to `processed/` or `failed/`.
    async fn finish_claimed(&mut self, tenant: &str, dir: &Path) -> Result<(), Error> {
        for entry in std::fs::read_dir(dir.join(".claimed"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "job") {
                continue;
            }
            let Ok(job_id) = std::fs::read_to_string(job_file(&path)) else {
                continue;
            };
            let Some(job) = self.u.store.job(tenant, job_id.trim()).await? else {
                continue;
            };
            let dest = match job.state {
                JobState::Succeeded => "processed",
                JobState::Failed | JobState::Cancelled | JobState::Discarded => "failed",
                JobState::Queued | JobState::Running | JobState::Held => continue,
            };
            let claimed_name = path.file_name().unwrap_or_default().to_string_lossy();
            // `<owner>-<uuid>-<name>`: the uuid has four dashes of its own.
            let name = claimed_name
                .splitn(7, '-')
                .nth(6)
                .unwrap_or(&claimed_name)
                .to_owned();
            let mut report = job.summary_json();
            if let Some(r) = &job.report {
                report["report"] = r.clone();
            }
            let _ = std::fs::remove_file(job_file(&path));
            move_out(dir, &path, &name, dest, &report)?;
        }
        Ok(())
    }
}

fn job_file(claimed: &Path) -> PathBuf {
    let mut s = claimed.as_os_str().to_owned();
    s.push(".job");
    PathBuf::from(s)
}

/// Moves a claimed file to `dest/` under a name not yet taken, its report beside it.
fn move_out(
    dir: &Path,
    claimed: &Path,
    name: &str,
    dest: &str,
    report: &Json,
) -> Result<(), Error> {
    let folder = dir.join(dest);
    let mut target = folder.join(name);
    let mut n = 1;
    while target.exists() {
        target = folder.join(format!("{n}-{name}"));
        n += 1;
    }
    std::fs::rename(claimed, &target)?;
    let mut report_path = target.as_os_str().to_owned();
    report_path.push(".report.json");
    std::fs::write(report_path, serde_json::to_vec_pretty(report)?)?;
    Ok(())
}
