//! Small pieces every admin handler uses: query parameters, paging, idempotency keys, links,
//! JSON bodies.

use std::collections::HashMap;

use axum::Json;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json_};

use super::error::AdminError;
use crate::web::form::pairs_lossy;

/// The query string as a map, a repeated parameter holding its last value. Decoded as axum's
/// query extractor did (`+` is a space; a malformed escape is kept as written, invalid UTF-8
/// replaced), so no query string is refused as a whole: the handler checks each parameter it
/// reads ([`uint`], [`flag`], …) and answers a 400 in the admin API's format.
pub fn query(RawQuery(raw): RawQuery) -> HashMap<String, String> {
    pairs_lossy(raw.as_deref().unwrap_or("")).collect()
}

/// A non-negative integer parameter, `default` when absent, at most `max`.
pub fn uint(
    q: &HashMap<String, String>,
    name: &str,
    default: u64,
    max: u64,
) -> Result<u64, AdminError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(AdminError::bad_request(
                "bad_query",
                format!("`{name}` must be an integer from 0 to {max}"),
            )),
        },
    }
}

/// `school_year` of a mapped upload or preview: a year such as 2025.
pub fn school_year(q: &HashMap<String, String>) -> Result<Option<i32>, AdminError> {
    match q.get("school_year") {
        None => Ok(None),
        Some(y) => y.parse::<i32>().map(Some).map_err(|_| {
            AdminError::bad_request("bad_query", "`school_year` must be a year such as 2025")
        }),
    }
}

/// A boolean parameter (`true`/`false`/`1`/`0`).
pub fn flag(q: &HashMap<String, String>, name: &str) -> Result<bool, AdminError> {
    match q.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(_) => Err(AdminError::bad_request(
            "bad_query",
            format!("`{name}` must be true or false"),
        )),
    }
}

/// The `Idempotency-Key` header: 1–200 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AdminError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AdminError::bad_request(
            "bad_idempotency_key",
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// SHA-256 of a request's content, in hex (what [`same_request`] compares).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A job found by its idempotency key may be replayed only for the same request: another body
/// under the same key is 422 `idempotency_key_reused`, not silently the earlier job. Jobs
/// stored without a hash (before it was kept) are replayed as before.
pub fn same_request(job: &crate::jobs::Job, sha256: &str) -> Result<(), AdminError> {
    match &job.params.request_sha256 {
        Some(stored) if stored != sha256 => Err(AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            format!(
                "this Idempotency-Key was used for job {} with a different body; send a new key \
                 for a new request, or the same body to get that job again",
                job.id
            ),
        )),
        _ => Ok(()),
    }
}

/// `202 Accepted` with the job's id and state and a `Location`; `replayed` marks an answer
/// given again for a repeated idempotency key.
pub fn accepted(location: String, body: Json_, replayed: bool) -> Response {
    let mut r = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if replayed {
        r.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

/// The body as a JSON object (else 400 `invalid_json`).
pub fn json_object(body: &[u8]) -> Result<Map<String, Json_>, AdminError> {
    let value: Json_ = serde_json::from_slice(body).map_err(|e| {
        AdminError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
    })?;
    match value {
        Json_::Object(map) => Ok(map),
        _ => Err(AdminError::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        )),
    }
}

/// 400 `unknown_field` naming the first key of `map` that is not one of `fields`.
pub fn only_fields(map: &Map<String, Json_>, fields: &[&str]) -> Result<(), AdminError> {
    match map.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(unknown) => Err(AdminError::bad_request(
            "unknown_field",
            format!(
                "{unknown}: unknown field; expected any of {}",
                fields.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The body as a JSON object holding only `fields`; an empty body is `{}` when `empty_ok`.
pub fn object(
    body: &[u8],
    fields: &[&str],
    empty_ok: bool,
) -> Result<Map<String, Json_>, AdminError> {
    if empty_ok && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let map = json_object(body)?;
    only_fields(&map, fields)?;
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_as_forms_and_the_last_repeat_wins() {
        let q = |raw: &str| query(RawQuery(Some(raw.to_owned())));
        let want = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            q("a=1&a=2&b=x+y%2Bz&c=%zz&d&&e==f"),
            want(&[
                ("a", "2"),
                ("b", "x y+z"),
                ("c", "%zz"),
                ("d", ""),
                ("e", "=f")
            ])
        );
        assert_eq!(
            q("k%20ey=%E5%B1%B1&x=%FF%4"),
            want(&[("k ey", "山"), ("x", "\u{fffd}%4")])
        );
        assert!(query(RawQuery(None)).is_empty());
    }
}
