//! The gauges read when `/metrics` is scraped: jobs per state and the oldest held import (one
//! cheap query set, `Store::ops_gauges`), the database's size and whether it answered, the
//! connection pools, the free space where RosterHub writes, and the build.
//!
//! Jobs are shared by every replica, so each replica reports the same counts: dashboards and
//! alerts take `max` over instances, not `sum`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::datetime::now_ms;
use crate::http::AppState;
use crate::storage::Store;

pub const JOBS: &str = "rosterhub_jobs";
pub const HELD_OLDEST_SECONDS: &str = "rosterhub_import_held_oldest_seconds";
pub const DATABASE_UP: &str = "rosterhub_database_up";
pub const DATABASE_BYTES: &str = "rosterhub_database_size_bytes";
pub const POOL_CONNECTIONS: &str = "rosterhub_db_pool_connections";
pub const POOL_MAX: &str = "rosterhub_db_pool_max_connections";
pub const DISK_FREE: &str = "rosterhub_disk_free_bytes";
pub const DISK_SIZE: &str = "rosterhub_disk_size_bytes";
pub const BUILD_INFO: &str = "rosterhub_build_info";

/// A scrape never waits longer than this for the database (Prometheus' default timeout is
/// 10 s); past it the database counts as down for this scrape.
const QUERY_LIMIT: Duration = Duration::from_secs(5);

pub(super) fn describe() {
    metrics::describe_gauge!(
        JOBS,
        "Jobs in the database by state (the same on every replica)"
    );
    metrics::describe_gauge!(
        HELD_OLDEST_SECONDS,
        metrics::Unit::Seconds,
        "How long the longest-held import has waited for approval (0: none held)"
    );
    metrics::describe_gauge!(
        DATABASE_UP,
        "1 when the database answered this scrape's queries, else 0"
    );
    metrics::describe_gauge!(
        DATABASE_BYTES,
        metrics::Unit::Bytes,
        "The database on disk (SQLite: both files and their WAL; PostgreSQL: pg_database_size)"
    );
    metrics::describe_gauge!(
        POOL_CONNECTIONS,
        "Database connections of this process by pool and state (idle, busy)"
    );
    metrics::describe_gauge!(
        POOL_MAX,
        "PostgreSQL: the pool's most connections; SQLite: the most idle connections kept"
    );
    metrics::describe_gauge!(
        DISK_FREE,
        metrics::Unit::Bytes,
        "Bytes free to RosterHub by volume (temp: uploads and exports in progress; database: \
         the SQLite files)"
    );
    metrics::describe_gauge!(DISK_SIZE, metrics::Unit::Bytes, "The size of each volume");
    metrics::describe_gauge!(BUILD_INFO, "1, labelled with the version and the backend");
}

/// Reads every gauge of this file now.
pub(super) async fn update(state: &AppState) {
    let store = &state.store;
    let backend = match store {
        Store::Sqlite(_) => "sqlite",
        Store::Postgres(_) => "postgres",
    };
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "backend" => backend)
        .set(1.0);
    let up = match tokio::time::timeout(QUERY_LIMIT, store.ops_gauges()).await {
        Ok(Ok(g)) => {
            for (state, n) in g.jobs {
                metrics::gauge!(JOBS, "state" => state.as_str()).set(n as f64);
            }
            let held_ms = g.oldest_held_ms.map_or(0, |at| (now_ms() - at).max(0));
            metrics::gauge!(HELD_OLDEST_SECONDS).set(held_ms as f64 / 1000.0);
            metrics::gauge!(DATABASE_BYTES).set(g.database_bytes as f64);
            true
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the database did not answer");
            false
        }
        Err(_) => {
            tracing::warn!(
                limit_secs = QUERY_LIMIT.as_secs(),
                "metrics: the database did not answer in time"
            );
            false
        }
    };
    metrics::gauge!(DATABASE_UP).set(if up { 1.0 } else { 0.0 });
    for pool in store.pool_gauges() {
        metrics::gauge!(POOL_CONNECTIONS, "pool" => pool.name, "state" => "idle")
            .set(pool.idle as f64);
        metrics::gauge!(POOL_CONNECTIONS, "pool" => pool.name, "state" => "busy")
            .set(pool.busy as f64);
        metrics::gauge!(POOL_MAX, "pool" => pool.name).set(pool.max as f64);
    }
    for (volume, path) in volumes(state) {
        match rustix::fs::statvfs(&path) {
            Ok(fs) => {
                let unit = fs.f_frsize.max(1);
                metrics::gauge!(DISK_FREE, "volume" => volume)
                    .set(fs.f_bavail.saturating_mul(unit) as f64);
                metrics::gauge!(DISK_SIZE, "volume" => volume)
                    .set(fs.f_blocks.saturating_mul(unit) as f64);
            }
            Err(e) => tracing::debug!(volume, error = %e, "metrics: cannot read free space"),
        }
    }
}

/// Where this process writes: its temporary files (`--temp-dir`), and the SQLite files.
fn volumes(state: &AppState) -> Vec<(&'static str, PathBuf)> {
    let temp = match &state.jobs.config.scratch {
        Some(s) => s.dir().to_owned(),
        None => std::env::temp_dir(),
    };
    let mut out = vec![("temp", temp)];
    if let Store::Sqlite(s) = &state.store {
        let dir = s.path().parent().filter(|d| !d.as_os_str().is_empty());
        out.push(("database", dir.unwrap_or(Path::new(".")).to_owned()));
    }
    out
}
