//! `POST /imports/{id}/undo[?dry_run=true][&force=true]`: reverts an applied import as a new
//! import (`import::undo`), and `GET /records/{entity}/{sourcedId}/history`: the imports that
//! touched a record, field by field (`import::history`).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::Caller;
use super::common::{flag, query};
use super::error::AdminError;
use crate::auth::Scopes;
use crate::domain::Entity;
use crate::http::AppState;
use crate::import::Channel;
use crate::import::undo::{Refusal, UndoOptions, UndoOutcome, add_to_history, undo};
use crate::jobs::JobKind;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/imports/{id}/undo", post(undo_import))
        .route("/records/{entity}/{sourcedId}/history", get(history))
}

/// The import an `{id}` of `/imports/{id}` names: a job's import run (as every other
/// `/imports/{id}` operation reads it), else an import's own id.
async fn import_of(state: &AppState, caller: &Caller, id: &str) -> Result<String, Refusal> {
    match state.store.job(&caller.tenant, id).await {
        Ok(Some(job)) if job.kind == JobKind::Import => match job.import_id {
            Some(import) => Ok(import),
            None => Err(Refusal::NotApplied(job.state.as_str().to_owned())),
        },
        _ => Ok(id.to_owned()),
    }
}

/// A refusal as the API answers it: 404 for an unknown import, 409 otherwise, with the
/// conflicting records when later imports changed some.
fn refused(r: &Refusal, import_id: &str) -> Response {
    let status = match r {
        Refusal::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    let mut body = json!({"error": r.code(), "message": r.message(import_id, Channel::Http)});
    if let Refusal::Conflicts { listed, total } = r {
        body["conflicts"] = serde_json::to_value(listed).unwrap_or(Value::Null);
        body["conflict_count"] = (*total).into();
    }
    (status, Json(body)).into_response()
}

/// Undo needs an administrator (the admin role, or a client with `rosterhub.admin`): it
/// rewrites the tenant's roster as an import does, without a bundle to look at first.
async fn undo_import(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: RawQuery,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let q = query(q);
    let (dry_run, force) = (flag(&q, "dry_run")?, flag(&q, "force")?);
    let import_id = match import_of(&state, &caller, &id).await {
        Ok(i) => i,
        Err(r) => return Ok(refused(&r, &id)),
    };
    let opts = UndoOptions {
        tenant: caller.tenant.clone(),
        import_id: import_id.clone(),
        dry_run,
        force,
        actor: Some(caller.actor()),
        channel: Channel::Http,
    };
    let report = match undo(&state.store, &opts).await? {
        UndoOutcome::Done(report) => report,
        UndoOutcome::Refused(r) => return Ok(refused(&r, &import_id)),
    };
    let job = match dry_run {
        true => None,
        false => add_to_history(&state.store, &caller.tenant, &caller.client_id, &report).await,
    };
    tracing::info!(undo_of = %import_id, dry_run, force, "import undone");
    let body = json!({
        "id": job,
        "import_id": report.import_id,
        "undo_of": import_id,
        "report": report,
    });
    let mut response = Json(body).into_response();
    if let Some(job) = &job
        && let Ok(v) = HeaderValue::from_str(&format!("{}/imports/{job}", super::BASE_PATH))
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// A record's history, newest first. Personal values only for administrators.
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path((entity, id)): Path<(String, String)>,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let Some(e) = Entity::from_name(&entity) else {
        let names: Vec<&str> = Entity::ALL.iter().map(|e| e.name()).collect();
        return Err(AdminError::not_found(format!(
            "no entity {entity:?}: use one of {}",
            names.join(", ")
        )));
    };
    let personal = caller.scopes.contains(Scopes::ADMIN);
    let Some(changes) =
        crate::import::history::history(&state.store, &caller.tenant, e, &id, personal).await?
    else {
        return Err(AdminError::not_found(format!(
            "no {} record {id:?} in this tenant",
            e.name()
        )));
    };
    Ok(Json(json!({
        "entity": e.name(),
        "sourcedId": id,
        "personal_values": personal,
        "history": changes,
    })))
}
