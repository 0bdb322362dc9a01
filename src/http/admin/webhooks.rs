//! `/webhooks`: subscriptions of the caller's tenant and their delivery log (docs/webhooks.md).
//! Every operation needs `rosterhub.admin`; another tenant's subscription is 404.
//!
//! Bodies are read as JSON objects field by field (not through serde derive), so that a wrong
//! type or an unknown field comes back as a 400 that names the field.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::error::AdminError;
use crate::auth::Scopes;
use crate::domain::datetime::format_ms;
use crate::http::AppState;
use crate::webhooks::spec::parse_description;
use crate::webhooks::{Delivery, DeliveryState, store};
use crate::webhooks::{Events, Invalid, NewWebhook, Secret, Webhook, WebhookPatch, WebhookUrl};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{id}", get(show).patch(update).delete(remove))
        .route("/webhooks/{id}/deliveries", get(deliveries))
}

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;

/// A subscription on the wire; the secret only when it has just been created.
fn wire(w: &Webhook, with_secret: bool) -> Value {
    let mut v = json!({
        "id": w.id,
        "url": w.url,
        "events": w.events,
        "active": w.active,
        "description": w.description,
        "created_at": format_ms(w.created_at),
        "updated_at": format_ms(w.updated_at),
    });
    if with_secret {
        v["secret"] = json!(w.secret);
    }
    v
}

fn wire_delivery(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "event": d.event,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "next_attempt_at": (d.state == DeliveryState::Pending).then(|| format_ms(d.next_attempt_at)),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created_at": format_ms(d.created_at),
        "finished_at": d.finished_at.map(format_ms),
        "attempts_log": d.attempts_log.iter().map(|a| json!({
            "attempt": a.attempt,
            "at": format_ms(a.at),
            "status": a.status,
            "error": a.error,
            "duration_ms": a.duration_ms,
        })).collect::<Vec<_>>(),
    })
}

fn bad_field(e: Invalid) -> AdminError {
    let code = match e.field {
        "url" => "invalid_url",
        "events" => "invalid_events",
        "secret" => "invalid_secret",
        "active" => "invalid_active",
        "description" => "invalid_description",
        _ => "invalid_field",
    };
    AdminError::bad_request(code, e.to_string())
}

fn wrong_type(field: &'static str, what: &str) -> AdminError {
    bad_field(Invalid {
        field,
        message: format!("must be {what}"),
    })
}

const FIELDS: [&str; 5] = ["url", "events", "secret", "active", "description"];

/// The body as a JSON object with only known fields.
fn object(body: &[u8]) -> Result<Map<String, Value>, AdminError> {
    super::common::object(body, &FIELDS, false)
}

fn url_field(v: &Value) -> Result<WebhookUrl, AdminError> {
    let text = v.as_str().ok_or_else(|| wrong_type("url", "a string"))?;
    WebhookUrl::parse(text).map_err(bad_field)
}

fn events_field(v: &Value) -> Result<Events, AdminError> {
    let names: Vec<&str> = v
        .as_array()
        .and_then(|a| a.iter().map(Value::as_str).collect())
        .ok_or_else(|| wrong_type("events", "an array of event names"))?;
    Events::parse(&names).map_err(bad_field)
}

fn secret_field(v: &Value) -> Result<Secret, AdminError> {
    let text = v.as_str().ok_or_else(|| wrong_type("secret", "a string"))?;
    Secret::parse(text).map_err(bad_field)
}

fn active_field(v: &Value) -> Result<bool, AdminError> {
    v.as_bool()
        .ok_or_else(|| wrong_type("active", "true or false"))
}

/// `null` clears the description.
fn description_field(v: &Value) -> Result<String, AdminError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => parse_description(s).map_err(bad_field),
        _ => Err(wrong_type("description", "a string")),
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let map = object(&body)?;
    let url = match map.get("url") {
        Some(v) => url_field(v)?,
        None => {
            return Err(bad_field(Invalid {
                field: "url",
                message: "is required".into(),
            }));
        }
    };
    let events = match map.get("events") {
        Some(v) => events_field(v)?,
        None => {
            return Err(bad_field(Invalid {
                field: "events",
                message: "is required".into(),
            }));
        }
    };
    let new = NewWebhook {
        url,
        events,
        secret: map
            .get("secret")
            .map(secret_field)
            .transpose()?
            .unwrap_or_else(Secret::generate),
        active: map
            .get("active")
            .map(active_field)
            .transpose()?
            .unwrap_or(true),
        description: map
            .get("description")
            .map(description_field)
            .transpose()?
            .unwrap_or_default(),
    };
    let hook = store::create(&state.store, &caller.tenant, new).await?;
    let location = format!("{}{}/webhooks/{}", caller.base, super::BASE_PATH, hook.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(wire(&hook, true)),
    )
        .into_response())
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let hooks = state.store.list_webhooks(&caller.tenant).await?;
    Ok(Json(json!({
        "webhooks": hooks.iter().map(|w| wire(w, false)).collect::<Vec<_>>(),
    })))
}

fn no_such(id: &str) -> AdminError {
    AdminError::not_found(format!("no webhook {id:?}"))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let hook = state
        .store
        .webhook(&caller.tenant, &id)
        .await?
        .ok_or_else(|| no_such(&id))?;
    Ok(Json(wire(&hook, false)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let map = object(&body)?;
    let patch = WebhookPatch {
        url: map.get("url").map(url_field).transpose()?,
        events: map.get("events").map(events_field).transpose()?,
        secret: map.get("secret").map(secret_field).transpose()?,
        active: map.get("active").map(active_field).transpose()?,
        description: map.get("description").map(description_field).transpose()?,
    };
    let hook = store::update(&state.store, &caller.tenant, &id, patch)
        .await?
        .ok_or_else(|| no_such(&id))?;
    Ok(Json(wire(&hook, false)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AdminError> {
    caller.require(Scopes::ADMIN)?;
    if state.store.delete_webhook(&caller.tenant, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_such(&id))
    }
}

fn paging(
    query: &HashMap<String, String>,
    name: &'static str,
    default: u64,
    min: u64,
) -> Result<u64, AdminError> {
    match query.get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| {
                AdminError::bad_request(
                    "invalid_query",
                    format!("{name}: must be an integer ≥ {min}, not {text:?}"),
                )
            }),
    }
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: RawQuery,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let query = super::common::query(q);
    // A limit above the maximum is served as the maximum.
    let limit = paging(&query, "limit", DEFAULT_LIMIT, 1)?.min(MAX_LIMIT);
    let offset = paging(&query, "offset", 0, 0)?;
    let page = state
        .store
        .webhook_deliveries(&caller.tenant, &id, limit, offset)
        .await?
        .ok_or_else(|| no_such(&id))?;
    Ok(Json(json!({
        "deliveries": page.deliveries.iter().map(wire_delivery).collect::<Vec<_>>(),
        "total": page.total,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_the_field_that_is_wrong() {
        for (body, code, starts) in [
            (r#"[1]"#, "invalid_json", "the body must be"),
            (r#"{"url": 1}"#, "invalid_url", "url: must be a string"),
            (
                r#"{"events": "import.held"}"#,
                "invalid_events",
                "events: must be an array",
            ),
            (
                r#"{"events": [1]}"#,
                "invalid_events",
                "events: must be an array",
            ),
            (
                r#"{"active": "yes"}"#,
                "invalid_active",
                "active: must be true or false",
            ),
            (r#"{"event": []}"#, "unknown_field", "event: unknown field"),
        ] {
            let err = object(body.as_bytes())
                .and_then(|m| {
                    for (k, v) in &m {
                        match k.as_str() {
                            "url" => drop(url_field(v)?),
                            "events" => drop(events_field(v)?),
                            "active" => drop(active_field(v)?),
                            _ => {}
                        }
                    }
                    Ok(())
                })
                .unwrap_err();
            assert_eq!(err.code, code, "{body}");
            assert!(err.message.starts_with(starts), "{body}: {}", err.message);
        }
    }
}
