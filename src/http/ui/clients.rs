//! `/ui/clients` (administrators): the tenant's API clients — list, create (scopes, org limits,
//! IP allow-list, rate limit), rotate the secret with an overlap, revoke. The storage and the
//! field rules are the admin API's (`storage::clients`, `domain::restrict`). A secret is shown
//! once, on the page answering the post that made it (never stored, never in a URL).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member, noted};
use super::view::Params;
use crate::auth::Scopes;
use crate::domain::datetime::now_ms;
use crate::domain::restrict::{check_rate_limit, parse_allowed_ips, parse_org_scope};
use crate::http::AppState;
use crate::http::admin::error::AdminError;
use crate::http::admin::session::form_fields;
use crate::storage::clients::{ClientRecord, ClientSettings, NewClient};

/// Clients per page.
const PAGE: u64 = 50;
/// The longest overlap of a rotated secret, in hours (30 days), as the admin API allows.
const MAX_OVERLAP_HOURS: u64 = 720;

/// The scopes offered, by their short form name and their scope.
const SCOPES: [(&str, Scopes); 6] = [
    ("core", Scopes::CORE),
    ("roster", Scopes::ROSTER),
    ("demographics", Scopes::DEMOGRAPHICS),
    ("import", Scopes::IMPORT),
    ("export", Scopes::EXPORT),
    ("admin", Scopes::ADMIN),
];

/// A client as the list shows it.
pub struct ClientView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<&'static str>,
    pub allowed_ips: String,
    pub rate_limit: String,
    pub org_scope: String,
    pub created: String,
    pub revoked: String,
    pub active: bool,
    /// When the secret replaced by the last rotation stops working, if it still works.
    pub overlap_until: String,
}

impl ClientView {
    fn of(c: &ClientRecord, state: &AppState) -> ClientView {
        let zone = &state.ui_zone;
        ClientView {
            id: c.client_id.clone(),
            name: c.name.clone(),
            scopes: SCOPES
                .iter()
                .filter(|(_, s)| c.scopes.contains(*s))
                .map(|(n, _)| *n)
                .collect(),
            allowed_ips: c
                .allowed_ips
                .as_ref()
                .map(|l| {
                    l.iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
            rate_limit: c
                .rate_limit_per_min
                .map(|n| n.to_string())
                .unwrap_or_default(),
            org_scope: c
                .org_scope
                .as_ref()
                .map(|l| l.join(" "))
                .unwrap_or_default(),
            created: zone.datetime(c.created_at),
            revoked: c.revoked_at.map(|t| zone.datetime(t)).unwrap_or_default(),
            active: c.is_active(),
            overlap_until: c
                .previous_secret_valid_until(now_ms())
                .map(|t| zone.datetime(t))
                .unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/clients.html")]
struct ClientsPage {
    c: Chrome,
    clients: Vec<ClientView>,
    scopes: [(&'static str, Scopes); 6],
    default_limit: u32,
    prev_href: String,
    next_href: String,
    /// A refused form's message (the admin API's words).
    problem: String,
}

#[derive(Template)]
#[template(path = "pages/client_secret.html")]
struct SecretPage {
    c: Chrome,
    client: ClientView,
    secret: String,
    rotated: bool,
}

/// The member's tenant when they administer it; otherwise the page saying why not.
fn admin_tenant(member: &Member) -> Result<String, Box<Response>> {
    member.admin_tenant("managing API clients")
}

async fn list_page(state: &AppState, member: &Member, page: u64, problem: String) -> Response {
    let tenant = match admin_tenant(member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let mut rows = match state
        .store
        .list_clients_page(&tenant, PAGE + 1, (page - 1) * PAGE)
        .await
    {
        Ok(r) => r,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let more = rows.len() as u64 > PAGE;
    rows.truncate(PAGE as usize);
    let status = if problem.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let view = ClientsPage {
        c: member.chrome("clients.title", "clients"),
        clients: rows.iter().map(|c| ClientView::of(c, state)).collect(),
        scopes: SCOPES,
        default_limit: state.guard.config().default_rate_limit_per_min,
        prev_href: if page > 1 {
            format!("/ui/clients?page={}", page - 1)
        } else {
            String::new()
        },
        next_href: if more {
            format!("/ui/clients?page={}", page + 1)
        } else {
            String::new()
        },
        problem,
    };
    member.visit.html(status, view.render())
}

pub async fn show(
    State(state): State<AppState>,
    member: Member,
    RawQuery(raw): RawQuery,
) -> Response {
    let page = Params::new(raw.as_deref()).page(10_000);
    list_page(&state, &member, page, String::new()).await
}

/// The settings of the create form, or what is wrong with them.
fn settings(fields: &[(String, String)]) -> Result<(String, Scopes, ClientSettings), String> {
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let name = field("name");
    if name.is_empty() || name.chars().count() > 200 {
        return Err("name: 1–200 characters".into());
    }
    let mut scopes = Scopes::NONE;
    for (n, v) in fields {
        if n == "scope"
            && let Some((_, s)) = SCOPES.iter().find(|(k, _)| k == v)
        {
            scopes = scopes.union(*s);
        }
    }
    if scopes.is_empty() {
        return Err("scopes: choose at least one".into());
    }
    let ips = field("allowed_ips");
    let allowed_ips = if ips.is_empty() {
        None
    } else {
        Some(parse_allowed_ips(&ips).map_err(|e| format!("allowed_ips: {e}"))?)
    };
    let limit = field("rate_limit_per_min");
    let rate_limit_per_min = if limit.is_empty() {
        None
    } else {
        let n: i64 = limit
            .parse()
            .map_err(|_| "rate_limit_per_min: a whole number".to_owned())?;
        Some(check_rate_limit(n).map_err(|e| format!("rate_limit_per_min: {e}"))?)
    };
    let orgs = field("org_scope");
    let org_scope = if orgs.is_empty() {
        None
    } else {
        Some(parse_org_scope([orgs.as_str()]).map_err(|e| format!("org_scope: {e}"))?)
    };
    Ok((
        name,
        scopes,
        ClientSettings {
            allowed_ips,
            rate_limit_per_min,
            org_scope,
            // Binding to a national model is set with the CLI or the clients API.
            target: None,
        },
    ))
}

fn secret_page(state: &AppState, member: &Member, new: &NewClient, rotated: bool) -> Response {
    let view = SecretPage {
        c: member.chrome("clients.secret_title", "clients"),
        client: ClientView::of(&new.record, state),
        secret: new.client_secret.clone(),
        rotated,
    };
    member.visit.html(StatusCode::OK, view.render())
}

/// `POST /ui/clients`: creates a client and shows its secret once.
pub async fn create(State(state): State<AppState>, member: Member, body: Bytes) -> Response {
    let tenant = match admin_tenant(&member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let (name, scopes, settings) = match settings(&form_fields(&body)) {
        Ok(x) => x,
        Err(problem) => return list_page(&state, &member, 1, problem).await,
    };
    match state
        .store
        .create_client_with(&tenant, &name, scopes, settings)
        .await
    {
        Ok(new) => {
            tracing::info!(client_id = %new.record.client_id, "client created from the web UI");
            let target = Some(new.record.client_id.clone());
            noted(
                secret_page(&state, &member, &new, false),
                "clients.create",
                target,
            )
        }
        Err(e) => member.visit.error_page(&e.into()),
    }
}

/// `POST /ui/clients/{id}/{rotate|revoke}`.
pub async fn act(
    State(state): State<AppState>,
    member: Member,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let tenant = match admin_tenant(&member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let not_found = || AdminError::not_found(format!("no client {id:?}"));
    match action.as_str() {
        "revoke" => match state.store.revoke_client_of(Some(&tenant), &id).await {
            Ok(true) => {
                // This replica forgets the client's allow-list and bucket at once.
                state.guard.forget(&id);
                tracing::info!(client_id = %id, "client revoked from the web UI");
                member.visit.see_other("/ui/clients")
            }
            Ok(false) => member.visit.error_page(&not_found()),
            Err(e) => member.visit.error_page(&e.into()),
        },
        "rotate" => {
            let fields = form_fields(&body);
            let hours: u64 = fields
                .iter()
                .find(|(n, _)| n == "overlap_hours")
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(24)
                .min(MAX_OVERLAP_HOURS);
            let overlap_ms = (hours * 3_600_000) as i64;
            match state
                .store
                .rotate_client_secret(Some(&tenant), &id, overlap_ms)
                .await
            {
                Ok(Some(new)) => {
                    tracing::info!(client_id = %id, overlap_hours = hours, "client secret rotated from the web UI");
                    noted(
                        secret_page(&state, &member, &new, true),
                        "clients.rotate_secret",
                        None,
                    )
                }
                // Revoked or absent: neither has a secret to rotate.
                Ok(None) => member.visit.error_page(&not_found()),
                Err(e) => member.visit.error_page(&e.into()),
            }
        }
        _ => member.visit.error_page(&not_found()),
    }
}
