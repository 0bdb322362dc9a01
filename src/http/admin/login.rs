//! `POST /session`: a login (`session` describes the rules it follows), and the `/session`
//! routes (`GET` and `DELETE` are `session`'s; they live here so that `session`, which this
//! file uses, does not import it back).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::error::AdminError;
use super::session::{self, HASHING, form_fields, session_json, set_cookie, source_ip};
use crate::audit::AuditNote;
use crate::auth::throttle::Counter;
use crate::domain::datetime::now_ms;
use crate::http::AppState;
use crate::http::hardening::is_form;
use crate::http::metrics::security::{self, AuthFailure, Lockout};
use crate::storage::StoreError;
use crate::users::store;
use crate::users::{Password, Role};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/session",
        get(session::show).post(login).delete(session::logout),
    )
}

/// What a login request says.
pub struct LoginForm {
    pub username: String,
    pub password: Password,
    pub tenant: Option<String>,
}

fn login_form(headers: &HeaderMap, body: &[u8]) -> Result<LoginForm, AdminError> {
    let mut map = Map::new();
    if is_form(headers) {
        for (k, v) in form_fields(body) {
            map.insert(k, Value::String(v));
        }
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => map = m,
            _ => {
                return Err(AdminError::bad_request(
                    "invalid_json",
                    "the body must be a JSON object {\"username\", \"password\", \"tenant\"} \
                     or an urlencoded form",
                ));
            }
        }
    }
    let field = |name: &'static str| -> Result<Option<String>, AdminError> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(AdminError::bad_request(
                "invalid_field",
                format!("{name}: must be a string"),
            )),
        }
    };
    let required = |name: &'static str| -> Result<String, AdminError> {
        field(name)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AdminError::bad_request("invalid_field", format!("{name}: is required")))
    };
    Ok(LoginForm {
        username: required("username")?,
        password: Password::offered(required("password")?),
        tenant: field("tenant")?
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()),
    })
}

/// A cross-site login (a page elsewhere posting a form here) is refused: when the browser says
/// where the request comes from (`Origin`), it must be this server.
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host_of = |url: &str| -> Option<String> {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let host = rest.split('/').next()?;
        (!host.is_empty()).then(|| host.to_ascii_lowercase())
    };
    let ours = match &state.public_url {
        Some(u) => host_of(u),
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase),
    };
    origin != "null" && ours.is_some() && host_of(origin) == ours
}

/// The audit note of a refused login.
fn refused_note(username: &str, tenant: Option<String>) -> AuditNote {
    AuditNote {
        actor: Some(login_actor(username)),
        tenant,
        action: Some("session.login_failed"),
        ..AuditNote::default()
    }
}

fn login_actor(username: &str) -> String {
    format!("login:{}", crate::audit::truncate(username.trim(), 64))
}

fn retry_after(mut response: Response, ms: i64) -> Response {
    let secs = ((ms + 999) / 1000).max(1);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&secs.to_string()).expect("digits"),
    );
    response
}

fn wrong_credentials() -> AdminError {
    AdminError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong username or password",
    )
}

/// A login that succeeded: the new session, the tenant it acts on, and its audit note.
pub struct SignedIn {
    pub token: crate::users::session::SessionToken,
    pub session: crate::users::store::Session,
    pub acting: Option<(String, Role)>,
    pub note: AuditNote,
}

/// A login that was refused: the error (its `code` says why), how long to wait when the
/// refusal is a lock-out, and its audit note.
pub struct Refusal {
    pub error: AdminError,
    pub retry_after_ms: Option<i64>,
    note: AuditNote,
}

impl Refusal {
    fn new(error: AdminError, username: &str, tenant: Option<String>) -> Refusal {
        Refusal {
            error,
            retry_after_ms: None,
            note: refused_note(username, tenant),
        }
    }

    /// The audit note of the refusal, for a response that is not the API's.
    pub fn note(&self) -> AuditNote {
        self.note.clone()
    }

    /// The admin API's answer: the error as JSON, `Retry-After` for a lock-out.
    pub fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        response.extensions_mut().insert(self.note);
        match self.retry_after_ms {
            Some(ms) => retry_after(response, ms),
            None => response,
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal {
            error: e.into(),
            retry_after_ms: None,
            note: AuditNote::default(),
        }
    }
}

pub(super) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Result<Response, AdminError> {
    let form = login_form(&headers, &body)?;
    let signed = match sign_in(&state, &headers, &extensions, form).await {
        Ok(s) => s,
        Err(refusal) => return Ok(refusal.into_response()),
    };
    let mut response = (
        StatusCode::OK,
        [
            (header::SET_COOKIE, set_cookie(&state, Some(&signed.token))),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Json(session_json(&signed.session, signed.acting.as_ref())),
    )
        .into_response();
    response.extensions_mut().insert(signed.note);
    Ok(response)
}

/// Checks a login (same origin, the address's back-off, the account's lock, the password, the
/// tenant) and opens a session: what the admin API's `POST /session` and the web UI's sign-in
/// form share, so the rules live once.
pub async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    form: LoginForm,
) -> Result<SignedIn, Refusal> {
    if !same_origin(state, headers) {
        return Err(Refusal::new(
            AdminError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a login must come from this server's own pages (Origin does not match)",
            ),
            &form.username,
            None,
        ));
    }
    let ip = source_ip(extensions);
    let ip_key = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let store = &state.store;
    let now = now_ms();
    let found = store::credentials(store, &form.username).await?;
    // The tenant a failed login is recorded under: the one named, if it exists, else the
    // user's only tenant.
    let audit_tenant = match &form.tenant {
        Some(t) if store.tenant_exists(t).await? => Some(t.clone()),
        _ => found.as_ref().and_then(|(u, _)| match u.roles.as_slice() {
            [(t, _)] => Some(t.clone()),
            _ => None,
        }),
    };
    let refuse = |e: AdminError| Refusal::new(e, &form.username, audit_tenant.clone());

    // Both counters count this attempt before the password is checked, in one statement each:
    // parallel attempts (on any replica) cannot get more than the limit checked. The
    // username's counter runs whether or not such a user exists, so the answers do not tell.
    let by_address = Counter::login_address(&ip_key);
    let address = by_address.count(store, now).await?;
    let by_user = Counter::login_user(&form.username);
    let account = by_user.count(store, now).await?;
    if account.over() {
        tracing::warn!("admin login refused: the username is locked after repeated failures");
        security::lockout(Lockout::LoginAccount);
        let e = AdminError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "account_locked",
            "the account is locked after repeated failed logins; try again later",
        );
        return Err(Refusal {
            retry_after_ms: Some(account.retry_after_ms()),
            ..refuse(e)
        });
    }

    let _permit = HASHING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let usable = found
        .as_ref()
        .filter(|(u, _)| u.disabled_at.is_none())
        .map(|(u, hash)| (u.clone(), hash.clone()));
    let password = form.password.clone();
    let checked = usable.clone();
    let ok = tokio::task::spawn_blocking(move || match &checked {
        Some((_, hash)) => password.verify(hash),
        None => {
            password.verify_dummy();
            false
        }
    })
    .await
    .map_err(|_| refuse(AdminError::internal("the password check failed")))?;
    drop(_permit);

    let Some((user, _)) = usable.filter(|_| ok) else {
        let user_id = found
            .as_ref()
            .filter(|(u, _)| u.disabled_at.is_none())
            .map(|(u, _)| u.id.as_str());
        security::auth_failure(AuthFailure::Login);
        let locked = store::login_failed(store, &ip_key, user_id, now).await?;
        if locked.is_some() {
            tracing::warn!(user_id = user_id.unwrap_or(""), "admin account locked");
        }
        if address.over() {
            // Past the address's limit only wrong passwords are refused: everyone behind one
            // school NAT must not be locked out by one person's guesses.
            tracing::warn!("admin login refused: too many failures from one address");
            security::lockout(Lockout::LoginAddress);
            let e = AdminError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed logins from this address; check the username and password \
                 and try again later",
            );
            return Err(Refusal {
                retry_after_ms: Some(address.retry_after_ms()),
                ..refuse(e)
            });
        }
        return Err(refuse(wrong_credentials()));
    };
    // The password is right: it is no failure of the address, and the username's failures
    // count since this login.
    by_address.release(store).await?;
    by_user.clear(store).await?;

    // The password is right: which tenant does the session act on?
    let acting: Option<(String, Role)> = match &form.tenant {
        Some(t) if user.system_admin => {
            if !store.tenant_exists(t).await? {
                return Err(refuse(AdminError::not_found(format!(
                    "unknown tenant {t:?}"
                ))));
            }
            Some((t.clone(), Role::Admin))
        }
        Some(t) => match user.role_in(t) {
            Some(role) => Some((t.clone(), role)),
            None => {
                return Err(refuse(AdminError::new(
                    StatusCode::FORBIDDEN,
                    "no_role",
                    format!("you have no role in tenant {t:?}"),
                )));
            }
        },
        None if user.system_admin => None,
        None => match user.roles.as_slice() {
            [(t, role)] => Some((t.clone(), *role)),
            [] => {
                return Err(refuse(AdminError::new(
                    StatusCode::FORBIDDEN,
                    "no_role",
                    "you have no role in any tenant; ask an administrator",
                )));
            }
            several => {
                let names: Vec<&str> = several.iter().map(|(t, _)| t.as_str()).collect();
                return Err(refuse(AdminError::bad_request(
                    "tenant_required",
                    format!("choose a tenant: one of {}", names.join(", ")),
                )));
            }
        },
    };
    let tenant = acting.as_ref().map(|(t, _)| t.as_str());
    let ip_text = ip.map(|ip| ip.to_string());
    let (token, session) = match store::open_session(store, &user, tenant, ip_text.as_deref()).await
    {
        Ok(opened) => opened,
        // Disabled between the check and now.
        Err(StoreError::Conflict(_)) => return Err(refuse(wrong_credentials())),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user_id = %user.id, tenant = tenant.unwrap_or(""), "admin user logged in");
    let note = AuditNote {
        actor: Some(login_actor(&form.username)),
        tenant: tenant.map(str::to_owned),
        action: Some("session.login"),
        target: Some(format!("user:{}", user.id)),
        count: None,
    };
    Ok(SignedIn {
        token,
        session,
        acting,
        note,
    })
}
