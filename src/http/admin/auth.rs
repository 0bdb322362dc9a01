//! Who calls the admin API: a bearer token of an active client, bound to one tenant, or an admin
//! user's session cookie (see `session`): the user's role in the tenant it acts on gives the
//! scopes (`crate::users` has the table), and a viewer may only read — every request but
//! GET/HEAD/OPTIONS is refused with 403 `read_only` before its handler runs. A request with an
//! `Authorization` header is a bearer request, whatever cookies it has.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use super::error::AdminError;
use super::session::{LoggedIn, is_safe};
use crate::audit::{AuditNote, annotate};
use crate::auth::Scopes;
use crate::http::AppState;
use crate::http::credentials::principal;
use crate::http::metrics::security::{self, AuthFailure};
use crate::users::Role;

/// The verified caller of an admin operation.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: String,
    /// The token's client, or `user:<id>` for an admin user's session.
    pub client_id: String,
    pub scopes: Scopes,
    /// Scheme + host (+ prefix) for absolute links: `--public-url`, else the Host header.
    pub base: String,
    /// The logged-in admin user when the request came with the session cookie.
    pub user: Option<SessionUser>,
}

/// The admin user behind a session-authenticated request.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub id: String,
    pub username: String,
    /// The role in the tenant acted on (a system admin: `admin`).
    pub role: Role,
    pub system_admin: bool,
}

impl Caller {
    /// 403 unless the token's scopes open an operation needing `need`.
    pub fn require(&self, need: Scopes) -> Result<(), AdminError> {
        if self.scopes.allows_admin(need) {
            Ok(())
        } else {
            Err(AdminError::forbidden(needs_message(need)))
        }
    }

    /// 403 unless the caller may change things (a viewer may not). The extractor refuses a
    /// viewer's non-GET requests already; handlers may say it again where it matters.
    pub fn require_write(&self) -> Result<(), AdminError> {
        if self.read_only() {
            Err(read_only())
        } else {
            Ok(())
        }
    }

    /// Whether the caller may only read.
    pub fn read_only(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.role.read_only())
    }

    /// The audit log's actor: `client:<client_id>` or `user:<id>`.
    pub fn actor(&self) -> String {
        match &self.user {
            Some(u) => format!("user:{}", u.id),
            None => format!("client:{}", self.client_id),
        }
    }

    /// Builds the caller of a session-authenticated request.
    async fn from_session(parts: &mut Parts, state: &AppState) -> Result<Caller, AdminError> {
        let logged = LoggedIn::from_request_parts(parts, state).await?;
        let Some((tenant, role)) = logged.tenant(state, &parts.headers).await? else {
            return Err(AdminError::bad_request(
                "tenant_required",
                "choose a tenant: log in with one, or name it in the X-RosterHub-Tenant header",
            ));
        };
        let user = &logged.session.user;
        annotate(
            &parts.extensions,
            AuditNote {
                tenant: Some(tenant.clone()),
                ..AuditNote::default()
            },
        );
        if role.read_only() && !is_safe(&parts.method) {
            return Err(read_only());
        }
        Ok(Caller {
            base: state.base_url(&parts.headers),
            tenant,
            client_id: logged.actor(),
            scopes: role.scopes(),
            user: Some(SessionUser {
                id: user.id.clone(),
                username: user.username.clone(),
                role,
                system_admin: user.system_admin,
            }),
        })
    }
}

fn read_only() -> AdminError {
    AdminError::new(
        StatusCode::FORBIDDEN,
        "read_only",
        "a viewer may only read; this operation changes data",
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, AdminError> {
        if !parts.headers.contains_key(header::AUTHORIZATION)
            && LoggedIn::has_cookie(&parts.headers)
        {
            return Caller::from_session(parts, state).await;
        }
        let principal = principal(&parts.extensions, &parts.headers, &state.auth)
            .map_err(AdminError::unauthorised)?;
        let client = state
            .store
            .request_state(&principal.tenant, &principal.client_id)
            .await?;
        if !client.client_active {
            security::auth_failure(AuthFailure::Revoked);
            return Err(AdminError::unauthorised(
                "the token's client has been revoked",
            ));
        }
        if client.org_scope.is_some() {
            // Imports, exports and webhooks act on the whole tenant.
            return Err(AdminError::forbidden(
                "an org-scoped client may read the OneRoster API only",
            ));
        }
        Ok(Caller {
            base: state.base_url(&parts.headers),
            tenant: principal.tenant,
            client_id: principal.client_id,
            // What the client holds now, not what the token once listed: a scope taken away
            // applies on the next request.
            scopes: principal.scopes.intersection(client.scopes),
            user: None,
        })
    }
}

/// The 403 message naming the scopes that would open the operation: `need`, or
/// `rosterhub.admin` which opens every operation (named once when `need` is that scope).
fn needs_message(need: Scopes) -> String {
    let what = if need == Scopes::ADMIN {
        Scopes::ADMIN_NAME.to_owned()
    } else {
        format!("{need} or {}", Scopes::ADMIN_NAME)
    };
    format!("the token's scopes do not cover this operation (it needs {what})")
}
