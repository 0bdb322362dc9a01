//! `/session`: admin users log in and out of the web UI; the session cookie and CSRF tokens.
//!
//! - `POST /session` with `{"username", "password", "tenant"?}` as JSON or as an
//!   `application/x-www-form-urlencoded` form → `200 {"user", "tenant", "role", "roles",
//!   "csrf_token", "expires_at", "idle_timeout_secs"}` and `Set-Cookie: rosterhub_session=…;
//!   HttpOnly; SameSite=Strict; Path=/; Max-Age=43200` (`Secure` when served over TLS or the
//!   public URL is `https`). A wrong username and a wrong password get the same 401 after the
//!   same work (an unknown user's password is checked against a dummy hash).
//! - Lock-out: 5 failed logins of an account within 15 minutes lock it for 15 minutes (429
//!   `account_locked` with `Retry-After`; the right password does not open it meanwhile); 20
//!   failed logins from one source address within 15 minutes make that address wait (429
//!   `too_many_attempts` with `Retry-After`) until the oldest is 15 minutes old.
//! - A session ends after 30 minutes without a request (sliding) and 12 hours after login
//!   whatever happens; `DELETE /session` (with the CSRF token) ends it at once.
//! - `GET /session` → the same object as the login's: the UI reads its CSRF token here after a
//!   reload (the cookie is HttpOnly).
//! - The tenant acted on is the one chosen at login; a request may name another with
//!   `X-RosterHub-Tenant` — a system admin any existing tenant, another user one where it has a
//!   role. Roles are read per request: a revoked role takes effect on the next request.
//! - CSRF: a cookie-authenticated request other than GET/HEAD/OPTIONS must carry the session's
//!   token in `X-CSRF-Token`, or as the `csrf_token` field of an urlencoded form (read by
//!   [`form_csrf`]); multipart forms (uploads) must send the header. Else 403 `csrf`.
//!
//! Passwords, session tokens and cookies are never logged.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::error::AdminError;
use crate::audit::{AuditNote, annotate};
use crate::domain::datetime::format_ms;
use crate::http::AppState;
use crate::http::hardening::is_form;
use crate::users::session::{COOKIE, SessionToken, cookie_value, tokens_match};
use crate::users::store::{self, Session};
use crate::users::{Role, SESSION_IDLE_MS, SESSION_MAX_MS};
use crate::web::form::pairs_lossy;

/// The header a request names its tenant with (system admins, users of several tenants).
pub const TENANT_HEADER: &str = "x-rosterhub-tenant";
/// The header a cookie-authenticated request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field of the CSRF token in urlencoded form posts.
pub const CSRF_FIELD: &str = "csrf_token";
/// The largest urlencoded form read for its CSRF token.
const FORM_LIMIT: usize = 64 * 1024;

/// Password checks running at once: each takes ~19 MiB and a core for tens of milliseconds.
pub(super) static HASHING: Semaphore = Semaphore::const_new(4);

/// Whether a method changes nothing (and so needs no CSRF token).
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The request's source address: the one the guard decided on (`X-Forwarded-For` from a
/// trusted proxy), else the TCP peer. Behind a proxy that is not trusted every login shares the
/// proxy's back-off: configure `--trusted-proxies`.
pub fn source_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<crate::http::credentials::ClientIp>()
        .map(|c| c.0)
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .map(|ip| ip.to_canonical())
}

/// Whether the session cookie is to be marked `Secure`.
fn secure(state: &AppState) -> bool {
    state.secure_cookies
        || state
            .public_url
            .as_deref()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
}

/// The `Set-Cookie` value: the token for `max_age_secs`, or an expired empty cookie (`None`).
pub fn set_cookie(state: &AppState, token: Option<&SessionToken>) -> HeaderValue {
    let (value, max_age) = match token {
        Some(t) => (t.expose(), SESSION_MAX_MS / 1000),
        None => ("", 0),
    };
    let secure = if secure(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .expect("the cookie is visible ASCII")
}

/// The CSRF token of an urlencoded form post, found by [`form_csrf`].
#[derive(Debug, Clone)]
struct FormCsrf(String);

/// Middleware of the admin routes: a cookie-authenticated urlencoded form post may carry its
/// CSRF token as the form field `csrf_token`; the body is read (up to 64 KiB) to find it and
/// handed on unchanged.
pub async fn form_csrf(req: Request, next: Next) -> Response {
    if !is_form(req.headers())
        || is_safe(req.method())
        || req.headers().contains_key(header::AUTHORIZATION)
        || !req.headers().contains_key(header::COOKIE)
    {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return AdminError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("a form has at most {FORM_LIMIT} bytes"),
            )
            .into_response();
        }
    };
    if let Some((_, token)) = form_fields(&bytes)
        .into_iter()
        .find(|(k, _)| k == CSRF_FIELD)
    {
        parts.extensions.insert(FormCsrf(token));
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The fields of an `application/x-www-form-urlencoded` body, decoded; malformed escapes are
/// kept as written (browsers send none).
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    pairs_lossy(&String::from_utf8_lossy(body)).collect()
}

/// The verified session of a request that came with the session cookie. Extracting it checks
/// the CSRF token of a request that is not GET/HEAD/OPTIONS, and names the user as the actor
/// of the request's audit entry.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub session: Session,
}

impl LoggedIn {
    /// Whether the request carries a session cookie at all.
    pub fn has_cookie(headers: &HeaderMap) -> bool {
        session_cookie(headers).is_some()
    }

    pub fn actor(&self) -> String {
        format!("user:{}", self.session.user.id)
    }

    /// The tenant the request acts on (`X-RosterHub-Tenant`, else the one chosen at login) and
    /// the user's role there; `None` for a system admin who named none. 403 when the user has
    /// no role there; 404 when a system admin names a tenant that does not exist.
    pub async fn tenant(
        &self,
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Option<(String, Role)>, AdminError> {
        let named = match headers.get(TENANT_HEADER) {
            Some(v) => Some(
                v.to_str()
                    .ok()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| {
                        AdminError::bad_request(
                            "invalid_tenant",
                            "X-RosterHub-Tenant must name a tenant",
                        )
                    })?
                    .to_owned(),
            ),
            None => None,
        };
        let Some(tenant) = named.or_else(|| self.session.tenant.clone()) else {
            return Ok(None);
        };
        let user = &self.session.user;
        match user.role_in(&tenant) {
            Some(role) if !user.system_admin => Ok(Some((tenant, role))),
            Some(role) => {
                if state.store.tenant_exists(&tenant).await? {
                    Ok(Some((tenant, role)))
                } else {
                    Err(AdminError::not_found(format!("unknown tenant {tenant:?}")))
                }
            }
            None => Err(AdminError::forbidden(format!(
                "you have no role in tenant {tenant:?}"
            ))),
        }
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_value(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<LoggedIn, AdminError> {
        let Some(value) = session_cookie(&parts.headers) else {
            return Err(AdminError::unauthorised(
                "not logged in: log in with POST /api/v1/session",
            ));
        };
        let ended = || AdminError::unauthorised("the session has ended; log in again");
        let token = SessionToken::from_cookie(value).ok_or_else(ended)?;
        let session = store::session(&state.store, &token)
            .await?
            .ok_or_else(ended)?;
        let logged = LoggedIn { session };
        annotate(
            &parts.extensions,
            AuditNote {
                actor: Some(logged.actor()),
                tenant: logged.session.tenant.clone(),
                ..AuditNote::default()
            },
        );
        if !is_safe(&parts.method) {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| parts.extensions.get::<FormCsrf>().map(|f| f.0.clone()));
            let ok = given.is_some_and(|g| tokens_match(g.trim(), &logged.session.csrf_token));
            if !ok {
                return Err(AdminError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "this request needs the session's CSRF token in the X-CSRF-Token header \
                     (or the csrf_token form field)",
                ));
            }
        }
        Ok(logged)
    }
}

/// The session as the login and `GET /session` show it.
pub(super) fn session_json(session: &Session, acting: Option<&(String, Role)>) -> Value {
    let user = &session.user;
    json!({
        "user": {
            "id": user.id,
            "username": user.username,
            "display_name": user.display_name,
            "system_admin": user.system_admin,
        },
        "tenant": acting.map(|(t, _)| t),
        "role": acting.map(|(_, r)| r.as_str()),
        "roles": user.roles.iter().map(|(t, r)| json!({"tenant": t, "role": r.as_str()}))
            .collect::<Vec<_>>(),
        "csrf_token": session.csrf_token,
        "expires_at": format_ms(session.expires_at),
        "idle_timeout_secs": SESSION_IDLE_MS / 1000,
    })
}

pub(super) async fn show(
    State(state): State<AppState>,
    logged: LoggedIn,
    headers: HeaderMap,
) -> Result<Json<Value>, AdminError> {
    let acting = logged.tenant(&state, &headers).await?;
    Ok(Json(session_json(&logged.session, acting.as_ref())))
}

pub(super) async fn logout(
    State(state): State<AppState>,
    logged: LoggedIn,
) -> Result<Response, AdminError> {
    state.store.close_admin_session(&logged.session.id).await?;
    tracing::info!(user_id = %logged.session.user.id, "admin user logged out");
    let mut response = (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, set_cookie(&state, None))],
    )
        .into_response();
    response.extensions_mut().insert(AuditNote {
        action: Some("session.logout"),
        ..AuditNote::default()
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded() {
        assert_eq!(
            form_fields(b"username=hanako&password=a+b%26c%3D&csrf_token=x_y-z&empty&bad=%zz%4"),
            vec![
                ("username".into(), "hanako".into()),
                ("password".into(), "a b&c=".into()),
                ("csrf_token".into(), "x_y-z".into()),
                ("empty".into(), String::new()),
                ("bad".into(), "%zz%4".into()),
            ]
        );
        assert_eq!(
            form_fields("name=%E5%B1%B1%E7%94%B0".as_bytes()),
            vec![("name".into(), "山田".into())]
        );
    }

    #[test]
    fn safe_methods() {
        assert!(is_safe(&Method::GET) && is_safe(&Method::HEAD) && is_safe(&Method::OPTIONS));
        assert!(!is_safe(&Method::POST) && !is_safe(&Method::DELETE) && !is_safe(&Method::PATCH));
    }
}
