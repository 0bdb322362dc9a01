//! `/tenants`: list, create and read tenants — system admins only. A system admin's session may
//! act; every other caller gets 403, API clients included (whatever their scopes: a client
//! belongs to one tenant and cannot reach beyond it). No session at all → 401.
//! [`check_new_tenant`] and [`create_tenant`] are the rules, shared with the web UI's page.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::AdminError;
use super::session::LoggedIn;
use crate::audit::AuditNote;
use crate::http::AppState;
use crate::users::{Invalid, check_tenant_id};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{id}", get(show))
}

/// A system admin's session (CSRF-checked for writes).
pub struct SystemAdmin {
    pub logged: LoggedIn,
    pub base: String,
}

fn system_admins_only() -> AdminError {
    AdminError::forbidden("only a system admin's session may manage tenants")
}

impl FromRequestParts<AppState> for SystemAdmin {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<SystemAdmin, AdminError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            // A bearer token: one that is not valid is a 401 like everywhere; a valid one is a
            // client's, which never manages tenants.
            super::auth::Caller::from_request_parts(parts, state).await?;
            return Err(system_admins_only());
        }
        let logged = LoggedIn::from_request_parts(parts, state).await?;
        if !logged.session.user.system_admin {
            return Err(system_admins_only());
        }
        Ok(SystemAdmin {
            logged,
            base: state.base_url(&parts.headers),
        })
    }
}

fn wire(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name})
}

async fn list(
    State(state): State<AppState>,
    _admin: SystemAdmin,
) -> Result<Json<Value>, AdminError> {
    let tenants = state.store.tenants().await?;
    Ok(Json(json!({
        "tenants": tenants.iter().map(|(id, name)| wire(id, name)).collect::<Vec<_>>(),
    })))
}

async fn show(
    State(state): State<AppState>,
    _admin: SystemAdmin,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let tenants = state.store.tenants().await?;
    tenants
        .iter()
        .find(|(t, _)| *t == id)
        .map(|(t, name)| Json(wire(t, name)))
        .ok_or_else(|| AdminError::not_found(format!("no tenant {id:?}")))
}

fn invalid(e: Invalid) -> AdminError {
    AdminError::bad_request(
        match e.field {
            "id" => "invalid_id",
            _ => "invalid_name",
        },
        format!("{}: {}", e.field, e.message),
    )
}

/// `{"id", "name"?}` (the name defaults to the id).
fn new_tenant(body: &[u8]) -> Result<(String, String), AdminError> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(AdminError::bad_request(
            "invalid_json",
            "the body must be a JSON object {\"id\", \"name\"}",
        ));
    };
    if let Some(unknown) = map.keys().find(|k| *k != "id" && *k != "name") {
        return Err(AdminError::bad_request(
            "unknown_field",
            format!("{unknown}: unknown field; expected any of id, name"),
        ));
    }
    let id = match map.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err(invalid(Invalid::new("id", "must be a string"))),
        None => return Err(invalid(Invalid::new("id", "is required"))),
    };
    let name = match map.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(n.as_str()),
        Some(_) => return Err(invalid(Invalid::new("name", "must be a string"))),
    };
    check_new_tenant(&id, name)
}

/// A new tenant's id and name (`None`: the id), checked (the API's body, the web UI's form).
pub(crate) fn check_new_tenant(
    id: &str,
    name: Option<&str>,
) -> Result<(String, String), AdminError> {
    check_tenant_id(id).map_err(invalid)?;
    let name = match name.map(str::trim) {
        None => id.to_owned(),
        Some(n) => {
            if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
                return Err(invalid(Invalid::new(
                    "name",
                    "1 to 200 characters, no control characters",
                )));
            }
            n.to_owned()
        }
    };
    Ok((id.to_owned(), name))
}

/// Creates a tenant (for the system admin `user_id`); 409 when it exists.
pub(crate) async fn create_tenant(
    state: &AppState,
    user_id: &str,
    id: &str,
    name: &str,
) -> Result<(), AdminError> {
    if state.store.tenant_exists(id).await? {
        return Err(AdminError::conflict(format!(
            "tenant {id:?} exists already"
        )));
    }
    state.store.ensure_tenant(id, name).await?;
    tracing::info!(tenant = %id, user_id = %user_id, "tenant created");
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    admin: SystemAdmin,
    body: Bytes,
) -> Result<Response, AdminError> {
    let (id, name) = new_tenant(&body)?;
    create_tenant(&state, &admin.logged.session.user.id, &id, &name).await?;
    let location = format!("{}{}/tenants/{id}", admin.base, super::BASE_PATH);
    let mut response = (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(wire(&id, &name)),
    )
        .into_response();
    response.extensions_mut().insert(AuditNote {
        tenant: Some(id.clone()),
        action: Some("tenants.create"),
        target: Some(id),
        ..AuditNote::default()
    });
    Ok(response)
}
