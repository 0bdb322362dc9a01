//! `/ui/history`: imports and exports, newest first, filtered by state, paged; each row links
//! to its page.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member, enc};
use super::view::{JobView, Params};
use crate::http::AppState;
use crate::jobs::{JobKind, JobState};

/// Rows per page.
const PAGE: u64 = 25;

/// The states offered by the filter.
pub const STATES: [&str; 7] = [
    "queued",
    "running",
    "held",
    "succeeded",
    "failed",
    "cancelled",
    "discarded",
];

#[derive(Template)]
#[template(path = "pages/history.html")]
struct HistoryPage {
    c: Chrome,
    kind: &'static str,
    state: String,
    states: [&'static str; 7],
    jobs: Vec<JobView>,
    total: u64,
    prev_href: String,
    next_href: String,
}

pub async fn show(
    State(state): State<AppState>,
    member: Member,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::new(raw.as_deref());
    let get = |k: &str| params.get(k).to_owned();
    let kind = if get("kind") == "exports" {
        JobKind::Export
    } else {
        JobKind::Import
    };
    let filter = JobState::parse(&get("state"));
    let page: u64 = get("page").parse().unwrap_or(1).max(1);
    let Some((tenant, _)) = &member.tenant else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let (jobs, total) = match state
        .store
        .list_jobs(tenant, kind, filter, PAGE, (page - 1) * PAGE)
        .await
    {
        Ok(x) => x,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let kind_name = match kind {
        JobKind::Import => "imports",
        JobKind::Export => "exports",
    };
    let state_name = filter.map(|s| s.as_str().to_owned()).unwrap_or_default();
    let href = |p: u64| {
        let mut s = format!("/ui/history?kind={kind_name}");
        if !state_name.is_empty() {
            s.push_str(&format!("&state={}", enc(&state_name)));
        }
        s.push_str(&format!("&page={p}"));
        s
    };
    let page_view = HistoryPage {
        c: member.chrome("history.title", "history"),
        kind: kind_name,
        states: STATES,
        jobs: jobs
            .iter()
            .map(|j| JobView::of(j, &state.ui_zone))
            .collect(),
        total,
        prev_href: if page > 1 {
            href(page - 1)
        } else {
            String::new()
        },
        next_href: if page * PAGE < total {
            href(page + 1)
        } else {
            String::new()
        },
        state: state_name.clone(),
    };
    member.visit.html(StatusCode::OK, page_view.render())
}
