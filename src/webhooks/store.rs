//! Subscriptions, the delivery log and the outbox statements, in the operational tables
//! (`webhooks`, `webhook_deliveries`, `webhook_attempts`; see `storage::plain`).
//!
//! Every function takes the tenant and binds it: another tenant's subscription is "not found".

use serde_json::{Value as Json, json};

use super::spec::{Events, NewWebhook, Webhook, WebhookPatch};
use crate::domain::datetime::{format_ms, now_ms};
use crate::params;
use crate::storage::{Store, StoreError};
use crate::storage::{
    plain::Stmt,
    value::{Row, Value},
};

const COLUMNS: &str =
    "id, tenant_id, url, events, secret, active, description, created_at, updated_at";

fn webhook(row: &Row) -> Webhook {
    Webhook {
        id: row.text(0),
        tenant: row.text(1),
        url: row.text(2),
        events: Events::from_stored(&row.text(3)),
        secret: row.text(4),
        active: row.int(5) != 0,
        description: row.text(6),
        created_at: row.int(7),
        updated_at: row.int(8),
    }
}

/// Stores a new subscription of `tenant`.
pub async fn create(store: &Store, tenant: &str, new: NewWebhook) -> Result<Webhook, StoreError> {
    if !store.tenant_exists(tenant).await? {
        return Err(StoreError::UnknownTenant(tenant.to_owned()));
    }
    let now = now_ms();
    let hook = Webhook {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: tenant.to_owned(),
        url: new.url.as_str().to_owned(),
        events: new.events.as_slice().to_vec(),
        secret: new.secret.expose().to_owned(),
        active: new.active,
        description: new.description,
        created_at: now,
        updated_at: now,
    };
    store
        .ops_exec(
            &format!(
                "INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
            ),
            params![
                hook.id.as_str(),
                tenant,
                hook.url.as_str(),
                new.events.to_stored(),
                hook.secret.as_str(),
                hook.active,
                hook.description.as_str(),
                now,
            ],
        )
        .await?;
    Ok(hook)
}

/// The tenant's subscriptions, newest first.
pub async fn list(store: &Store, tenant: &str) -> Result<Vec<Webhook>, StoreError> {
    let rows = store
        .ops_fetch(
            &format!(
                "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 \
                 ORDER BY created_at DESC, id DESC"
            ),
            params![tenant],
        )
        .await?;
    Ok(rows.iter().map(webhook).collect())
}

/// One subscription of the tenant.
pub async fn get(store: &Store, tenant: &str, id: &str) -> Result<Option<Webhook>, StoreError> {
    let row = store
        .ops_fetch_opt(
            &format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND tenant_id = $2"),
            params![id, tenant],
        )
        .await?;
    Ok(row.as_ref().map(webhook))
}

/// Changes the fields the patch names; `None` when the tenant has no such subscription.
pub async fn update(
    store: &Store,
    tenant: &str,
    id: &str,
    patch: WebhookPatch,
) -> Result<Option<Webhook>, StoreError> {
    let row = store
        .ops_fetch_opt(
            &format!(
                "UPDATE webhooks SET url = COALESCE($1, url), events = COALESCE($2, events), \
                 secret = COALESCE($3, secret), active = COALESCE($4, active), \
                 description = COALESCE($5, description), updated_at = $6 \
                 WHERE id = $7 AND tenant_id = $8 RETURNING {COLUMNS}"
            ),
            params![
                patch.url.map(|u| u.as_str().to_owned()),
                patch.events.map(|e| e.to_stored()),
                patch.secret.map(|s| s.expose().to_owned()),
                patch.active.map(i64::from),
                patch.description,
                now_ms(),
                id,
                tenant,
            ],
        )
        .await?;
    Ok(row.as_ref().map(webhook))
}

/// Deletes a subscription and (by cascade) its deliveries; false when there was none.
pub async fn delete(store: &Store, tenant: &str, id: &str) -> Result<bool, StoreError> {
    let n = store
        .ops_exec(
            "DELETE FROM webhooks WHERE id = $1 AND tenant_id = $2",
            params![id, tenant],
        )
        .await?;
    Ok(n > 0)
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
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
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

/// The deliveries of one subscription of the tenant; `None` when there is no such subscription.
pub async fn deliveries(
    store: &Store,
    tenant: &str,
    webhook_id: &str,
    limit: u64,
    offset: u64,
) -> Result<Option<DeliveryPage>, StoreError> {
    if get(store, tenant, webhook_id).await?.is_none() {
        return Ok(None);
    }
    let total = store
        .ops_fetch_opt(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1 AND tenant_id = $2",
            params![webhook_id, tenant],
        )
        .await?
        .map_or(0, |r| r.int(0).max(0) as u64);
    let rows = store
        .ops_fetch(
            "SELECT id, webhook_id, event, state, attempts, next_attempt_at, last_status, \
             last_error, created_at, finished_at FROM webhook_deliveries \
             WHERE webhook_id = $1 AND tenant_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
            params![webhook_id, tenant, limit, offset],
        )
        .await?;
    let mut deliveries: Vec<Delivery> = rows
        .iter()
        .map(|r| Delivery {
            id: r.text(0),
            webhook_id: r.text(1),
            event: r.text(2),
            state: r.text(3),
            attempts: r.int(4),
            next_attempt_at: r.int(5),
            last_status: r.opt_int(6),
            last_error: r.opt_text(7),
            created_at: r.int(8),
            finished_at: r.opt_int(9),
            attempts_log: Vec::new(),
        })
        .collect();
    if !deliveries.is_empty() {
        // The page's ids as bound parameters: `IN ($1, $2, …)`.
        let marks: Vec<String> = (1..=deliveries.len()).map(|i| format!("${i}")).collect();
        let ids: Vec<Value> = deliveries
            .iter()
            .map(|d| Value::from(d.id.as_str()))
            .collect();
        let attempts = store
            .ops_fetch(
                &format!(
                    "SELECT delivery_id, attempt, at, status, error, duration_ms \
                     FROM webhook_attempts WHERE delivery_id IN ({}) \
                     ORDER BY delivery_id, attempt",
                    marks.join(", ")
                ),
                ids,
            )
            .await?;
        for r in &attempts {
            let id = r.text(0);
            if let Some(d) = deliveries.iter_mut().find(|d| d.id == id) {
                d.attempts_log.push(Attempt {
                    attempt: r.int(1),
                    at: r.int(2),
                    status: r.opt_int(3),
                    error: r.opt_text(4),
                    duration_ms: r.int(5),
                });
            }
        }
    }
    Ok(Some(DeliveryPage { deliveries, total }))
}

/// The payload of a delivery: the exact bytes POSTed and signed.
pub fn payload(
    delivery_id: &str,
    event: &str,
    created_at: i64,
    tenant: &str,
    data: &Json,
) -> String {
    json!({
        "id": delivery_id,
        "event": event,
        "created_at": format_ms(created_at),
        "tenant": tenant,
        "data": data,
    })
    .to_string()
}

/// The statements that enqueue `event` for every active subscription of `tenant` to it; the
/// caller runs them in the same `ops_atomic` batch as the job's final state (outbox).
///
/// Each statement inserts through a `SELECT` of the subscription, so one deleted or
/// deactivated between this read and the batch simply gets no delivery (and never fails the
/// caller's batch on the foreign key).
pub async fn event_stmts(
    store: &Store,
    tenant: &str,
    event: &str,
    data: &Json,
) -> Result<Vec<Stmt>, StoreError> {
    let subscribed = store
        .ops_fetch(
            "SELECT id, events FROM webhooks WHERE tenant_id = $1 AND active = 1 \
             ORDER BY created_at, id",
            params![tenant],
        )
        .await?;
    let now = now_ms();
    Ok(subscribed
        .iter()
        .filter(|r| Events::matches(&Events::from_stored(&r.text(1)), event))
        .map(|r| {
            let id = uuid::Uuid::now_v7().to_string();
            let body = payload(&id, event, now, tenant, data);
            Stmt::new(
                "INSERT INTO webhook_deliveries \
                 (id, webhook_id, tenant_id, event, payload, state, attempts, next_attempt_at, created_at) \
                 SELECT $1, id, tenant_id, $2, $3, 'pending', 0, $4, $4 FROM webhooks \
                 WHERE id = $5 AND tenant_id = $6 AND active = 1",
                params![id, event, body, now, r.text(0), tenant],
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_has_its_fields_in_order() {
        let p = payload(
            "d1",
            "import.completed",
            0,
            "default",
            &json!({"job_id": "j1"}),
        );
        assert_eq!(
            p,
            r#"{"id":"d1","event":"import.completed","created_at":"1970-01-01T00:00:00.000Z","tenant":"default","data":{"job_id":"j1"}}"#
        );
    }
}
