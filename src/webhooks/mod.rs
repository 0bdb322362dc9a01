//! Webhooks: per-tenant subscriptions, an outbox of deliveries, signed POSTs with retries.
//!
//! - [`spec`]: a subscription's parsed parts (URL, events, secret).
//! - [`store`]: creating and changing subscriptions, and [`event_deliveries`] — the outbox rows
//!   a job writes in the same transaction as its final state, so an event is enqueued exactly
//!   when the job's outcome commits; [`store::send_test`], a `webhook.test` delivery to one
//!   subscription (the web UI's test button). The tables, their rows ([`Webhook`], [`Delivery`]) and every
//!   statement on them are `storage::ops::webhooks` and `storage::ops::deliveries`.
//! - [`deliver`]: the worker that claims due deliveries under a lease (several replicas may run
//!   it on one database), POSTs them signed ([`sign`]) and retries with exponential backoff.
//!
//! The wire format, headers, signature and retry policy are documented in `docs/webhooks.md`.

pub mod deliver;
pub mod sign;
pub mod spec;
pub mod store;

pub use crate::storage::ops::deliveries::{Attempt, Delivery, DeliveryPage, DeliveryState};
pub use crate::storage::ops::webhooks::{EVENTS, TEST_EVENT, Webhook};
pub use deliver::{WebhookConfig, spawn_delivery_worker};
pub use spec::{Events, Invalid, NewWebhook, Secret, WebhookPatch, WebhookUrl};
pub use store::event_deliveries;
