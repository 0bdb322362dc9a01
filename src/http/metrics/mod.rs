//! Prometheus metrics, served at `/metrics`. Histograms (not summaries) so replicas can be
//! aggregated. The dashboards and alerts under `deploy/` use these names, and
//! `tests/it/metrics_coverage.rs` fails when one of them is no longer exposed.
//!
//! | family | where it is counted |
//! |---|---|
//! | `http_request_duration_seconds{method,route,status}` | [`track`], every request, by route template |
//! | `rosterhub_client_requests_total{client,area,code}`, `rosterhub_auth_failures_total{kind}`, `rosterhub_auth_lockouts_total{kind}`, `rosterhub_rate_limited_total{area}`, `rosterhub_ip_refused_total{area}` | [`security`] |
//! | `jobs_started_total`, `jobs_finished_total`, `rosterhub_job_duration_seconds`, `rosterhub_import_rows_total`, `rosterhub_worker_heartbeat_timestamp_seconds` | `jobs::metrics` |
//! | `webhook_deliveries_total{outcome}` | `webhooks::deliver` |
//! | `rosterhub_audit_*_total` | `audit::writer` |
//! | `rosterhub_jobs{state}`, `rosterhub_import_held_oldest_seconds`, `rosterhub_database_*`, `rosterhub_db_pool_*`, `rosterhub_disk_*_bytes`, `rosterhub_build_info` | [`scrape`], read when scraped |
//! | `process_*` | [`process`], read from `/proc/self` when scraped |
//!
//! Counters whose labels take known values are shown at 0 from the start ([`handle`]): a rate
//! or an alert needs the series to exist before the first event.

pub mod process;
mod scrape;
pub mod security;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;
use crate::jobs::metrics as job_metrics;
use crate::jobs::{JobKind, JobState};

pub const REQUEST_SECONDS: &str = "http_request_duration_seconds";

/// The buckets of [`REQUEST_SECONDS`]: a cached read takes a millisecond, a slow page seconds.
const REQUEST_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process-wide recorder (one per process: a second install would fail).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &REQUEST_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(job_metrics::DURATION_SECONDS.into()),
                        &job_metrics::DURATION_BUCKETS,
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; the handle still renders ours.
            let _ = metrics::set_global_recorder(recorder);
            describe_and_zero();
            handle
        })
        .clone()
}

/// The help text of every family, and its known series at 0.
fn describe_and_zero() {
    metrics::describe_histogram!(
        REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "HTTP requests by method, route template and status"
    );
    metrics::describe_counter!(job_metrics::STARTED, "Jobs claimed by a worker, by kind");
    metrics::describe_counter!(
        job_metrics::FINISHED,
        "Jobs whose end was written, by kind and final state"
    );
    metrics::describe_histogram!(
        job_metrics::DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Jobs from claim to end, by kind and outcome (an import's report status)"
    );
    metrics::describe_counter!(
        job_metrics::IMPORT_ROWS,
        "Data rows read by import jobs, by entity"
    );
    metrics::describe_gauge!(
        job_metrics::HEARTBEAT,
        metrics::Unit::Seconds,
        "When each job worker last showed it was alive (seconds since the epoch)"
    );
    metrics::describe_counter!(
        crate::webhooks::deliver::DELIVERIES_TOTAL,
        "Webhook delivery attempts recorded, by outcome"
    );
    for kind in [JobKind::Import, JobKind::Export] {
        metrics::counter!(job_metrics::STARTED, "kind" => kind.as_str()).increment(0);
        for state in [JobState::Succeeded, JobState::Failed, JobState::Held] {
            if kind == JobKind::Export && state == JobState::Held {
                continue;
            }
            metrics::counter!(job_metrics::FINISHED, "kind" => kind.as_str(), "state" => state.as_str())
                .increment(0);
        }
    }
    for entity in crate::domain::Entity::ALL {
        metrics::counter!(job_metrics::IMPORT_ROWS, "entity" => entity.name()).increment(0);
    }
    for outcome in crate::webhooks::deliver::OUTCOMES {
        metrics::counter!(crate::webhooks::deliver::DELIVERIES_TOTAL, "outcome" => outcome)
            .increment(0);
    }
    metrics::describe_counter!(
        crate::audit::WRITTEN_TOTAL,
        "Audit log rows written (per-minute read aggregates included)"
    );
    metrics::describe_counter!(
        crate::audit::AGGREGATED_TOTAL,
        "OneRoster reads folded into per-minute audit aggregates (the queue was full)"
    );
    metrics::describe_counter!(
        crate::audit::DROPPED_TOTAL,
        "Audit rows the database refused even one by one (should stay 0)"
    );
    for name in [
        crate::audit::WRITTEN_TOTAL,
        crate::audit::AGGREGATED_TOTAL,
        crate::audit::DROPPED_TOTAL,
    ] {
        metrics::counter!(name).increment(0);
    }
    security::describe_and_zero();
    scrape::describe();
    process::describe();
}

/// Records every request under its route template (`/users/{id}`, never the id itself).
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::histogram!(REQUEST_SECONDS, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the Prometheus text format, with the gauges read now.
pub async fn render(State(state): State<AppState>) -> String {
    let handle = handle();
    scrape::update(&state).await;
    process::update();
    handle.render()
}
