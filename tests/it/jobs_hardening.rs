//! Jobs and the admin API under pressure: oversized bodies, temporary files, idempotency keys,
//! the audit log under load, export details and findings over HTTP.

use std::sync::Arc;

use rosterhub::jobs::scratch::Scratch;
use rosterhub::jobs::{JobsConfig, JobsHandle};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestDb, fixtures};
use crate::server::{start_with, test_config, zip_dir};

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
        for path in ["/api/v1/session", "/api/v1/webhooks", "/api/v1/clients", "/api/v1/exports"] {
            let r = server
                .http
                .post(server.url(path))
                .bearer_auth(&server.token)
                .header("content-type", "application/json")
                .body(oversized_json())
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
                .http
                .post(server.url(path))
                .bearer_auth(&server.token)
                .header("content-type", "application/json")
                .body("{not json")
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
        assert!(message.starts_with("cannot create a temporary file"), "{message}");
        assert!(message.contains(&format!("{}/rosterhub-upload-", dir.display())), "{message}");

        // The worker's copy of the bundle goes to the same place.
        rosterhub::jobs::spawn_workers(server.state.store.clone(), &JobsHandle::new(config));
        let job = server.wait(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(job["state"], "failed", "{job}");
        let error = job["error"].as_str().unwrap();
        assert!(error.contains(&format!("{}/rosterhub-import-", dir.display())), "{error}");
    });
}

crate::on_both_backends!(temp_files_land_in_the_owned_directory);
