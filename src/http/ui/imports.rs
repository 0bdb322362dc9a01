//! `/ui/imports/{id}`: an import's state, timings, per-entity counts and findings (filtered by
//! severity, file and code; grouped by code with counts; paged), and for a held import the
//! Approve and Discard forms, each confirmed on a page naming the counts.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::changes::{ChangeBlock, blocks};
use super::chrome::{Chrome, Member, enc};
use super::view::{EntityLine, JobView, Params, entity_lines};
use crate::http::AppState;
use crate::http::admin::error::AdminError;
use crate::http::admin::session::form_fields;
use crate::jobs::{Job, JobKind, JobState};
use crate::storage::StoreError;

/// Findings per page.
const PAGE: usize = 50;

pub struct Finding {
    pub severity: String,
    pub code: String,
    pub file: String,
    pub line: String,
    pub column: String,
    pub value: String,
    pub message: String,
}

pub struct Group {
    pub code: String,
    pub severity: String,
    pub count: u64,
    /// What the code means and what to do next, in the page's language.
    pub help: &'static str,
    /// This page filtered to the code.
    pub href: String,
}

/// The body of the page (also the htmx fragment).
pub struct ImportBody {
    pub job: JobView,
    pub entities: Vec<EntityLine>,
    /// What the import would change, for a dry run or a held import.
    pub changes: Vec<ChangeBlock>,
    pub groups: Vec<Group>,
    pub findings: Vec<Finding>,
    pub severity: String,
    pub file: String,
    pub code: String,
    pub files: Vec<String>,
    pub shown_from: usize,
    pub shown_to: usize,
    pub matching: usize,
    pub prev_href: String,
    pub next_href: String,
    pub csv_href: String,
    pub can_approve: bool,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "pages/import.html")]
struct ImportPage {
    c: Chrome,
    b: ImportBody,
}

#[derive(Template)]
#[template(path = "partials/import_body.html")]
struct ImportFragment {
    c: Chrome,
    b: ImportBody,
}

/// The tenant's import `id`.
async fn find(state: &AppState, member: &Member, id: &str) -> Result<Job, AdminError> {
    let Some((tenant, _)) = &member.tenant else {
        return Err(AdminError::not_found("choose a tenant first"));
    };
    match state.store.job(tenant, id).await? {
        Some(j) if j.kind == JobKind::Import => Ok(j),
        _ => Err(AdminError::not_found(format!("no import with id {id:?}"))),
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let job = match find(&state, &member, &id).await {
        Ok(j) => j,
        Err(e) => return member.visit.error_page(&e),
    };
    let params = Params::new(raw.as_deref());
    let get = |k: &str| params.get(k).trim().to_owned();
    let (severity, file, code) = (get("severity"), get("file"), get("code"));
    let page: usize = get("page").parse().unwrap_or(1).max(1);
    let report = job.report.as_ref();
    let all: Vec<&Value> = report
        .and_then(|r| r.get("findings"))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut files: Vec<String> = all.iter().map(|f| text(f.get("file"))).collect();
    files.sort();
    files.dedup();
    files.retain(|f| !f.is_empty());
    let matching: Vec<&&Value> = all
        .iter()
        .filter(|f| severity.is_empty() || text(f.get("severity")) == severity)
        .filter(|f| file.is_empty() || text(f.get("file")) == file)
        .filter(|f| code.is_empty() || text(f.get("code")) == code)
        .collect();
    let href = |sev: &str, file: &str, code: &str, page: usize| {
        let mut parts = Vec::new();
        for (k, v) in [("severity", sev), ("file", file), ("code", code)] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        let q = if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        };
        format!("/ui/imports/{}{q}#finding-filter", enc(&id))
    };
    let start = (page - 1) * PAGE;
    let findings: Vec<Finding> = matching
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|f| Finding {
            severity: text(f.get("severity")),
            code: text(f.get("code")),
            file: text(f.get("file")),
            line: text(f.get("line")),
            column: text(f.get("column")),
            value: text(f.get("value")),
            message: text(f.get("message")),
        })
        .collect();
    let groups = report
        .and_then(|r| r.get("findings_by_code"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|g| {
                    let c = text(g.get("code"));
                    Group {
                        href: href(&severity, &file, &c, 1),
                        help: super::finding_help::explain(member.visit.lang, &c),
                        code: c,
                        severity: text(g.get("severity")),
                        count: g.get("count").and_then(Value::as_u64).unwrap_or(0),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let n = matching.len();
    let b = ImportBody {
        job: JobView::of(&job, &state.ui_zone),
        entities: entity_lines(report),
        changes: blocks(report),
        groups,
        shown_from: if findings.is_empty() { 0 } else { start + 1 },
        shown_to: start + findings.len(),
        matching: n,
        findings,
        prev_href: if page > 1 {
            href(&severity, &file, &code, page - 1)
        } else {
            String::new()
        },
        next_href: if start + PAGE < n {
            href(&severity, &file, &code, page + 1)
        } else {
            String::new()
        },
        csv_href: format!(
            "{}/imports/{}/findings.csv",
            crate::web::ADMIN_BASE_PATH,
            enc(&id)
        ),
        severity,
        file,
        code,
        files,
        can_approve: member.can_approve(),
        csrf: member.session.csrf_token.clone(),
    };
    let c = member.chrome("import.title", "history");
    if member.visit.hx {
        member
            .visit
            .html(StatusCode::OK, ImportFragment { c, b }.render())
    } else {
        member
            .visit
            .html(StatusCode::OK, ImportPage { c, b }.render())
    }
}

#[derive(Template)]
#[template(path = "pages/confirm.html")]
struct ConfirmPage {
    c: Chrome,
    job: JobView,
    entities: Vec<EntityLine>,
    /// `approve` or `discard`.
    action: &'static str,
    title_key: &'static str,
    help_key: &'static str,
    button_key: &'static str,
    csrf: String,
}

/// `POST /ui/imports/{id}/approve` and `…/discard`: without `confirm=yes` a page naming the
/// counts asks first; with it the held import is queued again (forced past the threshold) or
/// dropped. Admins only: an uploader's or viewer's post is refused.
pub async fn decide(
    State(state): State<AppState>,
    member: Member,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let action: &'static str = match action.as_str() {
        "approve" => "approve",
        "discard" => "discard",
        _ => {
            return member
                .visit
                .error_page(&AdminError::not_found("no such action"));
        }
    };
    if !member.can_approve() {
        let e = if member.role().is_some_and(|r| r.read_only()) {
            AdminError::new(StatusCode::FORBIDDEN, "read_only", "a viewer may only read")
        } else {
            AdminError::forbidden("only an administrator approves or discards an import")
        };
        return member.visit.error_page(&e);
    }
    let job = match find(&state, &member, &id).await {
        Ok(j) => j,
        Err(e) => return member.visit.error_page(&e),
    };
    if job.state != JobState::Held {
        return member.visit.error_page(&AdminError::conflict(
            "only held imports can be approved or discarded",
        ));
    }
    let confirmed = form_fields(&body)
        .iter()
        .any(|(k, v)| k == "confirm" && v == "yes");
    if !confirmed {
        let page = ConfirmPage {
            c: member.chrome("confirm.title", "history"),
            job: JobView::of(&job, &state.ui_zone),
            entities: entity_lines(job.report.as_ref()),
            action,
            title_key: if action == "approve" {
                "confirm.approve"
            } else {
                "confirm.discard"
            },
            help_key: if action == "approve" {
                "confirm.approve_help"
            } else {
                "confirm.discard_help"
            },
            button_key: if action == "approve" {
                "import.approve"
            } else {
                "import.discard"
            },
            csrf: member.session.csrf_token.clone(),
        };
        // Nothing is decided yet: the entry says the confirmation was shown.
        let asked = if action == "approve" {
            "imports.approve_asked"
        } else {
            "imports.discard_asked"
        };
        return super::chrome::noted(
            member.visit.html(StatusCode::OK, page.render()),
            asked,
            None,
        );
    }
    let done = match action {
        "approve" => {
            state
                .store
                .approve_held_job(&job.tenant, &id, &job.params)
                .await
        }
        _ => state.store.end_waiting_job(&job, JobState::Discarded).await,
    };
    match done {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return member
                .visit
                .error_page(&AdminError::conflict("the import changed meanwhile"));
        }
        Err(e) => return member.visit.error_page(&e.into()),
    }
    if action == "approve" {
        state.jobs.wake.notify_one();
    }
    tracing::info!(job = %id, action, "held import decided in the web UI");
    member.visit.see_other(&format!("/ui/imports/{}", enc(&id)))
}
