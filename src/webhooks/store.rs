//! The subscriptions and outbox rules over storage's webhook tables (`storage::ops::webhooks`):
//! a checked subscription becomes a stored one, a patch becomes a change, and an event becomes
//! the deliveries — with their payloads — that a job writes in the same transaction as its final
//! state.

use serde_json::{Value as Json, json};

use super::spec::{Events, NewWebhook, WebhookPatch};
use crate::domain::datetime::{format_ms, now_ms};
use crate::storage::ops::deliveries::NewDelivery;
use crate::storage::ops::webhooks::{TEST_EVENT, Webhook, WebhookChange};
use crate::storage::{Store, StoreError};

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
    store.insert_webhook(&hook).await?;
    Ok(hook)
}

/// Changes the fields the patch names; `None` when the tenant has no such subscription.
pub async fn update(
    store: &Store,
    tenant: &str,
    id: &str,
    patch: WebhookPatch,
) -> Result<Option<Webhook>, StoreError> {
    let change = WebhookChange {
        url: patch.url.map(|u| u.as_str().to_owned()),
        events: patch.events.map(|e| e.as_slice().to_vec()),
        secret: patch.secret.map(|s| s.expose().to_owned()),
        active: patch.active,
        description: patch.description,
    };
    store.update_webhook(tenant, id, change).await
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

/// The deliveries of `event` for every active subscription of `tenant` to it; the caller
/// writes them in the same transaction as the job's final state (`Store::finish_job`: the
/// outbox). A subscription deleted or deactivated between this read and that transaction
/// simply gets no delivery.
pub async fn event_deliveries(
    store: &Store,
    tenant: &str,
    event: &str,
    data: &Json,
) -> Result<Vec<NewDelivery>, StoreError> {
    let subscribed = store.active_subscriptions(tenant).await?;
    let now = now_ms();
    Ok(subscribed
        .into_iter()
        .filter(|s| Events::matches(&s.events, event))
        .map(|s| {
            let id = uuid::Uuid::now_v7().to_string();
            NewDelivery {
                payload: payload(&id, event, now, tenant, data),
                id,
                webhook_id: s.webhook_id,
                tenant: tenant.to_owned(),
                event: event.to_owned(),
                created_at: now,
            }
        })
        .collect())
}

/// Why a test event was not queued.
#[derive(Debug, thiserror::Error)]
pub enum TestRefused {
    #[error("the tenant has no such subscription")]
    NotFound,
    #[error("the subscription is disabled: enable it to send it events")]
    Inactive,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Queues a [`TEST_EVENT`] delivery to one active subscription of `tenant`, whatever events it
/// names; the delivery worker sends it like any other (signed, retried, logged). The delivery.
pub async fn send_test(
    store: &Store,
    tenant: &str,
    webhook_id: &str,
) -> Result<NewDelivery, TestRefused> {
    let hook = store
        .webhook(tenant, webhook_id)
        .await?
        .ok_or(TestRefused::NotFound)?;
    if !hook.active {
        return Err(TestRefused::Inactive);
    }
    let now = now_ms();
    let id = uuid::Uuid::now_v7().to_string();
    let data = json!({"webhook_id": hook.id, "test": true});
    let delivery = NewDelivery {
        payload: payload(&id, TEST_EVENT, now, tenant, &data),
        id,
        webhook_id: hook.id,
        tenant: tenant.to_owned(),
        event: TEST_EVENT.to_owned(),
        created_at: now,
    };
    // Not queued when the subscription was disabled or deleted since it was read.
    match store
        .enqueue_deliveries(std::slice::from_ref(&delivery))
        .await?
        .first()
    {
        Some(true) => Ok(delivery),
        _ => Err(TestRefused::Inactive),
    }
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
