//! Undoing an applied import (`rosterhub import undo`, `POST /api/v1/imports/{id}/undo`): the
//! records it inserted become tombstones, the ones it changed or tombstoned get back what they
//! were, as a new import with its own id and a report of the import's shape — stamped now, so
//! delta consumers see the reversal. The transaction is the store's
//! ([`Store::undo_import`], over the change log); this module makes its report, the sample a
//! dry run shows, and the reasons it is refused, in words that say what to do next.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::changes::{self, EntityChanges};
use super::pipeline::{Channel, empty_report};
use super::report::{Finding, Outcome, Report, Severity, Skipped, UndoInfo};
use crate::domain::datetime::now_ms;
use crate::storage::changelog::{Conflict, UndoDone, UndoRefused, UndoRequest};
use crate::storage::ops::jobs::{JobEnd, JobKind, JobParams, JobState, NewJob};
use crate::storage::{Counts, ImportRecord, ImportStamp, Store, StoreError};

/// What the caller asks.
#[derive(Debug, Clone)]
pub struct UndoOptions {
    pub tenant: String,
    /// The import to undo (its `import_id`).
    pub import_id: String,
    pub dry_run: bool,
    /// Revert what no later import changed and skip the rest.
    pub force: bool,
    /// `cli:<user>`, `client:<id>`, `user:<id>`.
    pub actor: Option<String>,
    /// Who reads the messages: the CLI's flags or the API's query parameters.
    pub channel: Channel,
}

/// Why an undo was not run; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No import of the tenant has this id.
    NotFound,
    /// The import wrote nothing (dry run, held, rejected).
    NotApplied(String),
    /// No change log: applied before logs were kept, or past their retention.
    NoChangeLog,
    AlreadyUndone {
        by: String,
    },
    /// Later imports changed some of its records (the first 1,000 listed).
    Conflicts {
        listed: Vec<Skipped>,
        total: u64,
    },
}

impl Refusal {
    /// A stable code for scripts and the API.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotFound => "not_found",
            Refusal::NotApplied(_) => "not_applied",
            Refusal::NoChangeLog => "no_change_log",
            Refusal::AlreadyUndone { .. } => "already_undone",
            Refusal::Conflicts { .. } => "undo_conflict",
        }
    }

    /// What happened and what to do next, in English and then Japanese.
    pub fn message(&self, import_id: &str, channel: Channel) -> String {
        let force = match channel {
            Channel::Cli => "run it again with --force",
            Channel::Http => "send it again with ?force=true",
        };
        match self {
            Refusal::NotFound => format!(
                "there is no import {import_id} in this tenant; the import history lists them\n\
                 このテナントにインポート {import_id} はありません。インポート履歴で ID を確認してください。"
            ),
            Refusal::NotApplied(status) => format!(
                "import {import_id} was not applied (it is {status}): it changed nothing, so \
                 there is nothing to undo\n\
                 インポート {import_id} は適用されていません（{status}）。何も変更していないため、\
                 取り消すものはありません。"
            ),
            Refusal::NoChangeLog => format!(
                "import {import_id} has no change log: it was applied before change logs were \
                 kept, or longer ago than they are kept (--changelog-days); it cannot be undone. \
                 Import the earlier bundle again instead\n\
                 インポート {import_id} の変更履歴がありません（変更履歴の導入前に適用されたか、\
                 保存期間 --changelog-days を過ぎています）。取り消せないため、以前のバンドルを\
                 もう一度インポートしてください。"
            ),
            Refusal::AlreadyUndone { by } => format!(
                "import {import_id} was undone already, by {by}; to bring its changes back, \
                 undo {by}\n\
                 インポート {import_id} は {by} で取り消し済みです。変更を戻すには {by} を\
                 取り消してください。"
            ),
            Refusal::Conflicts { total, .. } => format!(
                "later imports changed {total} of the records import {import_id} changed \
                 (listed in `conflicts`); nothing was undone. To revert only the other records \
                 and leave these as they are, {force}\n\
                 インポート {import_id} が変更したレコードのうち {total} 件は、その後のインポートで\
                 さらに変更されています（conflicts に一覧）。何も取り消していません。それ以外の\
                 レコードだけを戻す場合は --force（API では ?force=true）を付けて再実行してください。"
            ),
        }
    }
}

/// An undo run or refused.
#[derive(Debug)]
pub enum UndoOutcome {
    Done(Box<Report>),
    Refused(Refusal),
}

fn skipped(c: &Conflict) -> Skipped {
    Skipped {
        entity: c.entity.name().to_owned(),
        sourced_id: c.sourced_id.clone(),
        later_import_id: c.later_import.clone(),
    }
}

/// The report of an undo: per entity its counts (`updated`: records put back as active,
/// `tombstoned`: records made tombstones), a warning per skipped record, `undo`.
fn report_of(done: &UndoDone, opts: &UndoOptions, undo_id: &str, started: Instant) -> Report {
    let mut report = empty_report();
    report.status = if opts.dry_run {
        Outcome::DryRun
    } else {
        Outcome::Applied
    };
    report.import_id = (!opts.dry_run).then(|| undo_id.to_owned());
    for (entity, u) in &done.entities {
        let counts = Counts {
            updated: u.restored,
            tombstoned: u.tombstoned,
            ..Counts::default()
        };
        report.set_counts(*entity, counts);
    }
    for c in &done.skipped {
        report.findings.push(Finding {
            severity: Severity::Warning,
            code: "undo_skipped",
            file: Some(c.entity.file_name().to_owned()),
            line: None,
            column: None,
            value: Some(c.sourced_id.clone()),
            message: format!(
                "left as it is: import {} changed this record after the undone import",
                c.later_import
            ),
        });
    }
    report.warning_count = done.skipped_total;
    if done.skipped_total > 0 {
        report.findings_by_code = vec![super::report::CodeCount {
            code: "undo_skipped",
            severity: Severity::Warning,
            count: done.skipped_total,
        }];
    }
    report.undo = Some(UndoInfo {
        undo_of: opts.import_id.clone(),
        skipped: done.skipped.iter().map(skipped).collect(),
        skipped_total: done.skipped_total,
    });
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// Undoes `opts.import_id` (or works out what undoing it would do, for a dry run).
pub async fn undo(store: &Store, opts: &UndoOptions) -> Result<UndoOutcome, StoreError> {
    match store.import_status(&opts.tenant, &opts.import_id).await? {
        None => return Ok(UndoOutcome::Refused(Refusal::NotFound)),
        Some(s) if s != Outcome::Applied.as_str() => {
            return Ok(UndoOutcome::Refused(Refusal::NotApplied(s)));
        }
        Some(_) => {}
    }
    let started = Instant::now();
    let stamp = ImportStamp {
        import_id: uuid::Uuid::now_v7().to_string(),
        now: now_ms(),
    };
    // The report is made inside the transaction (it is the undo's `imports` row) and kept
    // here for the caller.
    let made: Arc<Mutex<Option<Report>>> = Arc::default();
    let record = {
        let (made, opts, id, started_at) = (
            made.clone(),
            opts.clone(),
            stamp.import_id.clone(),
            stamp.now,
        );
        Box::new(move |done: &UndoDone| {
            let report = report_of(done, &opts, &id, started);
            let record = ImportRecord {
                id: id.clone(),
                status: report.status.as_str().to_owned(),
                profile: None,
                started_at,
                finished_at: now_ms(),
                report_json: serde_json::to_string(&report).unwrap_or_default(),
                job: None,
                actor: opts.actor.clone(),
            };
            *made.lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
            record
        })
    };
    let req = UndoRequest {
        tenant: opts.tenant.clone(),
        target: opts.import_id.clone(),
        stamp: stamp.clone(),
        actor: opts.actor.clone(),
        dry_run: opts.dry_run,
        force: opts.force,
    };
    let done = match store.undo_import(req, record).await? {
        Ok(done) => done,
        Err(UndoRefused::NoChangeLog) => return Ok(UndoOutcome::Refused(Refusal::NoChangeLog)),
        Err(UndoRefused::AlreadyUndone { by }) => {
            return Ok(UndoOutcome::Refused(Refusal::AlreadyUndone { by }));
        }
        Err(UndoRefused::Conflicts { listed, total }) => {
            return Ok(UndoOutcome::Refused(Refusal::Conflicts {
                listed: listed.iter().map(skipped).collect(),
                total,
            }));
        }
    };
    let kept = made.lock().unwrap_or_else(|e| e.into_inner()).take();
    let mut report = match kept {
        Some(r) => r,
        None => report_of(&done, opts, &stamp.import_id, started),
    };
    if opts.dry_run {
        report.changes = Some(sample(store, opts, &done).await?);
        report.duration_ms = started.elapsed().as_millis() as u64;
    }
    Ok(UndoOutcome::Done(Box::new(report)))
}

/// What a dry run would change: per entity the first records it would put back (field by
/// field, now → then) and tombstone. The transaction was rolled back, so the stored records are
/// the "now" side; the undone import's log holds the "then".
async fn sample(
    store: &Store,
    opts: &UndoOptions,
    done: &UndoDone,
) -> Result<BTreeMap<String, EntityChanges>, StoreError> {
    let mut out = BTreeMap::new();
    for (entity, u) in &done.entities {
        let mut e = EntityChanges::default();
        for id in &u.restored_ids {
            let now = store
                .record(
                    &opts.tenant,
                    *entity,
                    id,
                    &crate::storage::select::Selection::All,
                    None,
                )
                .await?;
            let then = store
                .logged_before(&opts.tenant, *entity, &opts.import_id, id)
                .await?;
            if let (Some(now), Some(then)) = (now, then) {
                e.changed
                    .push(changes::restored(store, *entity, &now, &then));
            }
        }
        for id in &u.tombstoned_ids {
            let now = store
                .record(
                    &opts.tenant,
                    *entity,
                    id,
                    &crate::storage::select::Selection::All,
                    None,
                )
                .await?;
            if let Some(now) = now {
                e.tombstoned.push(changes::sampled(store, *entity, &now));
            }
        }
        out.insert(entity.name().to_owned(), e);
    }
    Ok(out)
}

/// Adds an applied undo to the tenant's import history (an ended job with its report, as a
/// command-line import is): the job's id, or `None` if it could not be written (logged; the
/// undo stands).
pub async fn add_to_history(
    store: &Store,
    tenant: &str,
    created_by: &str,
    report: &Report,
) -> Option<String> {
    let json = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
    let params = JobParams {
        undo_of: report.undo.as_ref().map(|u| u.undo_of.clone()),
        ..JobParams::default()
    };
    let new = NewJob {
        tenant,
        kind: JobKind::Import,
        params: &params,
        idempotency_key: None,
        upload_blob: None,
        created_by,
    };
    let end = JobEnd {
        state: JobState::Succeeded,
        report: Some(&json),
        error: None,
        import_id: report.import_id.as_deref(),
        result_blob: None,
        progress: None,
    };
    let started = now_ms() - report.duration_ms as i64;
    match store.record_ended_job(new, &end, started).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, "an undo could not be added to the import history");
            None
        }
    }
}
