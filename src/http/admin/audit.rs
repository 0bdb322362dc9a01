//! `GET /audit`: the caller's tenant's audit log, newest first (needs `rosterhub.admin`).
//!
//! Filters (all optional, combined with AND): `actor`, `action` (exact, or a prefix as
//! `imports.*`), `since` and `until` (ISO 8601 DateTimes or dates, UTC when no offset is
//! given; `since` inclusive, `until` exclusive), `status` (`403`, or a class such as `4xx`),
//! `request_id`, `target`. Paging: `limit` (default 100, at most 1000; larger is served as
//! 1000) and `offset`. The answer: `{"entries": […], "total": n}` with times as
//! `YYYY-MM-DDTHH:MM:SS.sssZ`. An unknown parameter is a 400, so a misspelt filter never
//! silently widens the answer.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::Caller;
use super::common::query;
use super::error::AdminError;
use crate::audit::Filter;
use crate::auth::Scopes;
use crate::domain::datetime::parse_datetime;
use crate::http::AppState;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

const PARAMETERS: &[&str] = &[
    "actor",
    "action",
    "since",
    "until",
    "status",
    "request_id",
    "target",
    "limit",
    "offset",
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

fn bad(message: String) -> AdminError {
    AdminError::bad_request("bad_query", message)
}

fn time(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, AdminError> {
    q.get(name)
        .map(|v| {
            parse_datetime(v.trim()).map(|t| t.ms).ok_or_else(|| {
                bad(format!(
                    "`{name}` must be an ISO 8601 DateTime such as 2025-04-01T00:00:00.000Z"
                ))
            })
        })
        .transpose()
}

fn status(v: &str) -> Result<(u16, u16), AdminError> {
    let err = || bad("`status` must be an HTTP status (e.g. 403) or a class (e.g. 4xx)".into());
    let v = v.trim().to_ascii_lowercase();
    if let Some(class) = v.strip_suffix("xx") {
        return match class.parse::<u16>() {
            Ok(c @ 1..=5) if class.len() == 1 => Ok((c * 100, c * 100 + 100)),
            _ => Err(err()),
        };
    }
    match v.parse::<u16>() {
        Ok(s @ 100..=599) => Ok((s, s + 1)),
        _ => Err(err()),
    }
}

fn number(
    q: &HashMap<String, String>,
    name: &str,
    default: u64,
    min: u64,
) -> Result<u64, AdminError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| bad(format!("`{name}` must be a whole number ≥ {min}"))),
    }
}

fn text(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The filter and paging of a query string.
pub(crate) fn parse(q: &HashMap<String, String>) -> Result<(Filter, u64, u64), AdminError> {
    if let Some(unknown) = q.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown parameter `{unknown}`; the filters are {}",
            PARAMETERS.join(", ")
        )));
    }
    let (action, action_prefix) = match text(q, "action") {
        Some(a) => match a.strip_suffix('*') {
            Some(prefix) => (None, Some(prefix.to_owned())),
            None => (Some(a), None),
        },
        None => (None, None),
    };
    let filter = Filter {
        actor: text(q, "actor"),
        action,
        action_prefix,
        since: time(q, "since")?,
        until: time(q, "until")?,
        status: q.get("status").map(|s| status(s)).transpose()?,
        request_id: text(q, "request_id"),
        target: text(q, "target"),
    };
    let limit = number(q, "limit", DEFAULT_LIMIT, 1)?.min(MAX_LIMIT);
    let offset = number(q, "offset", 0, 0)?;
    Ok((filter, limit, offset))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    q: RawQuery,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let (filter, limit, offset) = parse(&query(q))?;
    let (entries, total) = state
        .store
        .audit_entries(&caller.tenant, &filter, limit, offset)
        .await?;
    Ok(Json(json!({
        "entries": entries.iter().map(|e| e.to_json()).collect::<Vec<_>>(),
        "total": total,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_strings_become_filters() {
        let (f, limit, offset) = parse(&q(&[
            ("action", "imports.*"),
            ("status", "4xx"),
            ("since", "2025-04-01"),
            ("until", "2025-04-01T09:00:00+09:00"),
            ("limit", "5000"),
            ("offset", "7"),
        ]))
        .unwrap();
        assert_eq!(f.action_prefix.as_deref(), Some("imports."));
        assert_eq!(f.action, None);
        assert_eq!(f.status, Some((400, 500)));
        assert_eq!(f.since, Some(1_743_465_600_000));
        assert_eq!(f.until, f.since, "09:00 in Japan is midnight UTC");
        assert_eq!((limit, offset), (MAX_LIMIT, 7));
        let (f, limit, _) = parse(&q(&[("status", "403"), ("action", "oneroster.read")])).unwrap();
        assert_eq!(
            (f.status, f.action.as_deref(), limit),
            (Some((403, 404)), Some("oneroster.read"), 100)
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (pairs, needle) in [
            (vec![("actr", "x")], "unknown parameter `actr`"),
            (vec![("since", "yesterday")], "`since`"),
            (vec![("status", "6xx")], "`status`"),
            (vec![("status", "forbidden")], "`status`"),
            (vec![("limit", "0")], "`limit`"),
            (vec![("offset", "-1")], "`offset`"),
        ] {
            let e = parse(&q(&pairs)).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(e.message.contains(needle), "{pairs:?}: {}", e.message);
        }
    }
}
