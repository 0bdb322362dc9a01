//! The sender: claims due outbox rows under a lease (several replicas may run it on one
//! database; a lease fences each attempt's record), sends each over SMTP, and retries what
//! failed for a passing reason with exponential backoff. Logs name the message and the tenant,
//! never the address.

use std::sync::Arc;
use std::time::Duration;

use super::MailConfig;
use super::message::{Address, Envelope, Transfer, render, rfc5322_date};
use super::smtp::{self, SmtpError};
use crate::domain::datetime::now_ms;
use crate::storage::ops::mails::{ClaimedMail, MailOutcome};
use crate::storage::{Store, StoreError};

/// Messages claimed at once.
const BATCH: usize = 8;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 6 * 3600 * 1000;

/// The send loop, until the task is aborted.
pub fn spawn_sender(store: Store, config: Arc<MailConfig>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match send_due(&store, &config).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot claim e-mail notices"),
            }
            tokio::time::sleep(config.poll).await;
        }
    })
}

/// Sends the messages due now (a batch); how many were tried. Public for tests.
pub async fn send_due(store: &Store, config: &MailConfig) -> Result<usize, StoreError> {
    // Long enough for a whole session and its record.
    let lease_ms = (config.smtp.timeout.as_millis() as i64) * 2 + 10_000;
    let claimed = store.claim_mails(BATCH, lease_ms).await?;
    for m in &claimed {
        send_one(store, config, m).await;
    }
    Ok(claimed.len())
}

async fn send_one(store: &Store, config: &MailConfig, m: &ClaimedMail) {
    let outcome = match attempt(config, m).await {
        Ok(()) => MailOutcome::Sent,
        Err(SmtpError::Permanent(error)) => MailOutcome::Failed { error },
        Err(SmtpError::Transient(error)) if m.attempts + 1 >= i64::from(config.attempts) => {
            MailOutcome::Failed { error }
        }
        Err(SmtpError::Transient(error)) => MailOutcome::Retry {
            next_attempt_at: now_ms() + backoff_ms(config.first_retry, m.attempts + 1),
            error,
        },
    };
    match &outcome {
        MailOutcome::Sent => {
            tracing::info!(mail = %m.id, tenant = %m.tenant, event = %m.event, "e-mail notice sent");
        }
        MailOutcome::Retry { error, .. } => {
            tracing::warn!(mail = %m.id, tenant = %m.tenant, %error, "e-mail notice not sent; will retry");
        }
        MailOutcome::Failed { error } => {
            tracing::error!(mail = %m.id, tenant = %m.tenant, %error, "e-mail notice given up");
        }
    }
    metrics::counter!("mail_attempts_total", "outcome" => match outcome {
        MailOutcome::Sent => "sent",
        MailOutcome::Retry { .. } => "retry",
        MailOutcome::Failed { .. } => "failed",
    })
    .increment(1);
    match store.record_mail_attempt(m, &outcome).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            tracing::warn!(mail = %m.id, "e-mail notice lease lost; another sender has it");
        }
        Err(e) => tracing::warn!(mail = %m.id, error = %e, "cannot record an e-mail attempt"),
    }
}

async fn attempt(config: &MailConfig, m: &ClaimedMail) -> Result<(), SmtpError> {
    let to = Address::parse(&m.recipient).map_err(SmtpError::Permanent)?;
    let date = rfc5322_date(m.created_at);
    let envelope = Envelope {
        from: &config.from,
        to: &to,
        date: &date,
        message_id: &m.id,
    };
    let write = |eight_bit: bool| {
        let transfer = Transfer::choose(eight_bit, &m.body);
        render(&envelope, &m.subject, &m.body, transfer)
    };
    smtp::send(
        &config.smtp,
        config.from.address.as_str(),
        to.as_str(),
        &write,
    )
    .await
}

/// The wait before attempt `n + 1` after `n` attempts: `first · 2^(n-1)`, at most 6 hours,
/// with up to a tenth more at random so replicas' retries spread out.
pub fn backoff_ms(first: Duration, attempts: i64) -> i64 {
    let base = (first.as_millis() as i64).max(1);
    let exp = (attempts - 1).clamp(0, 30) as u32;
    let wait = base.saturating_mul(1i64 << exp).min(MAX_BACKOFF_MS);
    wait + rand::random_range(0..=wait / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_six_hours() {
        let first = Duration::from_secs(30);
        for (attempts, base) in [(1, 30_000), (2, 60_000), (3, 120_000), (40, MAX_BACKOFF_MS)] {
            let w = backoff_ms(first, attempts);
            assert!((base..=base + base / 10).contains(&w), "{attempts}: {w}");
        }
    }
}
