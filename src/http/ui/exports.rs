//! `/ui/exports`: start a bulk or delta (since a date and time in the configured zone) export in
//! a profile, watch it (the list refreshes itself while one runs), download it.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member};
use super::view::JobView;
use crate::http::AppState;
use crate::http::admin::error::AdminError;
use crate::http::admin::exports::export_params;
use crate::http::admin::session::form_fields;
use crate::jobs::JobKind;
use crate::storage::ops::jobs::NewJob;

/// Exports listed.
const RECENT: u64 = 20;

pub struct ExportRow {
    pub job: JobView,
    pub mode: String,
    pub profile: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "pages/exports.html")]
struct ExportsPage {
    c: Chrome,
    rows: Vec<ExportRow>,
    live: bool,
    zone: String,
}

#[derive(Template)]
#[template(path = "partials/export_list.html")]
struct ExportList {
    c: Chrome,
    rows: Vec<ExportRow>,
    live: bool,
}

pub async fn show(State(state): State<AppState>, member: Member) -> Response {
    let Some((tenant, _)) = &member.tenant else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let jobs = match state
        .store
        .list_jobs(tenant, JobKind::Export, None, RECENT, 0)
        .await
    {
        Ok((jobs, _)) => jobs,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let zone = &state.ui_zone;
    let rows: Vec<ExportRow> = jobs
        .iter()
        .map(|j| ExportRow {
            job: JobView::of(j, zone),
            mode: j.params.mode.clone().unwrap_or_default(),
            profile: j.params.profile.clone().unwrap_or_default(),
            since: j.params.since.map(|s| zone.datetime(s)).unwrap_or_default(),
        })
        .collect();
    let live = rows.iter().any(|r| r.job.live());
    let c = member.chrome("exports.title", "exports");
    if member.visit.hx {
        return member
            .visit
            .html(StatusCode::OK, ExportList { c, rows, live }.render());
    }
    let page = ExportsPage {
        c,
        rows,
        live,
        zone: zone.name().to_owned(),
    };
    member.visit.html(StatusCode::OK, page.render())
}

/// `POST /ui/exports` (`mode`, `since` as `YYYY-MM-DDTHH:MM` in the configured zone,
/// `profile`; with the CSRF token): queues the export and shows the list.
pub async fn start(State(state): State<AppState>, member: Member, body: Bytes) -> Response {
    if !member.can_upload() {
        let e = AdminError::new(StatusCode::FORBIDDEN, "read_only", "a viewer may only read");
        return member.visit.error_page(&e);
    }
    let Some((tenant, _)) = &member.tenant else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let fields = form_fields(&body);
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mode = field("mode");
    // A bulk export ignores the date field the form always sends.
    let since = match mode.as_deref() {
        Some("delta") => field("since").map(|s| state.ui_zone.form_datetime(&s)),
        _ => None,
    };
    let headers = axum::http::HeaderMap::new();
    let params = match export_params(mode, since, field("profile"), &state.base_url(&headers)) {
        Ok(p) => p,
        Err(e) => return member.visit.error_page(&e),
    };
    let created = state
        .store
        .create_job(NewJob {
            tenant,
            kind: JobKind::Export,
            params: &params,
            idempotency_key: None,
            upload_blob: None,
            created_by: &format!("user:{}", member.session.user.id),
        })
        .await;
    match created {
        Ok((job, _)) => {
            state.jobs.wake.notify_one();
            tracing::info!(job = %job.id, "export queued from the web UI");
            super::chrome::noted(
                member.visit.see_other("/ui/exports"),
                "exports.create",
                Some(job.id.clone()),
            )
        }
        Err(e) => member.visit.error_page(&e.into()),
    }
}
