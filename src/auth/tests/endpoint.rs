//! `POST /oauth/token`, called directly with headers and a body.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};

use super::TestStore;
use crate::auth::{Auth, Scopes, token_endpoint};
use crate::storage::test_db::expire_previous_secret;

const GRADEBOOK: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly";
const GRADEBOOK_PUT: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.createput";

struct Env {
    db: TestStore,
    auth: Auth,
    /// A client of t1 allowed core + roster (not demographics).
    id: String,
    secret: String,
}

async fn env() -> Env {
    let db = TestStore::sqlite().await;
    let c = db
        .store
        .create_client("t1", "test", Scopes::CORE.union(Scopes::ROSTER))
        .await
        .unwrap();
    let auth = Auth::load(&db.store).await.unwrap();
    Env {
        db,
        auth,
        id: c.record.client_id,
        secret: c.client_secret,
    }
}

fn basic(id: &str, secret: &str) -> String {
    let raw = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

impl Env {
    async fn post(
        &self,
        authorization: Option<&str>,
        body: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        if let Some(a) = authorization {
            headers.insert("authorization", a.parse().unwrap());
        }
        let response = token_endpoint(
            &self.auth,
            &self.db.store,
            &headers,
            Bytes::from(body.to_owned()),
            None,
        )
        .await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    fn basic(&self) -> String {
        basic(&self.id, &self.secret)
    }

    /// The token of a 200 response verifies and grants exactly `scopes`.
    fn assert_granted(&self, body: &Value, scopes: Scopes) {
        let token = body["access_token"].as_str().expect("access_token");
        assert_eq!(
            body,
            &json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": scopes.to_list_string(),
            })
        );
        let p = self.auth.verify(token).unwrap();
        assert_eq!(
            (p.tenant.as_str(), p.client_id.as_str()),
            ("t1", self.id.as_str())
        );
        assert_eq!(p.scopes, scopes);
    }
}

fn assert_error(got: &(StatusCode, HeaderMap, Value), status: StatusCode, error: &str) {
    let (s, headers, body) = got;
    assert_eq!(*s, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error", "error_description"]);
    assert_eq!(headers["cache-control"], "no-store");
    let www = headers.get("www-authenticate");
    if status == StatusCode::UNAUTHORIZED {
        assert_eq!(www.unwrap(), "Basic realm=\"rosterhub\"");
    } else {
        assert!(www.is_none());
    }
}

const GRANT: &str = "grant_type=client_credentials";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_gets_every_allowed_scope_when_none_is_asked() {
    let e = env().await;
    let (status, headers, body) = e.post(Some(&e.basic()), GRANT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(headers["content-type"], "application/json");
    e.assert_granted(&body, Scopes::CORE.union(Scopes::ROSTER));
    // An empty scope parameter is no request either.
    let (_, _, body) = e.post(Some(&e.basic()), &format!("{GRANT}&scope=")).await;
    e.assert_granted(&body, Scopes::CORE.union(Scopes::ROSTER));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_credentials_work_and_may_repeat_the_basic_ones() {
    let e = env().await;
    let form = format!("{GRANT}&client_id={}&client_secret={}", e.id, e.secret);
    let (status, _, body) = e.post(None, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    e.assert_granted(&body, Scopes::CORE.union(Scopes::ROSTER));
    let (status, _, _) = e.post(Some(&e.basic()), &form).await;
    assert_eq!(status, StatusCode::OK, "the same credentials twice");
    let other = format!("{GRANT}&client_id=someone&client_secret={}", e.secret);
    let got = e.post(Some(&e.basic()), &other).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gradebook_scopes_beside_roster_get_roster_only() {
    let e = env().await;
    let scope = format!("{} {GRADEBOOK} {GRADEBOOK_PUT}", Scopes::ROSTER_URI).replace(' ', "+");
    let (status, _, body) = e
        .post(Some(&e.basic()), &format!("{GRANT}&scope={scope}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    e.assert_granted(&body, Scopes::ROSTER);
    // Percent-encoded spaces and URIs work the same.
    let scope = format!("{}%20{GRADEBOOK}", Scopes::ROSTER_URI.replace(':', "%3A"));
    let (status, _, body) = e
        .post(Some(&e.basic()), &format!("{GRANT}&scope={scope}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    e.assert_granted(&body, Scopes::ROSTER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_grantable_is_invalid_scope() {
    let e = env().await;
    for (scope, case) in [
        (format!("{GRADEBOOK}+{GRADEBOOK_PUT}"), "only gradebook"),
        (
            Scopes::DEMOGRAPHICS_URI.to_owned(),
            "not allowed to this client",
        ),
    ] {
        let got = e
            .post(Some(&e.basic()), &format!("{GRANT}&scope={scope}"))
            .await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{case}");
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_scope");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_client_authentication_is_401_with_a_basic_challenge() {
    let e = env().await;
    let other =
        e.db.store
            .create_client("t1", "revoked", Scopes::ALL)
            .await
            .unwrap();
    assert!(
        e.db.store
            .revoke_client(&other.record.client_id)
            .await
            .unwrap()
    );
    let cases = [
        (
            Some(basic(&e.id, "wrong")),
            GRANT.to_owned(),
            "wrong secret",
        ),
        (
            Some(basic("unknown", &e.secret)),
            GRANT.to_owned(),
            "unknown client",
        ),
        (
            Some(basic(&other.record.client_id, &other.client_secret)),
            GRANT.to_owned(),
            "revoked client",
        ),
        (None, GRANT.to_owned(), "no credentials"),
        (None, format!("{GRANT}&client_id={}", e.id), "no secret"),
        (
            Some("Basic %%%".to_owned()),
            GRANT.to_owned(),
            "malformed Basic",
        ),
    ];
    for (authorization, body, case) in cases {
        let got = e.post(authorization.as_deref(), &body).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{case}");
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_client");
        assert_eq!(
            got.2["error_description"]
                .as_str()
                .unwrap()
                .contains("failed"),
            !case.starts_with("no") && case != "malformed Basic",
            "{case}: one answer for every failed authentication"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_and_other_grants_are_400() {
    let e = env().await;
    let got = e.post(Some(&e.basic()), "grant_type=password").await;
    assert_error(&got, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let cases = [
        ("", "no grant_type"),
        ("scope=x", "no grant_type, other parameters"),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            "repeated",
        ),
        (
            "grant_type=client_credentials&scope=%ZZ",
            "bad percent-encoding",
        ),
    ];
    for (body, case) in cases {
        let got = e.post(Some(&e.basic()), body).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{case}");
        assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
    }
    let got = e
        .post(None, &format!("{GRANT}&client_secret={}", e.secret))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_works_beside_the_new_one_until_the_overlap_ends() {
    let e = env().await;
    let r =
        e.db.store
            .rotate_client_secret(Some("t1"), &e.id, 3_600_000)
            .await
            .unwrap()
            .unwrap();
    let (status, _, body) = e.post(Some(&e.basic()), GRANT).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "old secret inside the overlap: {body}"
    );
    e.assert_granted(&body, Scopes::CORE.union(Scopes::ROSTER));
    let (status, _, body) = e.post(Some(&basic(&e.id, &r.client_secret)), GRANT).await;
    assert_eq!(status, StatusCode::OK, "new secret: {body}");
    expire_previous_secret(&e.db.store, &e.id, 1).await;
    let got = e.post(Some(&e.basic()), GRANT).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(got.2["error_description"], "client authentication failed");
    let (status, _, _) = e.post(Some(&basic(&e.id, &r.client_secret)), GRANT).await;
    assert_eq!(status, StatusCode::OK, "the new one still works");
}
