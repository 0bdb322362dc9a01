//! The admin API's OpenAPI document: served without a token, complete (every route the router
//! has, read from the source), true (real responses have documented statuses, content types and
//! bodies valid against the documented schemas), and its Swagger UI page works offline.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use reqwest::header::HeaderMap;
use rosterhub::auth::Scopes;
use rosterhub::webhooks::{WebhookConfig, spawn_delivery_worker};
use serde_json::{Value, json};

use crate::helpers::tokens::client;
use crate::helpers::{Backend, TestDb, fixtures};
use crate::server::{Server, oneshot, test_config, zip_dir};

/// Every operation of the server the document must describe.
const DOCUMENTED: &[(&str, &str)] = &[
    ("post", "/oauth/token"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/rostering-openapi.json"),
    ("get", "/api/v1/docs"),
    ("post", "/api/v1/imports"),
    ("get", "/api/v1/imports"),
    ("get", "/api/v1/imports/{id}"),
    ("get", "/api/v1/imports/{id}/findings.csv"),
    ("post", "/api/v1/imports/{id}/approve"),
    ("post", "/api/v1/imports/{id}/discard"),
    ("post", "/api/v1/imports/{id}/cancel"),
    ("get", "/api/v1/intake/pulls"),
    ("post", "/api/v1/imports/{id}/undo"),
    ("post", "/api/v1/exports"),
    ("get", "/api/v1/exports"),
    ("get", "/api/v1/exports/{id}"),
    ("get", "/api/v1/exports/{id}/download"),
    ("get", "/api/v1/jobs/{id}/events"),
    ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{id}"),
    ("patch", "/api/v1/webhooks/{id}"),
    ("delete", "/api/v1/webhooks/{id}"),
    ("get", "/api/v1/webhooks/{id}/deliveries"),
    ("get", "/api/v1/mappings"),
    ("post", "/api/v1/mappings/preview"),
    ("get", "/api/v1/mappings/{name}"),
    ("put", "/api/v1/mappings/{name}"),
    ("delete", "/api/v1/mappings/{name}"),
    ("post", "/api/v1/mappings/{name}/preview"),
    ("get", "/api/v1/clients"),
    ("post", "/api/v1/clients"),
    ("get", "/api/v1/clients/{id}"),
    ("patch", "/api/v1/clients/{id}"),
    ("post", "/api/v1/clients/{id}/rotate-secret"),
    ("post", "/api/v1/clients/{id}/revoke"),
    ("post", "/api/v1/session"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("patch", "/api/v1/users/{id}"),
    ("delete", "/api/v1/users/{id}"),
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/tenants/{id}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/records/{entity}/{sourcedId}/history"),
];

/// Routes of the admin router that are the Swagger UI's files, not API operations.
const UNDOCUMENTED: &[(&str, &str)] = &[("get", "/api/v1/docs/"), ("get", "/api/v1/docs/{*file}")];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

/// `(method, path)` of every `.route("…", …)` in a Rust source, the path behind `base`.
fn routes_in_source(source: &str, base: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = rest[at + ".route(".len()..].trim_start();
        rest = rest
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("a route whose path is not a literal: {:.60}", rest));
        let end = rest.find('"').expect("the path's closing quote");
        let path = format!("{base}{}", &rest[..end]);
        // The call's arguments: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let mut close = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let args = &rest[end + 1..close];
        let mut found = false;
        for method in METHODS {
            let call = format!("{method}(");
            let mut from = 0;
            while let Some(i) = args[from..].find(&call) {
                let i = from + i;
                let before = args[..i].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    out.insert((method.to_owned(), path.clone()));
                    found = true;
                }
                from = i + call.len();
            }
        }
        assert!(found, "no method routed for {path}: {args}");
        rest = &rest[close..];
    }
    out
}

/// The document, and checks of real responses against it.
struct Doc(Value);

impl Doc {
    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in self.0["paths"].as_object().unwrap() {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.insert((method.to_owned(), path.clone()));
                }
            }
        }
        out
    }

    /// `#/…` in this document.
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.strip_prefix('#').expect("a local $ref");
                self.0
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("unresolved $ref {r}"))
            }
            None => v,
        }
    }

    /// The documented response of an operation for a status (or its `2XX`-style range).
    fn response(&self, method: &str, path: &str, status: u16) -> &Value {
        let op = &self.0["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let responses = &op["responses"];
        let range = format!("{}XX", status / 100);
        let r = responses
            .get(status.to_string())
            .or_else(|| responses.get(&range))
            .unwrap_or_else(|| panic!("{method} {path}: status {status} is not documented"));
        self.resolve(r)
    }

    /// A validator for `schema`, its `$ref`s resolved in the document's components.
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = schema.clone();
        root["components"] = json!({"schemas": self.0["components"]["schemas"].clone()});
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema {schema} does not compile: {e}"))
    }

    fn assert_valid(&self, schema: &Value, body: &Value, what: &str) {
        let v = self.validator(schema);
        let errors: Vec<String> = v
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:#?}\n{body:#}");
    }

    fn assert_schema(&self, name: &str, body: &Value) {
        self.assert_valid(
            &json!({"$ref": format!("#/components/schemas/{name}")}),
            body,
            name,
        );
    }

    /// Checks a response against the operation's documentation: the status is documented, the
    /// content type is one of its media types, a JSON body is valid against its schema, and the
    /// documented headers it must have are there. Returns the JSON body (or `Null`).
    fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Value {
        let what = format!("{method} {path} → {status}");
        let doc = self.response(method, path, status);
        let content = doc.get("content").and_then(Value::as_object);
        let Some(content) = content else {
            assert!(body.is_empty(), "{what}: a body where none is documented");
            return Value::Null;
        };
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no Content-Type"));
        let essence = |s: &str| s.split(';').next().unwrap().trim().to_ascii_lowercase();
        let (_, media) = content
            .iter()
            .find(|(k, _)| essence(k) == essence(ct))
            .unwrap_or_else(|| panic!("{what}: Content-Type {ct} is not documented"));
        for (name, h) in doc
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let h = self.resolve(h);
            let always = ["Location", "Content-Disposition", "WWW-Authenticate"];
            if always.contains(&name.as_str()) || h["required"] == true {
                assert!(
                    headers.contains_key(name.as_str()),
                    "{what}: no {name} header"
                );
            }
        }
        if essence(ct) != "application/json" {
            return Value::Null;
        }
        let value: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{what}: the body is not JSON: {e}"));
        self.assert_valid(&media["schema"], &value, &what);
        value
    }
}

/// Sends a request and checks its response against the document; returns the status, the
/// headers, the JSON body (or `Null`) and the raw body.
async fn call(
    doc: &Doc,
    req: reqwest::RequestBuilder,
    method: &str,
    path: &str,
) -> (u16, HeaderMap, Value, Vec<u8>) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap().to_vec();
    let value = doc.check(method, path, status, &headers, &bytes);
    (status, headers, value, bytes)
}

fn fetch_doc(server: &Server, db: &TestDb) -> Doc {
    db.rt.block_on(async {
        let r = server.get_with("/api/v1/openapi.json", None).await;
        assert_eq!(r.status(), 200, "served without a token");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        Doc(r.json().await.unwrap())
    })
}

/// The events of a Server-Sent Events body: `(event, data)`.
fn sse_events(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut event = String::from("message");
        let mut data = String::new();
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_owned();
            } else if let Some(d) = line.strip_prefix("data:") {
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if !data.is_empty() {
            out.push((event, serde_json::from_str(&data).unwrap()));
        }
    }
    out
}

#[test]
fn the_document_is_served_without_a_token_and_describes_every_route() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let server = Server::start(&db, "default", test_config());
    let doc = fetch_doc(&server, &db);
    let d = &doc.0;
    assert!(
        d["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        d["openapi"]
    );
    assert_eq!(d["info"]["title"], "RosterHub admin API");
    assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));

    // The document's operations are the list, and the list is what the source routes.
    assert_eq!(doc.operations(), pairs(DOCUMENTED));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/admin");
    let mut routed = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            routed.extend(routes_in_source(
                &std::fs::read_to_string(&path).unwrap(),
                rosterhub::http::admin::BASE_PATH,
            ));
        }
    }
    let top = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/mod.rs"),
    )
    .unwrap();
    let top_routes = routes_in_source(&top, "");
    assert!(
        top_routes.contains(&("post".into(), "/oauth/token".into())),
        "{top_routes:?}"
    );
    routed.insert(("post".into(), "/oauth/token".into()));
    let mut expected = pairs(DOCUMENTED);
    expected.extend(pairs(UNDOCUMENTED));
    let missing: Vec<_> = routed.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "routes not in the OpenAPI document (openapi/admin-v1.json): {missing:?}"
    );
    let stale: Vec<_> = expected.difference(&routed).collect();
    assert!(
        stale.is_empty(),
        "documented operations no route serves: {stale:?}"
    );

    // Every `$ref` resolves; every path parameter is declared; operation ids are unique;
    // every operation says how it is authorised and what it answers.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(d, &mut all);
    assert!(all.len() > 50);
    for r in all {
        let p = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("non-local $ref {r}"));
        assert!(d.pointer(p).is_some(), "unresolved $ref {r}");
    }
    let schemes = d["components"]["securitySchemes"].as_object().unwrap();
    let flow = &schemes["oauth2"]["flows"]["clientCredentials"];
    assert_eq!(flow["tokenUrl"], "/oauth/token");
    for scope in ["rosterhub.import", "rosterhub.export", "rosterhub.admin"] {
        assert!(flow["scopes"][scope].is_string(), "{scope}");
    }
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let mut ids = BTreeSet::new();
    for (method, path) in DOCUMENTED {
        let item = &d["paths"][path];
        let op = &item[method];
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_owned()),
            "{method} {path}: operationId"
        );
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
        let security = op.get("security").unwrap_or(&d["security"]);
        for req in security.as_array().unwrap() {
            for name in req.as_object().unwrap().keys() {
                assert!(schemes.contains_key(name), "{method} {path}: scheme {name}");
            }
        }
        let mut declared = BTreeSet::new();
        for p in item["parameters"]
            .as_array()
            .into_iter()
            .chain(op["parameters"].as_array())
            .flatten()
        {
            let p = doc.resolve(p);
            if p["in"] == "path" {
                declared.insert(p["name"].as_str().unwrap().to_owned());
            }
        }
        let templated: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(declared, templated, "{method} {path}: path parameters");
        // Admin operations answer a missing token with 401; the job ones document their statuses.
        if path.starts_with("/api/v1/") && !security.as_array().unwrap().is_empty() {
            doc.response(method, path, 401);
            doc.response(method, path, 403);
        }
    }
    // Every schema compiles.
    for name in d["components"]["schemas"].as_object().unwrap().keys() {
        doc.validator(&json!({"$ref": format!("#/components/schemas/{name}")}));
    }
    assert_eq!(
        d["components"]["schemas"]["JobState"]["enum"],
        json!([
            "queued",
            "running",
            "held",
            "succeeded",
            "failed",
            "cancelled",
            "discarded"
        ])
    );
    assert_eq!(
        rosterhub::jobs::JobState::ALL.map(|s| s.as_str()).to_vec(),
        d["components"]["schemas"]["JobState"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
    );
}

/// Polls a subscription's deliveries until none is pending.
async fn settled_deliveries(server: &Server, doc: &Doc, hook: &str) -> Value {
    let started = Instant::now();
    let path = "/api/v1/webhooks/{id}/deliveries";
    loop {
        let req = server
            .http
            .get(server.url(&format!("/api/v1/webhooks/{hook}/deliveries?limit=10")))
            .bearer_auth(&server.token);
        let (status, _, page, _) = call(doc, req, "get", path).await;
        assert_eq!(status, 200, "{page}");
        let list = page["deliveries"].as_array().unwrap();
        if !list.is_empty() && list.iter().all(|d| d["state"] != "pending") {
            return page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "deliveries stuck: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn real_responses_match_the_documented_schemas() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let server = Server::start(&db, "default", test_config());
    let doc = fetch_doc(&server, &db);
    let s = &server;
    let auth = |req: reqwest::RequestBuilder| req.bearer_auth(&s.token);
    db.rt.block_on(async {
        // The token endpoint: a token, and an RFC 6749 error.
        let client = client(&s.state, "default", Scopes::IMPORT).await;
        let req = s
            .http
            .post(s.url("/oauth/token"))
            .basic_auth(&client.id, Some(&client.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        let (status, _, token, _) = call(&doc, req, "post", "/oauth/token").await;
        assert_eq!(status, 200);
        assert_eq!(token["scope"], "rosterhub.import");
        let import_only = token["access_token"].as_str().unwrap().to_owned();
        let req = s
            .http
            .post(s.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=password");
        let (status, _, e, _) = call(&doc, req, "post", "/oauth/token").await;
        assert_eq!((status, e["error"].as_str()), (400, Some("unsupported_grant_type")));
        let req = s
            .http
            .post(s.url("/oauth/token"))
            .basic_auth(&client.id, Some("wrong"))
            .body("grant_type=client_credentials");
        let (status, _, _, _) = call(&doc, req, "post", "/oauth/token").await;
        assert_eq!(status, 401);

        // A webhook first, so that the jobs below are delivered to it.
        let (hook_url, _receiver) = crate::webhooks::Receiver::start(1).await;
        let req = auth(s.http.post(s.url("/api/v1/webhooks")))
            .json(&json!({"url": hook_url, "events": ["*"], "description": "openapi"}));
        let (status, headers, hook, _) = call(&doc, req, "post", "/api/v1/webhooks").await;
        assert_eq!(status, 201, "{hook}");
        assert!(headers.contains_key("location"));
        assert!(hook["secret"].is_string());
        let hook_id = hook["id"].as_str().unwrap().to_owned();
        let worker = spawn_delivery_worker(
            s.state.store.clone(),
            WebhookConfig {
                max_attempts: 5,
                base_delay_ms: 50,
                max_delay_ms: 1_000,
                timeout_ms: 2_000,
                poll_ms: 20,
                concurrency: 4,
            },
        );

        // An upload: 202, then the import as it runs and ends.
        let zip = zip_dir(&fixtures().join("jp-profile-v1.2.1"));
        let req = auth(s.http.post(s.url("/api/v1/imports")))
            .header("content-type", "application/zip")
            .header("idempotency-key", "openapi-1")
            .body(zip.clone());
        let (status, headers, queued, _) = call(&doc, req, "post", "/api/v1/imports").await;
        assert_eq!(status, 202, "{queued}");
        let id = queued["id"].as_str().unwrap().to_owned();
        let location = headers["location"].to_str().unwrap().to_owned();
        // Its live events: whatever `progress` events come, then the final `state`.
        let req = auth(s.http.get(s.url(&format!("/api/v1/jobs/{id}/events"))));
        let (status, _, _, body) = call(&doc, req, "get", "/api/v1/jobs/{id}/events").await;
        assert_eq!(status, 200);
        let events = sse_events(std::str::from_utf8(&body).unwrap());
        let (last, rest) = events.split_last().expect("events");
        assert_eq!(last.0, "state");
        doc.assert_schema("StateEvent", &last.1);
        doc.assert_schema("Import", &last.1);
        for (event, data) in rest {
            assert_eq!(event, "progress");
            doc.assert_schema("ProgressEvent", data);
        }
        let (status, _, import, _) = call(&doc, auth(s.http.get(s.url(&location))), "get", "/api/v1/imports/{id}").await;
        assert_eq!(status, 200);
        assert_eq!(import["state"], "succeeded", "{import}");
        assert!(import["report"]["entities"]["users"].is_object(), "{import}");
        // The retry: the same import, replayed.
        let req = auth(s.http.post(s.url("/api/v1/imports")))
            .header("content-type", "application/zip")
            .header("idempotency-key", "openapi-1")
            .body(zip.clone());
        let (status, headers, replay, _) = call(&doc, req, "post", "/api/v1/imports").await;
        assert_eq!((status, &replay["id"]), (202, &json!(id)));
        assert_eq!(headers["idempotent-replayed"], "true");

        // A rejected bundle: findings, as JSON and as CSV.
        let bad = zip_dir(&fixtures().join("invalid/many-defects-v1.2"));
        let boundary = "openapi-boundary";
        let mut form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"bad.zip\"\r\n\
             Content-Type: application/zip\r\n\r\n"
        )
        .into_bytes();
        form.extend(bad);
        form.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let req = auth(s.http.post(s.url("/api/v1/imports")))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(form);
        let (status, _, queued, _) = call(&doc, req, "post", "/api/v1/imports").await;
        assert_eq!(status, 202);
        let rejected = format!("/api/v1/imports/{}", queued["id"].as_str().unwrap());
        s.wait(&rejected).await;
        let req = auth(s.http.get(s.url(&format!("{rejected}?findings_limit=5"))));
        let (_, _, failed, _) = call(&doc, req, "get", "/api/v1/imports/{id}").await;
        assert_eq!(failed["state"], "failed", "{failed}");
        assert_eq!(failed["findings"].as_array().unwrap().len(), 5, "{failed}");
        assert_eq!(failed["file_name"], "bad.zip");
        let req = auth(s.http.get(s.url(&format!("{rejected}/findings.csv"))));
        let (status, _, _, csv) = call(&doc, req, "get", "/api/v1/imports/{id}/findings.csv").await;
        assert_eq!(status, 200);
        assert!(csv.starts_with(b"\xef\xbb\xbfseverity,code,file,line,column,value,message\r\n"));

        // Approve, discard or cancel an import that has ended: 409.
        let req = auth(s.http.post(s.url(&format!("{location}/cancel"))));
        let (status, _, e, _) = call(&doc, req, "post", "/api/v1/imports/{id}/cancel").await;
        assert_eq!((status, e["error"].as_str()), (409, Some("conflict")));
        let req = auth(s.http.post(s.url(&format!("{location}/approve"))));
        let (status, _, e, _) = call(&doc, req, "post", "/api/v1/imports/{id}/approve").await;
        assert_eq!((status, e["error"].as_str()), (409, Some("conflict")));
        let req = auth(s.http.post(s.url(&format!("{location}/discard"))));
        let (status, _, _, _) = call(&doc, req, "post", "/api/v1/imports/{id}/discard").await;
        assert_eq!(status, 409);

        // The import list, with its brief reports.
        let req = auth(s.http.get(s.url("/api/v1/imports?limit=10")));
        let (status, _, list, _) = call(&doc, req, "get", "/api/v1/imports").await;
        assert_eq!(status, 200);
        assert_eq!(list["total"], 2, "{list}");
        let req = auth(s.http.get(s.url("/api/v1/imports?state=failed")));
        let (_, _, list, _) = call(&doc, req, "get", "/api/v1/imports").await;
        assert_eq!(list["imports"].as_array().unwrap().len(), 1);

        // Exports: bulk and delta, 202, done, listed, downloaded.
        let mut exports = Vec::new();
        for body in [json!({}), json!({"mode": "delta", "since": "2020-01-01T00:00:00.000Z", "profile": "oneroster-1.2.1"})] {
            let req = auth(s.http.post(s.url("/api/v1/exports"))).json(&body);
            let (status, headers, queued, _) = call(&doc, req, "post", "/api/v1/exports").await;
            assert_eq!(status, 202, "{queued}");
            exports.push(headers["location"].to_str().unwrap().to_owned());
        }
        for location in &exports {
            s.wait(location).await;
            let (status, _, export, _) =
                call(&doc, auth(s.http.get(s.url(location))), "get", "/api/v1/exports/{id}").await;
            assert_eq!((status, &export["state"]), (200, &json!("succeeded")), "{export}");
            let download = export["download"].as_str().unwrap();
            let req = auth(s.http.get(s.url(download)));
            let (status, _, _, zip) = call(&doc, req, "get", "/api/v1/exports/{id}/download").await;
            assert_eq!(status, 200);
            assert!(zip.starts_with(b"PK"));
        }
        let req = auth(s.http.get(s.url("/api/v1/exports")));
        let (_, _, list, _) = call(&doc, req, "get", "/api/v1/exports").await;
        assert_eq!(list["total"], 2, "{list}");
        let req = auth(s.http.get(s.url(&format!("{}/events", exports[0].replace("/exports/", "/jobs/")))));
        let (status, _, _, body) = call(&doc, req, "get", "/api/v1/jobs/{id}/events").await;
        assert_eq!(status, 200);
        let events = sse_events(std::str::from_utf8(&body).unwrap());
        assert_eq!(events.len(), 1, "an ended job: only its state");
        doc.assert_schema("StateEvent", &events[0].1);
        doc.assert_schema("Export", &events[0].1);

        // Webhooks: listed, shown, changed, their deliveries (one failed attempt, then 200).
        let (status, _, list, _) =
            call(&doc, auth(s.http.get(s.url("/api/v1/webhooks"))), "get", "/api/v1/webhooks").await;
        assert_eq!((status, list["webhooks"].as_array().unwrap().len()), (200, 1));
        let one = format!("/api/v1/webhooks/{hook_id}");
        let (status, _, shown, _) = call(&doc, auth(s.http.get(s.url(&one))), "get", "/api/v1/webhooks/{id}").await;
        assert_eq!(status, 200);
        assert!(shown.get("secret").is_none());
        let req = auth(s.http.patch(s.url(&one))).json(&json!({"description": null}));
        let (status, _, changed, _) = call(&doc, req, "patch", "/api/v1/webhooks/{id}").await;
        assert_eq!((status, &changed["description"]), (200, &json!("")));
        let page = settled_deliveries(s, &doc, &hook_id).await;
        // Imports succeeded and failed, two exports.
        assert_eq!(page["total"], 4, "{page}");
        let logs: usize = page["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["attempts_log"].as_array().unwrap().len())
            .sum();
        assert_eq!(logs, 5, "one delivery retried once: {page:#}");
        worker.abort();

        // Errors, each in the documented format.
        let (status, _, e, _) = call(&doc, auth(s.http.get(s.url("/api/v1/imports/nope"))), "get", "/api/v1/imports/{id}").await;
        assert_eq!((status, e["error"].as_str()), (404, Some("not_found")));
        let (status, _, e, _) = call(&doc, auth(s.http.get(s.url("/api/v1/exports/nope"))), "get", "/api/v1/exports/{id}").await;
        assert_eq!((status, e["error"].as_str()), (404, Some("not_found")));
        let (status, _, _, _) = call(&doc, auth(s.http.get(s.url("/api/v1/jobs/nope/events"))), "get", "/api/v1/jobs/{id}/events").await;
        assert_eq!(status, 404);
        let (status, _, e, _) = call(&doc, auth(s.http.get(s.url("/api/v1/imports?limit=x"))), "get", "/api/v1/imports").await;
        assert_eq!((status, e["error"].as_str()), (400, Some("bad_query")));
        let (status, _, _, _) = call(&doc, auth(s.http.get(s.url("/api/v1/exports?state=done"))), "get", "/api/v1/exports").await;
        assert_eq!(status, 400);
        let req = auth(s.http.post(s.url("/api/v1/exports"))).json(&json!({"mode": "weekly"}));
        let (status, _, e, _) = call(&doc, req, "post", "/api/v1/exports").await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_field")));
        let req = auth(s.http.post(s.url("/api/v1/imports")))
            .header("content-type", "application/zip")
            .body("not a zip");
        let (status, _, e, _) = call(&doc, req, "post", "/api/v1/imports").await;
        assert_eq!((status, e["error"].as_str()), (400, Some("not_a_zip")));
        let req = auth(s.http.post(s.url("/api/v1/imports")))
            .header("content-type", "text/csv")
            .body("a,b");
        let (status, _, _, _) = call(&doc, req, "post", "/api/v1/imports").await;
        assert_eq!(status, 415);
        let req = auth(s.http.post(s.url("/api/v1/imports")))
            .header("content-type", "application/zip")
            .header("idempotency-key", "")
            .body(zip.clone());
        let (status, _, e, _) = call(&doc, req, "post", "/api/v1/imports").await;
        assert_eq!((status, e["error"].as_str()), (400, Some("bad_idempotency_key")));
        let req = auth(s.http.post(s.url("/api/v1/webhooks"))).json(&json!({"url": "ftp://x", "events": ["*"]}));
        let (status, _, e, _) = call(&doc, req, "post", "/api/v1/webhooks").await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_url")));
        let req = auth(s.http.get(s.url(&format!("{one}/deliveries?limit=0"))));
        let (status, _, _, _) = call(&doc, req, "get", "/api/v1/webhooks/{id}/deliveries").await;
        assert_eq!(status, 400);
        let (status, headers, e, _) = call(&doc, s.http.get(s.url("/api/v1/imports")), "get", "/api/v1/imports").await;
        assert_eq!((status, e["error"].as_str()), (401, Some("unauthorized")));
        assert!(headers.contains_key("www-authenticate"));
        let req = s.http.get(s.url("/api/v1/exports")).bearer_auth(&import_only);
        let (status, _, e, _) = call(&doc, req, "get", "/api/v1/exports").await;
        assert_eq!((status, e["error"].as_str()), (403, Some("forbidden")));
        let req = s.http.get(s.url("/api/v1/webhooks")).bearer_auth(&import_only);
        let (status, _, _, _) = call(&doc, req, "get", "/api/v1/webhooks").await;
        assert_eq!(status, 403);

        // An export whose file is gone: 410.
        let export_id = exports[0].rsplit('/').next().unwrap().to_owned();
        crate::raw_sql::exec(
            &db,
            "UPDATE jobs SET result_blob = NULL WHERE id = $1",
            &[&export_id],
        )
        .await;
        let req = auth(s.http.get(s.url(&format!("{}/download", exports[0]))));
        let (status, _, e, _) = call(&doc, req, "get", "/api/v1/exports/{id}/download").await;
        assert_eq!((status, e["error"].as_str()), (410, Some("gone")));

        // Deleted: 204, then 404.
        let (status, _, _, body) = call(&doc, auth(s.http.delete(s.url(&one))), "delete", "/api/v1/webhooks/{id}").await;
        assert_eq!((status, body.len()), (204, 0));
        let (status, _, _, _) = call(&doc, auth(s.http.delete(s.url(&one))), "delete", "/api/v1/webhooks/{id}").await;
        assert_eq!(status, 404);
    });
}

#[test]
fn mapping_responses_match_the_documented_schemas() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let server = Server::start(&db, "default", test_config());
    let doc = fetch_doc(&server, &db);
    let s = &server;
    let auth = |req: reqwest::RequestBuilder| req.bearer_auth(&s.token);
    let profile = r#"{"version": 1, "school": {"code": "B113210000019", "type": "elementary"}}"#;
    let list = "児童生徒番号,氏名,学年,組,性別\nS1,山田　太郎,1,1,男\nS2,佐藤 花子,1,1,不明\n";
    db.rt.block_on(async {
        let one = s.url("/api/v1/mappings/sakura");
        let req = auth(s.http.put(&one)).body(profile);
        let (status, headers, created, _) = call(&doc, req, "put", "/api/v1/mappings/{name}").await;
        assert_eq!((status, &created["version"]), (201, &json!(1)), "{created}");
        assert!(headers.contains_key("location"));
        let req = auth(s.http.put(&one)).body(profile);
        let (status, _, saved, _) = call(&doc, req, "put", "/api/v1/mappings/{name}").await;
        assert_eq!((status, &saved["version"]), (200, &json!(2)));
        let req = auth(s.http.put(&one)).body("{\"version\": 1,\n \"schools\": {}}");
        let (status, _, e, _) = call(&doc, req, "put", "/api/v1/mappings/{name}").await;
        assert_eq!((status, &e["errors"][0]["line"]), (422, &json!(2)), "{e}");
        let req = auth(s.http.put(s.url("/api/v1/mappings/auto"))).body(profile);
        let (status, _, e, _) = call(&doc, req, "put", "/api/v1/mappings/{name}").await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_name")));
        let req = auth(s.http.get(s.url("/api/v1/mappings")));
        let (status, _, listed, _) = call(&doc, req, "get", "/api/v1/mappings").await;
        assert_eq!((status, listed["mappings"].as_array().unwrap().len()), (200, 1));
        let (status, headers, _, body) = call(&doc, auth(s.http.get(&one)), "get", "/api/v1/mappings/{name}").await;
        assert_eq!((status, body.as_slice()), (200, profile.as_bytes()));
        assert_eq!(headers["etag"], "\"2\"");

        // Previews: a CSV body with the stored profile; a form with a profile; none.
        let req = auth(s.http.post(format!("{one}/preview?rows=1")))
            .header("content-type", "text/csv")
            .body(list);
        let (status, _, checked, _) = call(&doc, req, "post", "/api/v1/mappings/{name}/preview").await;
        assert_eq!((status, &checked["status"]), (200, &json!("rejected")), "{checked}");
        assert_eq!(checked["findings"][0]["line"], 3, "{checked}");
        let boundary = "openapi-boundary";
        let mut form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\n{profile}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"名簿.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        form.extend(list.replace("不明", "女").into_bytes());
        form.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let req = auth(s.http.post(s.url("/api/v1/mappings/preview")))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(form);
        let (status, _, checked, _) = call(&doc, req, "post", "/api/v1/mappings/preview").await;
        assert_eq!((status, &checked["status"]), (200, &json!("valid")), "{checked}");
        assert_eq!(checked["records"]["users"]["total"], 2, "{checked}");
        let req = auth(s.http.post(s.url("/api/v1/mappings/nope/preview")))
            .header("content-type", "text/csv")
            .body(list);
        let (status, _, e, _) = call(&doc, req, "post", "/api/v1/mappings/{name}/preview").await;
        assert_eq!((status, e["error"].as_str()), (404, Some("not_found")));
        let req = auth(s.http.post(s.url("/api/v1/mappings/preview")))
            .header("content-type", "text/plain")
            .body(list);
        let (status, _, _, _) = call(&doc, req, "post", "/api/v1/mappings/preview").await;
        assert_eq!(status, 415);

        // An upload naming a profile the tenant lacks.
        let req = auth(s.http.post(s.url("/api/v1/imports?mapping=nope")))
            .header("content-type", "text/csv")
            .body(list);
        let (status, _, e, _) = call(&doc, req, "post", "/api/v1/imports").await;
        assert_eq!((status, e["error"].as_str()), (422, Some("unknown_mapping")));

        let (status, _, _, body) = call(&doc, auth(s.http.delete(&one)), "delete", "/api/v1/mappings/{name}").await;
        assert_eq!((status, body.len()), (204, 0));
        let (status, _, _, _) = call(&doc, auth(s.http.delete(&one)), "delete", "/api/v1/mappings/{name}").await;
        assert_eq!(status, 404);
    });
}

/// The runs of scheduled pulls as the API lists them: one of each outcome, and one under way.
#[test]
fn pull_runs_match_the_documented_schema() {
    use rosterhub::storage::ops::pulls::{PullOutcome, PulledBody};
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let server = Server::start(&db, "default", test_config());
    let doc = fetch_doc(&server, &db);
    let s = &server;
    db.rt.block_on(async {
        let store = &s.state.store;
        let body = PulledBody {
            etag: Some("\"v1\"".into()),
            last_modified: None,
            sha256: "ab".repeat(32),
        };
        let outcomes = [
            PullOutcome::Queued {
                job_id: "job-1".into(),
                body: body.clone(),
            },
            PullOutcome::Unchanged {
                detail: "HTTP 304 Not Modified".into(),
                body,
            },
            PullOutcome::Failed {
                reason: "localhost answered HTTP 404 Not Found".into(),
            },
        ];
        for (i, outcome) in outcomes.iter().enumerate() {
            let at = (i as i64 + 1) * 60_000;
            assert!(
                store
                    .claim_pull_run("default", "nightly", at, "r1")
                    .await
                    .unwrap()
            );
            store
                .finish_pull_run("default", "nightly", at, outcome)
                .await
                .unwrap();
        }
        assert!(
            store
                .claim_pull_run("default", "nightly", 240_000, "r1")
                .await
                .unwrap()
        );
        let req = s
            .http
            .get(s.url("/api/v1/intake/pulls"))
            .bearer_auth(&s.token);
        let (status, _, runs, _) = call(&doc, req, "get", "/api/v1/intake/pulls").await;
        assert_eq!(status, 200, "{runs}");
        let shown: Vec<(&Value, &Value)> = runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (&r["outcome"], &r["job_id"]))
            .collect();
        let (n, q, u, f) = (
            json!(null),
            json!("queued"),
            json!("unchanged"),
            json!("failed"),
        );
        let job = json!("job-1");
        assert_eq!(shown, vec![(&n, &n), (&f, &n), (&u, &n), (&q, &job)]);
        assert_eq!(runs["runs"][3]["scheduled_at"], "1970-01-01T00:01:00.000Z");
        let req = s
            .http
            .get(s.url("/api/v1/intake/pulls?limit=5000"))
            .bearer_auth(&s.token);
        let (status, _, _, _) = call(&doc, req, "get", "/api/v1/intake/pulls").await;
        assert_eq!(status, 400);
    });
}

/// A GET on the router itself (no socket), as a browser would send it.
async fn get(app: &axum::Router, path: &str) -> (u16, String, Vec<u8>) {
    let req = Request::builder().uri(path).body(Body::empty()).unwrap();
    let r = oneshot(app, req).await;
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), ct, r.body().to_vec())
}

/// The `src`/`href` URLs of a page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            out.push(part.split('"').next().unwrap().to_owned());
        }
    }
    out
}

#[test]
fn the_docs_page_loads_its_files_from_this_server() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        // Over a real socket (trailing slashes trimmed): with and without the slash.
        let mut pages = Vec::new();
        for path in ["/api/v1/docs", "/api/v1/docs/"] {
            let r = server.get_with(path, None).await;
            assert_eq!(r.status(), 200, "{path}: no token needed, no redirect");
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
            pages.push(r.text().await.unwrap());
        }
        assert_eq!(pages[0], pages[1]);
        let html = &pages[0];
        for cdn in ["unpkg", "jsdelivr", "cdnjs", "googleapis", "cloudflare", "http://", "https://"] {
            assert!(!html.contains(cdn), "the page loads from {cdn}: {html}");
        }
        let files = links(html);
        assert!(files.iter().any(|l| l.ends_with(".js")), "{files:?}");
        assert!(files.iter().any(|l| l.ends_with(".css")), "{files:?}");
        let mut initializer = String::new();
        for link in &files {
            assert!(link.starts_with("/api/v1/docs/"), "{link}");
            let r = server.get_with(link, None).await;
            assert_eq!(r.status(), 200, "{link}");
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            let body = r.bytes().await.unwrap();
            assert!(!body.is_empty(), "{link}");
            if link.ends_with(".js") {
                assert!(ct.contains("javascript"), "{link}: {ct}");
            } else if link.ends_with(".css") {
                assert!(ct.starts_with("text/css"), "{link}: {ct}");
            }
            if link.ends_with("swagger-initializer.js") {
                initializer = String::from_utf8(body.to_vec()).unwrap();
            }
        }
        // The UI reads this server's document, and asks no validator on the Internet.
        assert!(initializer.contains("\"/api/v1/openapi.json\""), "{initializer}");
        assert!(initializer.contains("\"validatorUrl\": \"none\""), "{initializer}");
        assert!(!initializer.contains("petstore"), "{initializer}");
        let r = server.get_with("/api/v1/docs/nope.js", None).await;
        assert_eq!(r.status(), 404);

        // Behind a proxy with a path prefix (`--public-url`): the page, the document and the
        // token URL say so.
        let mut state = server.state.clone();
        state.public_url = Some("https://roster.example.org/hub/".into());
        let app = rosterhub::http::router(state);
        let (status, _, page) = get(&app, "/api/v1/docs").await;
        assert_eq!(status, 200);
        let (status, _, slashed) = get(&app, "/api/v1/docs/").await;
        assert_eq!((status, &slashed), (200, &page), "the same page, untrimmed");
        let page = String::from_utf8(page).unwrap();
        for link in links(&page) {
            assert!(link.starts_with("/hub/api/v1/docs/"), "{link}");
        }
        let (_, _, js) = get(&app, "/api/v1/docs/swagger-initializer.js").await;
        assert!(String::from_utf8(js).unwrap().contains("\"/hub/api/v1/openapi.json\""));
        let (status, ct, doc) = get(&app, "/api/v1/openapi.json").await;
        assert_eq!((status, ct.as_str()), (200, "application/json"));
        let doc: Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(doc["servers"][0]["url"], "https://roster.example.org/hub");
        assert_eq!(
            doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
            "https://roster.example.org/hub/oauth/token"
        );
        let file: Value = serde_json::from_str(include_str!("../../openapi/admin-v1.json")).unwrap();
        assert_eq!(
            doc["paths"].as_object().unwrap().len(),
            file["paths"].as_object().unwrap().len(),
            "every path of the document is served"
        );
    });
}
