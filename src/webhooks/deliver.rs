//! The delivery worker: claims due deliveries under a lease, POSTs each one signed on its own
//! task, and records the attempt — success, a retry with exponential backoff, or failure.
//!
//! A lease (`lease_until`) is the only lock: a claim sets it on rows that are due and not
//! leased (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas never wait for one another), and
//! the outcome is written only while the lease is still the one this worker set — its value is
//! the fencing token, since every new claim of a row sets a later one. A worker that dies
//! mid-attempt leaves a lease that expires; the delivery is then claimed again (at least once).
//! The claim and the records are `storage::ops::webhooks`; the policy is here.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio::task::JoinSet;

use super::sign::signature_header;
use crate::domain::datetime::now_ms;
use crate::storage::ops::deliveries::{Attempt, AttemptOutcome as Outcome, ClaimedDelivery};
use crate::storage::{Store, StoreError};

/// How the worker delivers.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Attempts before a delivery is `failed` (the first one included).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; doubled after each further one.
    pub base_delay_ms: u64,
    /// The longest wait between attempts.
    pub max_delay_ms: u64,
    /// The whole request (connect, send, response head) must finish within this.
    pub timeout_ms: u64,
    /// How often the outbox is checked for due deliveries.
    pub poll_ms: u64,
    /// Requests in flight at once, per worker.
    pub concurrency: usize,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig {
            max_attempts: 8,
            base_delay_ms: 10_000,
            max_delay_ms: 3_600_000,
            timeout_ms: 10_000,
            poll_ms: 1_000,
            concurrency: 8,
        }
    }
}

impl WebhookConfig {
    /// How long a claim holds a delivery: the request's timeout plus ample time to record it.
    fn lease_ms(&self) -> i64 {
        (self.timeout_ms.saturating_mul(2).saturating_add(30_000)).min(i64::MAX as u64) as i64
    }
}

/// Attempts recorded, by `outcome`: `succeeded`, `retry` or `failed` (given up; also a
/// delivery of a paused subscription). docs/webhooks.md; the alerts under `deploy/` use it.
pub const DELIVERIES_TOTAL: &str = "webhook_deliveries_total";
/// Every value of the `outcome` label.
pub const OUTCOMES: [&str; 3] = ["succeeded", "retry", "failed"];

/// The most deliveries claimed by one statement.
const CLAIM_BATCH: usize = 16;

/// The wait before attempt `failed + 1`, after `failed` (≥ 1) failed attempts:
/// `min(max_delay, base_delay · 2^(failed−1)) · jitter`, jitter drawn from 0.8–1.2.
pub fn backoff_ms(config: &WebhookConfig, failed: u32, jitter: f64) -> u64 {
    let exp = failed.saturating_sub(1).min(62);
    let delay = config
        .base_delay_ms
        .saturating_mul(1u64 << exp)
        .min(config.max_delay_ms);
    (delay as f64 * jitter.clamp(0.8, 1.2)).round() as u64
}

/// Delivers due webhooks until the process ends. Several replicas may run it on one database.
pub fn spawn_delivery_worker(store: Store, config: WebhookConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store, config))
}

fn user_agent() -> String {
    format!("RosterHub-Webhooks/{}", env!("CARGO_PKG_VERSION"))
}

async fn run(store: Store, config: WebhookConfig) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(config.timeout_ms.max(1)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery worker cannot start: no HTTP client");
            return;
        }
    };
    let concurrency = config.concurrency.max(1);
    let poll = Duration::from_millis(config.poll_ms.max(1));
    tracing::info!(
        concurrency,
        poll_ms = config.poll_ms,
        "webhook delivery worker started"
    );
    // Each delivery runs on its own task: a slow endpoint holds one slot, never the loop.
    let mut in_flight: JoinSet<()> = JoinSet::new();
    loop {
        while let Some(done) = in_flight.try_join_next() {
            log_join(done);
        }
        let want = concurrency.saturating_sub(in_flight.len()).min(CLAIM_BATCH);
        let mut more_due = false;
        if want > 0 {
            match store.claim_deliveries(want, config.lease_ms()).await {
                Ok(batch) => {
                    more_due = batch.len() == want;
                    for d in batch {
                        in_flight.spawn(attempt(store.clone(), client.clone(), config.clone(), d));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
            }
        }
        if more_due {
            continue;
        }
        // Wait for the next poll, or for a slot to free up when all were taken.
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => log_join(done),
        }
    }
}

fn log_join(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        // The delivery keeps its lease; it is attempted again once that expires.
        tracing::error!(error = %e, "a webhook delivery task panicked");
    }
}

/// One POST of a claimed delivery, and its record.
async fn attempt(store: Store, client: reqwest::Client, config: WebhookConfig, d: ClaimedDelivery) {
    let hook = match store.delivery_target(&d.webhook_id).await {
        Ok(Some(target)) => target,
        // Deleted meanwhile: its deliveries went with it.
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(delivery_id = %d.id, error = %e, "reading a webhook subscription failed");
            return;
        }
    };
    if !hook.active {
        // A paused subscription's pending deliveries end here rather than all arriving at once
        // (maybe long stale) when it is resumed.
        finish_inactive(&store, &d).await;
        return;
    }

    let number = d.attempts + 1;
    let at = now_ms();
    let started = Instant::now();
    let body = d.payload.clone().into_bytes();
    let signature = signature_header(&hook.secret, at.div_euclid(1000), &body);
    let sent = client
        .post(&hook.url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("RosterHub-Event", d.event.as_str())
        .header("RosterHub-Delivery", d.id.as_str())
        .header("RosterHub-Attempt", number.to_string())
        .header("RosterHub-Signature", signature)
        .body(body)
        .send()
        .await;
    let duration_ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
    let (status, error) = match sent {
        Ok(resp) if resp.status().is_success() => (Some(i64::from(resp.status().as_u16())), None),
        Ok(resp) => {
            let s = resp.status();
            let mut text = format!("HTTP {s}");
            if s.is_redirection() {
                text.push_str(" (redirects are not followed)");
            }
            (Some(i64::from(s.as_u16())), Some(text))
        }
        Err(e) => (None, Some(describe(&e, config.timeout_ms))),
    };

    let max = i64::from(config.max_attempts.max(1));
    let outcome = if error.is_none() {
        Outcome::Succeeded
    } else if number >= max {
        Outcome::Failed
    } else {
        let failed = u32::try_from(number).unwrap_or(u32::MAX);
        let wait = backoff_ms(&config, failed, rand::random_range(0.8..=1.2));
        Outcome::Retry {
            next_attempt_at: now_ms().saturating_add(wait.min(i64::MAX as u64) as i64),
        }
    };

    let record = Attempt {
        attempt: number,
        at,
        status,
        error,
        duration_ms,
    };
    match store.record_attempt(&d, &record, outcome).await {
        Ok(()) => {
            metrics::counter!(DELIVERIES_TOTAL, "outcome" => outcome.label()).increment(1);
            match outcome {
                Outcome::Failed => tracing::warn!(
                    webhook_id = %d.webhook_id,
                    delivery_id = %d.id,
                    event = %d.event,
                    attempts = number,
                    last_status = ?record.status,
                    last_error = record.error.as_deref().unwrap_or(""),
                    "webhook delivery failed; no more attempts"
                ),
                _ => tracing::debug!(
                    webhook_id = %d.webhook_id,
                    delivery_id = %d.id,
                    attempt = number,
                    status = ?record.status,
                    outcome = outcome.label(),
                    "webhook attempt recorded"
                ),
            }
        }
        Err(StoreError::Conflict(_)) => tracing::warn!(
            delivery_id = %d.id,
            attempt = number,
            "webhook delivery lease expired before the attempt was recorded; it will be retried"
        ),
        Err(e) => tracing::warn!(
            delivery_id = %d.id,
            attempt = number,
            error = %e,
            "recording a webhook attempt failed; it will be retried when its lease expires"
        ),
    }
}

/// The error of a request that got no response, without the URL (it may carry a token).
fn describe(e: &reqwest::Error, timeout_ms: u64) -> String {
    if e.is_timeout() {
        return format!("timed out after {timeout_ms} ms");
    }
    let mut text = if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Ends a delivery of a paused subscription without sending it (no attempt is logged).
async fn finish_inactive(store: &Store, d: &ClaimedDelivery) {
    match store.fail_inactive_delivery(d).await {
        Ok(true) => {
            metrics::counter!(DELIVERIES_TOTAL, "outcome" => "failed").increment(1);
            tracing::warn!(
                webhook_id = %d.webhook_id,
                delivery_id = %d.id,
                event = %d.event,
                "webhook delivery not sent: the subscription is inactive"
            );
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(delivery_id = %d.id, error = %e, "ending a webhook delivery failed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let c = WebhookConfig {
            base_delay_ms: 10_000,
            max_delay_ms: 3_600_000,
            ..WebhookConfig::default()
        };
        assert_eq!(backoff_ms(&c, 1, 1.0), 10_000);
        assert_eq!(backoff_ms(&c, 2, 1.0), 20_000);
        assert_eq!(backoff_ms(&c, 4, 1.0), 80_000);
        assert_eq!(backoff_ms(&c, 12, 1.0), 3_600_000, "capped");
        assert_eq!(backoff_ms(&c, 200, 1.0), 3_600_000, "no overflow");
        assert_eq!(backoff_ms(&c, 1, 0.8), 8_000);
        assert_eq!(backoff_ms(&c, 1, 1.2), 12_000);
        assert_eq!(backoff_ms(&c, 1, 5.0), 12_000, "jitter is clamped to ±20 %");
    }

    #[test]
    fn the_default_config_is_the_documented_one() {
        let c = WebhookConfig::default();
        assert_eq!(
            (
                c.max_attempts,
                c.base_delay_ms,
                c.max_delay_ms,
                c.timeout_ms,
                c.poll_ms,
                c.concurrency
            ),
            (8, 10_000, 3_600_000, 10_000, 1_000, 8)
        );
        assert_eq!(c.lease_ms(), 50_000);
    }
}
