//! Jobs and the admin API under pressure: oversized bodies, temporary files, idempotency keys,
//! the audit log under load, export details and findings over HTTP.

use std::sync::Arc;

use rosterhub::audit::{AGGREGATED_ACTION, AuditLog, Filter, READ_ACTION, WriterSettings};
use rosterhub::auth::Scopes;
use rosterhub::jobs::scratch::Scratch;
use rosterhub::jobs::{JobsConfig, JobsHandle};
use serde_json::{Value, json};

use crate::audit::entries;
use crate::helpers::tokens::client;
use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};
use crate::raw_sql::ops_count;
use crate::server::{Server, start_with, test_config, zip_dir};

fn fixture_zip() -> Vec<u8> {
    zip_dir(&fixtures().join("jp-profile-v1.2.1"))
}

/// A JSON body over the server's 1 MiB limit.
fn oversized_json() -> Vec<u8> {
    let mut body = b"{\"name\":\"".to_vec();
    body.extend(std::iter::repeat_n(b'a', (1 << 20) + 16));
    body.extend(b"\"}");
    body
}

/// Every admin route taking a JSON body answers an oversized one with 413 and the documented
/// `{"error", "message"}` body, and invalid JSON with 400 `invalid_json`.
#[test]
fn oversized_and_invalid_json_bodies_answer_the_admin_error_body() {
    let Some(db) = TestDb::new(Backend::Sqlite) else {
        return;
    };
    let server = start_with(&db, |_| {});
    db.block_on(async {
        for path in [
            "/api/v1/session",
            "/api/v1/webhooks",
            "/api/v1/clients",
            "/api/v1/exports",
        ] {
            let r = server
                .post_body(path, "application/json", oversized_json())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 413, "{path}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "{path}"
            );
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "payload_too_large", "{path}: {body}");
            assert_eq!(
                body["message"],
                "the request body is larger than the limit of 1048576 bytes: send a smaller body",
                "{path}"
            );
            assert_eq!(body.as_object().unwrap().len(), 2, "{path}: {body}");

            let r = server
                .post_body(path, "application/json", "{not json")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "invalid_json", "{path}: {body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        // A method the route lacks: 405 in the same shape, its `Allow` header kept.
        let r = server
            .http
            .put(server.url("/api/v1/exports"))
            .bearer_auth(&server.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
        assert!(r.headers().contains_key("allow"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "method_not_allowed", "{body}");
        let _ = json!({});
    });
}

/// Uploads and imports make their temporary files in the process's own directory under
/// `--temp-dir`: with that directory gone, both fail naming a path inside it.
fn temp_files_land_in_the_owned_directory(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let scratch = Arc::new(Scratch::open(&root.path().join("tmp")).unwrap());
    let dir = scratch.dir().to_owned();
    let config = JobsConfig {
        scratch: Some(scratch.clone()),
        ..test_config()
    };
    let api_config = JobsConfig {
        workers: 0,
        ..config.clone()
    };
    let server = start_with(&db, |s| s.jobs = JobsHandle::new(api_config));
    db.block_on(async {
        // Queued while the directory exists (the upload is spooled there and removed after).
        let (status, body, _) = server.upload("", fixture_zip()).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "spool removed");
        let id = body["id"].as_str().unwrap().to_owned();

        std::fs::remove_dir(&dir).unwrap();
        let (status, body, _) = server.upload("", fixture_zip()).await;
        assert_eq!(status, 500, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("cannot create a temporary file"),
            "{message}"
        );
        assert!(
            message.contains(&format!("{}/rosterhub-upload-", dir.display())),
            "{message}"
        );

        // The worker's copy of the bundle goes to the same place.
        rosterhub::jobs::spawn_workers(server.state.store.clone(), &JobsHandle::new(config));
        let job = server.wait(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(job["state"], "failed", "{job}");
        let error = job["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("{}/rosterhub-import-", dir.display())),
            "{error}"
        );
    });
}

/// A flood of reads through a queue of two entries: every read is in the log, as its own entry
/// or counted in an aggregate, and admin writes made meanwhile are all there.
fn a_read_flood_is_aggregated_and_no_write_is_lost(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let store = db.store.clone();
    let server = start_with(&db, |s| {
        s.audit = AuditLog::with_settings(
            store,
            WriterSettings {
                capacity: 2,
                batch_max: 10,
                batch_ms: 50,
            },
        );
    });
    const READS: usize = 400;
    const WRITES: usize = 20;
    db.block_on(async {
        let reader = client(&server.state, "default", Scopes::CORE).await;
        let reads = (0..READS).map(|_| {
            let r = server
                .http
                .get(server.url("/ims/oneroster/rostering/v1p2/orgs?limit=1"))
                .bearer_auth(&reader.token)
                .send();
            async move { r.await.unwrap().status().as_u16() }
        });
        let writes = (0..WRITES).map(|i| {
            let r = server
                .http
                .post(server.url("/api/v1/clients"))
                .bearer_auth(&server.token)
                .json(&json!({"name": format!("flood-{i}")}))
                .send();
            async move { r.await.unwrap().status().as_u16() }
        });
        let (reads, writes) = tokio::join!(
            futures_util::future::join_all(reads),
            futures_util::future::join_all(writes)
        );
        assert!(reads.iter().all(|s| *s == 200), "{reads:?}");
        assert!(writes.iter().all(|s| *s == 201), "{writes:?}");

        let all = entries(&server, "default", Filter::default()).await;
        let actor = format!("client:{}", reader.id);
        let single = all
            .iter()
            .filter(|e| e.actor == actor && e.action == READ_ACTION)
            .count() as u64;
        let aggregates: Vec<_> = all
            .iter()
            .filter(|e| e.action == AGGREGATED_ACTION)
            .collect();
        let folded: u64 = aggregates.iter().map(|e| e.result_count.unwrap()).sum();
        assert!(folded > 0, "the tiny queue made the writer fall behind");
        assert_eq!(single + folded, READS as u64);
        assert_eq!(folded, server.state.audit.aggregated());
        for e in &aggregates {
            assert_eq!(e.actor, actor);
            assert_eq!(e.path, "/ims/oneroster/rostering/v1p2/orgs");
            assert_eq!((e.method.as_str(), e.status), ("GET", 200));
            assert_eq!(e.at % 60_000, 0, "dated to its minute");
            assert_eq!(e.to_json()["count"], json!(e.result_count.unwrap()));
        }
        let created = all
            .iter()
            .filter(|e| e.action == "clients.create" && e.status == 201)
            .count();
        assert_eq!(created, WRITES, "every admin write recorded");
    });
}

/// An `Idempotency-Key` replays its job only for the same body; another body under it is 422
/// `idempotency_key_reused` and creates nothing.
fn a_reused_idempotency_key_with_another_body_is_refused(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    db.block_on(async {
        let upload = |key: &'static str, zip: Vec<u8>| {
            server
                .post_body("/api/v1/imports", "application/zip", zip)
                .header("idempotency-key", key)
                .send()
        };
        let zip = fixture_zip();
        let mut other = zip_dir(&fixtures().join("jp-k12-1.2_JP"));
        assert_ne!(zip, other);
        let first: Value = upload("imp-1", zip.clone())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let again = upload("imp-1", zip.clone()).await.unwrap();
        assert_eq!(again.status(), 202);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"]);
        let reused = upload("imp-1", std::mem::take(&mut other)).await.unwrap();
        assert_eq!(reused.status(), 422);
        let body: Value = reused.json().await.unwrap();
        assert_eq!(body["error"], "idempotency_key_reused", "{body}");
        assert_eq!(
            body["message"],
            format!(
                "this Idempotency-Key was used for job {} with a different body; send a new key \
                 for a new request, or the same body to get that job again",
                first["id"].as_str().unwrap()
            )
        );
        assert_eq!(body.as_object().unwrap().len(), 2);
        // The hash is stored with the job, not shown.
        let (_, job) = server
            .get_json(&format!(
                "/api/v1/imports/{}",
                first["id"].as_str().unwrap()
            ))
            .await;
        assert!(job.get("request_sha256").is_none(), "{job}");

        let export = |key: &'static str, body: &'static str| {
            server
                .post_body("/api/v1/exports", "application/json", body)
                .header("idempotency-key", key)
                .send()
        };
        let first: Value = export("exp-1", r#"{"mode":"bulk"}"#)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The same request spelled differently is the same request.
        let again = export("exp-1", r#"{ "profile": "jp-1.2.1", "mode": "bulk" }"#)
            .await
            .unwrap();
        assert_eq!(again.status(), 202);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["id"], first["id"]);
        let reused = export("exp-1", r#"{"mode":"bulk","profile":"oneroster-1.2.1"}"#)
            .await
            .unwrap();
        assert_eq!(reused.status(), 422);
        let body: Value = reused.json().await.unwrap();
        assert_eq!(body["error"], "idempotency_key_reused", "{body}");

        // Nothing was created by the refused requests: one import, one export, one upload.
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM jobs").await, 2);
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM blobs").await, 1);
    });
}

/// A finished export job's `progress.rows` is the rows it wrote (the data files' lines under
/// their headers), and its ZIP entries are dated the day of the export, not 1980-01-01.
fn an_export_reports_its_rows_and_dates_its_entries(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = Server::start(&db, "default", test_config());
    db.block_on(async {
        let before = time::OffsetDateTime::now_utc().date();
        let (job, bytes) = server.export(&json!({"mode": "bulk"})).await;
        let after = time::OffsetDateTime::now_utc().date();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut data_rows = 0u64;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let name = entry.name().unwrap().into_owned();
            let t = entry.last_modified().unwrap();
            let day = (i32::from(t.year()), t.month(), t.day());
            let today = |d: time::Date| (d.year(), d.month() as u8, d.day());
            assert!(
                day == today(before) || day == today(after),
                "{name} dated {day:?}"
            );
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            if name != "manifest.csv" {
                data_rows += text.lines().count() as u64 - 1;
            }
        }
        assert!(data_rows > 100, "{data_rows}");
        assert_eq!(job["progress"]["rows"], json!(data_rows), "{job}");
        assert_eq!(job["progress"]["phase"], "done");
    });
}

/// The messages of a file uploaded over HTTP name what an uploader can do — approve over the
/// API, `?encoding=cp932` — not the CLI's flags; `findings.csv` neutralises formulas.
fn findings_over_http_speak_to_the_uploader(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = Server::start(&db, "default", test_config());
    let finding = |job: &Value, code: &str| -> Value {
        job["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("no {code} in {job}"))
            .clone()
    };
    db.block_on(async {
        let (_, body, _) = server
            .upload("", zip_dir(TempBundle::shrinking().path()))
            .await;
        let held = server
            .wait(&format!("/api/v1/imports/{}", body["id"].as_str().unwrap()))
            .await;
        assert_eq!(held["state"], "held", "{held}");
        let message = finding(&held, "threshold_exceeded")["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.starts_with("held: "), "{message}");
        let id = body["id"].as_str().unwrap();
        assert!(
            message.ends_with(&format!(
                "nothing was written until an admin approves it \
                 (POST /api/v1/imports/{id}/approve) or discards it"
            )),
            "{message}"
        );
        assert!(!message.contains("--force"), "{message}");

        let sjis = std::fs::read(fixtures().join("encodings/sjis.zip")).unwrap();
        let (_, body, _) = server.upload("", sjis).await;
        let rejected = server
            .wait(&format!("/api/v1/imports/{}", body["id"].as_str().unwrap()))
            .await;
        assert_eq!(rejected["state"], "failed", "{rejected}");
        let messages: Vec<&str> = rejected["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["message"].as_str())
            .filter(|m| m.contains("Shift_JIS"))
            .collect();
        assert!(!messages.is_empty(), "{rejected}");
        for m in messages {
            assert!(
                m.ends_with("save it as UTF-8, or upload again with ?encoding=cp932 to convert it"),
                "{m}"
            );
            assert!(!m.contains("--encoding"), "{m}");
        }

        // A cell that a spreadsheet would run as a formula comes out as text.
        let bundle = TempBundle::from_fixture("jp-profile-v1.2.1");
        let users = bundle.read("users.csv");
        let first_row = users.lines().nth(1).unwrap().to_owned();
        let id = first_row.split(',').next().unwrap();
        bundle.replace("users.csv", &format!("{id},"), "=1+2,");
        let (_, body, _) = server.upload("", zip_dir(bundle.path())).await;
        let id = body["id"].as_str().unwrap();
        let job = server.wait(&format!("/api/v1/imports/{id}")).await;
        let csv = server
            .get_text(&format!("/api/v1/imports/{id}/findings.csv"))
            .await;
        assert!(csv.contains("'=1+2"), "{job}\n{csv}");
        assert!(
            !csv.lines().any(|l| l
                .split(',')
                .any(|cell| cell.trim_matches('"').starts_with('='))),
            "{csv}"
        );
    });
}

crate::on_both_backends!(
    findings_over_http_speak_to_the_uploader,
    an_export_reports_its_rows_and_dates_its_entries,
    a_reused_idempotency_key_with_another_body_is_refused,
    temp_files_land_in_the_owned_directory,
    a_read_flood_is_aggregated_and_no_write_is_lost,
);
