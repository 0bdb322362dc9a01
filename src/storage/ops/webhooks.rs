//! Webhook subscriptions (`webhooks`): the event vocabulary, the stored subscription and every
//! statement on the table. Their deliveries (the outbox) are [`super::deliveries`]. Validating a
//! subscription is the `webhooks` feature's.
//!
//! Every subscription operation takes the tenant and binds it: another tenant's subscription
//! is "not found".

use std::fmt;

use crate::domain::datetime::now_ms;
use crate::storage::value::{Row, params};
use crate::storage::{Store, StoreError};

/// Every event a subscription can name (besides `*`, all of them).
pub const EVENTS: [&str; 5] = [
    "import.completed",
    "import.failed",
    "import.held",
    "export.completed",
    "intake.refused",
];

/// The subscription to every event.
pub const ALL_EVENTS: &str = "*";

/// The event of a delivery an administrator sends to check a subscription's endpoint (the web
/// UI's "send a test event"): delivered to that one subscription whatever its events, never
/// something a subscription names.
pub const TEST_EVENT: &str = "webhook.test";

/// A stored subscription.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub tenant: String,
    pub url: String,
    /// Names of [`EVENTS`], or `["*"]`.
    pub events: Vec<String>,
    pub secret: String,
    pub active: bool,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str =
    "id, tenant_id, url, events, secret, active, description, created_at, updated_at";

impl Webhook {
    /// A row selected as [`COLUMNS`].
    fn from_row(r: &Row) -> Result<Webhook, StoreError> {
        Ok(Webhook {
            id: r.text(0)?,
            tenant: r.text(1)?,
            url: r.text(2)?,
            events: stored_events(r, 3)?,
            secret: r.text(4)?,
            active: r.flag(5)?,
            description: r.text(6)?,
            created_at: r.int(7)?,
            updated_at: r.int(8)?,
        })
    }
}

/// The stored form of a subscription's events: a JSON array of strings.
fn events_text(events: &[String]) -> String {
    serde_json::to_string(events).expect("strings serialise")
}

/// The events of column `i`: every name known, or `*`.
fn stored_events(r: &Row, i: usize) -> Result<Vec<String>, StoreError> {
    let names: Vec<String> = r.json(i, "a JSON array of event names")?;
    match names
        .iter()
        .find(|n| *n != ALL_EVENTS && !EVENTS.contains(&n.as_str()))
    {
        Some(unknown) => Err(r.decode_error(i, "known event names", format!("{unknown:?}"))),
        None => Ok(names),
    }
}

/// The fields of a subscription to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub secret: Option<String>,
    pub active: Option<bool>,
    pub description: Option<String>,
}

/// An active subscription and the events it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub webhook_id: String,
    pub events: Vec<String>,
}

impl Store {
    /// Stores a new subscription (the tenant is the caller's to check).
    pub async fn insert_webhook(&self, hook: &Webhook) -> Result<(), StoreError> {
        self.ops_exec(
            &format!(
                "INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            params![
                hook.id.as_str(),
                hook.tenant.as_str(),
                hook.url.as_str(),
                events_text(&hook.events),
                hook.secret.as_str(),
                hook.active,
                hook.description.as_str(),
                hook.created_at,
                hook.updated_at,
            ],
        )
        .await
        .map(|_| ())
    }

    /// The tenant's subscriptions, newest first.
    pub async fn list_webhooks(&self, tenant: &str) -> Result<Vec<Webhook>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"
        );
        self.ops_fetch_as(&sql, params![tenant], Webhook::from_row)
            .await
    }

    /// One subscription of the tenant.
    pub async fn webhook(&self, tenant: &str, id: &str) -> Result<Option<Webhook>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND tenant_id = $2");
        self.ops_fetch_opt_as(&sql, params![id, tenant], Webhook::from_row)
            .await
    }

    /// Changes the fields `change` names; `None` when the tenant has no such subscription.
    pub async fn update_webhook(
        &self,
        tenant: &str,
        id: &str,
        change: WebhookChange,
    ) -> Result<Option<Webhook>, StoreError> {
        let sql = format!(
            "UPDATE webhooks SET url = COALESCE($1, url), events = COALESCE($2, events), \
             secret = COALESCE($3, secret), active = COALESCE($4, active), \
             description = COALESCE($5, description), updated_at = $6 \
             WHERE id = $7 AND tenant_id = $8 RETURNING {COLUMNS}"
        );
        let p = params![
            change.url,
            change.events.as_deref().map(events_text),
            change.secret,
            change.active.map(i64::from),
            change.description,
            now_ms(),
            id,
            tenant,
        ];
        self.ops_fetch_opt_as(&sql, p, Webhook::from_row).await
    }

    /// Deletes a subscription and (by cascade) its deliveries; false when there was none.
    pub async fn delete_webhook(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        let n = self
            .ops_exec(
                "DELETE FROM webhooks WHERE id = $1 AND tenant_id = $2",
                params![id, tenant],
            )
            .await?;
        Ok(n > 0)
    }

    /// The tenant's active subscriptions, oldest first.
    pub async fn active_subscriptions(
        &self,
        tenant: &str,
    ) -> Result<Vec<Subscription>, StoreError> {
        self.ops_fetch_as(
            "SELECT id, events FROM webhooks WHERE tenant_id = $1 AND active = 1 \
             ORDER BY created_at, id",
            params![tenant],
            |r| {
                Ok(Subscription {
                    webhook_id: r.text(0)?,
                    events: stored_events(r, 1)?,
                })
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::value::Value;

    #[test]
    fn events_are_stored_as_a_json_array() {
        let stored = events_text(&["import.held".to_owned()]);
        assert_eq!(stored, r#"["import.held"]"#);
        let row = Row::new(
            vec![
                Value::Text(stored),
                Value::Text(r#"["import.done"]"#.into()),
            ],
            ["events", "other"].map(str::to_owned).into_iter().collect(),
        );
        assert_eq!(stored_events(&row, 0).unwrap(), ["import.held"]);
        let err = stored_events(&row, 1).unwrap_err().to_string();
        assert_eq!(
            err,
            r#"column 1 (other): expected known event names, found "import.done""#
        );
    }
}
