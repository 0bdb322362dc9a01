//! `/imports`: upload a bundle as a job, follow it, read its report and findings, approve or
//! discard a held import, cancel a queued one.

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::auth::Caller;
use super::common::{accepted, flag, idempotency_key, query, same_request, school_year, uint};
use super::error::AdminError;
use super::upload;
use crate::auth::Scopes;
use crate::csv::sheet::Sheet;
use crate::http::AppState;
use crate::jobs::{Job, JobKind, JobParams, JobState, blob};
use crate::storage::StoreError;
use crate::storage::ops::jobs::NewJob;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/imports",
            post(create)
                // The upload is streamed to disk under its own limit (`--upload-limit-mb`).
                .layer(DefaultBodyLimit::disable())
                .get(list),
        )
        .route("/imports/{id}", get(show))
        .route("/imports/{id}/findings.csv", get(findings_csv))
        .route("/imports/{id}/approve", post(approve))
        .route("/imports/{id}/discard", post(discard))
        .route("/imports/{id}/cancel", post(cancel))
}

fn location(id: &str) -> String {
    format!("{}/imports/{id}", super::BASE_PATH)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    q: RawQuery,
    req: Request,
) -> Result<Response, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let q = query(q);
    let dry_run = flag(&q, "dry_run")?;
    let encoding = match q.get("encoding") {
        Some(e) if crate::csv::decode::EncodingChoice::parse(e).is_none() => {
            return Err(AdminError::bad_request(
                "bad_query",
                "`encoding` must be utf-8, cp932 or auto",
            ));
        }
        e => e.cloned(),
    };
    let mapping = match q.get("mapping") {
        None => None,
        Some(spec) => Some(super::mappings::choose(&state, &caller.tenant, spec).await?),
    };
    let school_year = school_year(&q)?;
    // `rollover=true` (the default graduating grades) or `rollover=P6,J3,H4`.
    let rollover = match q.get("rollover").map(String::as_str) {
        None | Some("false") => None,
        Some(g) => Some(
            crate::import::rollover::Rollover::parse(if g == "true" { "" } else { g })
                .map_err(|e| AdminError::bad_request("bad_query", format!("`rollover`: {e}")))?
                .grades(),
        ),
    };
    let key = idempotency_key(&headers)?;
    // The body is read even for a repeated key: only the same bytes replay the earlier job.
    // A school's list may come as a bare CSV; a bundle is always a ZIP.
    let form = upload::Form {
        csv: mapping.is_some(),
        ..upload::BUNDLE
    };
    let limit = state.jobs.config.upload_limit_bytes;
    let spooled = upload::spool_form(req, &state, limit, &form).await?;
    if let Some(k) = &key
        && let Some(job) = state
            .store
            .job_by_idempotency_key(&caller.tenant, k)
            .await?
    {
        same_request(&job, &spooled.sha256)?;
        return Ok(replay(&job));
    }
    let sha256 = spooled.sha256.clone();
    let new = Upload {
        tenant: &caller.tenant,
        created_by: &caller.client_id,
        base: &caller.base,
        dry_run,
        encoding,
        idempotency_key: key.as_deref(),
        mapping,
        school: q.get("school").cloned(),
        school_year,
        rollover,
    };
    let (job, created) = queue(&state, spooled, new).await?;
    if !created {
        // A parallel retry with the same key made it first: only the same bytes replay it.
        same_request(&job, &sha256)?;
        return Ok(replay(&job));
    }
    Ok(accepted(
        location(&job.id),
        json!({"id": job.id, "state": job.state.as_str()}),
        false,
    ))
}

/// Who uploads what, for [`queue`].
pub struct Upload<'a> {
    pub tenant: &'a str,
    /// `client:<id>` or `user:<id>`.
    pub created_by: &'a str,
    pub base: &'a str,
    pub dry_run: bool,
    /// `utf-8`, `cp932` or `auto` (checked by the caller); `None`: UTF-8.
    pub encoding: Option<String>,
    pub idempotency_key: Option<&'a str>,
    /// The upload is a school's list (CSV or a ZIP of CSVs), not a bundle, mapped with the
    /// built-in layouts (`auto`) or a stored profile at its version.
    pub mapping: Option<super::mappings::Chosen>,
    pub school: Option<String>,
    pub school_year: Option<i32>,
    /// The April rollover's graduating grades (`P6,J3,H3`), checked by the caller.
    pub rollover: Option<String>,
}

/// A spooled upload checked, stored and queued as an import job: the job, and whether it is
/// new (`false`: a parallel retry with the same idempotency key made it first). What the admin
/// API's `POST /imports` and the web UI's upload form share.
pub async fn queue(
    state: &AppState,
    spooled: upload::Spooled,
    new: Upload<'_>,
) -> Result<(Job, bool), AdminError> {
    if new.mapping.is_none() {
        upload::check_bundle(&spooled).await?;
    }
    let stored = blob::store_file(&state.store, new.tenant, spooled.file.path()).await?;
    drop(spooled.file);
    let params = JobParams {
        dry_run: new.dry_run,
        encoding: new.encoding,
        file_name: spooled.file_name,
        size_bytes: Some(stored.size_bytes),
        base_url: Some(new.base.to_owned()),
        request_sha256: Some(spooled.sha256.clone()),
        mapping_version: new.mapping.as_ref().and_then(|m| m.version),
        mapping: new.mapping.as_ref().map(|m| m.name.clone()),
        mapping_profile: new.mapping.and_then(|m| m.text),
        school: new.school,
        school_year: new.school_year,
        rollover: new.rollover,
        ..JobParams::default()
    };
    let (job, created) = state
        .store
        .create_job(NewJob {
            tenant: new.tenant,
            kind: JobKind::Import,
            params: &params,
            idempotency_key: new.idempotency_key,
            upload_blob: Some(&stored.id),
            created_by: new.created_by,
        })
        .await?;
    if !created {
        // The same key raced in from a parallel retry: keep that one's file.
        state.store.delete_blob(&stored.id).await?;
        return Ok((job, false));
    }
    state.jobs.wake.notify_one();
    tracing::info!(job = %job.id, size = stored.size_bytes, dry_run = new.dry_run, "import queued");
    Ok((job, true))
}

fn replay(job: &Job) -> Response {
    accepted(
        location(&job.id),
        json!({"id": job.id, "state": job.state.as_str()}),
        true,
    )
}

/// The tenant's import `id`, or 404.
async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<Job, AdminError> {
    match state.store.job(&caller.tenant, id).await? {
        Some(j) if j.kind == JobKind::Import => Ok(j),
        _ => Err(AdminError::not_found(format!("no import with id {id:?}"))),
    }
}

/// The report without its findings, and a page of them.
fn with_report(job: &Job, offset: usize, limit: usize) -> Value {
    let mut v = job.summary_json();
    if let Some(report) = &job.report {
        let mut r = report.clone();
        let findings = r
            .as_object_mut()
            .and_then(|o| o.remove("findings"))
            .and_then(|f| match f {
                Value::Array(a) => Some(a),
                _ => None,
            })
            .unwrap_or_default();
        v["report"] = r;
        v["findings_total"] = findings.len().into();
        v["findings"] = findings.into_iter().skip(offset).take(limit).collect();
    }
    v
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: RawQuery,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let q = query(q);
    let offset = uint(&q, "findings_offset", 0, u64::MAX)? as usize;
    let limit = uint(&q, "findings_limit", 100, 1000)? as usize;
    let job = find(&state, &caller, &id).await?;
    Ok(Json(with_report(&job, offset, limit)))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    q: RawQuery,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let q = query(q);
    list_jobs(&state, &caller, JobKind::Import, &q)
        .await
        .map(Json)
}

/// A page of the tenant's jobs of `kind`: `?state=&limit=&offset=`.
pub async fn list_jobs(
    state: &AppState,
    caller: &Caller,
    kind: JobKind,
    q: &HashMap<String, String>,
) -> Result<Value, AdminError> {
    let limit = uint(q, "limit", 50, 1000)?;
    let offset = uint(q, "offset", 0, u64::MAX >> 2)?;
    let filter = match q.get("state") {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            AdminError::bad_request(
                "bad_query",
                "`state` must be queued, running, held, succeeded, failed, cancelled or discarded",
            )
        })?),
    };
    let (jobs, total) = state
        .store
        .list_jobs(&caller.tenant, kind, filter, limit, offset)
        .await?;
    let items: Vec<Value> = jobs
        .iter()
        .map(|j| {
            let mut v = j.summary_json();
            if let Some(r) = &j.report {
                v["report"] = crate::jobs::report_brief(r);
            }
            v
        })
        .collect();
    let key = match kind {
        JobKind::Import => "imports",
        JobKind::Export => "exports",
    };
    Ok(json!({ key: items, "total": total, "limit": limit, "offset": offset }))
}

/// One CSV cell, quoted when needed.
/// A finding's field as text.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Every finding as CSV for a spreadsheet (BOM, CRLF, formulas neutralised: `csv::sheet`).
async fn findings_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let job = find(&state, &caller, &id).await?;
    let Some(report) = &job.report else {
        return Err(AdminError::conflict(format!(
            "the import is {}: its findings are known when it has run",
            job.state.as_str()
        )));
    };
    let cols = [
        "severity", "code", "file", "line", "column", "value", "message",
    ];
    let mut sheet = Sheet::new(&cols);
    for f in report
        .get("findings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let row: Vec<String> = cols.iter().map(|c| text(f.get(*c))).collect();
        sheet.row(row.iter().map(String::as_str));
    }
    let mut r = sheet.finish().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"findings-{id}.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

fn wrong_state(job: &Job, action: &str, needed: &str) -> AdminError {
    AdminError::conflict(format!(
        "only {needed} imports can be {action}; this one is {}",
        job.state.as_str()
    ))
}

/// A held import is queued again, forced past the threshold (the plan is made anew).
async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    // A hold asks for a second look by someone who may change the tenant: an admin (the
    // `admin` role, or a client with rosterhub.admin), not whoever uploaded the bundle.
    caller.require(Scopes::ADMIN)?;
    let job = find(&state, &caller, &id).await?;
    if job.state != JobState::Held {
        return Err(wrong_state(&job, "approved", "held"));
    }
    match state
        .store
        .approve_held_job(&caller.tenant, &id, &job.params)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let now = find(&state, &caller, &id).await?;
            return Err(wrong_state(&now, "approved", "held"));
        }
        Err(e) => return Err(e.into()),
    }
    state.jobs.wake.notify_one();
    tracing::info!(job = %id, "held import approved");
    Ok(accepted(
        location(&id),
        json!({"id": id, "state": "queued"}),
        false,
    ))
}

/// A held import is dropped: its upload is deleted, nothing is written.
async fn discard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    end_waiting(
        &state,
        &caller,
        &id,
        JobState::Held,
        JobState::Discarded,
        "discarded",
    )
    .await
}

/// A queued import is dropped before any worker takes it.
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    end_waiting(
        &state,
        &caller,
        &id,
        JobState::Queued,
        JobState::Cancelled,
        "cancelled",
    )
    .await
}

async fn end_waiting(
    state: &AppState,
    caller: &Caller,
    id: &str,
    from: JobState,
    to: JobState,
    action: &str,
) -> Result<Json<Value>, AdminError> {
    let job = find(state, caller, id).await?;
    if job.state != from {
        return Err(wrong_state(&job, action, from.as_str()));
    }
    // The state change and the deletion of the upload are one transaction.
    match state.store.end_waiting_job(&job, to).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let now = find(state, caller, id).await?;
            return Err(wrong_state(&now, action, from.as_str()));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(job = %id, state = to.as_str(), "import {action}");
    let job = find(state, caller, id).await?;
    Ok(Json(job.summary_json()))
}
