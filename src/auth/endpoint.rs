//! `POST /oauth/token`: the OAuth 2.0 client credentials grant (RFC 6749 §4.4, ONEROSTER.md
//! §3.8). Clients authenticate by HTTP Basic or by `client_id`/`client_secret` in the body
//! (§2.3.1); errors are RFC 6749 §5.2 bodies, never the OneRoster `imsx_StatusInfo`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;

use super::{Auth, Scopes};
use crate::domain::datetime::now_ms;
use crate::storage::Store;
use crate::web::form::{form_decode, pairs};

/// The only grant this server supports.
const CLIENT_CREDENTIALS: &str = "client_credentials";

/// An RFC 6749 §5.2 error. Descriptions are plain ASCII without quotes (§5.2 allows no more).
#[derive(Debug)]
enum TokenError {
    InvalidRequest(&'static str),
    InvalidClient(&'static str),
    UnsupportedGrantType,
    InvalidScope,
    Server,
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let (status, error, description) = match self {
            TokenError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
            TokenError::InvalidClient(d) => (StatusCode::UNAUTHORIZED, "invalid_client", d),
            TokenError::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ),
            TokenError::InvalidScope => (
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "none of the requested scopes can be granted to this client",
            ),
            TokenError::Server => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token could not be issued",
            ),
        };
        let body = json!({"error": error, "error_description": description});
        let mut response = no_store((status, Json(body)).into_response());
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

/// Handles a token request. The caller routes `POST /oauth/token` here.
pub async fn token_endpoint(
    auth: &Auth,
    store: &Store,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    match grant(auth, store, headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn grant(
    auth: &Auth,
    store: &Store,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, TokenError> {
    let mut form = parse_form(body).map_err(TokenError::InvalidRequest)?;
    match form.get("grant_type").map(String::as_str) {
        None | Some("") => return Err(TokenError::InvalidRequest("grant_type is required")),
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    }
    let (client_id, secret) = credentials(headers, &mut form)?;
    let client = store.find_client(&client_id).await.map_err(|e| {
        tracing::error!(error = %e, "token request: cannot read the client");
        TokenError::Server
    })?;
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
    let granted = match form.get("scope").filter(|s| !s.trim().is_empty()) {
        None => client.scopes,
        Some(requested) => Scopes::parse_list(requested).intersection(client.scopes),
    };
    if granted.is_empty() {
        tracing::info!(%client_id, "token request refused: no grantable scope");
        return Err(TokenError::InvalidScope);
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
