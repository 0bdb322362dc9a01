//! The admin API under `/api/v1`: imports and exports as jobs, their live progress, webhooks,
//! stored mapping profiles, the runs of scheduled pulls.
//! JSON in and out; a bearer token of a client holding RosterHub's own scopes
//! (`rosterhub.import`, `rosterhub.export`, `rosterhub.admin`), or an admin user's session cookie
//! (`session`: login, roles, CSRF); every row is the caller's tenant's.

pub mod audit;
pub mod auth;
mod clients;
pub(crate) mod common;
mod docs;
pub mod error;
mod events;
pub mod exports;
pub mod imports;
pub mod login;
pub(crate) mod mapping_preview;
pub mod mappings;
mod pulls;
pub mod session;
pub(crate) mod tenants;
mod undo;
pub mod upload;
pub(crate) mod users;
pub mod webhooks;

use axum::Router;

use super::AppState;

/// Where the admin API is mounted.
pub use crate::web::ADMIN_BASE_PATH as BASE_PATH;

/// The admin API's routes, relative to [`BASE_PATH`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(imports::routes())
        .merge(undo::routes())
        .merge(exports::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
        .merge(clients::routes())
        .merge(mappings::routes())
        .merge(pulls::routes())
        .merge(audit::routes())
        .merge(login::routes())
        .merge(users::routes())
        .merge(tenants::routes())
        .merge(docs::routes())
        // Finds the CSRF token of a cookie-authenticated urlencoded form post.
        .layer(axum::middleware::from_fn(session::form_csrf))
        // Every error answers `{"error", "message"}`, the extractors' plain-text ones too.
        .layer(axum::middleware::from_fn(error::json_errors))
}
