//! Webhooks: per-tenant subscriptions, an outbox of deliveries, signed POSTs with retries.
//!
//! - [`spec`]: a subscription's parsed parts (URL, events, secret) and the stored [`Webhook`].
//! - [`store`]: subscriptions CRUD, the delivery log, and [`event_stmts`] — the outbox rows a
//!   job writes in the same transaction as its final state, so an event is enqueued exactly
//!   when the job's outcome commits.
//! - [`deliver`]: the worker that claims due deliveries under a lease (several replicas may run
//!   it on one database), POSTs them signed ([`sign`]) and retries with exponential backoff.
//!
//! The wire format, headers, signature and retry policy are documented in `docs/webhooks.md`.

pub mod deliver;
pub mod sign;
pub mod spec;
pub mod store;

pub use deliver::{WebhookConfig, spawn_delivery_worker};
pub use spec::{Events, Invalid, NewWebhook, Secret, Webhook, WebhookPatch, WebhookUrl};
pub use store::{Attempt, Delivery, DeliveryPage, event_stmts};

/// Every event a subscription can name (besides `*`, all of them).
pub const EVENTS: [&str; 4] = [
    "import.completed",
    "import.failed",
    "import.held",
    "export.completed",
];
