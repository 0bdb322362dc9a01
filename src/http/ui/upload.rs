//! `/ui/upload`: a bundle chosen or dropped, its encoding and the dry-run switch. The page's
//! script sends it to the admin API (`POST /api/v1/imports`) with a progress bar for the bytes,
//! then follows the job's events (`/api/v1/jobs/{id}/events`) and shows the import's page
//! fragment when it ends — no reload. Without script the form posts to `/ui/upload` itself.
//! A school's own lists (CSV, or a ZIP of CSVs) go through a field mapping chosen on the form
//! (`auto` or a stored profile; the API's `mapping`, `school`, `school_year`). Uploaders and
//! admins only.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::chrome::{Chrome, Member};
use crate::csv::decode::EncodingChoice;
use crate::http::AppState;
use crate::http::admin::common::school_year;
use crate::http::admin::error::AdminError;
use crate::http::admin::imports::{Upload, queue};
use crate::http::admin::mappings::choose;
use crate::http::admin::session::{CSRF_FIELD, CSRF_HEADER};
use crate::http::admin::upload::spool;
use crate::web::form::pairs_lossy;

#[derive(Template)]
#[template(path = "pages/upload.html")]
struct UploadPage {
    c: Chrome,
    /// The tenant's stored mapping profiles, for the mapping choice.
    mappings: Vec<String>,
}

pub async fn form(State(state): State<AppState>, member: Member) -> Response {
    if !member.can_upload() {
        let e = AdminError::new(StatusCode::FORBIDDEN, "read_only", "a viewer may only read");
        return member.visit.error_page(&e);
    }
    let Some((tenant, _)) = member.tenant.clone() else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let mappings = match state.store.list_mappings(&tenant).await {
        Ok(list) => list.into_iter().map(|m| m.name).collect(),
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let page = UploadPage {
        c: member.chrome("upload.title", "upload"),
        mappings,
    };
    member.visit.html(StatusCode::OK, page.render())
}

/// `POST /ui/upload?csrf_token=…`: the form sent without script (multipart: `encoding`,
/// `dry_run`, `rollover`, `mapping`, `school`, `school_year`, then `bundle`), queued as the admin API queues an upload; the answer leads to
/// the import's page.
pub async fn submit(State(state): State<AppState>, member: Member, req: Request) -> Response {
    if !member.can_upload() {
        let e = AdminError::new(StatusCode::FORBIDDEN, "read_only", "a viewer may only read");
        return member.visit.error_page(&e);
    }
    let Some((tenant, _)) = member.tenant.clone() else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let base = state.base_url(req.headers());
    let spooled = match spool(req, &state, state.jobs.config.upload_limit_bytes).await {
        Ok(s) => s,
        Err(e) => return member.visit.error_page(&e),
    };
    let field = |k: &str| {
        spooled
            .fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
    };
    let encoding = match field("encoding").as_deref() {
        None | Some("") | Some("utf-8") => None,
        Some(e) if EncodingChoice::parse(e).is_some() => Some(e.to_owned()),
        Some(_) => {
            let e = AdminError::bad_request("invalid_field", "unknown encoding");
            return member.visit.error_page(&e);
        }
    };
    let dry_run = field("dry_run").is_some_and(|v| v == "true");
    // The April rollover with the default graduating grades (the API takes others).
    let rollover = field("rollover")
        .is_some_and(|v| v == "true")
        .then(|| crate::import::rollover::DEFAULT_GRADUATING.to_owned());
    // A mapping as the API chooses one (`auto` or a stored profile, 422 for an unknown name).
    let mapping = match field("mapping").as_deref() {
        None | Some("") => None,
        Some(spec) => match choose(&state, &tenant, spec).await {
            Ok(m) => Some(m),
            Err(e) => return member.visit.error_page(&e),
        },
    };
    let texts: HashMap<String, String> = ["school", "school_year"]
        .into_iter()
        .filter_map(|k| {
            field(k)
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_owned(), v))
        })
        .collect();
    let school_year = match school_year(&texts) {
        Ok(y) => y,
        Err(e) => return member.visit.error_page(&e),
    };
    let created_by = format!("user:{}", member.session.user.id);
    let new = Upload {
        tenant: &tenant,
        created_by: &created_by,
        base: &base,
        dry_run,
        encoding,
        idempotency_key: None,
        mapping,
        school: texts.get("school").cloned(),
        school_year,
        rollover,
    };
    match queue(&state, spooled, new).await {
        Ok((job, _)) => super::chrome::noted(
            member
                .visit
                .see_other(&format!("/ui/imports/{}", super::chrome::enc(&job.id))),
            "imports.create",
            Some(job.id.clone()),
        ),
        Err(e) => member.visit.error_page(&e),
    }
}

/// Middleware of `POST /ui/upload`: a form without script cannot set the CSRF header and a
/// multipart body is not read for it, so the form names the token in its action's query; it
/// is moved into the header the session checks. (Pages send no referrer elsewhere, and the
/// query is not logged.)
pub async fn csrf_from_query(mut req: Request, next: Next) -> Response {
    let token = req.uri().query().and_then(|q| {
        pairs_lossy(q)
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v)
    });
    if let Some(t) = token
        && !req.headers().contains_key(CSRF_HEADER)
        && let Ok(v) = HeaderValue::from_str(&t)
    {
        req.headers_mut().insert(CSRF_HEADER, v);
    }
    next.run(req).await
}
