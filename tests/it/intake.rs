//! The drop folder: a bundle copied in slowly is read only once complete and imported as a job
//! with actor `intake`; a file that is not a bundle ends in `failed/` with its report.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rosterhub::http::ui::zone::Zone;
use rosterhub::intake::calendar::Window;
use rosterhub::intake::{IntakeConfig, spawn};
use serde_json::Value;

use crate::helpers::{Backend, TestDb, fixtures};
use crate::raw_sql::ops_count;
use crate::server::{Server, test_config, zip_dir};

/// Intake of `dir` polled every `poll`, as replica `owner`, without blackout or rollover.
pub(crate) fn config(dir: &Path, poll: Duration, owner: String) -> IntakeConfig {
    IntakeConfig {
        dir: dir.to_owned(),
        poll,
        owner,
        blackout: Vec::new(),
        rollover: None,
        zone: Zone::default(),
    }
}

/// Waits (up to 60 s) for `path` to exist.
async fn wait_for(path: &Path) {
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} never appeared", path.display());
}

fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn a_dropped_bundle_is_imported_once_complete(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let drop = tempfile::tempdir().unwrap();
    let tenant_dir = drop.path().join("default");
    std::fs::create_dir_all(&tenant_dir).unwrap();
    db.rt.block_on(async {
        let task = spawn(
            server.state.store.clone(),
            server.state.jobs.clone(),
            server.state.audit.clone(),
            config(
                drop.path(),
                Duration::from_millis(700),
                "test-replica".into(),
            ),
        );
        // Written in parts with pauses shorter than a poll: never read half-written.
        let zip = zip_dir(&fixtures().join("jp-profile-v1.2.1"));
        let mut f = std::fs::File::create(tenant_dir.join("roster.zip")).unwrap();
        for part in zip.chunks(zip.len() / 8 + 1) {
            f.write_all(part).unwrap();
            f.flush().unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop_file(f);
        std::fs::write(tenant_dir.join("notes.zip"), b"not a zip at all").unwrap();

        let done = tenant_dir.join("processed/roster.zip.report.json");
        wait_for(&done).await;
        let r = report(&done);
        assert_eq!(r["state"], "succeeded", "{r}");
        assert_eq!(r["report"]["status"], "applied", "{r}");
        assert!(tenant_dir.join("processed/roster.zip").exists());
        assert_eq!(db.count("users", "default"), 36);
        assert_eq!(
            ops_count(&db, "SELECT COUNT(*) FROM jobs WHERE created_by = 'intake'").await,
            1
        );

        let bad = tenant_dir.join("failed/notes.zip.report.json");
        wait_for(&bad).await;
        let r = report(&bad);
        assert_eq!(r["state"], "refused", "{r}");
        assert!(r["error"].as_str().unwrap().contains("manifest.csv"), "{r}");
        assert!(!tenant_dir.join("notes.zip").exists());
        task.abort();
    });
}

/// Two replicas (each its own store, workers and drop-folder loop) on one database and one
/// folder: the bundle is imported exactly once.
fn two_replicas_import_a_dropped_bundle_once(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let a = Server::start(&db, "default", test_config());
    let b = Server::start(&db, "default", test_config());
    let drop = tempfile::tempdir().unwrap();
    let tenant_dir = drop.path().join("default");
    std::fs::create_dir_all(&tenant_dir).unwrap();
    db.rt.block_on(async {
        let tasks: Vec<_> = [&a, &b]
            .iter()
            .enumerate()
            .map(|(i, s)| {
                spawn(
                    s.state.store.clone(),
                    s.state.jobs.clone(),
                    s.state.audit.clone(),
                    config(
                        drop.path(),
                        Duration::from_millis(50),
                        format!("replica{i}"),
                    ),
                )
            })
            .collect();
        let zip = zip_dir(&fixtures().join("jp-profile-v1.2.1"));
        std::fs::write(tenant_dir.join("roster.zip"), zip).unwrap();
        std::fs::write(tenant_dir.join("roster.zip.done"), b"").unwrap();
        wait_for(&tenant_dir.join("processed/roster.zip.report.json")).await;
        // Both loops keep polling for a while: nothing is claimed twice.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM jobs").await, 1);
        assert_eq!(db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM imports"), "1");
        assert!(!tenant_dir.join("processed/1-roster.zip").exists());
        tasks.iter().for_each(|t| t.abort());
    });
}

#[test]
fn two_replicas_import_a_dropped_bundle_once_sqlite() {
    two_replicas_import_a_dropped_bundle_once(Backend::Sqlite);
}

#[test]
fn two_replicas_import_a_dropped_bundle_once_postgres() {
    two_replicas_import_a_dropped_bundle_once(Backend::Postgres);
}

fn drop_file(f: std::fs::File) {
    f.sync_all().unwrap();
}

#[test]
fn a_dropped_bundle_is_imported_once_complete_sqlite() {
    a_dropped_bundle_is_imported_once_complete(Backend::Sqlite);
}

#[test]
fn a_dropped_bundle_is_imported_once_complete_postgres() {
    a_dropped_bundle_is_imported_once_complete(Backend::Postgres);
}

/// A file dropped inside a blackout window is imported but held, whatever its plan; approved,
/// it is applied and moves to `processed/`.
fn a_file_dropped_in_a_blackout_window_is_held(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let drop = tempfile::tempdir().unwrap();
    let tenant_dir = drop.path().join("default");
    std::fs::create_dir_all(&tenant_dir).unwrap();
    // A window of today alone, in the zone the intake reads it in.
    let zone = Zone::default();
    let (m, d) = zone
        .month_day(rosterhub::domain::datetime::now_ms())
        .unwrap();
    let today = Window::parse(&format!("{m:02}-{d:02}..{m:02}-{d:02}")).unwrap();
    db.rt.block_on(async {
        let task = spawn(
            server.state.store.clone(),
            server.state.jobs.clone(),
            server.state.audit.clone(),
            IntakeConfig {
                blackout: vec![today],
                ..config(drop.path(), Duration::from_millis(50), "r".into())
            },
        );
        let zip = zip_dir(&fixtures().join("jp-profile-v1.2.1"));
        std::fs::write(tenant_dir.join("roster.zip"), zip).unwrap();
        std::fs::write(tenant_dir.join("roster.zip.done"), b"").unwrap();
        let held = loop {
            let (_, list) = server.get_json("/api/v1/imports?state=held").await;
            if let Some(job) = list["imports"].as_array().and_then(|a| a.first()) {
                break job.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let path = format!("/api/v1/imports/{}", held["id"].as_str().unwrap());
        let (_, job) = server.get_json(&path).await;
        assert_eq!(job["report"]["status"], "held", "{job}");
        let findings: Vec<(&str, &str)> = job["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["code"].as_str().unwrap(), f["message"].as_str().unwrap()))
            .collect();
        assert_eq!(findings.len(), 1, "{job}");
        assert_eq!(findings[0].0, "blackout_hold");
        assert!(
            findings[0].1.starts_with(&format!(
                "held: roster.zip arrived in the drop folder during the blackout window {today} \
                 (--intake-blackout)"
            )),
            "{}",
            findings[0].1
        );
        assert_eq!(db.count("users", "default"), 0, "held: nothing written");

        let (status, approved) = server
            .post_json(&format!("{path}/approve"), &serde_json::json!({}))
            .await;
        assert_eq!(status, 202, "{approved}");
        let done = tenant_dir.join("processed/roster.zip.report.json");
        wait_for(&done).await;
        assert_eq!(report(&done)["report"]["status"], "applied");
        assert_eq!(db.count("users", "default"), 36);
        task.abort();
    });
}

mod blackout {
    crate::on_both_backends!(a_file_dropped_in_a_blackout_window_is_held);
    use super::a_file_dropped_in_a_blackout_window_is_held;
}
