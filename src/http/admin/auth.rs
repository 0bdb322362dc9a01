//! Who calls the admin API: a bearer token of an active client, bound to one tenant.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::AdminError;
use crate::auth::Scopes;
use crate::http::AppState;

/// The verified caller of an admin operation.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: String,
    pub client_id: String,
    pub scopes: Scopes,
    /// Scheme + host (+ prefix) for absolute links: `--public-url`, else the Host header.
    pub base: String,
}

impl Caller {
    /// 403 unless the token's scopes open an operation needing `need`.
    pub fn require(&self, need: Scopes) -> Result<(), AdminError> {
        if self.scopes.allows_admin(need) {
            Ok(())
        } else {
            Err(AdminError::forbidden(format!(
                "the token's scopes do not cover this operation (it needs {need} or {})",
                Scopes::ADMIN_NAME
            )))
        }
    }
}

/// The base URL of links in responses and webhook payloads.
pub fn base_url(state: &AppState, parts: &Parts) -> String {
    match &state.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, AdminError> {
        let principal = crate::http::oneroster::handler::bearer(&parts.headers, state)
            .map_err(|e| AdminError::unauthorised(e.to_string()))?;
        let client = state
            .store
            .request_state(&principal.tenant, &principal.client_id)
            .await?;
        if !client.client_active {
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
            base: base_url(state, parts),
            tenant: principal.tenant,
            client_id: principal.client_id,
            scopes: principal.scopes,
        })
    }
}
