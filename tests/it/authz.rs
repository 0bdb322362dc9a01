//! Every route refuses what is not a valid token of an active client with the right scope —
//! no token, a malformed one, an expired one, `alg: none`, another key's, a revoked client's,
//! a scope that does not cover the operation — with 401/403 in the route's error format, and
//! never a byte of data.

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rosterhub::auth::Scopes;
use serde_json::{Value, json};

use crate::helpers::tokens::client;
use crate::helpers::{Backend, TestDb, fixtures, opts};
use crate::isolation::{BASE, operations};
use crate::server::{oneshot, state};

/// Every admin operation, with placeholder ids (authorisation comes before any lookup).
const ADMIN: &[(&str, &str)] = &[
    ("GET", "/imports"),
    ("POST", "/imports"),
    ("GET", "/imports/x"),
    ("GET", "/imports/x/findings.csv"),
    ("POST", "/imports/x/approve"),
    ("POST", "/imports/x/discard"),
    ("POST", "/imports/x/cancel"),
    ("GET", "/exports"),
    ("POST", "/exports"),
    ("GET", "/exports/x"),
    ("GET", "/exports/x/download"),
    ("GET", "/jobs/x/events"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks/x"),
    ("PATCH", "/webhooks/x"),
    ("DELETE", "/webhooks/x"),
    ("GET", "/webhooks/x/deliveries"),
    ("GET", "/mappings"),
    ("GET", "/mappings/x"),
    ("PUT", "/mappings/x"),
    ("DELETE", "/mappings/x"),
    ("POST", "/mappings/preview"),
    ("POST", "/mappings/x/preview"),
    ("GET", "/clients"),
    ("POST", "/clients"),
    ("GET", "/clients/x"),
    ("PATCH", "/clients/x"),
    ("POST", "/clients/x/rotate-secret"),
    ("POST", "/clients/x/revoke"),
    ("GET", "/users"),
    ("POST", "/users"),
    ("GET", "/users/x"),
    ("PATCH", "/users/x"),
    ("DELETE", "/users/x"),
    ("GET", "/tenants"),
    ("POST", "/tenants"),
    ("GET", "/tenants/x"),
    ("GET", "/audit"),
];

#[derive(Clone)]
struct Route {
    method: &'static str,
    path: String,
    oneroster: bool,
}

fn routes() -> Vec<Route> {
    let mut r: Vec<Route> = operations()
        .into_iter()
        .map(|p| Route {
            method: "GET",
            path: format!("{BASE}{p}"),
            oneroster: true,
        })
        .collect();
    r.extend(ADMIN.iter().map(|(m, p)| Route {
        method: m,
        path: format!("/api/v1{p}"),
        oneroster: false,
    }));
    r
}

fn jwt(header: Value, claims: Value, key: Option<&[u8]>) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let signing_input = format!("{}.{}", enc(&header), enc(&claims));
    let signature = match key {
        Some(k) => {
            use hmac::{KeyInit, Mac};
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(k).unwrap();
            mac.update(signing_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{signing_input}.{signature}")
}

fn claims(client: &str, exp_offset_secs: i64) -> Value {
    let now = rosterhub::domain::datetime::now_ms() / 1000;
    json!({
        "iss": "rosterhub", "sub": client, "tenant": "default",
        "scope": Scopes::ALL.union(Scopes::ADMIN).to_list_string(),
        "iat": now + exp_offset_secs - 3600, "exp": now + exp_offset_secs, "jti": "t",
    })
}

/// A new database of `backend` holding the Japan Profile fixture; its app state and router.
fn served(backend: Backend) -> Option<(TestDb, rosterhub::http::AppState, axum::Router)> {
    let db = TestDb::new(backend)?;
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let state = db.block_on(state(&db, |_| {}));
    let app = rosterhub::http::router(state.clone());
    Some((db, state, app))
}

fn every_route_refuses_bad_tokens_without_data(backend: Backend) {
    let Some((db, state, app)) = served(backend) else {
        return;
    };
    let everything = Scopes::ALL.union(Scopes::ADMIN);
    let cases = db.rt.block_on(async {
        let key = db.store.signing_key().await.unwrap();
        let id = client(&state, "default", everything).await.id;
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": key.kid});
        let revoked = client(&state, "default", everything).await;
        db.store.revoke_client(&revoked.id).await.unwrap();
        let valid = jwt(header.clone(), claims(&id, 3600), Some(&key.secret));
        let cases: Vec<(&str, Option<String>)> = vec![
            ("no token", None),
            ("malformed", Some("not.a-jwt".into())),
            ("garbage", Some("%%%".into())),
            (
                "expired",
                Some(jwt(header.clone(), claims(&id, -60), Some(&key.secret))),
            ),
            (
                "alg none",
                Some(jwt(
                    json!({"alg": "none", "typ": "JWT", "kid": key.kid}),
                    claims(&id, 3600),
                    None,
                )),
            ),
            (
                "another key",
                Some(jwt(
                    header.clone(),
                    claims(&id, 3600),
                    Some(b"another key, 32 bytes long......"),
                )),
            ),
            (
                "unknown kid",
                Some(jwt(
                    json!({"alg": "HS256", "typ": "JWT", "kid": "nope"}),
                    claims(&id, 3600),
                    Some(&key.secret),
                )),
            ),
            ("tampered", Some(format!("{}x", &valid[..valid.len() - 1]))),
            ("revoked client", Some(revoked.token)),
        ];
        // The hand-made token is right when nothing is wrong with it.
        let ok = Request::get(format!("{BASE}/users"))
            .header("authorization", format!("Bearer {valid}"))
            .body(Body::empty())
            .unwrap();
        let ok = oneshot(&app, ok).await;
        assert_eq!(ok.status(), 200, "a well-made token is accepted");
        cases
    });
    let secrets = [
        "@example.jp",
        "de274027-6f10-4912-9777-f62c295f0e8f",
        "高橋",
    ];
    let send = |method: &str, path: &str, token: Option<&str>| {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let r = db.block_on(oneshot(&app, req.body(Body::empty()).unwrap()));
        (
            r.status().as_u16(),
            r.headers().contains_key("www-authenticate"),
            String::from_utf8_lossy(r.body()).into_owned(),
        )
    };
    for route in routes() {
        for (case, token) in &cases {
            let (status, www, body) = send(route.method, &route.path, token.as_deref());
            let what = format!("{} {} with {case}", route.method, route.path);
            assert_eq!(status, 401, "{what}: {body}");
            assert!(www, "{what}: WWW-Authenticate");
            let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: {body}"));
            if route.oneroster {
                assert_eq!(v["imsx_codeMajor"], "failure", "{what}");
                assert_eq!(
                    v["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"],
                    "unauthorisedrequest",
                    "{what}"
                );
            } else {
                assert_eq!(v["error"], "unauthorized", "{what}: {body}");
            }
            for s in secrets {
                assert!(!body.contains(s), "{what}: data in the refusal");
            }
        }
    }
    // A valid token whose scopes do not cover the operation: 403.
    let (admin_only, oneroster_only) = db.rt.block_on(async {
        let mut tokens = Vec::new();
        for scopes in [
            Scopes::IMPORT.union(Scopes::EXPORT).union(Scopes::ADMIN),
            Scopes::ALL,
        ] {
            tokens.push(client(&state, "default", scopes).await.token);
        }
        (tokens[0].clone(), tokens[1].clone())
    });
    for route in routes() {
        let token = if route.oneroster {
            &admin_only
        } else {
            &oneroster_only
        };
        let (status, _, body) = send(route.method, &route.path, Some(token));
        let what = format!("{} {}", route.method, route.path);
        assert_eq!(status, 403, "{what}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        if route.oneroster {
            assert_eq!(
                v["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"],
                "forbidden",
                "{what}"
            );
        } else {
            assert_eq!(v["error"], "forbidden", "{what}: {body}");
        }
        for s in secrets {
            assert!(!body.contains(s), "{what}: data in the refusal");
        }
    }
    // The demographics scope alone opens demographics and nothing else of the roster.
    let demo = db
        .rt
        .block_on(client(&state, "default", Scopes::DEMOGRAPHICS))
        .token;
    assert_eq!(
        send("GET", &format!("{BASE}/demographics"), Some(&demo)).0,
        200
    );
    assert_eq!(send("GET", &format!("{BASE}/users"), Some(&demo)).0, 403);
}

/// (status, body) of one request through `app`.
async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let r = oneshot(app, req.body(body).unwrap()).await;
    let json = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
    (r.status().as_u16(), json)
}

/// The OneRoster `imsx_codeMinorFieldValue` of a refusal, or the admin API's `error`.
fn code(body: &Value) -> String {
    let minor = &body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"];
    minor
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or("")
        .to_owned()
}

fn a_scope_taken_away_applies_to_tokens_already_issued(backend: Backend) {
    let Some((db, state, app)) = served(backend) else {
        return;
    };
    db.rt.block_on(async {
        let c = client(&state, "default", Scopes::ALL.union(Scopes::ADMIN)).await;
        let demographics = format!("{BASE}/demographics");
        let users = format!("{BASE}/users");
        let new_client = json!({"name": "x", "scopes": "roster.readonly"});
        assert_eq!(
            call(&app, "GET", "/api/v1/clients", &c.token, None).await.0,
            200
        );
        assert_eq!(
            call(&app, "GET", &demographics, &c.token, None).await.0,
            200
        );
        let update = rosterhub::storage::clients::ClientUpdate {
            scopes: Some(Scopes::ROSTER),
            ..Default::default()
        };
        db.store
            .update_client(Some("default"), &c.id, &update)
            .await
            .unwrap()
            .unwrap();
        // The same token, on the next request: only what the client holds now.
        for (method, path, body, want) in [
            ("GET", "/api/v1/clients", None, (403, "forbidden")),
            (
                "POST",
                "/api/v1/clients",
                Some(new_client),
                (403, "forbidden"),
            ),
            ("GET", demographics.as_str(), None, (403, "forbidden")),
            ("GET", users.as_str(), None, (200, "")),
        ] {
            let (status, body) = call(&app, method, path, &c.token, body).await;
            assert_eq!(
                (status, code(&body).as_str()),
                want,
                "{method} {path}: {body}"
            );
        }
        let clients = db.store.list_clients(Some("default")).await.unwrap();
        assert_eq!(clients.len(), 1, "no client was created");
    });
}

fn tokens_with_impossible_times_or_scopes_are_refused(backend: Backend) {
    let Some((db, state, app)) = served(backend) else {
        return;
    };
    db.rt.block_on(async {
        let key = db.store.signing_key().await.unwrap();
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": key.kid});
        let id = client(&state, "default", Scopes::ROSTER).await.id;
        let now = rosterhub::domain::datetime::now_ms() / 1000;
        let users = format!("{BASE}/users");
        let signed = |times: Value, scopes: Scopes| {
            let mut c = claims(&id, 3600);
            c["scope"] = scopes.to_list_string().into();
            for (k, v) in times.as_object().unwrap() {
                c[k] = v.clone();
            }
            jwt(header.clone(), c, Some(&key.secret))
        };
        let times_refused = "the token is not valid: the token's times are not ones this server \
            issues (issued or valid only in the future, or living longer than the token \
            lifetime); request a new token";
        for (case, times) in [
            (
                "exp ten years ahead",
                json!({"iat": now, "exp": now + 315_360_000}),
            ),
            (
                "iat in the future",
                json!({"iat": now + 600, "exp": now + 1200}),
            ),
            (
                "nbf in the future",
                json!({"iat": now, "exp": now + 600, "nbf": now + 300}),
            ),
        ] {
            let token = signed(times, Scopes::ROSTER);
            for path in [users.as_str(), "/api/v1/imports"] {
                let (status, body) = call(&app, "GET", path, &token, None).await;
                let shown: String = body.to_string().chars().take(200).collect();
                assert_eq!(status, 401, "{case} {path}: {shown}");
                let message = body["imsx_description"]
                    .as_str()
                    .or(body["message"].as_str())
                    .unwrap_or("");
                assert_eq!(message, times_refused, "{case} {path}: {body}");
            }
        }
        // Signed with the real key, listing scopes the client never had: only its own count.
        let token = signed(json!({}), Scopes::ALL.union(Scopes::ADMIN));
        for (path, want) in [
            (users.as_str(), (200, "")),
            (&format!("{BASE}/demographics"), (403, "forbidden")),
            ("/api/v1/clients", (403, "forbidden")),
        ] {
            let (status, body) = call(&app, "GET", path, &token, None).await;
            assert_eq!((status, code(&body).as_str()), want, "{path}: {body}");
        }
    });
}

/// A token request through `app`: (status, body).
async fn token_request(app: &axum::Router, content_type: &str, body: &str) -> (u16, Value) {
    let req = Request::post("/oauth/token")
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let r = oneshot(app, req).await;
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap(),
    )
}

fn short_scope_names_are_aliases_and_refusals_say_why(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let state = db.block_on(state(&db, |_| {}));
    let app = rosterhub::http::router(state.clone());
    db.rt.block_on(async {
        let c = client(&state, "default", Scopes::CORE.union(Scopes::ROSTER)).await;
        let form = |scope: &str| {
            format!(
                "grant_type=client_credentials&client_id={}&client_secret={}&scope={scope}",
                c.id, c.secret
            )
        };
        const FORM: &str = "application/x-www-form-urlencoded";
        let (status, body) = token_request(&app, FORM, &form("roster.readonly")).await;
        assert_eq!(status, 200, "{body}");
        // The token carries the full URI.
        assert_eq!(body["scope"], Scopes::ROSTER_URI);
        let p = state
            .auth
            .verify(body["access_token"].as_str().unwrap())
            .unwrap();
        assert_eq!(p.scopes, Scopes::ROSTER);
        let (status, body) = token_request(
            &app,
            FORM,
            &form("roster-demographics.readonly+gradebook.readonly+rosterhub.admin"),
        )
        .await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"error": "invalid_scope", "error_description": format!(
                    "none of the requested scopes can be granted to this client (unknown to \
                     this server: gradebook.readonly; not held by this client: {} \
                     rosterhub.admin); ask for scopes the client holds, or ask an \
                     administrator to add them", Scopes::DEMOGRAPHICS_URI)})
            )
        );
        // A JSON body is told which encoding to use, and how.
        let json_body = json!({"grant_type": "client_credentials", "client_id": c.id,
                               "client_secret": c.secret})
        .to_string();
        let (status, body) = token_request(&app, "application/json", &json_body).await;
        assert_eq!(
            (status, body),
            (
                400,
                json!({"error": "invalid_request", "error_description":
                    "the body must be application/x-www-form-urlencoded, not JSON; for example: \
                     curl -u CLIENT_ID:CLIENT_SECRET --data-urlencode \
                     grant_type=client_credentials --data-urlencode \
                     scope=roster-core.readonly https://HOST/oauth/token"})
            )
        );
    });
}

crate::on_both_backends!(
    every_route_refuses_bad_tokens_without_data,
    a_scope_taken_away_applies_to_tokens_already_issued,
    tokens_with_impossible_times_or_scopes_are_refused,
    short_scope_names_are_aliases_and_refusals_say_why,
);
