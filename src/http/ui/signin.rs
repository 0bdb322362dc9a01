//! Sign in, sign out and the tenant picked: forms over `admin::login::sign_in` and the
//! session store, so the lock-out, the back-off and the cookie are the admin API's own.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::chrome::{Chrome, Member, Visit};
use crate::audit::AuditNote;
use crate::http::AppState;
use crate::http::admin::login::{LoginForm, sign_in};
use crate::http::admin::session::{LoggedIn, form_fields, set_cookie};
use crate::users::Password;

#[derive(Template)]
#[template(path = "pages/login.html")]
struct LoginPage {
    c: Chrome,
    username: String,
    tenant: String,
    /// The catalogue key of why the last attempt failed.
    error: Option<&'static str>,
}

/// `GET /ui/login`: the form; a visitor already signed in goes to the dashboard.
pub async fn form(State(state): State<AppState>, visit: Visit, headers: HeaderMap) -> Response {
    let mut parts = axum::http::Request::new(()).into_parts().0;
    parts.headers = headers;
    if LoggedIn::from_request_parts(&mut parts, &state)
        .await
        .is_ok()
    {
        return visit.see_other(super::BASE_PATH);
    }
    login_page(&visit, StatusCode::OK, String::new(), String::new(), None)
}

fn login_page(
    visit: &Visit,
    status: StatusCode,
    username: String,
    tenant: String,
    error: Option<&'static str>,
) -> Response {
    let page = LoginPage {
        c: visit.chrome("login.title"),
        username,
        tenant,
        error,
    };
    visit.html(status, page.render())
}

/// `POST /ui/login`: signs in, or shows the form again saying why not.
pub async fn submit(
    State(state): State<AppState>,
    visit: Visit,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (username, password, tenant) = (field("username"), field("password"), field("tenant"));
    if username.is_empty() || password.is_empty() {
        let e = Some("login.error.missing");
        return login_page(&visit, StatusCode::BAD_REQUEST, username, tenant, e);
    }
    let form = LoginForm {
        username: username.clone(),
        password: Password::offered(password),
        tenant: (!tenant.is_empty()).then(|| tenant.clone()),
    };
    match sign_in(&state, &headers, &extensions, form).await {
        Ok(signed) => {
            let mut r = visit.see_other(super::BASE_PATH);
            let h = r.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(&state, Some(&signed.token)));
            r.extensions_mut().insert(signed.note);
            r
        }
        Err(refusal) => {
            let key = match refusal.error.code {
                "invalid_credentials" => "login.error.credentials",
                "account_locked" => "login.error.locked",
                "too_many_attempts" => "login.error.too_many",
                "no_role" => "login.error.no_role",
                "tenant_required" => "login.error.tenant_required",
                "not_found" => "login.error.unknown_tenant",
                "csrf" => "error.csrf",
                _ => "error.internal",
            };
            let note = refusal.note();
            let mut r = login_page(&visit, refusal.error.status, username, tenant, Some(key));
            if let Some(ms) = refusal.retry_after_ms {
                let secs = ((ms + 999) / 1000).max(1);
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            r.extensions_mut().insert(note);
            r
        }
    }
}

/// `POST /ui/logout` (with the CSRF token): ends the session at once.
pub async fn logout(State(state): State<AppState>, member: Member) -> Response {
    if let Err(e) = state.store.close_admin_session(&member.session.id).await {
        return member.visit.error_page(&e.into());
    }
    tracing::info!(user_id = %member.session.user.id, "admin user logged out");
    let mut r = member.visit.see_other(crate::web::UI_LOGIN_PATH);
    let h = r.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(&state, None));
    r.extensions_mut().insert(AuditNote {
        actor: Some(format!("user:{}", member.session.user.id)),
        tenant: member.tenant.as_ref().map(|(t, _)| t.clone()),
        action: Some("session.logout"),
        ..AuditNote::default()
    });
    r
}

/// `POST /ui/tenant` (`tenant=`, with the CSRF token): the session acts on another tenant from
/// now on, if the user may (a system admin: any existing tenant).
pub async fn choose_tenant(State(state): State<AppState>, member: Member, body: Bytes) -> Response {
    let tenant = form_fields(&body)
        .into_iter()
        .find(|(k, _)| k == "tenant")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let user = &member.session.user;
    let allowed = if user.system_admin {
        match state.store.tenant_exists(&tenant).await {
            Ok(b) => b,
            Err(e) => return member.visit.error_page(&e.into()),
        }
    } else {
        user.role_in(&tenant).is_some()
    };
    if tenant.is_empty() || !allowed {
        let e =
            crate::http::admin::error::AdminError::not_found(format!("unknown tenant {tenant:?}"));
        return member.visit.error_page(&e);
    }
    // The session's tenant: the admin API the pages call (uploads, progress) acts there too.
    if let Err(e) = state
        .store
        .set_admin_session_tenant(&member.session.id, &tenant)
        .await
    {
        return member.visit.error_page(&e.into());
    }
    super::chrome::noted(
        member.visit.see_other(super::BASE_PATH),
        "session.tenant",
        Some(tenant),
    )
}
