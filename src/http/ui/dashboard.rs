//! `GET /ui`: the tenant at a glance — records per entity, the last applied import, imports
//! waiting for approval, recent failures, roster sanity counts; a user acting on no tenant
//! picks one here.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member};
use super::view::JobView;
use crate::csv::target::Target;
use crate::http::AppState;
use crate::jobs::{JobKind, JobState};
use crate::storage::StoreError;
use crate::storage::dashboard::{EntityCount, Sanity, Shortfall};

pub struct EntityRow {
    pub name: &'static str,
    /// The catalogue key of the entity's words.
    pub label: String,
    pub active: u64,
    pub tombstoned: u64,
}

#[derive(Template)]
#[template(path = "pages/dashboard.html")]
struct DashboardPage {
    c: Chrome,
    /// "2026年度" / "School year 2026": today in the configured zone.
    school_year: String,
    now: String,
    tenant: Option<Numbers>,
}

/// One national model's row: what would fail it on export.
pub struct TargetRow {
    pub name: &'static str,
    pub title: &'static str,
    /// The tenant's default target (`rosterhub tenant set-target`).
    pub default: bool,
    pub users: u64,
    pub enrollments: u64,
    /// Users and enrollments together.
    pub total: u64,
    /// The total if `metadata.jp.homeClass` were required too (`--require-home-class`).
    pub with_home_class: u64,
}

impl TargetRow {
    fn of(target: Target, s: &Shortfall, default: Option<&str>) -> TargetRow {
        // Every model requires the same columns of a record today (csv::target), so the rows
        // agree; they are listed per model because that is how boards of education ask.
        TargetRow {
            name: target.name(),
            title: target.title(),
            default: default == Some(target.name()),
            users: s.users,
            enrollments: s.enrollments,
            total: s.users + s.enrollments,
            with_home_class: s.users_home_class + s.enrollments,
        }
    }
}

/// What the dashboard shows of a tenant.
struct Numbers {
    entities: Vec<EntityRow>,
    sanity: Sanity,
    targets: Vec<TargetRow>,
    last_applied: Option<JobView>,
    held: Vec<JobView>,
    held_total: u64,
    failed: Vec<JobView>,
}

async fn numbers(state: &AppState, tenant: &str) -> Result<Numbers, StoreError> {
    let store = &state.store;
    let zone = &state.ui_zone;
    let (counts, sanity, shortfall): (Vec<EntityCount>, Sanity, Shortfall) =
        store.dashboard_counts(tenant).await?;
    let default_target = store.tenant_target(tenant).await?;
    let (succeeded, _) = store
        .list_jobs(tenant, JobKind::Import, Some(JobState::Succeeded), 20, 0)
        .await?;
    let last_applied = succeeded
        .iter()
        .find(|j| !j.params.dry_run)
        .map(|j| JobView::of(j, zone));
    let (held, held_total) = store
        .list_jobs(tenant, JobKind::Import, Some(JobState::Held), 5, 0)
        .await?;
    let (failed, _) = store
        .list_jobs(tenant, JobKind::Import, Some(JobState::Failed), 5, 0)
        .await?;
    Ok(Numbers {
        entities: counts
            .iter()
            .map(|c| EntityRow {
                label: format!("entity.{}", c.entity.name()),
                name: c.entity.name(),
                active: c.active,
                tombstoned: c.tombstoned,
            })
            .collect(),
        sanity,
        targets: Target::ALL
            .into_iter()
            .map(|t| TargetRow::of(t, &shortfall, default_target.as_deref()))
            .collect(),
        last_applied,
        held: held.iter().map(|j| JobView::of(j, zone)).collect(),
        held_total,
        failed: failed.iter().map(|j| JobView::of(j, zone)).collect(),
    })
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
    let tenant = match &member.tenant {
        Some((t, _)) => match numbers(&state, t).await {
            Ok(n) => Some(n),
            Err(e) => return member.visit.error_page(&e.into()),
        },
        None => None,
    };
    let page = DashboardPage {
        c: member.chrome("dashboard.title", "dashboard"),
        school_year,
        now: format!("{} ({})", zone.datetime(now), zone.name()),
        tenant,
    };
    member.visit.html(StatusCode::OK, page.render())
}
