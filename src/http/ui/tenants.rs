//! `/ui/tenants` (system admins): every tenant, and a form to create one — the admin API's rules
//! (`admin::tenants::check_new_tenant`, `create_tenant`). Anyone else gets the refusal page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member};
use crate::audit::AuditNote;
use crate::http::AppState;
use crate::http::admin::error::AdminError;
use crate::http::admin::session::form_fields;
use crate::http::admin::tenants::{check_new_tenant, create_tenant};

#[derive(Template)]
#[template(path = "pages/tenants.html")]
struct TenantsPage {
    c: Chrome,
    tenants: Vec<(String, String)>,
    problem: String,
    typed_id: String,
    typed_name: String,
}

fn system_admins_only(member: &Member) -> Option<Response> {
    (!member.session.user.system_admin).then(|| {
        member.visit.error_page(&AdminError::forbidden(
            "only a system admin manages tenants",
        ))
    })
}

async fn list_page(
    state: &AppState,
    member: &Member,
    status: StatusCode,
    problem: String,
    typed: (String, String),
) -> Response {
    if let Some(r) = system_admins_only(member) {
        return r;
    }
    let tenants = match state.store.tenants().await {
        Ok(t) => t,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let page = TenantsPage {
        c: member.chrome("tenants.title", "tenants"),
        tenants,
        problem,
        typed_id: typed.0,
        typed_name: typed.1,
    };
    member.visit.html(status, page.render())
}

/// `GET /ui/tenants`.
pub async fn show(State(state): State<AppState>, member: Member) -> Response {
    list_page(
        &state,
        &member,
        StatusCode::OK,
        String::new(),
        Default::default(),
    )
    .await
}

/// `POST /ui/tenants` (`id`, `name`): creates a tenant.
pub async fn create(State(state): State<AppState>, member: Member, body: Bytes) -> Response {
    if let Some(r) = system_admins_only(&member) {
        return r;
    }
    let fields = form_fields(&body);
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let typed = (field("id"), field("name"));
    let name = (!typed.1.is_empty()).then_some(typed.1.as_str());
    let made = match check_new_tenant(&typed.0, name) {
        Ok((id, name)) => create_tenant(&state, &member.session.user.id, &id, &name)
            .await
            .map(|_| id),
        Err(e) => Err(e),
    };
    match made {
        Ok(id) => {
            let mut r = member.visit.see_other("/ui/tenants");
            // Recorded in the new tenant's log, as the admin API records it.
            r.extensions_mut().insert(AuditNote {
                tenant: Some(id.clone()),
                action: Some("tenants.create"),
                target: Some(id),
                ..AuditNote::default()
            });
            r
        }
        Err(e) => list_page(&state, &member, e.status, e.message, typed).await,
    }
}
