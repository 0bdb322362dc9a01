//! What every unattended arrival goes through, whether it was dropped in the folder or pulled
//! on a schedule: the bundle check, the blackout hold, the rollover of a new 年度, the stored
//! file, the import job (`created_by = intake`), its audit entry; and for a refused file the
//! audit entry with the `intake.refused` webhook event and e-mail notice. One path, so a pulled
//! file is imported exactly as a dropped one.

use std::path::Path;

use serde_json::Value as Json;

use super::{ACTOR, Error, calendar};
use crate::audit::AuditLog;
use crate::csv::bundle::Bundle;
use crate::http::ui::zone::Zone;
use crate::import::rollover::Rollover;
use crate::jobs::{JobKind, JobParams, JobsHandle, blob};
pub use crate::mail::texts::Notice;
use crate::storage::Store;
use crate::storage::ops::audit::Entry;
use crate::storage::ops::jobs::NewJob;

/// The handles unattended intake works with.
#[derive(Clone)]
pub struct Unattended {
    pub store: Store,
    pub jobs: JobsHandle,
    pub audit: AuditLog,
}

/// When an unattended import is held or runs as the rollover (`--intake-blackout`,
/// `--intake-rollover`, read in `--time-zone`).
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub blackout: &'a [calendar::Window],
    pub rollover: Option<&'a Rollover>,
    pub zone: &'a Zone,
}

/// A school's list to map rather than a bundle (a pull's `mapping`): the profile as
/// `POST /imports?mapping=` keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapped {
    /// `auto` or the stored profile's name.
    pub name: String,
    pub version: Option<i64>,
    pub text: Option<String>,
    pub school: Option<String>,
    pub school_year: Option<i32>,
}

/// A complete file that arrived for a tenant.
pub struct Arrival<'a> {
    pub tenant: &'a str,
    pub path: &'a Path,
    /// The file's name as the job shows it.
    pub file_name: &'a str,
    /// How it came, as the hold's message says it: `roster.zip arrived in the drop folder`.
    pub came: String,
    /// The audit entry's path: the file's name, or the pull's.
    pub audit_path: &'a str,
    pub mapping: Option<Mapped>,
}

/// What became of an arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    /// Queued as this import job.
    Job(String),
    /// Not a bundle: why (nothing was stored or queued; the caller refuses it).
    Refused(String),
}

impl Unattended {
    /// Checks the file and queues it as an import job with the calendar's hold and rollover.
    pub async fn queue(&self, a: Arrival<'_>, rules: Rules<'_>) -> Result<Queued, Error> {
        // A school's list is checked by its mapping when the job runs, as an upload's is.
        if a.mapping.is_none() {
            let check = a.path.to_owned();
            let opened =
                tokio::task::spawn_blocking(move || Bundle::open(&check).map(|_| ())).await?;
            if let Err(e) = opened {
                return Ok(Queued::Refused(format!(
                    "not a OneRoster bundle: {e}; a bundle is a ZIP of CSV files with \
                     manifest.csv"
                )));
            }
        }
        let stored = blob::store_file(&self.store, a.tenant, a.path).await?;
        let now = crate::domain::datetime::now_ms();
        let hold = calendar::blackout_at(rules.blackout, rules.zone, now).map(|w| {
            format!(
                "{} during the blackout window {w} (--intake-blackout); check what it would \
                 change before applying it",
                a.came
            )
        });
        let rollover = match rules.rollover {
            Some(r) => {
                let last = self.store.last_applied_import_at(a.tenant).await?;
                calendar::new_school_year(rules.zone, last, now).then(|| r.grades())
            }
            None => None,
        };
        let mapping = a.mapping.unwrap_or_default();
        let mapped = !mapping.name.is_empty();
        let params = JobParams {
            file_name: Some(a.file_name.to_owned()),
            size_bytes: Some(stored.size_bytes),
            hold,
            rollover,
            mapping: mapped.then_some(mapping.name),
            mapping_version: mapping.version,
            mapping_profile: mapping.text,
            school: mapping.school,
            school_year: mapping.school_year,
            ..JobParams::default()
        };
        let (job, _) = self
            .store
            .create_job(NewJob {
                tenant: a.tenant,
                kind: JobKind::Import,
                params: &params,
                idempotency_key: None,
                upload_blob: Some(&stored.id),
                created_by: ACTOR,
            })
            .await?;
        self.jobs.wake.notify_one();
        self.record(
            a.tenant,
            "intake.import",
            a.audit_path,
            202,
            Some(job.id.clone()),
        )
        .await;
        tracing::info!(job = %job.id, size = stored.size_bytes, "intake import queued");
        Ok(Queued::Job(job.id))
    }

    /// The `intake.refused` webhook event (`data`) and e-mail notice, enqueued in one
    /// transaction.
    pub async fn tell_refused(
        &self,
        tenant: &str,
        data: Json,
        notice: Notice,
    ) -> Result<(), Error> {
        let deliveries =
            crate::webhooks::event_deliveries(&self.store, tenant, "intake.refused", &data).await?;
        let mail = self.jobs.config.mail.as_deref();
        let mails = crate::mail::outbox::mails_for(&self.store, mail, Some(&notice)).await?;
        self.store.enqueue_outbox(&deliveries, &mails).await?;
        Ok(())
    }

    /// An audit entry of actor `intake`.
    pub async fn record(
        &self,
        tenant: &str,
        action: &str,
        path: &str,
        status: u16,
        target: Option<String>,
    ) {
        self.audit
            .record(Entry {
                id: uuid::Uuid::now_v7().to_string(),
                tenant: tenant.to_owned(),
                at: crate::domain::datetime::now_ms(),
                actor: ACTOR.into(),
                action: action.into(),
                method: "INTAKE".into(),
                path: path.into(),
                query: None,
                status,
                result_count: None,
                target,
                source_ip: None,
                request_id: None,
                user_agent: None,
            })
            .await;
    }
}
