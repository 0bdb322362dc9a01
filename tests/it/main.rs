//! One integration-test binary: `cargo test --test it`.
//!
//! Storage tests run on SQLite always and on PostgreSQL when one is reachable
//! (`ROSTERHUB_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/postgres`); set
//! `ROSTERHUB_REQUIRE_PG=1` to make an unreachable PostgreSQL a failure instead of a skip.
//!
//! Every file sets up through one harness: `helpers` (databases, bundles, the binary, tokens)
//! and `server` (the server in this process).

mod api;
mod audit;
mod authz;
mod changes;
mod cli;
mod clients;
mod corrupt_rows;
mod daily_delta;
mod dashboard;
mod export;
mod first_contact;
mod hardening;
mod helpers;
mod hostile;
mod import;
mod intake;
mod intake_pull;
mod isolation;
mod jobs;
mod jobs_hardening;
mod killed_import;
mod layout;
mod mail;
mod mapping;
mod metrics_coverage;
mod metrics_refusals;
mod openapi;
mod ops;
mod otel;
mod pii;
mod raw_sql;
mod read_replica;
mod reads;
mod references;
mod report;
mod requests;
mod rollover;
mod scaleout;
mod serve;
mod server;
mod targets;
mod throttle;
mod ui;
mod undo;
mod users;
mod webhooks;
