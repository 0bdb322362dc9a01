//! Imports and exports over HTTP as jobs, on both backends, against a server on a real socket.

use std::time::Duration;

use rosterhub::auth::Scopes;
use rosterhub::import::{ImportOptions, Outcome};
use rosterhub::jobs::JobsConfig;
use serde_json::{Value, json};

use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};
use crate::raw_sql::ops_count;
use crate::server::{Server, test_config, zip_dir};

fn fixture_zip() -> Vec<u8> {
    zip_dir(&fixtures().join("jp-profile-v1.2.1"))
}

fn entity_counts(job: &Value, entity: &str) -> (u64, u64, u64, u64) {
    let c = &job["report"]["entities"][entity];
    let g = |k: &str| c[k].as_u64().unwrap_or(u64::MAX);
    (g("inserted"), g("updated"), g("unchanged"), g("tombstoned"))
}

fn an_upload_is_imported_as_a_job(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let (status, body, headers) = server.upload("", fixture_zip()).await;
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        assert_eq!(body, json!({"id": id, "state": "queued"}));
        let location = headers["location"].to_str().unwrap().to_owned();
        assert_eq!(location, format!("/api/v1/imports/{id}"));

        let job = server.wait(&location).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["report"]["status"], "applied");
        assert_eq!(entity_counts(&job, "users"), (36, 0, 0, 0));
        assert_eq!(job["attempts"], 1);
        assert_eq!(job["progress"]["phase"], "done");
        assert!(job["progress"]["rows"].as_u64().unwrap() > 36, "{job}");
        assert_eq!(job["findings_total"], 0);
        assert_eq!(db.count("users", "default"), 36);
        assert_eq!(db.count("enrollments", "default"), job["report"]["rows"]["enrollments"].as_u64().unwrap());
        // The run is linked to its job.
        let run = job["report"]["import_id"].as_str().unwrap();
        assert_eq!(
            db.scalar(&format!("SELECT job_id FROM imports WHERE id = '{run}'")),
            id
        );

        // A multipart upload of the same bundle: nothing changes.
        let boundary = "rosterhub-test-boundary";
        let mut form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"学校.zip\"\r\n\
             Content-Type: application/zip\r\n\r\n"
        )
        .into_bytes();
        form.extend(fixture_zip());
        form.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let ctype = format!("multipart/form-data; boundary={boundary}");
        let r = server
            .post_body("/api/v1/imports", &ctype, form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let second: Value = r.json().await.unwrap();
        let job2 = server
            .wait(&format!("/api/v1/imports/{}", second["id"].as_str().unwrap()))
            .await;
        assert_eq!(job2["state"], "succeeded", "{job2}");
        assert_eq!(entity_counts(&job2, "users"), (0, 0, 36, 0));
        assert_eq!(job2["file_name"], "学校.zip");

        let (status, list) = server.get_json("/api/v1/imports?limit=1").await;
        assert_eq!(status, 200);
        assert_eq!(list["total"], 2);
        assert_eq!(list["imports"].as_array().unwrap().len(), 1);
        assert_eq!(list["imports"][0]["id"], second["id"], "newest first");
        assert_eq!(list["imports"][0]["report"]["status"], "applied");
        let (_, done) = server.get_json("/api/v1/imports?state=succeeded&offset=1").await;
        assert_eq!(done["imports"][0]["id"], json!(id));
    });
}

fn a_dry_run_upload_writes_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let (status, body, _) = server.upload("?dry_run=true", fixture_zip()).await;
        assert_eq!(status, 202, "{body}");
        let job = server
            .wait(&format!("/api/v1/imports/{}", body["id"].as_str().unwrap()))
            .await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["dry_run"], true);
        assert_eq!(job["report"]["status"], "dry_run");
        assert_eq!(entity_counts(&job, "users"), (36, 0, 0, 0), "the plan");
        assert_eq!(db.count("users", "default"), 0);
        assert_eq!(db.count("orgs", "default"), 0);
    });
}

fn a_held_import_is_applied_when_approved_and_dropped_when_discarded(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let before = db.dump("default");
    let server = Server::start(&db, "default", test_config());
    let shrink = zip_dir(TempBundle::shrinking().path());
    db.rt.block_on(async {
        // Held, then discarded: nothing written, the upload deleted.
        let (_, body, _) = server.upload("", shrink.clone()).await;
        let path = format!("/api/v1/imports/{}", body["id"].as_str().unwrap());
        let held = server.wait(&path).await;
        assert_eq!(held["state"], "held", "{held}");
        assert_eq!(held["report"]["status"], "held");
        assert_eq!(entity_counts(&held, "users").3, 31, "the plan");
        let codes: Vec<&str> = held["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&"threshold_exceeded"), "{held}");
        assert_eq!(db.dump("default"), before, "held: nothing written");
        let (status, discarded) = server
            .post_json(&format!("{path}/discard"), &json!({}))
            .await;
        assert_eq!(status, 200, "{discarded}");
        assert_eq!(discarded["state"], "discarded");
        assert_eq!(db.dump("default"), before, "discarded: nothing written");
        assert_eq!(
            ops_count(&db, "SELECT COUNT(*) FROM blobs").await,
            0,
            "upload deleted"
        );
        let (status, again) = server
            .post_json(&format!("{path}/approve"), &json!({}))
            .await;
        assert_eq!(
            status, 409,
            "a discarded import cannot be approved: {again}"
        );
        assert_eq!(again["error"], "conflict");

        // Held, then approved: applied past the threshold.
        let (_, body, _) = server.upload("", shrink).await;
        let path = format!("/api/v1/imports/{}", body["id"].as_str().unwrap());
        assert_eq!(server.wait(&path).await["state"], "held");
        let (status, approved) = server
            .post_json(&format!("{path}/approve"), &json!({}))
            .await;
        assert_eq!(status, 202, "{approved}");
        assert_eq!(approved["state"], "queued");
        let done = server.wait(&path).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["report"]["status"], "applied");
        assert_eq!(done["force"], true);
        assert_eq!(entity_counts(&done, "users").3, 31);
        assert_eq!(
            db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM users WHERE status = 'active'"),
            "5"
        );
        let runs = db.rows(&format!(
            "SELECT status FROM imports WHERE job_id = '{}' ORDER BY started_at",
            done["id"].as_str().unwrap()
        ));
        assert_eq!(
            runs,
            vec![vec![Some("held".into())], vec![Some("applied".into())]]
        );
        let (status, _) = server
            .post_json(&format!("{path}/discard"), &json!({}))
            .await;
        assert_eq!(status, 409, "an applied import cannot be discarded");
    });
}

fn bad_uploads_get_clear_errors_and_leave_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(
        &db,
        "default",
        JobsConfig {
            upload_limit_bytes: 64 * 1024,
            ..test_config()
        },
    );
    let good = fixture_zip();
    let mut corrupt = good.clone();
    // Keep the local headers, lose the central directory at the end.
    corrupt.truncate(good.len() / 2);
    let no_manifest = {
        let b = TempBundle::from_fixture("jp-profile-v1.2.1");
        b.remove("manifest.csv");
        zip_dir(b.path())
    };
    let oversize = {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("manifest.csv", o).unwrap();
        std::io::Write::write_all(&mut z, &vec![b'x'; 200 * 1024]).unwrap();
        z.finish().unwrap().into_inner()
    };
    db.rt.block_on(async {
        let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
            ("corrupt", corrupt, "application/zip", 400, "corrupt_zip"),
            (
                "text",
                b"sourcedId,status\n1,active\n".to_vec(),
                "application/zip",
                400,
                "not_a_zip",
            ),
            ("empty", Vec::new(), "application/zip", 400, "empty_upload"),
            (
                "no manifest",
                no_manifest,
                "application/zip",
                400,
                "no_manifest",
            ),
            (
                "json",
                b"{}".to_vec(),
                "application/json",
                415,
                "unsupported_media_type",
            ),
        ];
        for (case, body, ctype, want, code) in cases {
            let r = server
                .post_body("/api/v1/imports", ctype, body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), want, "{case}");
            let err: Value = r.json().await.unwrap();
            assert_eq!(err["error"], code, "{case}: {err}");
            assert!(
                err["message"].as_str().unwrap().len() > 20,
                "{case}: a clear message"
            );
        }
        // Oversize: refused from its Content-Length before the body is read (the client may
        // still be writing when the answer comes, so a raw socket reads it), and without one
        // (chunked) while streaming.
        for chunked in [false, true] {
            let answer = raw_post(&server, &oversize, chunked).await;
            assert!(
                answer.starts_with("HTTP/1.1 413"),
                "oversize, chunked {chunked}: {answer}"
            );
            assert!(answer.contains("payload_too_large"), "{answer}");
        }
        for table in ["jobs", "blobs", "blob_chunks"] {
            assert_eq!(
                ops_count(&db, &format!("SELECT COUNT(*) FROM {table}")).await,
                0,
                "{table}: nothing left behind"
            );
        }
        assert_eq!(db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM imports"), "0");
    });
}

/// POSTs `body` on a raw socket, with a Content-Length or chunked; returns the response. The
/// server may answer and close before the whole body is sent: write errors end the body.
async fn raw_post(server: &Server, body: &[u8], chunked: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/zip\r\n{framing}\r\nConnection: close\r\n\r\n",
        server.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for c in body.chunks(8192) {
        let sent = if chunked {
            s.write_all(format!("{:x}\r\n", c.len()).as_bytes())
                .await
                .is_ok()
                && s.write_all(c).await.is_ok()
                && s.write_all(b"\r\n").await.is_ok()
        } else {
            s.write_all(c).await.is_ok()
        };
        if !sent {
            break;
        }
    }
    if chunked {
        let _ = s.write_all(b"0\r\n\r\n").await;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn an_idempotent_retry_returns_the_same_import(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let send = |key: &'static str| {
            server
                .post_body("/api/v1/imports", "application/zip", fixture_zip())
                .header("idempotency-key", key)
                .send()
        };
        let first = send("upload-2026-11-21-1").await.unwrap();
        assert_eq!(first.status(), 202);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let first: Value = first.json().await.unwrap();
        let retry = send("upload-2026-11-21-1").await.unwrap();
        assert_eq!(retry.status(), 202);
        assert_eq!(retry.headers()["idempotent-replayed"], "true");
        let retry: Value = retry.json().await.unwrap();
        assert_eq!(retry["id"], first["id"]);
        let path = format!("/api/v1/imports/{}", first["id"].as_str().unwrap());
        server.wait(&path).await;
        let after = send("upload-2026-11-21-1").await.unwrap();
        let after: Value = after.json().await.unwrap();
        assert_eq!(after, json!({"id": first["id"], "state": "succeeded"}));
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM jobs").await, 1);
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM blobs").await, 1);
        assert_eq!(db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM imports"), "1");
        // Another key is another import.
        let other: Value = send("upload-2026-11-21-2")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_ne!(other["id"], first["id"]);
        let bad = send("").await.unwrap();
        assert_eq!(bad.status(), 400);
    });
}

/// Reads SSE events (`event`, `data` JSON) until the stream ends.
async fn read_events(r: reqwest::Response) -> Vec<(String, Value)> {
    let mut r = r;
    let mut text = String::new();
    let mut events = Vec::new();
    while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(60), r.chunk())
        .await
        .expect("events keep coming")
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if !name.is_empty() {
                events.push((name, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    events
}

fn events_stream_progress_and_the_final_state(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    // No workers yet: the stream sees the job queued, then running, then its end.
    let server = Server::start(
        &db,
        "default",
        JobsConfig {
            workers: 0,
            ..test_config()
        },
    );
    db.rt.block_on(async {
        let (_, body, _) = server.upload("", fixture_zip()).await;
        let id = body["id"].as_str().unwrap().to_owned();
        let r = server.get(&format!("/api/v1/jobs/{id}/events")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let reader = tokio::spawn(read_events(r));
        tokio::time::sleep(Duration::from_millis(400)).await;
        rosterhub::jobs::spawn_workers(
            server.state.store.clone(),
            &rosterhub::jobs::JobsHandle::new(test_config()),
        );
        let events = reader.await.unwrap();
        let (first, first_data) = &events[0];
        assert_eq!(first, "progress");
        assert_eq!(first_data["state"], "queued");
        assert_eq!(first_data["id"], json!(id));
        let (last, last_data) = events.last().unwrap();
        assert_eq!(last, "state");
        assert_eq!(last_data["state"], "succeeded", "{last_data}");
        assert_eq!(last_data["report"]["entities"]["users"]["inserted"], 36);
        assert!(
            events[..events.len() - 1]
                .iter()
                .all(|(n, _)| n == "progress"),
            "{events:?}"
        );
        // Another tenant's token cannot follow it.
        let other = server.token_for("default", Scopes::ALL).await;
        let r = server
            .http
            .get(server.url(&format!("/api/v1/jobs/{id}/events")))
            .bearer_auth(other)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            403,
            "OneRoster scopes do not open the admin API"
        );
    });
}

fn a_rejected_bundle_has_its_findings_as_csv(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let zip = zip_dir(&fixtures().join("invalid/many-defects-v1.2"));
        let (_, body, _) = server.upload("", zip).await;
        let path = format!("/api/v1/imports/{}", body["id"].as_str().unwrap());
        let job = server.wait(&path).await;
        assert_eq!(job["state"], "failed", "{job}");
        assert_eq!(job["report"]["status"], "rejected");
        assert!(job["error"].as_str().unwrap().contains("rejected"), "{job}");
        let total = job["findings_total"].as_u64().unwrap();
        assert!(total >= 10, "{job}");
        let (_, page) = server
            .get_json(&format!("{path}?findings_offset=2&findings_limit=3"))
            .await;
        assert_eq!(page["findings"].as_array().unwrap().len(), 3);
        assert_eq!(page["findings"][0], job["findings"][2]);

        let r = server.get(&format!("{path}/findings.csv")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let bytes = r.bytes().await.unwrap();
        assert_eq!(&bytes[..3], b"\xef\xbb\xbf", "UTF-8 BOM for Excel");
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert!(text.starts_with("severity,code,file,line,column,value,message\r\n"));
        let mut csv = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        assert_eq!(rows.len() as u64, total);
        let first = &job["findings"][0];
        assert_eq!(&rows[0][1], first["code"].as_str().unwrap());
        assert_eq!(&rows[0][6], first["message"].as_str().unwrap());
        assert_eq!(db.count("users", "default"), 0);
    });
}

fn an_export_job_matches_the_cli_export_and_round_trips(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = Server::start(&db, "default", test_config());
    let dir = tempfile::tempdir().unwrap();
    db.rt.block_on(async {
        for bad in [
            json!({"mode": "delta"}),
            json!({"mode": "bulk", "since": "2025-01-01T00:00:00Z"}),
            json!({"mode": "weekly"}),
            json!({"profile": "jp-2.0"}),
            json!({"target": "eportal-9"}),
            json!({"mode": "delta", "since": "yesterday"}),
            json!({"modes": "bulk"}),
        ] {
            let (status, err) = server.post_json("/api/v1/exports", &bad).await;
            assert_eq!(status, 400, "{bad}: {err}");
        }
        let (status, body) = server
            .post_json(
                "/api/v1/exports",
                &json!({"mode": "bulk", "profile": "jp-1.2.1"}),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let path = format!("/api/v1/exports/{}", body["id"].as_str().unwrap());
        let job = server.wait(&path).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["download"], format!("{path}/download"));
        let users = job["report"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "users.csv")
            .unwrap()
            .clone();
        assert_eq!(users["rows"], 36);
        // For a national model: the report says what fell short (the fixture's users have no
        // userMasterIdentifier or preferred names).
        let (status, body) = server
            .post_json("/api/v1/exports", &json!({"target": "interop-6"}))
            .await;
        assert_eq!(status, 202, "{body}");
        let target_job = server
            .wait(&format!("/api/v1/exports/{}", body["id"].as_str().unwrap()))
            .await;
        let report = &target_job["report"];
        assert_eq!(report["profile"], "jp-k12", "{target_job}");
        assert_eq!(report["target"]["target"], "interop-6");
        assert_eq!(report["target"]["converted_cells"], 0);
        assert_eq!(report["target"]["shortfall_count"], 36);
        assert_eq!(
            report["target"]["shortfalls"][0]["missing"],
            json!([
                "userMasterIdentifier",
                "preferredGivenName",
                "preferredFamilyName"
            ])
        );
        let r = server
            .http
            .get(server.url(&format!("{path}/download")))
            .bearer_auth(&server.token)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/zip");
        assert!(
            r.headers().get("content-encoding").is_none(),
            "a ZIP is not gzipped again"
        );
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.starts_with("attachment; filename=\"rosterhub-default-bulk-"),
            "{disposition}"
        );
        let bytes = r.bytes().await.unwrap();
        assert_eq!(
            bytes.len() as u64,
            job["report"]["size_bytes"].as_u64().unwrap()
        );

        // The same files, byte for byte, as the CLI's export (whose binding rules the export
        // tests check file by file).
        let cli = dir.path().join("cli.zip");
        db.export(&cli, &crate::helpers::bulk("default"));
        let http = dir.path().join("http.zip");
        std::fs::write(&http, &bytes).unwrap();
        assert_eq!(
            crate::helpers::read_zip(&http),
            crate::helpers::read_zip(&cli)
        );

        // Round trip into an empty tenant.
        db.store.ensure_tenant("copy", "copy").await.unwrap();
        let store = db.store.clone();
        let report = tokio::task::spawn_blocking(move || {
            rosterhub::import::import(
                &store,
                &http,
                &ImportOptions {
                    tenant: "copy".into(),
                    ..opts()
                },
                &(),
            )
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(report.status, Outcome::Applied);
        assert_eq!(report.warning_count, 0, "{}", report.to_text());
    });
    assert_eq!(db.dump("copy"), db.dump("default"));

    // A delta export through the API holds the tombstones since a time.
    let since = rosterhub::domain::datetime::now_ms();
    std::thread::sleep(Duration::from_millis(5));
    db.import(
        TempBundle::shrinking().path(),
        ImportOptions {
            force: true,
            ..opts()
        },
    );
    db.rt.block_on(async {
        let since = rosterhub::domain::datetime::format_ms(since);
        let (job, bytes) = server
            .export(&json!({"mode": "delta", "since": since}))
            .await;
        assert_eq!(job["mode"], "delta");
        let zip = dir.path().join("delta.zip");
        std::fs::write(&zip, &bytes).unwrap();
        let files = crate::helpers::read_zip(&zip);
        let manifest = &files["manifest.csv"];
        assert!(manifest.contains("file.users,delta\n"), "{manifest}");
        assert!(manifest.contains("file.orgs,absent\n"), "{manifest}");
        assert!(!files.contains_key("orgs.csv"), "no empty files");
        let users: Vec<&str> = files["users.csv"].lines().skip(1).collect();
        assert_eq!(users.len(), 31);
        assert!(
            users
                .iter()
                .all(|l| l.split(',').nth(1) == Some("tobedeleted")),
            "{users:?}"
        );
    });
}

fn the_admin_api_checks_tokens_scopes_and_tenants(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("other");
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let (_, body, _) = server.upload("", fixture_zip()).await;
        let id = body["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/imports/{id}");
        server.wait(&path).await;

        let r = server.http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        let r = server
            .http
            .get(server.url(&path))
            .bearer_auth("not.a.jwt")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        let export_only = server.token_for("default", Scopes::EXPORT).await;
        let r = server
            .http
            .get(server.url(&path))
            .bearer_auth(&export_only)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let r = server
            .http
            .post(server.url("/api/v1/imports"))
            .bearer_auth(&export_only)
            .header("content-type", "application/zip")
            .body(fixture_zip())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "no upload without rosterhub.import");
        let import_only = server.token_for("default", Scopes::IMPORT).await;
        let r = server
            .http
            .post(server.url("/api/v1/exports"))
            .bearer_auth(&import_only)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "no export without rosterhub.export");

        // Another tenant's client sees no such import, whatever it tries.
        let other = server
            .token_for("other", crate::server::admin_scopes())
            .await;
        for p in [
            path.clone(),
            format!("{path}/findings.csv"),
            format!("/api/v1/jobs/{id}/events"),
        ] {
            let r = server
                .http
                .get(server.url(&p))
                .bearer_auth(&other)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404, "{p}");
        }
        let r = server
            .http
            .post(server.url(&format!("{path}/approve")))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = server
            .http
            .get(server.url("/api/v1/imports"))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        let list: Value = r.json().await.unwrap();
        assert_eq!(list["total"], 0);
        assert_eq!(list["imports"], json!([]));
    });
}

/// Waits until the receiver got `n` requests.
async fn received(r: &crate::webhooks::Receiver, n: usize) -> Vec<crate::webhooks::Received> {
    let started = std::time::Instant::now();
    loop {
        let got = r.requests();
        if got.len() >= n {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of {n} events",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn jobs_notify_their_webhooks(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        rosterhub::webhooks::spawn_delivery_worker(
            db.store.clone(),
            rosterhub::webhooks::WebhookConfig {
                poll_ms: 20,
                ..Default::default()
            },
        );
        let (url, receiver) = crate::webhooks::Receiver::start(0).await;
        let (status, hook) = server
            .post_json(
                "/api/v1/webhooks",
                &json!({"url": url, "events": ["*"], "secret": crate::webhooks::SECRET}),
            )
            .await;
        assert_eq!(status, 201, "{hook}");

        // import.held, then import.completed once approved.
        let (_, body, _) = server
            .upload("", zip_dir(TempBundle::shrinking().path()))
            .await;
        let held_id = body["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/imports/{held_id}");
        assert_eq!(server.wait(&path).await["state"], "held");
        server
            .post_json(&format!("{path}/approve"), &json!({}))
            .await;
        server.wait(&path).await;
        // import.failed for a rejected bundle.
        let (_, body, _) = server
            .upload("", zip_dir(&fixtures().join("invalid/many-defects-v1.2")))
            .await;
        let failed_id = body["id"].as_str().unwrap().to_owned();
        server.wait(&format!("/api/v1/imports/{failed_id}")).await;
        // export.completed.
        let (_, body) = server.post_json("/api/v1/exports", &json!({})).await;
        let export_id = body["id"].as_str().unwrap().to_owned();
        server.wait(&format!("/api/v1/exports/{export_id}")).await;

        let got = received(&receiver, 4).await;
        let events: Vec<(String, Value)> = got
            .iter()
            .map(|r| {
                let t = r.header("rosterhub-signature").split(',').next().unwrap()[2..].to_owned();
                let signed = [t.as_bytes(), b".", &r.body].concat();
                assert_eq!(
                    r.header("rosterhub-signature"),
                    format!(
                        "t={t},v1={}",
                        crate::webhooks::hmac_hex(crate::webhooks::SECRET, &signed)
                    )
                );
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                (r.header("rosterhub-event").to_owned(), body)
            })
            .collect();
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "import.held",
                "import.completed",
                "import.failed",
                "export.completed"
            ]
        );
        let (_, held) = &events[0];
        assert_eq!(held["event"], "import.held");
        assert_eq!(held["tenant"], "default");
        assert_eq!(held["data"]["id"], json!(held_id));
        assert_eq!(held["data"]["state"], "held");
        assert_eq!(held["data"]["entities"]["users"]["tombstoned"], 31);
        let base = &server.base;
        assert_eq!(
            held["data"]["links"]["self"],
            format!("{base}/api/v1/imports/{held_id}")
        );
        let (_, done) = &events[1];
        assert_eq!(done["data"]["id"], json!(held_id));
        assert_eq!(done["data"]["state"], "succeeded");
        assert_eq!(done["data"]["status"], "applied");
        let (_, failed) = &events[2];
        assert_eq!(failed["data"]["state"], "failed");
        assert!(failed["data"]["error_count"].as_u64().unwrap() > 0);
        assert_eq!(
            failed["data"]["links"]["findings"],
            format!("{base}/api/v1/imports/{failed_id}/findings.csv")
        );
        let (_, export) = &events[3];
        assert_eq!(export["data"]["id"], json!(export_id));
        assert_eq!(
            export["data"]["links"]["download"],
            format!("{base}/api/v1/exports/{export_id}/download")
        );
        assert_eq!(export["data"]["mode"], "bulk");
        // Each delivery is in the subscription's log as succeeded. The deliverer records the
        // outcome after the receiver has answered, so the log may trail the receiver briefly.
        let log_path = format!(
            "/api/v1/webhooks/{}/deliveries",
            hook["id"].as_str().unwrap()
        );
        let started = std::time::Instant::now();
        let states = loop {
            let (_, log) = server.get_json(&log_path).await;
            let states: Vec<String> = log["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["state"].as_str().unwrap().to_owned())
                .collect();
            if !states.iter().any(|s| s == "pending") || started.elapsed() > Duration::from_secs(30)
            {
                break states;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(states, ["succeeded"; 4]);
    });
}

fn files_past_retention_are_deleted_and_reports_kept(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let (_, body, _) = server.upload("", fixture_zip()).await;
        let import = format!("/api/v1/imports/{}", body["id"].as_str().unwrap());
        server.wait(&import).await;
        let (_, body) = server.post_json("/api/v1/exports", &json!({})).await;
        let export = format!("/api/v1/exports/{}", body["id"].as_str().unwrap());
        server.wait(&export).await;
        let (_, body, _) = server
            .upload("", zip_dir(TempBundle::shrinking().path()))
            .await;
        let held = format!("/api/v1/imports/{}", body["id"].as_str().unwrap());
        assert_eq!(server.wait(&held).await["state"], "held");
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM blobs").await, 3);

        // A retention of 7 days keeps everything.
        let keep = JobsConfig::default();
        rosterhub::jobs::worker::maintain_once(&db.store, &keep)
            .await
            .unwrap();
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM blobs").await, 3);

        let none = JobsConfig {
            retention_ms: 0,
            ..JobsConfig::default()
        };
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            rosterhub::jobs::worker::maintain_once(&db.store, &none)
                .await
                .unwrap();
        }
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM blobs").await, 0);
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM blob_chunks").await, 0);
        let (_, job) = server.get_json(&import).await;
        assert_eq!(job["report"]["status"], "applied", "reports stay");
        let (_, job) = server.get_json(&held).await;
        assert_eq!(job["state"], "discarded");
        assert!(
            job["error"].as_str().unwrap().contains("retention"),
            "{job}"
        );
        let r = server.get(&format!("{export}/download")).await;
        assert_eq!(r.status(), 410);
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"], "gone");
    });
}

fn a_dead_workers_job_is_taken_over_finished_from_its_run_or_given_up(backend: Backend) {
    use rosterhub::jobs::{JobKind, JobParams, blob};
    use rosterhub::storage::ops::jobs::{JobEnd, NewJob};
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("b.zip");
    std::fs::write(&zip, fixture_zip()).unwrap();
    let (job_id, stored_zip) = db.rt.block_on(async {
        let stored = blob::store_file(&db.store, "default", &zip).await.unwrap();
        let params = JobParams::default();
        let new = |key| NewJob {
            tenant: "default",
            kind: JobKind::Import,
            params: &params,
            idempotency_key: Some(key),
            upload_blob: Some(&stored.id),
            created_by: "test",
        };
        let (job, _) = db.store.create_job(new("a")).await.unwrap();
        // A worker claims it and "dies": its lease runs out.
        let first = db.store.claim_job("ghost", 1, 3).await.unwrap().unwrap();
        assert_eq!((first.id.as_str(), first.attempts), (job.id.as_str(), 1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = db.store.claim_job("w2", 1, 3).await.unwrap().unwrap();
        assert_eq!((second.id.as_str(), second.attempts), (job.id.as_str(), 2));
        assert!(
            !db.store
                .heartbeat_job(&job.id, "ghost", 1000, None)
                .await
                .unwrap(),
            "ghost lost it"
        );
        let end = JobEnd {
            state: rosterhub::jobs::JobState::Succeeded,
            report: None,
            error: None,
            import_id: None,
            result_blob: None,
            progress: None,
        };
        let err = db
            .store
            .finish_job(&job.id, "ghost", &end, &[], &[])
            .await
            .unwrap_err();
        assert!(
            matches!(err, rosterhub::storage::StoreError::Conflict(_)),
            "{err}"
        );
        // w2 dies too; with at most 2 attempts the job is given up, not claimed a third time.
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(db.store.claim_job("w3", 1000, 2).await.unwrap().is_none());
        assert_eq!(db.store.fail_exhausted_jobs(2).await.unwrap(), 1);
        let failed = db.store.job("default", &job.id).await.unwrap().unwrap();
        assert_eq!(failed.state, rosterhub::jobs::JobState::Failed);
        assert!(failed.error.unwrap().contains("interrupted 2 times"));

        // Another job: its worker commits the import, then dies before recording the end.
        let (job, _) = db.store.create_job(new("b")).await.unwrap();
        db.store.claim_job("ghost", 1, 3).await.unwrap().unwrap();
        (job.id, zip.clone())
    });
    let committed = db.import(
        &stored_zip,
        ImportOptions {
            job: Some(rosterhub::storage::JobRef {
                job_id: job_id.clone(),
                owner: "ghost".into(),
            }),
            ..opts()
        },
    );
    assert_eq!(committed.status, Outcome::Applied);
    std::thread::sleep(Duration::from_millis(5));
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let job = server.wait(&format!("/api/v1/imports/{job_id}")).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["attempts"], 2);
        assert_eq!(job["report"]["import_id"], json!(committed.import_id));
    });
    let runs = db.rows(&format!("SELECT id FROM imports WHERE job_id = '{job_id}'"));
    assert_eq!(runs.len(), 1, "finished from its run, not imported again");
}

crate::on_both_backends!(
    a_dead_workers_job_is_taken_over_finished_from_its_run_or_given_up,
    files_past_retention_are_deleted_and_reports_kept,
    jobs_notify_their_webhooks,
    an_upload_is_imported_as_a_job,
    a_dry_run_upload_writes_nothing,
    a_held_import_is_applied_when_approved_and_dropped_when_discarded,
    bad_uploads_get_clear_errors_and_leave_nothing,
    an_idempotent_retry_returns_the_same_import,
    events_stream_progress_and_the_final_state,
    a_rejected_bundle_has_its_findings_as_csv,
    an_export_job_matches_the_cli_export_and_round_trips,
    the_admin_api_checks_tokens_scopes_and_tenants,
);
