//! `GET /intake/pulls`: the tenant's runs of scheduled pulls (`serve --intake-pulls`), newest
//! first — which replica pulled when, and whether it queued a job, found the body unchanged or
//! failed, and why.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::Caller;
use super::common::{query, uint};
use super::error::AdminError;
use crate::auth::Scopes;
use crate::domain::datetime::format_ms;
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/intake/pulls", get(list))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    q: RawQuery,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let limit = uint(&query(q), "limit", 50, 1000)?;
    let runs = state.store.pull_runs(&caller.tenant, limit).await?;
    let runs: Vec<Value> = runs
        .iter()
        .map(|r| {
            json!({
                "pull": r.pull,
                "scheduled_at": format_ms(r.scheduled_at),
                "claimed_by": r.claimed_by,
                "outcome": r.outcome,
                "job_id": r.job_id,
                "detail": r.detail,
                "sha256": r.sha256,
                "finished_at": r.finished_at.map(format_ms),
            })
        })
        .collect();
    Ok(Json(json!({ "runs": runs })))
}
