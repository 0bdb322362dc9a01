//! `/clients`: the API clients of the caller's tenant — create, list, show, change scopes and
//! restrictions, rotate the secret, revoke. Every operation needs `rosterhub.admin`; another
//! tenant's client is 404. A secret appears only in the answer that created it (create,
//! rotate-secret); hashes never.
//!
//! Bodies are read as JSON objects field by field, so that a wrong type or an unknown field
//! comes back as a 400 that names the field. In a PATCH an absent field stays as it is and
//! `null` removes a restriction (any address, the server's default limit, every org).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ipnet::IpNet;
use serde_json::{Value, json};

use super::auth::Caller;
use super::common::object;
use super::error::AdminError;
use crate::audit::AuditNote;
use crate::auth::Scopes;
use crate::domain::datetime::{format_ms, now_ms};
use crate::domain::restrict::{check_rate_limit, parse_allowed_ips, parse_org_scope};
use crate::http::AppState;
use crate::storage::clients::{ClientRecord, ClientSettings, ClientUpdate, NewClient};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/clients", get(list).post(create))
        .route("/clients/{id}", get(show).patch(update))
        .route("/clients/{id}/rotate-secret", post(rotate_secret))
        .route("/clients/{id}/revoke", post(revoke))
}

/// The longest name accepted.
const MAX_NAME: usize = 200;
/// The longest overlap of a rotated secret, in hours (30 days).
const MAX_OVERLAP_HOURS: f64 = 720.0;
const DEFAULT_OVERLAP_HOURS: f64 = 24.0;

const FIELDS: [&str; 6] = [
    "name",
    "scopes",
    "allowed_ips",
    "rate_limit_per_min",
    "org_scope",
    "target",
];

/// A client on the wire: no secret, no hash.
fn wire(state: &AppState, c: &ClientRecord) -> Value {
    let default_limit = state.guard.config().default_rate_limit_per_min;
    json!({
        "client_id": c.client_id,
        "name": c.name,
        "tenant": c.tenant,
        "scopes": c.scopes.to_list_string(),
        "allowed_ips": c.allowed_ips.as_ref().map(|l| l.iter().map(IpNet::to_string).collect::<Vec<_>>()),
        "rate_limit_per_min": c.rate_limit_per_min,
        "effective_rate_limit_per_min": c.rate_limit_per_min.unwrap_or(default_limit),
        "org_scope": c.org_scope,
        "active": c.is_active(),
        "created_at": format_ms(c.created_at),
        "revoked_at": c.revoked_at.map(format_ms),
        "previous_secret_valid_until": c.previous_secret_valid_until(now_ms()).map(format_ms),
        "target": c.target,
    })
}

/// A client with the secret it was just given.
fn wire_with_secret(state: &AppState, new: &NewClient) -> Value {
    let mut v = wire(state, &new.record);
    v["client_secret"] = json!(new.client_secret);
    v
}

fn invalid(field: &str, message: impl std::fmt::Display) -> AdminError {
    let code = match field {
        "name" => "invalid_name",
        "scopes" => "invalid_scopes",
        "allowed_ips" => "invalid_allowed_ips",
        "rate_limit_per_min" => "invalid_rate_limit_per_min",
        "org_scope" => "invalid_org_scope",
        "overlap_hours" => "invalid_overlap_hours",
        _ => "invalid_field",
    };
    AdminError::bad_request(code, format!("{field}: {message}"))
}

/// A list field: an array of strings, or one string of space/comma-separated items.
fn list_text(field: &str, v: &Value) -> Result<String, AdminError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(|items| items.join(" "))
            .ok_or_else(|| invalid(field, "must be an array of strings")),
        _ => Err(invalid(field, "must be an array of strings")),
    }
}

fn name_field(v: &Value) -> Result<String, AdminError> {
    let name = v
        .as_str()
        .ok_or_else(|| invalid("name", "must be a string"))?
        .trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn scopes_field(v: &Value) -> Result<Scopes, AdminError> {
    let text = list_text("scopes", v)?;
    let scopes = Scopes::parse_strict(&text).map_err(|e| invalid("scopes", e))?;
    if scopes.is_empty() {
        return Err(invalid("scopes", "names no scope"));
    }
    Ok(scopes)
}

/// `null`: no restriction.
fn allowed_ips_field(v: &Value) -> Result<Option<Vec<IpNet>>, AdminError> {
    if v.is_null() {
        return Ok(None);
    }
    let text = list_text("allowed_ips", v)?;
    parse_allowed_ips(&text)
        .map(Some)
        .map_err(|e| invalid("allowed_ips", e))
}

fn rate_limit_field(v: &Value) -> Result<Option<u32>, AdminError> {
    if v.is_null() {
        return Ok(None);
    }
    let n = v.as_i64().ok_or_else(|| {
        invalid(
            "rate_limit_per_min",
            "must be a whole number of requests per minute, or null",
        )
    })?;
    check_rate_limit(n)
        .map(Some)
        .map_err(|e| invalid("rate_limit_per_min", e))
}

fn org_scope_field(v: &Value) -> Result<Option<Vec<String>>, AdminError> {
    if v.is_null() {
        return Ok(None);
    }
    let text = list_text("org_scope", v)?;
    parse_org_scope([text.as_str()])
        .map(Some)
        .map_err(|e| invalid("org_scope", e))
}

/// `target`: a national model's name, or null for none.
fn target_field(v: &Value) -> Result<Option<String>, AdminError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => crate::csv::target::Target::parse(s)
            .map(|t| Some(t.name().to_owned()))
            .ok_or_else(|| {
                invalid(
                    "target",
                    format!("must be one of {}", crate::csv::target::Target::names()),
                )
            }),
        _ => Err(invalid("target", "must be a string or null")),
    }
}

fn no_such(id: &str) -> AdminError {
    AdminError::not_found(format!("no client {id:?}"))
}

/// A response with the audit note naming the client acted on.
fn noted(mut response: Response, client_id: &str) -> Response {
    response.extensions_mut().insert(AuditNote {
        target: Some(client_id.to_owned()),
        ..AuditNote::default()
    });
    response
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let map = object(&body, &FIELDS, false)?;
    let name = match map.get("name") {
        Some(v) => name_field(v)?,
        None => return Err(invalid("name", "is required")),
    };
    let scopes = map
        .get("scopes")
        .map(scopes_field)
        .transpose()?
        .unwrap_or(Scopes::ALL);
    let settings = ClientSettings {
        allowed_ips: map
            .get("allowed_ips")
            .map(allowed_ips_field)
            .transpose()?
            .flatten(),
        rate_limit_per_min: map
            .get("rate_limit_per_min")
            .map(rate_limit_field)
            .transpose()?
            .flatten(),
        org_scope: map
            .get("org_scope")
            .map(org_scope_field)
            .transpose()?
            .flatten(),
        target: map.get("target").map(target_field).transpose()?.flatten(),
    };
    let new = state
        .store
        .create_client_with(&caller.tenant, &name, scopes, settings)
        .await?;
    let id = new.record.client_id.clone();
    let location = format!("{}{}/clients/{id}", caller.base, super::BASE_PATH);
    let response = (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(wire_with_secret(&state, &new)),
    )
        .into_response();
    Ok(noted(response, &id))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let clients = state.store.list_clients(Some(&caller.tenant)).await?;
    Ok(Json(json!({
        "clients": clients.iter().map(|c| wire(&state, c)).collect::<Vec<_>>(),
    })))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let client = state
        .store
        .find_client_of(Some(&caller.tenant), &id)
        .await?
        .ok_or_else(|| no_such(&id))?;
    Ok(noted(Json(wire(&state, &client)).into_response(), &id))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let map = object(&body, &FIELDS, false)?;
    let change = ClientUpdate {
        name: map.get("name").map(name_field).transpose()?,
        scopes: map.get("scopes").map(scopes_field).transpose()?,
        allowed_ips: map.get("allowed_ips").map(allowed_ips_field).transpose()?,
        rate_limit_per_min: map
            .get("rate_limit_per_min")
            .map(rate_limit_field)
            .transpose()?,
        org_scope: map.get("org_scope").map(org_scope_field).transpose()?,
        target: map.get("target").map(target_field).transpose()?,
    };
    let client = state
        .store
        .update_client(Some(&caller.tenant), &id, &change)
        .await?
        .ok_or_else(|| no_such(&id))?;
    // This replica applies the new allow-list and limit from the next request on.
    state.guard.forget(&id);
    Ok(noted(Json(wire(&state, &client)).into_response(), &id))
}

async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let map = object(&body, &["overlap_hours"], true)?;
    let hours = match map.get("overlap_hours") {
        None | Some(Value::Null) => DEFAULT_OVERLAP_HOURS,
        Some(v) => v
            .as_f64()
            .filter(|h| (0.0..=MAX_OVERLAP_HOURS).contains(h))
            .ok_or_else(|| {
                invalid(
                    "overlap_hours",
                    format!("must be a number of hours from 0 to {MAX_OVERLAP_HOURS}"),
                )
            })?,
    };
    let overlap_ms = (hours * 3_600_000.0) as i64;
    let rotated = state
        .store
        .rotate_client_secret(Some(&caller.tenant), &id, overlap_ms)
        .await?;
    let Some(new) = rotated else {
        return match state
            .store
            .find_client_of(Some(&caller.tenant), &id)
            .await?
        {
            Some(_) => Err(AdminError::conflict(format!(
                "client {id:?} is revoked: its secret cannot be rotated"
            ))),
            None => Err(no_such(&id)),
        };
    };
    tracing::info!(client_id = %id, overlap_hours = hours, "client secret rotated");
    Ok(noted(
        Json(wire_with_secret(&state, &new)).into_response(),
        &id,
    ))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    if !state
        .store
        .revoke_client_of(Some(&caller.tenant), &id)
        .await?
    {
        return Err(no_such(&id));
    }
    state.guard.forget(&id);
    let client = state
        .store
        .find_client_of(Some(&caller.tenant), &id)
        .await?
        .ok_or_else(|| no_such(&id))?;
    tracing::info!(client_id = %id, "client revoked");
    Ok(noted(Json(wire(&state, &client)).into_response(), &id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_the_field_that_is_wrong() {
        let cases = [
            (r#"[1]"#, "invalid_json", "the body must be"),
            (r#"{"nme": "x"}"#, "unknown_field", "nme: unknown field"),
        ];
        for (body, code, starts) in cases {
            let e = object(body.as_bytes(), &FIELDS, false).unwrap_err();
            assert_eq!(e.code, code, "{body}");
            assert!(e.message.starts_with(starts), "{body}: {}", e.message);
        }
        assert!(object(b"", &FIELDS, true).unwrap().is_empty());
        assert!(object(b"", &FIELDS, false).is_err());
        let fields: [(&str, Value, &str); 9] = [
            ("name", json!(""), "invalid_name"),
            ("name", json!(1), "invalid_name"),
            ("scopes", json!("roster.read"), "invalid_scopes"),
            ("scopes", json!([]), "invalid_scopes"),
            ("allowed_ips", json!(["10.0.0.0/40"]), "invalid_allowed_ips"),
            ("allowed_ips", json!([]), "invalid_allowed_ips"),
            ("rate_limit_per_min", json!(0), "invalid_rate_limit_per_min"),
            (
                "rate_limit_per_min",
                json!(1.5),
                "invalid_rate_limit_per_min",
            ),
            ("org_scope", json!([1]), "invalid_org_scope"),
        ];
        for (field, value, code) in fields {
            let e = match field {
                "name" => name_field(&value).err(),
                "scopes" => scopes_field(&value).err(),
                "allowed_ips" => allowed_ips_field(&value).err(),
                "rate_limit_per_min" => rate_limit_field(&value).err(),
                _ => org_scope_field(&value).err(),
            }
            .unwrap_or_else(|| panic!("{field} = {value} is accepted"));
            assert_eq!(e.code, code, "{field} = {value}");
            assert!(
                e.message.starts_with(&format!("{field}: ")),
                "{}",
                e.message
            );
        }
        assert_eq!(allowed_ips_field(&Value::Null).unwrap(), None);
        assert_eq!(
            allowed_ips_field(&json!("10.0.0.0/8, ::1"))
                .unwrap()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            scopes_field(&json!(["roster.readonly", "rosterhub.admin"])).unwrap(),
            Scopes::ROSTER.union(Scopes::ADMIN)
        );
    }
}
