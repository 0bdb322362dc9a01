//! `POST /oauth/token`: the OAuth 2.0 client credentials grant (RFC 6749 §4.4, ONEROSTER.md
//! §3.8). Clients authenticate by HTTP Basic or by `client_id`/`client_secret` in the body
//! (§2.3.1); errors are RFC 6749 §5.2 bodies, never the OneRoster `imsx_StatusInfo`.
//!
//! The order of the checks tells nothing to a caller without the secret: the attempt is counted
//! ([`super::throttle`]: per client id and per address, refused past the limit with 429
//! before anything is checked), then the secret is checked (401 for an unknown client, a
//! revoked one and a wrong secret alike), and only then the client's IP allow-list (403) and
//! the scopes.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::Json;
use axum::body::Bytes;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;

use super::throttle::{Counter, Verdict};
use super::{Auth, Scopes};
use crate::domain::datetime::now_ms;
use crate::domain::restrict::ip_allowed;
use crate::storage::Store;
use crate::web::form::{form_decode, pairs};

/// The only grant this server supports.
const CLIENT_CREDENTIALS: &str = "client_credentials";

/// An RFC 6749 §5.2 error. Descriptions are plain ASCII without quotes (§5.2 allows no more).
#[derive(Debug)]
enum TokenError {
    InvalidRequest(&'static str),
    InvalidClient(&'static str),
    /// Past a failure limit: `invalid_client` (RFC 6749 has no code for it) with 429 and
    /// `Retry-After` (seconds).
    Throttled(i64),
    /// The client may not call from this address (after its secret was checked).
    AddressNotAllowed,
    UnsupportedGrantType,
    InvalidScope(String),
    Server,
}

/// What a JSON body is told: the grant is a form (RFC 6749 §4.4.2), and how to send one.
const NOT_JSON: &str = "the body must be application/x-www-form-urlencoded, not JSON; for \
     example: curl -u CLIENT_ID:CLIENT_SECRET --data-urlencode grant_type=client_credentials \
     --data-urlencode scope=roster-core.readonly https://HOST/oauth/token";

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            TokenError::Throttled(secs) => Some(*secs),
            _ => None,
        };
        let (status, error, description) = match self {
            TokenError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d.into()),
            TokenError::InvalidClient(d) => (StatusCode::UNAUTHORIZED, "invalid_client", d.into()),
            TokenError::Throttled(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_client",
                format!(
                    "too many failed token requests for this client or from this address; \
                     check the client id and secret and retry after {secs} s"
                ),
            ),
            TokenError::AddressNotAllowed => (
                StatusCode::FORBIDDEN,
                "invalid_client",
                "requests from this address are not allowed for this client".into(),
            ),
            TokenError::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported".into(),
            ),
            TokenError::InvalidScope(d) => (StatusCode::BAD_REQUEST, "invalid_scope", d),
            TokenError::Server => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token could not be issued".into(),
            ),
        };
        let body = json!({"error": error, "error_description": description});
        let mut response = no_store((status, Json(body)).into_response());
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"rosterhub\""),
            );
        }
        response
    }
}

/// An RFC 6749 §5.2-style error of the token endpoint for another layer (the guard): `403
/// invalid_client` for an address outside the client's allow-list, `429
/// temporarily_unavailable` for an empty rate-limit bucket. Not cacheable.
pub fn refusal(status: StatusCode, error: &'static str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    no_store((status, Json(body)).into_response())
}

/// The client id a token request names (Basic credentials first, else the body's
/// `client_id`), without checking anything else: what the guard keys its limits by.
pub fn requested_client_id(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Ok(Some((id, _))) = basic_credentials(headers) {
        return Some(id);
    }
    parse_form(body)
        .ok()?
        .remove("client_id")
        .filter(|id| !id.is_empty())
}

/// RFC 6749 §5.1: token responses (and errors) must not be cached.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Handles a token request from `ip` (as the guard decided it; `None` when unknown). The
/// caller routes `POST /oauth/token` here.
pub async fn token_endpoint(
    auth: &Auth,
    store: &Store,
    headers: &HeaderMap,
    body: Bytes,
    ip: Option<IpAddr>,
) -> Response {
    match grant(auth, store, headers, &body, ip).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn grant(
    auth: &Auth,
    store: &Store,
    headers: &HeaderMap,
    body: &[u8],
    ip: Option<IpAddr>,
) -> Result<Response, TokenError> {
    if is_json(headers, body) {
        return Err(TokenError::InvalidRequest(NOT_JSON));
    }
    let mut form = parse_form(body).map_err(TokenError::InvalidRequest)?;
    match form.get("grant_type").map(String::as_str) {
        None | Some("") => return Err(TokenError::InvalidRequest("grant_type is required")),
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    }
    let (client_id, secret) = credentials(headers, &mut form)?;
    let server_error = |e: crate::storage::StoreError| {
        tracing::error!(error = %e, "token request: cannot read or count the client");
        TokenError::Server
    };
    // Counted before the secret is checked (see the module documentation); a client id that
    // does not exist is counted alike.
    let now = now_ms();
    let mut counters = vec![Counter::token_client(&client_id)];
    if let Some(ip) = ip {
        counters.push(Counter::token_address(&ip.to_string()));
    }
    let mut refused: Option<Verdict> = None;
    for counter in &counters {
        let verdict = counter.count(store, now).await.map_err(server_error)?;
        if verdict.over() {
            refused = Some(verdict);
        }
    }
    if let Some(verdict) = refused {
        tracing::warn!(%client_id, "token request refused: too many failures");
        return Err(TokenError::Throttled(
            (verdict.retry_after_ms() + 999) / 1000,
        ));
    }
    let client = store.find_client(&client_id).await.map_err(server_error)?;
    // Sign with the newest key: a rotation by another replica is seen within the refresh
    // interval.
    auth.refresh_keys().await;
    // The same answer for an unknown client, a revoked one and a wrong secret (the current
    // one, or the previous one inside its overlap window after a rotation).
    let client = match client {
        Some(c) if c.is_active() && c.secret_matches(auth.pepper(), &secret, now_ms()) => c,
        _ => {
            tracing::info!(%client_id, "token request refused: client authentication failed");
            return Err(TokenError::InvalidClient("client authentication failed"));
        }
    };
    // The right secret: no failure to count.
    for counter in &counters {
        counter.release(store).await.map_err(server_error)?;
    }
    if client.allowed_ips.is_some()
        && !ip.is_some_and(|ip| ip_allowed(client.allowed_ips.as_deref(), ip))
    {
        tracing::info!(%client_id, "token request refused: address not allowed");
        return Err(TokenError::AddressNotAllowed);
    }
    let granted = match form.get("scope").filter(|s| !s.trim().is_empty()) {
        None => client.scopes,
        Some(requested) => {
            let (asked, unknown) = Scopes::parse_request(requested);
            let granted = asked.intersection(client.scopes);
            if granted.is_empty() {
                tracing::info!(%client_id, "token request refused: no grantable scope");
                return Err(TokenError::InvalidScope(scope_refusal(
                    &unknown,
                    asked.without(client.scopes),
                )));
            }
            granted
        }
    };
    if granted.is_empty() {
        tracing::info!(%client_id, "token request refused: the client holds no scope");
        return Err(TokenError::InvalidScope(
            "this client holds no scope; ask an administrator to give it one".into(),
        ));
    }
    let token = auth
        .issue(&client.tenant, &client.client_id, granted)
        .map_err(|e| {
            tracing::error!(error = %e, "token request: cannot sign the token");
            TokenError::Server
        })?;
    tracing::info!(%client_id, tenant = %client.tenant, scope = %granted, "token issued");
    let body = json!({
        "access_token": token.access_token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
        "scope": granted.to_list_string(),
    });
    Ok(no_store((StatusCode::OK, Json(body)).into_response()))
}

/// Whether the body is JSON (by its type, or by its first character when it has none).
fn is_json(headers: &HeaderMap, body: &[u8]) -> bool {
    let declared = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| ct.trim().to_ascii_lowercase());
    match declared {
        Some(ct) => ct.starts_with("application/json") || ct.contains("+json"),
        None => body.trim_ascii_start().first() == Some(&b'{'),
    }
}

/// The `invalid_scope` description: which requested scopes this server does not know and which
/// the client does not hold. Quotes and backslashes (not allowed in an RFC 6749 description)
/// and anything outside printable ASCII in an echoed name become `?`.
fn scope_refusal(unknown: &[&str], lacking: Scopes) -> String {
    const SHOWN: usize = 5;
    let clean = |s: &str| -> String {
        s.chars()
            .take(100)
            .map(|c| match c {
                '"' | '\\' => '?',
                ' '..='~' => c,
                _ => '?',
            })
            .collect()
    };
    let mut parts = Vec::new();
    if !unknown.is_empty() {
        let mut names: Vec<String> = unknown.iter().take(SHOWN).map(|s| clean(s)).collect();
        if unknown.len() > SHOWN {
            names.push(format!("and {} more", unknown.len() - SHOWN));
        }
        parts.push(format!("unknown to this server: {}", names.join(" ")));
    }
    if !lacking.is_empty() {
        parts.push(format!(
            "not held by this client: {}",
            lacking.to_list_string()
        ));
    }
    format!(
        "none of the requested scopes can be granted to this client ({}); ask for scopes the \
         client holds, or ask an administrator to add them",
        parts.join("; ")
    )
}

/// The client's id and secret, from the Basic header or the body (not both, unless equal).
fn credentials(
    headers: &HeaderMap,
    form: &mut HashMap<String, String>,
) -> Result<(String, String), TokenError> {
    let body_id = form.remove("client_id");
    let body_secret = form.remove("client_secret");
    match basic_credentials(headers)? {
        Some((id, secret)) => {
            let differs = body_id.as_ref().is_some_and(|b| *b != id)
                || body_secret.as_ref().is_some_and(|b| *b != secret);
            if differs {
                return Err(TokenError::InvalidRequest(
                    "client credentials in both the Authorization header and the body",
                ));
            }
            Ok((id, secret))
        }
        None => match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok((id, secret)),
            (None, Some(_)) => Err(TokenError::InvalidRequest(
                "client_secret without client_id",
            )),
            _ => Err(TokenError::InvalidClient("client authentication required")),
        },
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
/// `None` when there is no Basic header (another scheme is not client authentication).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenError> {
    const MALFORMED: TokenError = TokenError::InvalidClient("malformed Basic credentials");
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| MALFORMED)?.trim();
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| MALFORMED)?;
    let colon = decoded.iter().position(|&b| b == b':').ok_or(MALFORMED)?;
    let id = form_decode(&decoded[..colon]).map_err(|_| MALFORMED)?;
    let secret = form_decode(&decoded[colon + 1..]).map_err(|_| MALFORMED)?;
    if id.is_empty() {
        return Err(MALFORMED);
    }
    Ok(Some((id, secret)))
}

/// An `application/x-www-form-urlencoded` body. A repeated parameter is an error (RFC 6749
/// §3.2); unknown parameters are kept (and ignored by the caller).
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, &'static str> {
    const NOT_A_FORM: &str = "the body is not valid form-urlencoded UTF-8";
    let body = std::str::from_utf8(body).map_err(|_| NOT_A_FORM)?;
    let mut form = HashMap::new();
    for (key, value) in pairs(body) {
        let key = form_decode(key).map_err(|_| NOT_A_FORM)?;
        let value = form_decode(value).map_err(|_| NOT_A_FORM)?;
        if form.insert(key, value).is_some() {
            return Err("a parameter is repeated");
        }
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_and_refuse_repeats() {
        let f = parse_form(b"grant_type=client_credentials&&scope=a+b&flag").unwrap();
        assert_eq!(f["grant_type"], "client_credentials");
        assert_eq!(f["scope"], "a b");
        assert_eq!(f["flag"], "");
        assert!(parse_form(b"scope=a&scope=b").is_err());
        assert!(parse_form(b"").unwrap().is_empty());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let enc = base64::engine::general_purpose::STANDARD.encode("my%20id:s%3Acr+t");
        h.insert(AUTHORIZATION, format!("basic {enc}").parse().unwrap());
        let (id, secret) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("my id", "s:cr t"));
        h.insert(AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(basic_credentials(&h).unwrap().is_none());
        for bad in ["Basic !!!", "Basic bm9jb2xvbg=="] {
            h.insert(AUTHORIZATION, bad.parse().unwrap());
            assert!(basic_credentials(&h).is_err(), "{bad}");
        }
    }
}
