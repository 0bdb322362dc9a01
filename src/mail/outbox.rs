//! An event becomes outbox rows: one per admin of the tenant with an address, its text in that
//! admin's language. The caller writes them in the transaction of what caused the event (a
//! job's end: `Store::finish_job`; a refused drop-folder file: `Store::enqueue_outbox`), as
//! webhook deliveries are, so a notice is enqueued exactly when its cause commits.

use serde_json::Value as Json;

use super::texts::{EntityCounts, JobLinks, Notice, findings_of_report};
use super::{Lang, MailConfig};
use crate::domain::datetime::now_ms;
use crate::storage::ops::mails::NewMail;
use crate::storage::{Store, StoreError};

/// A finished import job as a notice: held and failed imports are notified, others not.
pub struct JobEvent<'a> {
    pub tenant: &'a str,
    pub job_id: &'a str,
    pub file_name: Option<&'a str>,
    /// The base URL the job was queued through (`None`: a drop-folder job).
    pub base_url: Option<&'a str>,
    /// The webhook event of the job's end.
    pub event: &'a str,
    pub report: Option<&'a Json>,
    pub error: Option<&'a str>,
}

impl JobEvent<'_> {
    /// The notice of this event; `None` for events no one is told about by e-mail.
    pub fn notice(&self, config: &MailConfig) -> Option<Notice> {
        let base = self.base_url.or(config.public_url.as_deref()).unwrap_or("");
        let links = JobLinks::new(base, self.job_id);
        let file_name = self.file_name.map(str::to_owned);
        match self.event {
            "import.held" => Some(Notice::Held {
                tenant: self.tenant.to_owned(),
                job_id: self.job_id.to_owned(),
                file_name,
                entities: self.report.map(EntityCounts::of_report).unwrap_or_default(),
                links,
            }),
            "import.failed" => Some(Notice::Failed {
                tenant: self.tenant.to_owned(),
                job_id: self.job_id.to_owned(),
                file_name,
                error: self.error.unwrap_or("the import failed").to_owned(),
                findings: self.report.map(findings_of_report).unwrap_or_default(),
                links,
            }),
            _ => None,
        }
    }
}

/// The outbox rows of `notice`: one per recipient. Empty when mail is not configured or the
/// tenant has no admin with an address.
pub async fn mails_for(
    store: &Store,
    config: Option<&MailConfig>,
    notice: Option<&Notice>,
) -> Result<Vec<NewMail>, StoreError> {
    let (Some(config), Some(notice)) = (config, notice) else {
        return Ok(Vec::new());
    };
    let recipients = store.notice_recipients(notice.tenant()).await?;
    let now = now_ms();
    Ok(recipients
        .into_iter()
        .map(|(address, language)| {
            let lang = language
                .as_deref()
                .and_then(Lang::parse)
                .unwrap_or(config.default_language);
            let (subject, body) = notice.render(lang);
            NewMail {
                id: uuid::Uuid::now_v7().to_string(),
                tenant: notice.tenant().to_owned(),
                event: notice.event().to_owned(),
                recipient: address,
                language: lang.as_str().to_owned(),
                subject,
                body,
                created_at: now,
            }
        })
        .collect())
}
