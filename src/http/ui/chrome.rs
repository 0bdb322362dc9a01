//! What every page shares: the request's language (`Visit`), the signed-in user and tenant
//! (`Member`), the frame around the content (`Chrome`), and how a page becomes a response.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::assets;
use super::i18n::{LANG_COOKIE, Lang};
use crate::audit::AuditNote;
use crate::http::AppState;
use crate::http::admin::auth::{Caller, SessionUser};
use crate::http::admin::error::AdminError;
use crate::http::admin::session::LoggedIn;
use crate::users::Role;
use crate::users::store::Session;

/// Who is asking, before any sign-in: the language and where they are.
#[derive(Debug, Clone)]
pub struct Visit {
    pub lang: Lang,
    /// Chosen with `?lang=` on this request: the answer keeps it in a cookie.
    lang_chosen: bool,
    /// The path and query without `lang`, for the language switch.
    here: String,
    /// An htmx request: answer with the fragment.
    pub hx: bool,
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Visit, Infallible> {
        Ok(Visit::of(parts))
    }
}

impl Visit {
    fn of(parts: &Parts) -> Visit {
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| crate::web::form::pairs_lossy(q).collect())
            .unwrap_or_default();
        let asked = query
            .iter()
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.as_str());
        let (lang, lang_chosen) = Lang::negotiate(asked, &parts.headers);
        let rest: Vec<String> = query
            .iter()
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        let here = if rest.is_empty() {
            parts.uri.path().to_owned()
        } else {
            format!("{}?{}", parts.uri.path(), rest.join("&"))
        };
        Visit {
            lang,
            lang_chosen,
            here,
            hx: parts.headers.contains_key("hx-request"),
        }
    }

    /// The current URL in the other language.
    fn switch_href(&self) -> String {
        let sep = if self.here.contains('?') { '&' } else { '?' };
        format!("{}{sep}lang={}", self.here, self.lang.other().code())
    }

    /// `key`'s text in the visitor's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The frame of a page for a visitor who is not signed in.
    pub fn chrome(&self, title: &'static str) -> Chrome {
        Chrome {
            lang: self.lang,
            title,
            switch_href: self.switch_href(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            htmx: assets::url("htmx-2.0.11.min.js"),
            nav: "",
            member: None,
        }
    }

    /// An HTML page as the answer, with the language cookie when `?lang=` chose it.
    pub fn html(&self, status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
        let body = match rendered {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "a UI template failed to render");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be shown",
                )
                    .into_response();
            }
        };
        let mut r = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            body,
        )
            .into_response();
        self.keep_lang(r.headers_mut());
        r
    }

    /// A redirect after a form (303: the browser follows with GET).
    pub fn see_other(&self, to: &str) -> Response {
        let mut r = (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                HeaderValue::from_str(to).expect("a path of ours"),
            )],
        )
            .into_response();
        if self.hx {
            // htmx follows a redirect inside its request; this makes the browser go there.
            r.headers_mut().insert(
                "hx-redirect",
                HeaderValue::from_str(to).expect("a path of ours"),
            );
        }
        self.keep_lang(r.headers_mut());
        r
    }

    fn keep_lang(&self, h: &mut HeaderMap) {
        if self.lang_chosen {
            let v = format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                self.lang.code()
            );
            h.append(
                header::SET_COOKIE,
                HeaderValue::from_str(&v).expect("ASCII"),
            );
        }
    }

    /// A refusal shown as a page: what went wrong and what to do.
    pub fn error_page(&self, e: &AdminError) -> Response {
        let key = match e.code {
            "read_only" => "error.read_only",
            "forbidden" | "no_role" => "error.forbidden",
            "csrf" => "error.csrf",
            "not_found" => "error.not_found",
            "conflict" => "error.conflict",
            "bad_request" | "bad_query" | "invalid_field" => "error.bad_request",
            _ if e.status.is_server_error() => "error.internal",
            _ => "error.bad_request",
        };
        let page = ErrorPage {
            c: self.chrome("error.title"),
            message: self.t(key),
        };
        self.html(e.status, askama::Template::render(&page))
    }
}

#[derive(askama::Template)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    c: Chrome,
    message: &'static str,
}

/// Percent-encodes a query string part (for links built from the request's own query).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signed-in user and the tenant they act on (`None`: a system admin who picked none).
#[derive(Debug, Clone)]
pub struct Member {
    pub visit: Visit,
    pub session: Session,
    pub tenant: Option<(String, Role)>,
}

/// A request the UI refuses before its handler: not signed in (go to the sign-in page), or
/// refused (a page saying why).
pub enum Refused {
    SignIn(Visit),
    Page(Visit, AdminError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::SignIn(v) => v.see_other(crate::web::UI_LOGIN_PATH),
            Refused::Page(v, e) => v.error_page(&e),
        }
    }
}

impl FromRequestParts<AppState> for Member {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Member, Refused> {
        let visit = Visit::of(parts);
        // The session's own checks: expiry, idle time, the CSRF token of a form post.
        let logged = match LoggedIn::from_request_parts(parts, state).await {
            Ok(l) => l,
            Err(e) if e.status == StatusCode::UNAUTHORIZED => return Err(Refused::SignIn(visit)),
            Err(e) => return Err(Refused::Page(visit, e)),
        };
        // Checked on every request: a revoked role takes effect at once.
        let tenant = logged
            .tenant(state, &HeaderMap::new())
            .await
            .map_err(|e| Refused::Page(visit.clone(), e))?;
        Ok(Member {
            visit,
            session: logged.session,
            tenant,
        })
    }
}

impl Member {
    /// The user's role in the tenant acted on.
    pub fn role(&self) -> Option<Role> {
        self.tenant.as_ref().map(|(_, r)| *r)
    }

    /// Whether the user may upload (uploaders and admins; viewers only read).
    pub fn can_upload(&self) -> bool {
        self.role().is_some_and(|r| !r.read_only())
    }

    /// Whether the user may approve or discard a held import (admins).
    pub fn can_approve(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    /// The tenant when the user administers it (what the management pages need); otherwise
    /// the answer: a page saying why not (`what` needs the admin role), or the dashboard to
    /// choose a tenant first.
    pub fn admin_tenant(&self, what: &str) -> Result<String, Box<Response>> {
        match &self.tenant {
            Some((t, Role::Admin)) => Ok(t.clone()),
            Some(_) => Err(Box::new(self.visit.error_page(&AdminError::forbidden(
                format!("{what} needs the admin role"),
            )))),
            None => Err(Box::new(self.visit.see_other(super::BASE_PATH))),
        }
    }

    /// The admin API's caller for this session in its tenant, so a page applies the API's own
    /// rules (`None` before a tenant is chosen).
    pub fn caller(&self) -> Option<Caller> {
        let (tenant, role) = self.tenant.clone()?;
        let user = &self.session.user;
        Some(Caller {
            tenant,
            client_id: format!("user:{}", user.id),
            scopes: role.scopes(),
            // Only for absolute links in API answers; pages link by path.
            base: String::new(),
            user: Some(SessionUser {
                id: user.id.clone(),
                username: user.username.clone(),
                role,
                system_admin: user.system_admin,
            }),
        })
    }

    /// The frame of a page for this user; `nav` names the navigation entry it belongs to.
    pub fn chrome(&self, title: &'static str, nav: &'static str) -> Chrome {
        let user = &self.session.user;
        let c = self.visit.chrome(title);
        Chrome {
            nav,
            member: Some(MemberView {
                name: user
                    .display_name
                    .clone()
                    .unwrap_or_else(|| user.username.to_string()),
                tenant: self.tenant.as_ref().map(|(t, _)| t.clone()),
                role_key: match self.role() {
                    Some(Role::Admin) => "role.admin",
                    Some(Role::Uploader) => "role.uploader",
                    Some(Role::Viewer) => "role.viewer",
                    None => "role.none",
                },
                csrf: self.session.csrf_token.clone(),
                can_upload: self.can_upload(),
                can_approve: self.can_approve(),
                tenants: if user.system_admin {
                    Vec::new()
                } else {
                    user.roles.iter().map(|(t, _)| t.clone()).collect()
                },
                system_admin: user.system_admin,
            }),
            ..c
        }
    }
}

/// `response` with the audit note of a write done from a page: its action, named as the admin
/// API's (`webhooks.create`), and what it acted on. The actor and tenant are the session's
/// (noted when it was checked).
pub fn noted(mut response: Response, action: &'static str, target: Option<String>) -> Response {
    response.extensions_mut().insert(AuditNote {
        action: Some(action),
        target,
        ..AuditNote::default()
    });
    response
}

/// `response` with the target of its audit entry; the action stays the one named by the route
/// (`/ui/users/{id}/disable` → `users.disable`).
pub fn targeted(mut response: Response, target: String) -> Response {
    response.extensions_mut().insert(AuditNote {
        target: Some(target),
        ..AuditNote::default()
    });
    response
}

/// The frame around a page's content (`templates/layouts/base.html`).
pub struct Chrome {
    pub lang: Lang,
    /// The catalogue key of the page's title.
    pub title: &'static str,
    pub switch_href: String,
    pub css: String,
    pub js: String,
    pub htmx: String,
    pub nav: &'static str,
    pub member: Option<MemberView>,
}

/// The signed-in user as the frame shows them.
pub struct MemberView {
    pub name: String,
    pub tenant: Option<String>,
    pub role_key: &'static str,
    pub csrf: String,
    pub can_upload: bool,
    pub can_approve: bool,
    /// The tenants a user of several may switch between (a system admin types one).
    pub tenants: Vec<String>,
    pub system_admin: bool,
}

impl Chrome {
    /// `key`'s text in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The session's CSRF token for forms (empty when not signed in).
    pub fn csrf(&self) -> &str {
        self.member.as_ref().map_or("", |m| m.csrf.as_str())
    }

    /// `aria-current` for the navigation entry of this page.
    pub fn current(&self, nav: &str) -> &'static str {
        if self.nav == nav { "page" } else { "false" }
    }
}
