//! `/exports`: a tenant's records as a OneRoster CSV ZIP, made by a job and downloaded after.

use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::common::{accepted, idempotency_key, query, same_request, sha256_hex};
use super::error::AdminError;
use crate::auth::Scopes;
use crate::csv::target::Target;
use crate::domain::datetime::parse_datetime;
use crate::export::ExportProfile;
use crate::http::AppState;
use crate::jobs::{Job, JobKind, JobParams, JobState};
use crate::storage::ops::jobs::NewJob;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/exports", post(create).get(list))
        .route("/exports/{id}", get(show))
        .route("/exports/{id}/download", get(download))
}

fn location(id: &str) -> String {
    format!("{}/exports/{id}", super::BASE_PATH)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    /// A national model the bundle must meet (`eportal-4`, …); overrides `profile`.
    #[serde(default)]
    target: Option<String>,
}

/// The parameters of an export job as the web UI's form gives them (checked as the API's).
pub fn export_params(
    mode: Option<String>,
    since: Option<String>,
    profile: Option<String>,
    base: &str,
) -> Result<JobParams, AdminError> {
    params_of(
        ExportRequest {
            mode,
            since,
            profile,
            target: None,
        },
        base,
    )
}

/// Checks an export request: `bulk` takes no `since`, `delta` needs one.
fn params_of(req: ExportRequest, base: &str) -> Result<JobParams, AdminError> {
    let mode = req.mode.unwrap_or_else(|| "bulk".into());
    let since = match (mode.as_str(), req.since) {
        ("bulk", None) => None,
        ("bulk", Some(_)) => {
            return Err(AdminError::bad_request(
                "invalid_field",
                "`since` is for delta exports; a bulk export has all active records",
            ));
        }
        ("delta", Some(s)) => Some(
            parse_datetime(&s)
                .ok_or_else(|| {
                    AdminError::bad_request(
                        "invalid_field",
                        format!("`since` {s:?} is not a DateTime like 2025-04-01T00:00:00.000Z"),
                    )
                })?
                .ms,
        ),
        ("delta", None) => {
            return Err(AdminError::bad_request(
                "invalid_field",
                "a delta export needs `since`: the records changed after it are exported",
            ));
        }
        _ => {
            return Err(AdminError::bad_request(
                "invalid_field",
                "`mode` must be bulk or delta",
            ));
        }
    };
    let profile = req.profile.unwrap_or_else(|| "jp-1.2.1".into());
    let parsed = ExportProfile::parse(&profile).ok_or_else(|| {
        AdminError::bad_request(
            "invalid_field",
            "`profile` must be jp-1.2.1, jp-k12 or oneroster-1.2.1",
        )
    })?;
    let target = match req.target {
        None => None,
        Some(t) => Some(Target::parse(&t).ok_or_else(|| {
            AdminError::bad_request(
                "invalid_field",
                format!("`target` must be one of {}", Target::names()),
            )
        })?),
    };
    let parsed = target.map_or(parsed, crate::export::target::profile_of);
    Ok(JobParams {
        mode: Some(mode),
        since,
        profile: Some(parsed.name().to_owned()),
        target: target.map(|t| t.name().to_owned()),
        base_url: Some(base.to_owned()),
        ..JobParams::default()
    })
}

/// A body over the limit is 413 `payload_too_large` like on every admin route, not a JSON error.
fn json_rejection(e: JsonRejection) -> AdminError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AdminError::body_too_large();
    }
    AdminError::bad_request("invalid_json", e.body_text())
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Json<ExportRequest>, JsonRejection>,
) -> Result<Response, AdminError> {
    caller.require(Scopes::EXPORT)?;
    let Json(req) = body.map_err(json_rejection)?;
    let mut params = params_of(req, &caller.base)?;
    // The request as understood (whitespace and key order aside) is what a replay must match.
    let canonical = json!({"mode": params.mode, "since": params.since, "profile": params.profile,
        "target": params.target});
    params.request_sha256 = Some(sha256_hex(canonical.to_string().as_bytes()));
    let key = idempotency_key(&headers)?;
    let (job, created) = state
        .store
        .create_job(NewJob {
            tenant: &caller.tenant,
            kind: JobKind::Export,
            params: &params,
            idempotency_key: key.as_deref(),
            upload_blob: None,
            created_by: &caller.client_id,
        })
        .await?;
    if created {
        state.jobs.wake.notify_one();
        tracing::info!(job = %job.id, "export queued");
    } else {
        same_request(&job, params.request_sha256.as_deref().unwrap_or_default())?;
    }
    Ok(accepted(
        location(&job.id),
        json!({"id": job.id, "state": job.state.as_str()}),
        !created,
    ))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<Job, AdminError> {
    match state.store.job(&caller.tenant, id).await? {
        Some(j) if j.kind == JobKind::Export => Ok(j),
        _ => Err(AdminError::not_found(format!("no export with id {id:?}"))),
    }
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::EXPORT)?;
    let job = find(&state, &caller, &id).await?;
    let mut v = job.summary_json();
    if let Some(r) = &job.report {
        v["report"] = r.clone();
    }
    if job.state == JobState::Succeeded {
        v["download"] = format!("{}/download", location(&id)).into();
    }
    Ok(Json(v))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    q: RawQuery,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::EXPORT)?;
    let q = query(q);
    super::imports::list_jobs(&state, &caller, JobKind::Export, &q)
        .await
        .map(Json)
}

/// The ZIP, streamed chunk by chunk from the database.
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    caller.require(Scopes::EXPORT)?;
    let job = find(&state, &caller, &id).await?;
    if job.state != JobState::Succeeded {
        return Err(AdminError::conflict(format!(
            "the export is {}; it can be downloaded when it has succeeded",
            job.state.as_str()
        )));
    }
    let gone = || {
        AdminError::new(
            axum::http::StatusCode::GONE,
            "gone",
            "the export file was deleted after the retention period; create a new export",
        )
    };
    let blob_id = job.result_blob.clone().ok_or_else(gone)?;
    let size = state.store.blob_size(&blob_id).await?.ok_or_else(gone)?;
    let store = state.store.clone();
    let stream = futures_util::stream::unfold(Some(0i64), move |seq| {
        let store = store.clone();
        let blob_id = blob_id.clone();
        async move {
            let seq = seq?;
            match store.blob_chunk(&blob_id, seq).await {
                Ok(Some(data)) => Some((Ok::<Bytes, std::io::Error>(data.into()), Some(seq + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    let mode = job.params.mode.clone().unwrap_or_else(|| "bulk".into());
    let day = crate::domain::datetime::format_ms(job.created_at);
    let name = format!(
        "rosterhub-{}-{mode}-{}.zip",
        caller
            .tenant
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        day.get(..10).unwrap_or("export")
    );
    let mut r = Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    tracing::info!(job = %id, size, "export downloaded");
    Ok(r)
}
