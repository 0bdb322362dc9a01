//! `GET /ui`: the tenant at a glance; a user acting on no tenant yet picks one here.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member};
use crate::http::AppState;

#[derive(Template)]
#[template(path = "pages/dashboard.html")]
struct DashboardPage {
    c: Chrome,
    /// "2026年度" / "School year 2026": today in the configured zone.
    school_year: String,
    now: String,
}

pub async fn show(State(state): State<AppState>, member: Member) -> Response {
    let now = crate::domain::datetime::now_ms();
    let zone = &state.ui_zone;
    let school_year = zone
        .school_year(now)
        .map(|y| {
            member
                .visit
                .t("dashboard.school_year")
                .replace("{year}", &y.to_string())
        })
        .unwrap_or_default();
    let page = DashboardPage {
        c: member.chrome("dashboard.title", "dashboard"),
        school_year,
        now: format!("{} ({})", zone.datetime(now), zone.name()),
    };
    member.visit.html(StatusCode::OK, page.render())
}
