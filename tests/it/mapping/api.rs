//! Stored mapping profiles over the admin API on both backends: saved (versioned, audited),
//! listed, read as saved and deleted; refused with their line and not stored when invalid;
//! previewed on a sample with exact records and findings and nothing written; named by an
//! import of a Shift_JIS list, which maps with the version it was queued with.

use reqwest::Method;
use rosterhub::audit::Filter;
use rosterhub::auth::Scopes;
use rosterhub::mapping::engine::{namespace, stable_id};
use serde_json::{Value, json};

use super::lists;
use crate::helpers::tokens::{TestClient, client};
use crate::helpers::{Backend, TestDb};
use crate::server::{Server, admin_scopes, start_with, test_config, zip_dir};

const MAPPINGS: &str = "/api/v1/mappings";

/// A request with `token`; the status, headers and body.
async fn send(
    server: &Server,
    method: Method,
    path: &str,
    token: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut rb = server
        .http
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some((content_type, bytes)) = body {
        rb = rb.header("content-type", content_type).body(bytes);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)))
}

/// `PUT /mappings/{name}` of `text`: the status and JSON.
async fn put(server: &Server, token: &str, name: &str, text: &str) -> (u16, Value) {
    let body = Some(("application/json", text.as_bytes().to_vec()));
    let path = format!("{MAPPINGS}/{name}");
    let (status, _, bytes) = send(server, Method::PUT, &path, token, body).await;
    (status, json_of(&bytes))
}

/// A multipart form of `(field, file name, bytes)` parts: its Content-Type and body.
pub(crate) fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "mapping-test-boundary";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        let file = file
            .map(|f| format!("; filename=\"{f}\""))
            .unwrap_or_default();
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n"
            )
            .into_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The week-1 lists as an upload: a ZIP of the Shift_JIS student list and the staff list.
fn lists_zip() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for f in lists::sources(lists::STUDENTS) {
        std::fs::write(dir.path().join(&f.name), &f.bytes).unwrap();
    }
    zip_dir(dir.path())
}

/// A stored profile's JSON with its two times checked and removed.
fn without_times(mut v: Value) -> Value {
    for key in ["created_at", "updated_at"] {
        let t = v[key].as_str().unwrap_or_else(|| panic!("{key}: {v}"));
        assert!(t.ends_with('Z') && t.len() == 24, "{key}: {t}");
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

fn admin(db: &TestDb, server: &Server) -> TestClient {
    db.block_on(client(&server.state, "default", admin_scopes()))
}

fn stored_profiles_are_saved_listed_read_and_deleted(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let admin = admin(&db, &server);
    let reader = db.block_on(client(&server.state, "default", Scopes::IMPORT));
    let by = format!("client:{}", admin.id);
    let v2 = lists::PROFILE.replace("\"schoolYear\": 2025", "\"schoolYear\": 2026");
    db.block_on(async {
        let (status, _, body) = send(&server, Method::GET, MAPPINGS, &reader.token, None).await;
        assert_eq!((status, json_of(&body)), (200, json!({"mappings": []})));

        let (status, created) = put(&server, &admin.token, "sakura", lists::PROFILE).await;
        assert_eq!(status, 201, "{created}");
        let first = json!({"name": "sakura", "version": 1, "created_by": by, "updated_by": by});
        assert_eq!(without_times(created.clone()), first);
        assert_eq!(created["created_at"], created["updated_at"]);

        let (status, saved) = put(&server, &admin.token, "sakura", &v2).await;
        assert_eq!(status, 200, "{saved}");
        assert_eq!(
            without_times(saved.clone()),
            json!({"name": "sakura", "version": 2, "created_by": by, "updated_by": by})
        );
        assert_eq!(saved["created_at"], created["created_at"]);

        // The text exactly as saved, its version in the ETag.
        let path = format!("{MAPPINGS}/sakura");
        let (status, headers, body) = send(&server, Method::GET, &path, &reader.token, None).await;
        assert_eq!(status, 200);
        assert_eq!(String::from_utf8(body).unwrap(), v2);
        assert_eq!(headers["etag"], "\"2\"");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );

        let (_, _, body) = send(&server, Method::GET, MAPPINGS, &reader.token, None).await;
        assert_eq!(json_of(&body), json!({"mappings": [saved]}));

        // Reading needs rosterhub.import; saving and deleting rosterhub.admin.
        let (status, refused) = put(&server, &reader.token, "other", lists::PROFILE).await;
        assert_eq!((status, &refused["error"]), (403, &json!("forbidden")));
        let (status, _, _) = send(&server, Method::DELETE, &path, &reader.token, None).await;
        assert_eq!(status, 403);

        let (status, _, body) = send(&server, Method::DELETE, &path, &admin.token, None).await;
        assert_eq!((status, body.len()), (204, 0));
        let (status, _, body) = send(&server, Method::GET, &path, &reader.token, None).await;
        let gone = json_of(&body);
        assert_eq!((status, &gone["error"]), (404, &json!("not_found")));
        assert!(
            gone["message"]
                .as_str()
                .unwrap()
                .starts_with("no mapping \"sakura\": the tenant has no stored mappings yet; save a profile with PUT /api/v1/mappings/{name}"),
            "{gone}"
        );
        let (status, _, _) = send(&server, Method::DELETE, &path, &admin.token, None).await;
        assert_eq!(status, 404);

        // One audit entry per change, naming the profile.
        let changes: Vec<(String, u16)> = crate::audit::entries(
            &server,
            "default",
            Filter {
                target: Some("sakura".into()),
                actor: Some(by.clone()),
                ..Filter::default()
            },
        )
        .await
        .into_iter()
        .rev()
        .map(|e| (e.action, e.status))
        .collect();
        let want = [
            ("mappings.create", 201),
            ("mappings.update", 200),
            ("mappings.delete", 204),
            ("mappings.delete", 404),
        ];
        let want: Vec<(String, u16)> = want.iter().map(|(a, s)| (a.to_string(), *s)).collect();
        assert_eq!(changes, want);
    });
}

fn an_invalid_profile_is_refused_with_its_line_and_nothing_is_stored(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let token = admin(&db, &server).token;
    let unknown_field = "{\n  \"version\": 1,\n  \"layouts\": {\n    \"x\": {\n      \"kind\": \"students\",\n      \"columns\": {\"studentid\": \"番号\"}\n    }\n  }\n}";
    let message = "layout \"x\": unknown field \"studentid\"; fields are grade, class, number, \
                   name, kana, sex, birth_date, student_id, email, school_code, school_name";
    db.block_on(async {
        let (status, refused) = put(&server, &token, "sakura", unknown_field).await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(
            refused,
            json!({
                "error": "invalid_profile",
                "message": format!(
                    "the mapping profile cannot be used: line 6: {message}; correct it and send \
                     it again (マッピングの内容に誤りがあります。行番号の箇所を直してください)"
                ),
                "errors": [{"line": 6, "message": message}],
            })
        );
        let syntax = "{\n  \"version\": 1,\n  \"school\": {\"code\": }\n}";
        let (status, refused) = put(&server, &token, "sakura", syntax).await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["errors"][0]["line"], 3, "{refused}");
        let (status, _, body) = send(&server, Method::GET, MAPPINGS, &token, None).await;
        assert_eq!((status, json_of(&body)), (200, json!({"mappings": []})));

        // A stored profile stays as it was when a new text is refused.
        assert_eq!(put(&server, &token, "sakura", lists::PROFILE).await.0, 201);
        assert_eq!(put(&server, &token, "sakura", syntax).await.0, 422);
        let path = format!("{MAPPINGS}/sakura");
        let (_, headers, body) = send(&server, Method::GET, &path, &token, None).await;
        assert_eq!(String::from_utf8(body).unwrap(), lists::PROFILE);
        assert_eq!(headers["etag"], "\"1\"");

        for name in ["auto", "a.json", &"x".repeat(65)] {
            let (status, refused) = put(&server, &token, name, lists::PROFILE).await;
            assert_eq!(
                (status, &refused["error"]),
                (400, &json!("invalid_name")),
                "{name}"
            );
        }
        // `/mappings/preview` is the preview's path: no profile can be saved there.
        let (status, refused) = put(&server, &token, "preview", lists::PROFILE).await;
        assert_eq!(
            (status, &refused["error"]),
            (405, &json!("method_not_allowed"))
        );
    });
}

/// The record of a sample row: `(file, line, fields)`.
fn row(line: u64, record: Value) -> Value {
    json!({"file": "児童名簿.csv", "line": line, "record": record})
}

fn a_preview_shows_exact_records_and_findings_and_writes_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let token = admin(&db, &server).token;
    let ns = namespace(&lists::profile(), "default");
    let id = |key: &str| stable_id(&ns, key);
    let org = id("org:B113210000019");
    let student = |n: &str, family: &str, given: &str, kf: &str, kg: &str, class: &str| {
        json!({
            "sourcedId": id(&format!("student:B113210000019:{n}")),
            "enabledUser": "true",
            "username": n,
            "givenName": given,
            "familyName": family,
            "identifier": n,
            "grades": "P1",
            "primaryOrgSourcedId": org,
            "metadata.jp.kanaGivenName": kg,
            "metadata.jp.kanaFamilyName": kf,
            "metadata.jp.homeClass": id(&format!("class:B113210000019:2025:P1:{class}")),
        })
    };
    db.block_on(async {
        assert_eq!(put(&server, &token, "sakura", lists::PROFILE).await.0, 201);
        let (ctype, body) = form(&[("file", Some("lists.zip"), &lists_zip())]);
        let path = format!("{MAPPINGS}/sakura/preview?rows=2");
        let (status, _, answer) = send(&server, Method::POST, &path, &token, Some((&ctype, body))).await;
        let answer = json_of(&answer);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["status"], "valid", "{answer}");
        assert_eq!(answer["error_count"], 0);
        assert_eq!(
            answer["sources"],
            json!([
                {"file": "児童名簿.csv", "layout": "児童生徒名簿", "encoding": "Shift_JIS"},
                {"file": "教職員名簿.csv", "layout": "教職員名簿", "encoding": "UTF-8 (BOM)"},
            ])
        );
        assert_eq!(
            answer["records"]["users"],
            json!({"total": 8, "rows": [
                row(2, student("S0001", "山田", "太郎", "ヤマダ", "タロウ", "1")),
                row(3, student("S0002", "佐藤", "花子", "サトウ", "ハナコ", "1")),
            ]})
        );
        assert_eq!(
            answer["records"]["orgs"],
            json!({"total": 1, "rows": [row(2, json!({
                "sourcedId": org,
                "name": "さくら市立さくら小学校",
                "type": "school",
                "identifier": "B113210000019",
            }))]})
        );

        // A list with a value its map lacks, the profile sent with it: the finding names the
        // source line and header.
        let bad = lists::sjis(&lists::STUDENTS.replace("２,女,2018-07-15", "２,不明,2018-07-15"));
        let (ctype, body) = form(&[
            ("file", Some("児童名簿.csv"), &bad),
            ("profile", Some("school.json"), lists::PROFILE.as_bytes()),
        ]);
        let path = format!("{MAPPINGS}/preview");
        let (status, _, answer) = send(&server, Method::POST, &path, &token, Some((&ctype, body))).await;
        let answer = json_of(&answer);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["status"], "rejected");
        assert_eq!(
            answer["findings"],
            json!([{
                "severity": "error",
                "code": "mapping_value_unmapped",
                "file": "児童名簿.csv",
                "line": 5,
                "column": "性別",
                "value": "不明",
                "message": "\"不明\" is not in the value map \"sex\" (known: 1, 2, F, M, その他, 女, \
                            女性, 未回答, 男, 男性); add it under values.sex in the profile \
                            (値の対応表 sex にない値です)",
            }])
        );
        assert_eq!(answer["records"]["users"]["total"], 5);

        // A raw CSV body with the built-in layouts: the school and year from the query.
        let students = lists::sjis(&lists::STUDENTS.replace(",２,１,１,", ",小２,１,１,"));
        let path = format!("{MAPPINGS}/preview?school=B113210000019&school_year=2025&rows=0");
        let (status, _, answer) = send(&server, Method::POST, &path, &token, Some(("text/csv", students))).await;
        let answer = json_of(&answer);
        assert_eq!(status, 200, "{answer}");
        assert_eq!((&answer["status"], &answer["records"]["users"]), (&json!("valid"), &json!({"total": 5, "rows": []})));
        assert_eq!(answer["sources"][0]["file"], "upload.csv");
    });
    // Nothing was written: no records, no import, no job.
    assert_eq!(db.count("users", "default"), 0);
    assert_eq!(db.count("imports", "default"), 0);
    db.block_on(async {
        let (_, list) = server.get_json("/api/v1/imports").await;
        assert_eq!(list["total"], 0, "{list}");
    });
}

fn an_import_naming_a_stored_profile_maps_a_shift_jis_list(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    // No workers yet: the upload waits in the queue while the profile changes.
    let server = start_with(&db, |_| {});
    let token = admin(&db, &server).token;
    let v2 = lists::PROFILE.replace(
        "\"schoolYear\": 2025",
        "\"schoolYear\": 2025,\n  \"templates\": {\"class_title\": \"{学年}年{組}組（第2版）\"}",
    );
    let location = db.block_on(async {
        let (status, unknown, _) = server.upload("?mapping=sakura", lists_zip()).await;
        assert_eq!(status, 422, "{unknown}");
        assert_eq!(unknown["error"], "unknown_mapping");
        assert_eq!(put(&server, &token, "sakura", lists::PROFILE).await.0, 201);
        assert_eq!(put(&server, &token, "kita", lists::PROFILE).await.0, 201);
        let (status, unknown, _) = server.upload("?mapping=minami", lists_zip()).await;
        assert_eq!(status, 422, "{unknown}");
        assert!(
            unknown["message"]
                .as_str()
                .unwrap()
                .starts_with("no mapping \"minami\": the tenant's mappings are kita, sakura; save a profile with PUT /api/v1/mappings/{name}"),
            "{unknown}"
        );
        let (status, queued, headers) = server.upload("?mapping=sakura", lists_zip()).await;
        assert_eq!(status, 202, "{queued}");
        assert_eq!(put(&server, &token, "sakura", &v2).await.0, 200);
        headers["location"].to_str().unwrap().to_owned()
    });
    // A server with a worker takes the job: it maps with version 1, the one it was queued with.
    let worker = Server::start(&db, "default", test_config());
    let job = db.block_on(worker.wait(&location));
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (
            &job["mapping"],
            &job["mapping_version"],
            job.get("mapping_profile")
        ),
        (&json!("sakura"), &json!(1), None),
        "{job}"
    );
    assert_eq!(job["report"]["entities"]["users"]["inserted"], 8, "{job}");
    let users = super::get_all(&db, "users");
    assert_eq!(users.len(), 8);
    assert_eq!(
        super::without_links(super::by(&users, "identifier", "S0002")),
        super::hanako()
    );
    let classes = super::get_all(&db, "classes");
    let mut titles: Vec<&str> = classes
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, ["1年1組", "1年2組", "2年1組"]);
}

crate::on_both_backends!(
    stored_profiles_are_saved_listed_read_and_deleted,
    an_invalid_profile_is_refused_with_its_line_and_nothing_is_stored,
    a_preview_shows_exact_records_and_findings_and_writes_nothing,
    an_import_naming_a_stored_profile_maps_a_shift_jis_list,
);
