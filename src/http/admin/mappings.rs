//! `/mappings`: the tenant's stored mapping profiles (docs/mappings.md) — list, save (a new
//! profile, or the next version of one), the text as saved, delete — and their preview on a
//! sample upload (`mapping_preview`). Reading and previewing need `rosterhub.import` (what an
//! upload naming a profile needs), saving and deleting `rosterhub.admin`; another tenant's
//! profile is 404. The audit log records each request (`mappings.create`, `mappings.update`,
//! `mappings.delete`, …) with the profile's name as its target.
//!
//! A profile is saved only when it parses: its errors come back as a 422 with each error's line
//! (`"errors": [{"line", "message"}]`), and nothing is stored.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::AdminError;
use super::mapping_preview;
use crate::audit::AuditNote;
use crate::auth::Scopes;
use crate::domain::datetime::format_ms;
use crate::http::AppState;
use crate::mapping::profile::MappingProfile;
use crate::mapping::stored::{AUTO, ProfileName};
use crate::storage::mappings::StoredMapping;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mappings", get(list))
        .route(
            "/mappings/preview",
            // The sample is streamed to disk under its own limit.
            post(mapping_preview::unnamed).layer(DefaultBodyLimit::disable()),
        )
        .route("/mappings/{name}", get(show).put(save).delete(remove))
        .route(
            "/mappings/{name}/preview",
            post(mapping_preview::named).layer(DefaultBodyLimit::disable()),
        )
}

/// A profile on the wire, without its text (that is `GET /mappings/{name}`).
fn wire(m: &StoredMapping) -> Value {
    json!({
        "name": m.name,
        "version": m.version,
        "created_at": format_ms(m.created_at),
        "created_by": m.created_by,
        "updated_at": format_ms(m.updated_at),
        "updated_by": m.updated_by,
    })
}

/// A profile's text checked as the CLI checks a profile file: 422 `invalid_profile` with the
/// error's line when it cannot be used.
pub fn parse_profile(text: &str) -> Result<MappingProfile, AdminError> {
    MappingProfile::parse(text).map_err(|e| {
        AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_profile",
            format!(
                "the mapping profile cannot be used: {e}; correct it and send it again \
                 (マッピングの内容に誤りがあります。行番号の箇所を直してください)"
            ),
        )
        .with_errors(vec![json!({"line": e.line, "message": e.message})])
    })
}

/// The 404 (a path naming a profile) or 422 (an upload naming one) of a name the tenant has no
/// profile under: which names it has, and how to save one.
pub async fn unknown(state: &AppState, tenant: &str, name: &str, status: StatusCode) -> AdminError {
    let names: Vec<String> = match state.store.list_mappings(tenant).await {
        Ok(list) => list.into_iter().map(|m| m.name).collect(),
        Err(e) => return e.into(),
    };
    let have = if names.is_empty() {
        "the tenant has no stored mappings yet".to_owned()
    } else {
        format!("the tenant's mappings are {}", names.join(", "))
    };
    let code = if status == StatusCode::NOT_FOUND {
        "not_found"
    } else {
        "unknown_mapping"
    };
    AdminError::new(
        status,
        code,
        format!(
            "no mapping {name:?}: {have}; save a profile with PUT /api/v1/mappings/{{name}}, or \
             use mapping={AUTO} for the built-in layouts \
             (マッピング {name:?} はありません。PUT /api/v1/mappings/{{name}} で保存してください)"
        ),
    )
}

/// The tenant's profile `name`, or 404 naming the ones it has.
pub async fn find(state: &AppState, tenant: &str, name: &str) -> Result<StoredMapping, AdminError> {
    match state.store.mapping(tenant, name).await? {
        Some(m) => Ok(m),
        None => Err(unknown(state, tenant, name, StatusCode::NOT_FOUND).await),
    }
}

/// What an upload's `?mapping=` names: `auto`, or a stored profile with its version and text
/// (kept with the job, so a retry maps with that version).
pub struct Chosen {
    pub name: String,
    pub version: Option<i64>,
    pub text: Option<String>,
}

/// `?mapping=` of an upload: `auto`, or the name of a stored profile (400 for a name that
/// cannot be one, 422 `unknown_mapping` for one the tenant does not have).
pub async fn choose(state: &AppState, tenant: &str, spec: &str) -> Result<Chosen, AdminError> {
    if spec == AUTO {
        return Ok(Chosen {
            name: AUTO.to_owned(),
            version: None,
            text: None,
        });
    }
    let name = ProfileName::parse(spec).map_err(|e| AdminError::bad_request("bad_query", e))?;
    match state.store.mapping(tenant, name.as_str()).await? {
        Some(m) => Ok(Chosen {
            name: m.name,
            version: Some(m.version),
            text: Some(m.body),
        }),
        None => Err(unknown(
            state,
            tenant,
            name.as_str(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await),
    }
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let list = state.store.list_mappings(&caller.tenant).await?;
    Ok(Json(json!({
        "mappings": list.iter().map(wire).collect::<Vec<_>>(),
    })))
}

/// The profile's text exactly as saved; its version in the `ETag`.
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let m = find(&state, &caller.tenant, &name).await?;
    let mut response = m.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", m.version)) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}

/// Saves `text` under `name` for `caller` — the API's and the web UI's one rule: the admin
/// scope, a valid name, a profile that parses (else 422 with its line), then the next version.
pub(crate) async fn save_profile(
    state: &AppState,
    caller: &Caller,
    name: &str,
    text: &str,
) -> Result<StoredMapping, AdminError> {
    caller.require(Scopes::ADMIN)?;
    caller.require_write()?;
    let name = ProfileName::parse(name).map_err(|e| AdminError::bad_request("invalid_name", e))?;
    parse_profile(text)?;
    let saved = state
        .store
        .save_mapping(&caller.tenant, name.as_str(), text, &caller.actor())
        .await?;
    tracing::info!(
        mapping = name.as_str(),
        version = saved.version,
        "mapping saved"
    );
    Ok(saved)
}

/// The audit action of a save: version 1 created the profile, a later one updated it.
pub(crate) fn save_action(saved: &StoredMapping) -> &'static str {
    if saved.version == 1 {
        "mappings.create"
    } else {
        "mappings.update"
    }
}

/// Deletes the profile `name` for `caller` (admin scope; 404 naming the tenant's profiles).
pub(crate) async fn delete_profile(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<(), AdminError> {
    caller.require(Scopes::ADMIN)?;
    caller.require_write()?;
    if state.store.delete_mapping(&caller.tenant, name).await? {
        tracing::info!(mapping = %name, "mapping deleted");
        Ok(())
    } else {
        Err(unknown(state, &caller.tenant, name, StatusCode::NOT_FOUND).await)
    }
}

/// Saves the body (the profile document) under `name`: 201 with version 1 for a new name, else
/// 200 with the next version.
async fn save(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    // The name first: a bad name is 400 whatever the body.
    ProfileName::parse(&name).map_err(|e| AdminError::bad_request("invalid_name", e))?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        AdminError::bad_request(
            "invalid_profile",
            "the body must be the profile's JSON text in UTF-8",
        )
    })?;
    let saved = save_profile(&state, &caller, &name, text).await?;
    let mut response = if saved.version == 1 {
        let location = format!(
            "{}{}/mappings/{}",
            caller.base,
            super::BASE_PATH,
            saved.name
        );
        (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(wire(&saved)),
        )
            .into_response()
    } else {
        Json(wire(&saved)).into_response()
    };
    response.extensions_mut().insert(AuditNote {
        action: Some(save_action(&saved)),
        target: Some(saved.name.clone()),
        ..AuditNote::default()
    });
    Ok(response)
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, AdminError> {
    delete_profile(&state, &caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
