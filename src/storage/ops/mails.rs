//! The outbox of e-mail notices (`mail_outbox`) and the claims of daily summaries
//! (`mail_summaries`): a message per recipient, written in the same transaction as what caused
//! it (a job's end: `Store::finish_job`; a refused drop-folder file: [`Store::enqueue_outbox`];
//! a summary: [`Store::claim_summary`]), claimed under a lease, its attempts counted. The texts,
//! the SMTP client and the retry policy are the `mail` feature's.

use super::Stmt;
use super::deliveries::NewDelivery;
use crate::domain::datetime::now_ms;
use crate::storage::value::params;
use crate::storage::{BackendKind, Store, StoreError};

/// A message to enqueue: its text already rendered in the recipient's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub id: String,
    pub tenant: String,
    pub event: String,
    pub recipient: String,
    pub language: String,
    pub subject: String,
    pub body: String,
    pub created_at: i64,
}

pub(super) fn enqueue_stmt(m: &NewMail) -> Stmt {
    Stmt::new(
        "INSERT INTO mail_outbox (id, tenant_id, event, recipient, language, subject, body, \
         state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)",
        params![
            m.id.as_str(),
            m.tenant.as_str(),
            m.event.as_str(),
            m.recipient.as_str(),
            m.language.as_str(),
            m.subject.as_str(),
            m.body.as_str(),
            m.created_at
        ],
    )
}

/// A message a sender holds the lease of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    pub id: String,
    pub tenant: String,
    pub event: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
    pub created_at: i64,
    /// The lease the claim set: the fencing token of the write about this attempt.
    pub lease_until: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    Sent,
    Retry { next_attempt_at: i64, error: String },
    Failed { error: String },
}

/// A message as the outbox holds it (for the admin's and the tests' reading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMail {
    pub id: String,
    pub event: String,
    pub recipient: String,
    pub language: String,
    pub subject: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// An applied import of a summary's window, from the jobs table.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedImport {
    pub job_id: String,
    pub finished_at: i64,
    pub file_name: Option<String>,
    /// The import's report (its `entities` and `findings_by_code`).
    pub report: serde_json::Value,
}

impl Store {
    /// Enqueues webhook deliveries and e-mail notices of one event in one transaction (an event
    /// that is no job's end: a refused drop-folder file).
    pub async fn enqueue_outbox(
        &self,
        deliveries: &[NewDelivery],
        mails: &[NewMail],
    ) -> Result<(), StoreError> {
        let mut stmts: Vec<Stmt> = deliveries
            .iter()
            .map(super::deliveries::enqueue_stmt)
            .collect();
        stmts.extend(mails.iter().map(enqueue_stmt));
        if stmts.is_empty() {
            return Ok(());
        }
        self.ops_atomic(stmts).await.map(|_| ())
    }

    /// Claims the summary of `tenant` for `day` and enqueues its messages, in one transaction:
    /// `false` (nothing written) when a replica claimed that day already.
    pub async fn claim_summary(
        &self,
        tenant: &str,
        day: &str,
        owner: &str,
        mails: &[NewMail],
    ) -> Result<bool, StoreError> {
        let mut stmts = vec![Stmt::guard(
            "INSERT INTO mail_summaries (tenant_id, day, claimed_by, claimed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, day) DO NOTHING",
            params![tenant, day, owner, now_ms()],
        )];
        stmts.extend(mails.iter().map(enqueue_stmt));
        match self.ops_atomic(stmts).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether the summary of `tenant` for `day` was claimed.
    pub async fn summary_claimed(&self, tenant: &str, day: &str) -> Result<bool, StoreError> {
        let n = self
            .ops_count(
                "SELECT COUNT(*) FROM mail_summaries WHERE tenant_id = $1 AND day = $2",
                params![tenant, day],
            )
            .await?;
        Ok(n > 0)
    }

    /// The tenant's import jobs that applied their bundle and ended in `[from, to)`, oldest
    /// first. A dry run also ends `succeeded`: its report's status tells them apart.
    pub async fn applied_imports(
        &self,
        tenant: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<AppliedImport>, StoreError> {
        let rows = self
            .ops_fetch_as(
                "SELECT id, finished_at, params, report FROM jobs \
                 WHERE tenant_id = $1 AND kind = 'import' AND state = 'succeeded' \
                 AND finished_at >= $2 AND finished_at < $3 AND report IS NOT NULL \
                 ORDER BY finished_at, id",
                params![tenant, from, to],
                |r| {
                    let params: serde_json::Value = r.json(2, "the job's parameters")?;
                    Ok(AppliedImport {
                        job_id: r.text(0)?,
                        finished_at: r.int(1)?,
                        file_name: params
                            .get("file_name")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned),
                        report: r.json(3, "an import report")?,
                    })
                },
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter(|i| i.report.get("status").and_then(|s| s.as_str()) == Some("applied"))
            .collect())
    }

    /// Leases up to `n` due messages for `lease_ms` (as `claim_deliveries` does for webhooks).
    pub async fn claim_mails(
        &self,
        n: usize,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        let now = now_ms();
        let lease_until = now + lease_ms;
        let lock = match self.backend() {
            BackendKind::Postgres => " FOR UPDATE SKIP LOCKED",
            BackendKind::Sqlite => "",
        };
        let due = "state = 'pending' AND next_attempt_at <= $1 \
                   AND (lease_until IS NULL OR lease_until < $1)";
        let sql = format!(
            "WITH claim AS MATERIALIZED (SELECT id FROM mail_outbox WHERE {due} \
                                         ORDER BY next_attempt_at, id LIMIT $2{lock}) \
             UPDATE mail_outbox SET lease_until = $3 \
             WHERE id IN (SELECT id FROM claim) AND {due} \
             RETURNING id, tenant_id, event, recipient, subject, body, attempts, created_at"
        );
        self.ops_fetch_as(&sql, params![now, n as i64, lease_until], |r| {
            Ok(ClaimedMail {
                id: r.text(0)?,
                tenant: r.text(1)?,
                event: r.text(2)?,
                recipient: r.text(3)?,
                subject: r.text(4)?,
                body: r.text(5)?,
                attempts: r.int(6)?,
                created_at: r.int(7)?,
                lease_until,
            })
        })
        .await
    }

    /// Records an attempt's end if the claim's lease is still the message's: otherwise nothing
    /// is written and the answer is [`StoreError::Conflict`].
    pub async fn record_mail_attempt(
        &self,
        m: &ClaimedMail,
        outcome: &MailOutcome,
    ) -> Result<(), StoreError> {
        let attempts = m.attempts + 1;
        let stmt = match outcome {
            MailOutcome::Sent => Stmt::guard(
                "UPDATE mail_outbox SET state = 'sent', attempts = $1, lease_until = NULL, \
                 last_error = NULL, finished_at = $2 \
                 WHERE id = $3 AND lease_until = $4 AND state = 'pending'",
                params![attempts, now_ms(), m.id.as_str(), m.lease_until],
            ),
            MailOutcome::Failed { error } => Stmt::guard(
                "UPDATE mail_outbox SET state = 'failed', attempts = $1, lease_until = NULL, \
                 last_error = $2, finished_at = $3 \
                 WHERE id = $4 AND lease_until = $5 AND state = 'pending'",
                params![
                    attempts,
                    error.as_str(),
                    now_ms(),
                    m.id.as_str(),
                    m.lease_until
                ],
            ),
            MailOutcome::Retry {
                next_attempt_at,
                error,
            } => Stmt::guard(
                "UPDATE mail_outbox SET attempts = $1, next_attempt_at = $2, lease_until = NULL, \
                 last_error = $3 WHERE id = $4 AND lease_until = $5 AND state = 'pending'",
                params![
                    attempts,
                    *next_attempt_at,
                    error.as_str(),
                    m.id.as_str(),
                    m.lease_until
                ],
            ),
        };
        self.ops_atomic(vec![stmt]).await.map(|_| ())
    }

    /// The tenant's messages, newest first (at most `limit`).
    pub async fn tenant_mails(
        &self,
        tenant: &str,
        limit: u64,
    ) -> Result<Vec<StoredMail>, StoreError> {
        self.ops_fetch_as(
            "SELECT id, event, recipient, language, subject, state, attempts, last_error \
             FROM mail_outbox WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
            params![tenant, limit],
            |r| {
                Ok(StoredMail {
                    id: r.text(0)?,
                    event: r.text(1)?,
                    recipient: r.text(2)?,
                    language: r.text(3)?,
                    subject: r.text(4)?,
                    state: r.text(5)?,
                    attempts: r.int(6)?,
                    last_error: r.opt_text(7)?,
                })
            },
        )
        .await
    }

    /// Deletes messages that ended before `cutoff`, and summary claims older than it (kept as
    /// long as job files).
    pub async fn delete_finished_mails(&self, cutoff: i64) -> Result<u64, StoreError> {
        let counts = self
            .ops_atomic(vec![
                Stmt::new(
                    "DELETE FROM mail_outbox WHERE state IN ('sent', 'failed') \
                     AND finished_at < $1",
                    params![cutoff],
                ),
                Stmt::new(
                    "DELETE FROM mail_summaries WHERE claimed_at < $1",
                    params![cutoff],
                ),
            ])
            .await?;
        Ok(counts[0])
    }
}
