//! The outbox of webhooks (`webhook_deliveries`, `webhook_attempts`): a delivery per event and
//! subscription, written in the same transaction as what caused it (a job's end: see
//! `Store::finish_job`), claimed under a lease, and the record of each attempt. Building a
//! payload, signing and the retry policy are the `webhooks` feature's.

use super::Stmt;
use super::webhooks::{EVENTS, TEST_EVENT};
use crate::domain::datetime::now_ms;
use crate::storage::value::{Row, Value, params};
use crate::storage::{BackendKind, Store, StoreError};

/// The event name of column `i` (one of [`EVENTS`], or [`TEST_EVENT`]).
fn stored_event(r: &Row, i: usize) -> Result<String, StoreError> {
    r.parse(i, "an event name", |s| {
        (EVENTS.contains(&s) || s == TEST_EVENT).then(|| s.to_owned())
    })
}

/// A delivery to enqueue: one event for one subscription, its payload the exact bytes to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub id: String,
    pub webhook_id: String,
    pub tenant: String,
    pub event: String,
    pub payload: String,
    pub created_at: i64,
}

/// Enqueues a delivery through a `SELECT` of its subscription: one deleted or deactivated since
/// it was read simply gets no delivery (and never fails the batch on the foreign key).
pub(super) fn enqueue_stmt(d: &NewDelivery) -> Stmt {
    Stmt::new(
        "INSERT INTO webhook_deliveries \
         (id, webhook_id, tenant_id, event, payload, state, attempts, next_attempt_at, created_at) \
         SELECT $1, id, tenant_id, $2, $3, 'pending', 0, $4, $4 FROM webhooks \
         WHERE id = $5 AND tenant_id = $6 AND active = 1",
        params![
            d.id.as_str(),
            d.event.as_str(),
            d.payload.as_str(),
            d.created_at,
            d.webhook_id.as_str(),
            d.tenant.as_str()
        ],
    )
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Succeeded,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1-based.
    pub attempt: i64,
    /// When the request started (epoch ms).
    pub at: i64,
    /// The HTTP status; `None` when no response came (timeout, refused connection).
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One event for one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Oldest first.
    pub attempts_log: Vec<Attempt>,
}

/// A page of a subscription's deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    pub total: u64,
}

/// A delivery a worker holds the lease of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The lease the claim set: the fencing token of every write about this attempt.
    pub lease_until: i64,
}

/// Where and how a delivery is sent: its subscription as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTarget {
    pub url: String,
    pub secret: String,
    pub active: bool,
}

/// How an attempt ended for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    Retry { next_attempt_at: i64 },
    Failed,
}

impl AttemptOutcome {
    /// `succeeded`, `retry` or `failed` (the final two are also the delivery's stored state).
    pub fn label(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => DeliveryState::Succeeded.as_str(),
            AttemptOutcome::Retry { .. } => "retry",
            AttemptOutcome::Failed => DeliveryState::Failed.as_str(),
        }
    }
}

impl Store {
    /// Enqueues deliveries in one transaction; whether each was (see [`NewDelivery`]: not for
    /// a subscription deleted or paused since it was read).
    pub async fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
    ) -> Result<Vec<bool>, StoreError> {
        let counts = self
            .ops_atomic(deliveries.iter().map(enqueue_stmt).collect())
            .await?;
        Ok(counts.into_iter().map(|n| n == 1).collect())
    }

    /// The deliveries of one subscription of the tenant, with their attempts; `None` when
    /// there is no such subscription.
    pub async fn webhook_deliveries(
        &self,
        tenant: &str,
        webhook_id: &str,
        limit: u64,
        offset: u64,
    ) -> Result<Option<DeliveryPage>, StoreError> {
        if self.webhook(tenant, webhook_id).await?.is_none() {
            return Ok(None);
        }
        let total = self
            .ops_count(
                "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1 AND tenant_id = $2",
                params![webhook_id, tenant],
            )
            .await?;
        let deliveries = self
            .delivery_rows(
                "webhook_id = $1 AND tenant_id = $2 \
                 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
                params![webhook_id, tenant, limit, offset],
            )
            .await?;
        Ok(Some(DeliveryPage { deliveries, total }))
    }

    /// Up to `limit` deliveries of one subscription of the tenant, newest first, after
    /// `after` (the `(created_at, id)` of the last one of the previous page): a keyset page
    /// that counts nothing, so a busy subscription's log costs the same at any depth (the web
    /// UI). `None` when there is no such subscription.
    pub async fn webhook_delivery_page(
        &self,
        tenant: &str,
        webhook_id: &str,
        after: Option<(i64, &str)>,
        limit: u64,
    ) -> Result<Option<Vec<Delivery>>, StoreError> {
        if self.webhook(tenant, webhook_id).await?.is_none() {
            return Ok(None);
        }
        // The first page: after a time no delivery has.
        let (at, id) = after.unwrap_or((i64::MAX, ""));
        // `created_at <= $3` bounds the index range; the OR keeps ties in `id` order.
        let rows = self
            .delivery_rows(
                "webhook_id = $1 AND tenant_id = $2 AND created_at <= $3 \
                 AND (created_at < $3 OR id < $4) \
                 ORDER BY created_at DESC, id DESC LIMIT $5",
                params![webhook_id, tenant, at, id, limit],
            )
            .await?;
        Ok(Some(rows))
    }

    /// The deliveries `WHERE {rest}` (the condition, order and limit), with their attempts.
    async fn delivery_rows(
        &self,
        rest: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT id, webhook_id, event, state, attempts, next_attempt_at, last_status, \
             last_error, created_at, finished_at FROM webhook_deliveries WHERE {rest}"
        );
        let mut deliveries = self
            .ops_fetch_as(&sql, params, |r| {
                Ok(Delivery {
                    id: r.text(0)?,
                    webhook_id: r.text(1)?,
                    event: stored_event(r, 2)?,
                    state: r.parse(3, "a delivery state", DeliveryState::parse)?,
                    attempts: r.int(4)?,
                    next_attempt_at: r.int(5)?,
                    last_status: r.opt_int(6)?,
                    last_error: r.opt_text(7)?,
                    created_at: r.int(8)?,
                    finished_at: r.opt_int(9)?,
                    attempts_log: Vec::new(),
                })
            })
            .await?;
        if deliveries.is_empty() {
            return Ok(deliveries);
        }
        // The page's ids as bound parameters: `IN ($1, $2, …)`.
        let marks: Vec<String> = (1..=deliveries.len()).map(|i| format!("${i}")).collect();
        let ids: Vec<Value> = deliveries
            .iter()
            .map(|d| Value::from(d.id.as_str()))
            .collect();
        let attempts = self
            .ops_fetch_as(
                &format!(
                    "SELECT delivery_id, attempt, at, status, error, duration_ms \
                     FROM webhook_attempts WHERE delivery_id IN ({}) \
                     ORDER BY delivery_id, attempt",
                    marks.join(", ")
                ),
                ids,
                |r| {
                    let attempt = Attempt {
                        attempt: r.int(1)?,
                        at: r.int(2)?,
                        status: r.opt_int(3)?,
                        error: r.opt_text(4)?,
                        duration_ms: r.int(5)?,
                    };
                    Ok((r.text(0)?, attempt))
                },
            )
            .await?;
        for (id, attempt) in attempts {
            if let Some(d) = deliveries.iter_mut().find(|d| d.id == id) {
                d.attempts_log.push(attempt);
            }
        }
        Ok(deliveries)
    }

    /// Leases up to `n` due deliveries for `lease_ms`.
    ///
    /// A lease (`lease_until`) is the only lock: the claim sets it on rows that are due and
    /// not leased (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so replicas never wait for one
    /// another), and every new claim of a row sets a later one, so its value fences the writes
    /// about the attempt.
    pub async fn claim_deliveries(
        &self,
        n: usize,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = now_ms();
        let lease_until = now + lease_ms;
        let lock = match self.backend() {
            BackendKind::Postgres => " FOR UPDATE SKIP LOCKED",
            BackendKind::Sqlite => "",
        };
        let due = "state = 'pending' AND next_attempt_at <= $1 \
                   AND (lease_until IS NULL OR lease_until < $1)";
        // The candidates are a materialised CTE: as a plain `IN (subquery)` PostgreSQL may
        // rescan the `LIMIT … SKIP LOCKED` subquery and lease more rows than asked for.
        let sql = format!(
            "WITH claim AS MATERIALIZED (SELECT id FROM webhook_deliveries WHERE {due} \
                                         ORDER BY next_attempt_at, id LIMIT $2{lock}) \
             UPDATE webhook_deliveries SET lease_until = $3 \
             WHERE id IN (SELECT id FROM claim) AND {due} \
             RETURNING id, webhook_id, event, payload, attempts"
        );
        self.ops_fetch_as(&sql, params![now, n as i64, lease_until], |r| {
            Ok(ClaimedDelivery {
                id: r.text(0)?,
                webhook_id: r.text(1)?,
                event: stored_event(r, 2)?,
                payload: r.text(3)?,
                attempts: r.int(4)?,
                lease_until,
            })
        })
        .await
    }

    /// The subscription a delivery goes to, whatever its tenant; `None` once it is deleted.
    pub async fn delivery_target(
        &self,
        webhook_id: &str,
    ) -> Result<Option<DeliveryTarget>, StoreError> {
        self.ops_fetch_opt_as(
            "SELECT url, secret, active FROM webhooks WHERE id = $1",
            params![webhook_id],
            |r| {
                Ok(DeliveryTarget {
                    url: r.text(0)?,
                    secret: r.text(1)?,
                    active: r.flag(2)?,
                })
            },
        )
        .await
    }

    /// Writes an attempt and the delivery's new state in one transaction, if the claim's lease
    /// is still the delivery's: otherwise nothing is written and the answer is
    /// [`StoreError::Conflict`].
    pub async fn record_attempt(
        &self,
        d: &ClaimedDelivery,
        attempt: &Attempt,
        outcome: AttemptOutcome,
    ) -> Result<(), StoreError> {
        let update = match outcome {
            AttemptOutcome::Succeeded | AttemptOutcome::Failed => Stmt::guard(
                "UPDATE webhook_deliveries SET state = $1, attempts = $2, lease_until = NULL, \
                 last_status = $3, last_error = $4, finished_at = $5 \
                 WHERE id = $6 AND lease_until = $7 AND state = 'pending'",
                params![
                    outcome.label(),
                    attempt.attempt,
                    attempt.status,
                    attempt.error.as_deref(),
                    now_ms(),
                    d.id.as_str(),
                    d.lease_until
                ],
            ),
            AttemptOutcome::Retry { next_attempt_at } => Stmt::guard(
                "UPDATE webhook_deliveries SET attempts = $1, next_attempt_at = $2, \
                 lease_until = NULL, last_status = $3, last_error = $4 \
                 WHERE id = $5 AND lease_until = $6 AND state = 'pending'",
                params![
                    attempt.attempt,
                    next_attempt_at,
                    attempt.status,
                    attempt.error.as_deref(),
                    d.id.as_str(),
                    d.lease_until
                ],
            ),
        };
        let log = Stmt::new(
            "INSERT INTO webhook_attempts (delivery_id, attempt, at, status, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            params![
                d.id.as_str(),
                attempt.attempt,
                attempt.at,
                attempt.status,
                attempt.error.as_deref(),
                attempt.duration_ms
            ],
        );
        self.ops_atomic(vec![update, log]).await.map(|_| ())
    }

    /// Ends a claimed delivery without sending it (its subscription is paused; no attempt is
    /// logged); whether the lease was still the claim's.
    pub async fn fail_inactive_delivery(&self, d: &ClaimedDelivery) -> Result<bool, StoreError> {
        let n = self
            .ops_exec(
                "UPDATE webhook_deliveries SET state = 'failed', lease_until = NULL, \
                 last_error = 'subscription inactive', finished_at = $1 \
                 WHERE id = $2 AND lease_until = $3 AND state = 'pending'",
                params![now_ms(), d.id.as_str(), d.lease_until],
            )
            .await?;
        Ok(n == 1)
    }

    /// Deletes the log of deliveries that ended before `cutoff` (kept as long as job files).
    pub async fn delete_finished_deliveries(&self, cutoff: i64) -> Result<u64, StoreError> {
        self.ops_exec(
            "DELETE FROM webhook_deliveries WHERE state IN ('succeeded', 'failed') \
             AND finished_at < $1",
            params![cutoff],
        )
        .await
    }
}
