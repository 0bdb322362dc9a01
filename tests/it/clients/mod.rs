//! API clients: the IP allow-list and rate limit guard (`guard`), `/api/v1/clients` (`api`),
//! the `client` and `signing-key` commands (`cli`), and secrets kept out of the logs (`logs`).

mod api;
mod cli;
mod guard;
mod logs;

use reqwest::Method;
use reqwest::header::HeaderMap;
use rosterhub::http::AppState;
use rosterhub::http::guard::{Guard, GuardConfig};
use serde_json::Value;

use crate::helpers::TestDb;

/// The OneRoster API's base path.
pub const OR: &str = "/ims/oneroster/rostering/v1p2";

/// The app state of `db` with this guard configuration.
pub async fn state(db: &TestDb, guard: GuardConfig) -> AppState {
    crate::server::state(db, |s| s.guard = Guard::new(guard)).await
}

/// One HTTP call; the status, headers and JSON body (`Null` when there is none).
pub async fn call(
    method: Method,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, HeaderMap, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json)
}

pub async fn get(url: &str, token: &str) -> (u16, HeaderMap, Value) {
    call(Method::GET, url, Some(token), &[], None).await
}

/// A client-credentials token request with HTTP Basic credentials.
pub async fn token_request(base: &str, id: &str, secret: &str) -> (u16, HeaderMap, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

/// The `X-RateLimit-*` headers of a response: (limit, remaining, reset), if present.
pub fn rate(headers: &HeaderMap) -> Option<(u64, u64, u64)> {
    let num = |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.parse().ok() };
    Some((
        num("x-ratelimit-limit")?,
        num("x-ratelimit-remaining")?,
        num("x-ratelimit-reset")?,
    ))
}
