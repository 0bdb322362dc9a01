//! Scheduled pulls (`serve --intake-pulls FILE`): a bundle fetched from an HTTPS URL on a cron
//! schedule and imported exactly as a file dropped in the folder would be ([`super::queue`]).
//!
//! Every replica runs the loop; a run is claimed in the database per (tenant, pull, scheduled
//! minute), so one replica pulls it. Only the latest due run is taken: when every replica was
//! down over several scheduled times, the pull runs once when one comes back, not once per
//! missed time. A pull never run before is due from the loop's start, not from the past.
//!
//! A download sends the last body's `ETag` / `Last-Modified` back; a 304, or a body with the
//! SHA-256 of the last one, queues nothing (re-importing the same bytes would change nothing
//! when they were applied, and would hold or fail again when they were not). Each run's outcome
//! is a row of `intake_pull_runs`; a failed run raises `intake.refused` with its reason.

pub mod fetch;
pub mod file;

use std::time::Duration;

use serde_json::json;

use super::Error;
use super::queue::{Arrival, Mapped, Notice, Queued, Rules, Unattended};
use crate::storage::ops::pulls::PullOutcome;
pub use file::Pull;

/// How often the loop looks for due runs: well inside a minute, so no scheduled minute passes
/// unseen.
pub const TICK: Duration = Duration::from_secs(20);

/// The pulls and the rules their imports follow (flags of `rosterhub serve`).
#[derive(Debug, Clone)]
pub struct PullConfig {
    pub pulls: Vec<Pull>,
    /// This replica's name, recorded with each run it claims.
    pub owner: String,
    pub blackout: Vec<super::calendar::Window>,
    pub rollover: Option<crate::import::rollover::Rollover>,
    /// The zone schedules, windows and the 年度 are read in (`--time-zone`).
    pub zone: crate::http::ui::zone::Zone,
    /// Runs of a pull never run before are due from this time on (the loop's start).
    pub since: i64,
}

/// One run this replica made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub tenant: String,
    pub pull: String,
    pub scheduled_at: i64,
    pub outcome: PullOutcome,
}

/// The loop, every [`TICK`], until the task is aborted.
pub fn spawn(u: Unattended, config: PullConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(pulls = config.pulls.len(), "scheduled pulls on");
        // Said once: the loop skips such a pull quietly (the tenant may be created later).
        if let Ok(tenants) = u.store.tenants().await {
            for p in &config.pulls {
                if !tenants.iter().any(|(id, _)| *id == p.tenant) {
                    tracing::warn!(pull = %p.key, tenant = %p.tenant, "scheduled pull of an unknown tenant: skipped");
                }
            }
        }
        loop {
            if let Err(e) = run_due(&u, &config, crate::domain::datetime::now_ms()).await {
                tracing::warn!(error = %e, "scheduled pulls: a look for due runs failed");
            }
            tokio::time::sleep(TICK).await;
        }
    })
}

/// Runs every pull due at `now` that no replica has claimed yet, one after another; the runs
/// this call made.
pub async fn run_due(u: &Unattended, c: &PullConfig, now: i64) -> Result<Vec<Run>, Error> {
    let tenants: Vec<String> = u.store.tenants().await?.into_iter().map(|t| t.0).collect();
    let since_minute = c.since - c.since.rem_euclid(60_000);
    let mut runs = Vec::new();
    for pull in &c.pulls {
        if !tenants.contains(&pull.tenant) {
            continue;
        }
        let Some(due) = pull.schedule.latest_at_or_before(now, c.zone.offset_secs()) else {
            continue;
        };
        let last = u.store.last_pull_run_at(&pull.tenant, &pull.key).await?;
        if last.is_some_and(|l| due <= l) || (last.is_none() && due < since_minute) {
            continue;
        }
        if !u
            .store
            .claim_pull_run(&pull.tenant, &pull.key, due, &c.owner)
            .await?
        {
            continue;
        }
        let outcome = run(u, c, pull).await;
        u.store
            .finish_pull_run(&pull.tenant, &pull.key, due, &outcome)
            .await?;
        if let PullOutcome::Failed { reason } = &outcome {
            tell_failed(u, pull, reason).await?;
        }
        runs.push(Run {
            tenant: pull.tenant.clone(),
            pull: pull.key.clone(),
            scheduled_at: due,
            outcome,
        });
    }
    Ok(runs)
}

/// One claimed run: download, compare, queue.
async fn run(u: &Unattended, c: &PullConfig, pull: &Pull) -> PullOutcome {
    let failed = |reason: String| {
        tracing::warn!(pull = %pull.key, tenant = %pull.tenant, %reason, "scheduled pull failed");
        PullOutcome::Failed { reason }
    };
    let previous = match u.store.last_pulled_body(&pull.tenant, &pull.key).await {
        Ok(p) => p,
        Err(e) => return failed(format!("cannot read the last run: {e}")),
    };
    let mapping = match mapping(u, pull).await {
        Ok(m) => m,
        Err(reason) => return failed(reason),
    };
    let config = &u.jobs.config;
    let fetched = fetch::fetch(
        pull,
        previous.as_ref(),
        config.upload_limit_bytes,
        config.scratch.as_deref(),
    )
    .await;
    let (file, body) = match fetched {
        Err(reason) => return failed(reason),
        Ok(fetch::Fetched::NotModified) => {
            return PullOutcome::Unchanged {
                detail: "HTTP 304 Not Modified".into(),
                body: previous.unwrap_or_default(),
            };
        }
        Ok(fetch::Fetched::Body { file, body }) => (file, body),
    };
    if previous.is_some_and(|p| p.sha256 == body.sha256) {
        return PullOutcome::Unchanged {
            detail: "the same SHA-256 as the last pulled body".into(),
            body,
        };
    }
    let file_name = file_name(pull);
    let rules = Rules {
        blackout: &c.blackout,
        rollover: c.rollover.as_ref(),
        zone: &c.zone,
    };
    let audit_path = format!("pull:{}", pull.key);
    let arrival = Arrival {
        tenant: &pull.tenant,
        path: file.path(),
        file_name: &file_name,
        came: format!("{file_name} was pulled by the scheduled pull {}", pull.key),
        audit_path: &audit_path,
        mapping,
    };
    match u.queue(arrival, rules).await {
        Ok(Queued::Job(job_id)) => PullOutcome::Queued { job_id, body },
        Ok(Queued::Refused(reason)) => failed(reason),
        Err(e) => failed(format!("cannot queue the import: {e}")),
    }
}

/// The profile a pull's list is mapped with, as `POST /imports?mapping=` takes it.
async fn mapping(u: &Unattended, pull: &Pull) -> Result<Option<Mapped>, String> {
    let Some(name) = &pull.mapping else {
        return Ok(None);
    };
    let (version, text) = if name == crate::mapping::stored::AUTO {
        (None, None)
    } else {
        match u.store.mapping(&pull.tenant, name).await {
            Ok(Some(m)) => (Some(m.version), Some(m.body)),
            Ok(None) => {
                return Err(format!(
                    "tenant {:?} has no stored mapping profile {name:?} (mapping in the pulls \
                     file)",
                    pull.tenant
                ));
            }
            Err(e) => return Err(format!("cannot read the mapping profile: {e}")),
        }
    };
    Ok(Some(Mapped {
        name: name.clone(),
        version,
        text,
        school: pull.school.clone(),
        school_year: pull.school_year,
    }))
}

/// The job's file name: the URL's last segment, else the pull's key (`.zip`, or `.csv` for a
/// list).
fn file_name(pull: &Pull) -> String {
    let last = pull
        .url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    let ok = !last.is_empty()
        && last.len() <= 200
        && last
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok && last.contains('.') {
        last.to_owned()
    } else if pull.mapping.is_some() {
        format!("{}.csv", pull.key)
    } else {
        format!("{}.zip", pull.key)
    }
}

/// A failed run: an audit entry and the `intake.refused` webhook event and e-mail notice.
async fn tell_failed(u: &Unattended, pull: &Pull, reason: &str) -> Result<(), Error> {
    u.record(
        &pull.tenant,
        "intake.refuse",
        &format!("pull:{}", pull.key),
        400,
        None,
    )
    .await;
    let url = pull.url_shown();
    let data = json!({
        "kind": "intake", "state": "refused", "file_name": file_name(pull), "error": reason,
        "pull": pull.key, "url": url,
    });
    let notice = Notice::PullFailed {
        tenant: pull.tenant.clone(),
        pull: pull.key.clone(),
        url,
        error: reason.to_owned(),
    };
    u.tell_refused(&pull.tenant, data, notice).await
}
