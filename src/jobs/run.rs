//! Running one claimed job: an import from its stored upload, or an export into a stored file;
//! then its final state, webhook events and e-mail notices in one transaction (the outbox).

use std::sync::{Arc, Mutex};

use serde_json::{Value as Json, json};

use super::{Job, JobKind, JobState, blob, scratch};
use crate::csv::decode::EncodingChoice;
use crate::export::{ExportOptions, ExportProfile};
use crate::import::rows::RowProgress;
use crate::import::{self, Channel, ImportOptions, Outcome, Progress};
use crate::mail::outbox::JobEvent;
use crate::storage::ops::jobs::JobEnd;
use crate::storage::{JobRef, Store, StoreError};

/// Progress shared between the import thread and the heartbeat.
#[derive(Clone, Default)]
pub struct SharedProgress(Arc<Mutex<ProgressState>>);

#[derive(Default)]
struct ProgressState {
    phase: String,
    file: String,
    /// Rows of the files finished so far.
    done: u64,
    /// Rows of the file being read.
    current: u64,
}

impl SharedProgress {
    pub fn snapshot(&self) -> Json {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = json!({"phase": s.phase, "rows": s.done + s.current});
        if !s.file.is_empty() {
            v["file"] = s.file.clone().into();
        }
        v
    }
    /// An export's rows written: progress like an import's rows read, but not import rows.
    fn exported(&self, rows: u64) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.done += s.current;
        s.file.clear();
        s.current = rows;
    }

    pub fn set_phase(&self, phase: &str) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.phase = phase.to_owned();
        if phase != "validate" {
            s.done += s.current;
            s.current = 0;
            s.file.clear();
        }
    }
}

impl RowProgress for SharedProgress {
    fn rows(&self, file: &str, rows: u64, _bytes: u64) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if s.file != file {
            s.done += s.current;
            s.file = file.to_owned();
            s.current = 0;
        }
        // Counted as they are read, so that rows per second shows while an import runs.
        super::metrics::rows_read(file, rows.saturating_sub(s.current));
        s.current = rows;
    }
}

impl Progress for SharedProgress {
    fn phase(&self, phase: &str) {
        self.set_phase(phase);
    }
}

/// How a run ended, before it is written.
pub struct RunResult {
    pub state: JobState,
    pub report: Option<Json>,
    pub error: Option<String>,
    pub import_id: Option<String>,
    pub result_blob: Option<String>,
    /// The webhook event and its `data`.
    pub event: Option<(&'static str, Json)>,
}

impl RunResult {
    /// A failure with no webhook event of its own kind (storage errors).
    pub fn failed_plain(error: String) -> RunResult {
        RunResult::failed(error, None, Json::Null)
    }

    fn failed(error: String, event: Option<&'static str>, data: Json) -> RunResult {
        RunResult {
            state: JobState::Failed,
            report: None,
            error: Some(error),
            import_id: None,
            result_blob: None,
            event: event.map(|e| (e, data)),
        }
    }
}

/// Runs `job` for `owner`; `Err(LeaseLost)` when another worker took it over meanwhile.
pub async fn run(
    store: &Store,
    config: &super::JobsConfig,
    owner: &str,
    job: &Job,
    progress: &SharedProgress,
) -> Result<RunResult, StoreError> {
    let scratch = config.scratch.as_deref();
    match job.kind {
        JobKind::Import => run_import(store, scratch, owner, job, progress).await,
        JobKind::Export => run_export(store, scratch, job, progress).await,
    }
}

fn links(job: &Job) -> Json {
    let base = job.params.base_url.clone().unwrap_or_default();
    let kind = match job.kind {
        JobKind::Import => "imports",
        JobKind::Export => "exports",
    };
    let this = format!("{base}{}/{kind}/{}", crate::web::ADMIN_BASE_PATH, job.id);
    match job.kind {
        JobKind::Import => json!({"self": this, "findings": format!("{this}/findings.csv")}),
        JobKind::Export => json!({"self": this, "download": format!("{this}/download")}),
    }
}

/// The `data` of an import webhook event.
fn import_event_data(
    job: &Job,
    state: JobState,
    report: Option<&Json>,
    error: Option<&str>,
) -> Json {
    let mut data = json!({
        "id": job.id,
        "kind": "import",
        "state": state.as_str(),
        "dry_run": job.params.dry_run,
        "links": links(job),
    });
    if let Some(r) = report {
        for key in [
            "status",
            "import_id",
            "profile",
            "entities",
            "error_count",
            "warning_count",
        ] {
            if let Some(v) = r.get(key) {
                data[key] = v.clone();
            }
        }
    }
    if let Some(e) = error {
        data["error"] = e.into();
    }
    data
}

/// The job's state and event for a finished import report.
fn import_outcome(job: &Job, import_id: String, report: Json) -> RunResult {
    let status = report.get("status").and_then(Json::as_str).unwrap_or("");
    let (state, event) = match Outcome::parse(status) {
        Some(Outcome::Applied | Outcome::DryRun) => (JobState::Succeeded, "import.completed"),
        Some(Outcome::Held) => (JobState::Held, "import.held"),
        _ => (JobState::Failed, "import.failed"),
    };
    let error = (state == JobState::Failed).then(|| {
        format!(
            "the bundle was rejected with {} error(s); see the findings",
            report
                .get("error_count")
                .and_then(Json::as_u64)
                .unwrap_or(0)
        )
    });
    let data = import_event_data(job, state, Some(&report), error.as_deref());
    RunResult {
        state,
        report: Some(report),
        error,
        import_id: Some(import_id),
        result_blob: None,
        event: Some((event, data)),
    }
}

async fn run_import(
    store: &Store,
    scratch: Option<&scratch::Scratch>,
    owner: &str,
    job: &Job,
    progress: &SharedProgress,
) -> Result<RunResult, StoreError> {
    // A run of this job that committed before its worker stopped is the job's result.
    if let Some((import_id, status, report)) = store.import_for_job(&job.id).await? {
        // A held run does not count once the job was approved (forced runs never hold).
        if !(status == "held" && job.params.force) {
            let report = serde_json::from_str(&report).unwrap_or(Json::Null);
            return Ok(import_outcome(job, import_id, report));
        }
    }
    let Some(upload) = job.upload_blob.clone() else {
        let error =
            "the uploaded bundle is no longer stored (retention); upload it again".to_owned();
        let data = import_event_data(job, JobState::Failed, None, Some(&error));
        return Ok(RunResult::failed(error, Some("import.failed"), data));
    };
    progress.set_phase("download");
    let tmp = scratch::temp_file(scratch, "rosterhub-import-", ".zip")?;
    blob::copy_to_file(store, &upload, tmp.path()).await?;
    let encoding = job
        .params
        .encoding
        .as_deref()
        .and_then(EncodingChoice::parse)
        .unwrap_or_default();
    let target = crate::import::tenant_default(store, &job.tenant).await?;
    let opts = ImportOptions {
        tenant: job.tenant.clone(),
        target,
        dry_run: job.params.dry_run,
        force: job.params.force,
        encoding,
        job: Some(JobRef {
            job_id: job.id.clone(),
            owner: owner.to_owned(),
        }),
        // Findings tell an uploader about query parameters and approval, not CLI flags.
        channel: Channel::Http,
        // Checked when the job was created; a stored value that no longer parses is ignored.
        rollover: job
            .params
            .rollover
            .as_deref()
            .and_then(|g| crate::import::rollover::Rollover::parse(g).ok()),
        hold: job.params.hold.clone(),
        actor: job.created_by.clone(),
        ..ImportOptions::default()
    };
    let store2 = store.clone();
    let progress2 = progress.clone();
    let path = tmp.path().to_owned();
    let mapping = job.params.mapping.as_deref().map(|name| {
        (
            crate::mapping::stored::job_profile(name, job.params.mapping_profile.as_deref()),
            job.params.school.clone(),
            job.params.school_year,
            job.params.file_name.clone(),
        )
    });
    // The blocking thread runs the import inside the job's span (its phases' parent).
    let span = tracing::Span::current();
    let result = tokio::task::spawn_blocking(move || {
        let _job = span.enter();
        match mapping {
            None => import::import(&store2, &path, &opts, &progress2),
            Some((Err(message), ..)) => Ok(crate::mapping::run::unreadable(message)),
            Some((Ok(profile), school, year, name)) => crate::mapping::run::import_upload(
                &store2, &profile, &path, name, school, year, &opts, &progress2,
            ),
        }
    })
    .await
    .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
    drop(tmp);
    match result {
        Ok(report) => {
            let import_id = report.import_id.clone().unwrap_or_default();
            let report = serde_json::to_value(&report).unwrap_or(Json::Null);
            Ok(import_outcome(job, import_id, report))
        }
        Err(import::ImportError::Store(StoreError::LeaseLost)) => Err(StoreError::LeaseLost),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "import job failed");
            let error = format!("the import failed and was rolled back: {e}");
            let data = import_event_data(job, JobState::Failed, None, Some(&error));
            Ok(RunResult::failed(error, Some("import.failed"), data))
        }
    }
}

async fn run_export(
    store: &Store,
    scratch: Option<&scratch::Scratch>,
    job: &Job,
    progress: &SharedProgress,
) -> Result<RunResult, StoreError> {
    progress.set_phase("export");
    let profile = job
        .params
        .profile
        .as_deref()
        .and_then(ExportProfile::parse)
        .unwrap_or(ExportProfile::Jp121);
    let opts = ExportOptions {
        tenant: job.tenant.clone(),
        since: job.params.since,
        profile,
        target: job
            .params
            .target
            .as_deref()
            .and_then(crate::csv::target::Target::parse),
    };
    let tmp = scratch::temp_file(scratch, "rosterhub-export-", ".zip")?;
    let file = tmp.reopen()?;
    let summary = match crate::export::export_zip(store, std::io::BufWriter::new(file), &opts).await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "export job failed");
            return Ok(RunResult::failed(
                format!("the export failed: {e:#}"),
                None,
                Json::Null,
            ));
        }
    };
    // The rows written count as progress like an import's rows read.
    let rows = summary
        .files
        .iter()
        .filter(|(name, _)| name != "manifest.csv")
        .map(|(_, rows)| *rows)
        .sum();
    progress.exported(rows);
    progress.set_phase("store");
    let stored = blob::store_file(store, &job.tenant, tmp.path()).await?;
    let files: Vec<Json> = summary
        .files
        .iter()
        .map(|(name, rows)| json!({"name": name, "rows": rows}))
        .collect();
    let profile = opts
        .target
        .map_or(profile, crate::export::target::profile_of);
    let mut report = json!({
        "mode": if opts.since.is_some() { "delta" } else { "bulk" },
        "profile": profile.name(),
        "files": files,
        "size_bytes": stored.size_bytes,
        "sha256": stored.sha256,
    });
    if let Some(t) = &summary.target {
        report["target"] = json!(t);
    }
    let mut data =
        json!({"id": job.id, "kind": "export", "state": "succeeded", "links": links(job)});
    if let Some(t) = report.get("target") {
        data["target"] = t.clone();
    }
    for key in ["mode", "profile", "files", "size_bytes", "sha256"] {
        data[key] = report[key].clone();
    }
    Ok(RunResult {
        state: JobState::Succeeded,
        report: Some(report),
        error: None,
        import_id: None,
        result_blob: Some(stored.id),
        event: Some(("export.completed", data)),
    })
}

/// Writes the run's end, its webhook events and its e-mail notices in one transaction.
/// `Conflict`: the lease was lost meanwhile, and whoever holds it now finishes the job.
pub async fn finish(
    store: &Store,
    mail: Option<&crate::mail::MailConfig>,
    job: &Job,
    owner: &str,
    outcome: &RunResult,
    progress: &Json,
) -> Result<(), StoreError> {
    let end = JobEnd {
        state: outcome.state,
        report: outcome.report.as_ref(),
        error: outcome.error.as_deref(),
        import_id: outcome.import_id.as_deref(),
        result_blob: outcome.result_blob.as_deref(),
        progress: Some(progress),
    };
    let deliveries = match &outcome.event {
        Some((event, data)) => {
            crate::webhooks::event_deliveries(store, &job.tenant, event, data).await?
        }
        None => Vec::new(),
    };
    // A run that failed on a storage error has no webhook event of its own kind, but its
    // admins are told all the same.
    let event = outcome
        .event
        .as_ref()
        .map(|(e, _)| *e)
        .or((outcome.state == JobState::Failed).then_some("import.failed"));
    let notice = match (event, mail) {
        (Some(event), Some(config)) if job.kind == JobKind::Import => JobEvent {
            tenant: &job.tenant,
            job_id: &job.id,
            file_name: job.params.file_name.as_deref(),
            base_url: job.params.base_url.as_deref(),
            event,
            report: outcome.report.as_ref(),
            error: outcome.error.as_deref(),
        }
        .notice(config),
        _ => None,
    };
    let mails = crate::mail::outbox::mails_for(store, mail, notice.as_ref()).await?;
    store
        .finish_job(&job.id, owner, &end, &deliveries, &mails)
        .await
}
