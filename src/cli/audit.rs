//! The audit trail of the command line: what a command changed is recorded in the audit log
//! like the same action over the admin API (actor `cli:<os user>`, method `CLI`, the command as
//! the path), and a `rosterhub import` in the tenant's import history with its report — an
//! administrator reading `GET /api/v1/audit` or `/imports` sees every change, whichever door
//! it came through.

use serde_json::Value;

use crate::audit::Entry;
use crate::domain::datetime::now_ms;
use crate::import::{Outcome, Report};
use crate::storage::Store;
use crate::storage::ops::jobs::{JobEnd, JobKind, JobParams, JobState, NewJob};

/// `cli:<os user>`: the login of the person running the command (`USER`, else `LOGNAME`).
pub(super) fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    let user = user.trim();
    format!("cli:{}", if user.is_empty() { "unknown" } else { user })
}

/// One CLI action to record.
pub(super) struct Action {
    /// The tenants acted on (a system-wide action, such as a key rotation, names every tenant:
    /// each tenant's administrators see it).
    pub tenants: Vec<String>,
    /// The admin API's name for the same action (`clients.create`, `imports.create`, …).
    pub action: &'static str,
    /// The command, as the entry's path (`rosterhub client create`).
    pub command: &'static str,
    pub target: Option<String>,
    /// As over HTTP: 200 done, 202 held, 404 no such thing, 422 rejected.
    pub status: u16,
}

/// Records `action`. The change is made already: a failure to record it is reported on stderr
/// and does not change the command's exit code.
pub(super) async fn record(store: &Store, action: Action) {
    let at = now_ms();
    let actor = actor();
    let entries: Vec<Entry> = action
        .tenants
        .iter()
        .map(|tenant| Entry {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.clone(),
            at,
            actor: actor.clone(),
            action: action.action.to_owned(),
            method: "CLI".to_owned(),
            path: action.command.to_owned(),
            query: None,
            status: action.status,
            result_count: None,
            target: action.target.clone(),
            source_ip: None,
            request_id: None,
            user_agent: Some(concat!("rosterhub/", env!("CARGO_PKG_VERSION")).to_owned()),
        })
        .collect();
    if let Err(e) = store.insert_audit_entries(&entries).await {
        eprintln!("warning: the audit log entry of this command could not be written: {e}");
    }
}

/// Every tenant, for a system-wide action.
pub(super) async fn all_tenants(store: &Store) -> Vec<String> {
    match store.tenants().await {
        Ok(list) => list.into_iter().map(|(id, _)| id).collect(),
        Err(e) => {
            eprintln!("warning: cannot list the tenants for the audit log: {e}");
            Vec::new()
        }
    }
}

/// Records a finished `rosterhub import` of `bundle` in the tenant's import history (an ended
/// job with the report, as an upload's) and in the audit log.
pub(super) async fn record_import(
    store: &Store,
    tenant: &str,
    bundle: &std::path::Path,
    params: JobParams,
    report: &Report,
) {
    let json = serde_json::to_value(report).unwrap_or(Value::Null);
    // The states of an upload's job; a held CLI import keeps no file to approve later, so it
    // ends discarded and says how to apply it.
    let (state, error, status) = match report.status {
        Outcome::Applied | Outcome::DryRun | Outcome::Valid => (JobState::Succeeded, None, 200),
        Outcome::Held => (
            JobState::Discarded,
            Some(
                "held by the safety threshold; nothing was written. Run `rosterhub import \
                 --force` to apply it"
                    .to_owned(),
            ),
            202,
        ),
        Outcome::Rejected => (
            JobState::Failed,
            Some(format!(
                "the bundle was rejected with {} error(s); see the findings",
                report.error_count
            )),
            422,
        ),
    };
    let params = JobParams {
        file_name: bundle.file_name().map(|n| n.to_string_lossy().into_owned()),
        size_bytes: std::fs::metadata(bundle)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len()),
        ..params
    };
    let actor = actor();
    let new = NewJob {
        tenant,
        kind: JobKind::Import,
        params: &params,
        idempotency_key: None,
        upload_blob: None,
        created_by: &actor,
    };
    let end = JobEnd {
        state,
        report: Some(&json),
        error: error.as_deref(),
        import_id: report.import_id.as_deref(),
        result_blob: None,
        progress: None,
    };
    let started = now_ms() - report.duration_ms as i64;
    let job = match store.record_ended_job(new, &end, started).await {
        Ok(id) => Some(id),
        Err(e) => {
            eprintln!("warning: this import could not be added to the import history: {e}");
            None
        }
    };
    record(
        store,
        Action {
            tenants: vec![tenant.to_owned()],
            action: "imports.create",
            command: "rosterhub import",
            target: job,
            status,
        },
    )
    .await;
}
