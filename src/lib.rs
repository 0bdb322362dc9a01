//! RosterHub: a OneRoster 1.2 roster hub (Japan Profile).
//!
//! Codemap:
//! - [`domain`]: entities, columns, vocabularies, ids, dates; API clients' scopes and restrictions.
//!   Pure.
//! - [`csv`]: bundles (ZIP/folder), manifest, encodings, profile detection. Pure.
//! - [`import`]: the pipeline — validate, stage, plan, apply, report.
//! - [`storage`]: SQLite and PostgreSQL; the only place that writes SQL.
//! - [`generate`]: realistic, deterministic Japan Profile bundles for demos and benchmarks.
//! - [`export`]: a tenant's records as a OneRoster CSV ZIP (bulk or delta).
//! - [`http`]: the HTTP server: the OneRoster API, the admin API, the token endpoint, probes.
//! - [`cli`]: the `rosterhub` commands.
//! - [`telemetry`]: logging set-up.
//! - [`filter`]: OneRoster `filter`/`sort`/`fields` parameters → typed values.
//! - [`auth`]: OAuth 2.0 client credentials, API clients, tokens.
//! - [`jobs`]: imports and exports as jobs: queue, leases, workers, stored files.
//! - [`webhooks`]: subscriptions, the delivery outbox, signed deliveries with retries.
//! - [`mail`]: e-mail notices to tenant admins (held, failed, refused, daily summary) over SMTP.
//! - [`pii`]: PII encrypted at rest (AES-256-GCM), blind indexes for filters, key rotation.
//! - [`users`]: admin users of the web UI: argon2id passwords, roles per tenant, sessions.
//! - [`audit`]: the audit log: what each request adds, the batch writer, masked filters.
//! - [`web`]: where the APIs are mounted and the one percent/form decoder (a leaf).

pub mod audit;
pub mod auth;
pub mod cli;
pub mod csv;
pub mod domain;
pub mod export;
pub mod filter;
pub mod generate;
pub mod http;
pub mod import;
pub mod intake;
pub mod jobs;
pub mod mail;
pub mod mapping;
pub mod pii;
pub mod storage;
pub mod telemetry;
pub mod users;
pub mod web;
pub mod webhooks;
