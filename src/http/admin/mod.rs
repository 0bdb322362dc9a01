//! The admin API under `/api/v1`: imports and exports as jobs, their live progress, webhooks.
//! JSON in and out; a bearer token of a client holding RosterHub's own scopes
//! (`rosterhub.import`, `rosterhub.export`, `rosterhub.admin`); every row is the caller's tenant's.

pub mod auth;
mod common;
mod docs;
pub mod error;
mod events;
mod exports;
mod imports;
mod upload;
pub mod webhooks;

use axum::Router;

use super::AppState;

/// Where the admin API is mounted.
pub const BASE_PATH: &str = "/api/v1";

/// The admin API's routes, relative to [`BASE_PATH`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(imports::routes())
        .merge(exports::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
        .merge(docs::routes())
}
