//! The web admin UI: server-rendered pages (askama templates under `templates/`: `layouts/`,
//! `pages/`, `partials/`) at `/ui`, on top of the admin users, sessions and CSRF of the admin
//! API (`admin::session`, `admin::login`), in Japanese (the default) and English (`i18n`), dates
//! in the configured zone (`zone`). Everything a page loads is served here (`assets`); the
//! Content-Security-Policy of `hardening` (`default-src 'self'`, no inline script or style)
//! holds for every page.
//!
//! - `chrome`: what every page shows around its content (language, the signed-in user, the
//!   tenant, navigation) and the extractors that find it (`Visit`, `Member`).
//! - `signin`: sign in, sign out, choosing the tenant.
//! - `dashboard`: the tenant at a glance (`storage::dashboard` counts).
//! - `history`: imports and exports, paged; `imports`: one import, its findings (each code
//!   explained by `finding_help`), approve or discard; `upload`: the upload form (its script
//!   calls the admin API); `exports`: start, watch, download exports; `roster`: schools, classes
//!   and users, searched and paged; `record`: one user, class or org with what hangs off it;
//!   `clients`: API clients (administrators); `webhooks` and `webhook`: subscriptions, a test
//!   event, the delivery log (administrators); `users`: the tenant's admin users
//!   (administrators); `password`: one's own password (everyone); `tenants`: tenants (system
//!   admins); `audit`: the audit log, filtered, paged, downloaded as CSV (administrators);
//!   `mappings` and `mapping_preview`: field mapping profiles — list, edit, save, delete, a
//!   sample previewed (reading for everyone, previews for uploaders, writes for admins);
//!   `view`: jobs and reports as the templates show them.
//!
//! Every post (and the audit log download) is audited as the admin API's requests are
//! (`http::audit`): the session's user and tenant, an action named as the API's.
//!
//! A request with `HX-Request` (htmx) gets the page's fragment instead of the whole page;
//! every answer says `Vary: HX-Request` so no cache mixes them up.

pub mod assets;
mod audit;
mod changes;
mod chrome;
mod clients;
mod dashboard;
mod exports;
mod finding_help;
mod history;
mod history_rows;
pub mod i18n;
mod imports;
mod mapping_preview;
mod mappings;
mod password;
mod record;
mod roster;
mod signin;
mod tenants;
mod upload;
mod users;
mod view;
mod webhook;
mod webhooks;
pub mod zone;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};

pub use chrome::{Chrome, Member, Visit};

use super::AppState;

/// Where the UI lives.
pub use crate::web::UI_BASE_PATH as BASE_PATH;

/// The UI's routes (absolute paths), and `/` sending a browser to the UI.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to(BASE_PATH) }))
        .route("/ui", get(dashboard::show))
        .route("/ui/login", get(signin::form).post(signin::submit))
        .route("/ui/logout", post(signin::logout))
        .route("/ui/tenant", post(signin::choose_tenant))
        .route("/ui/history", get(history::show))
        .route(
            "/ui/upload",
            get(upload::form).post(upload::submit).layer((
                // The upload is streamed to disk under `--upload-limit-mb`.
                axum::extract::DefaultBodyLimit::disable(),
                axum::middleware::from_fn(upload::csrf_from_query),
            )),
        )
        .route("/ui/exports", get(exports::show).post(exports::start))
        .route("/ui/imports/{id}", get(imports::show))
        .route("/ui/imports/{id}/{action}", post(imports::decide))
        .route("/ui/clients", get(clients::show).post(clients::create))
        .route("/ui/clients/{id}/{action}", post(clients::act))
        .route("/ui/webhooks", get(webhooks::show).post(webhooks::create))
        .route(
            "/ui/webhooks/{id}",
            get(webhook::show).post(webhook::update),
        )
        .route("/ui/webhooks/{id}/{action}", post(webhook::act))
        .route("/ui/mappings", get(mappings::show).post(mappings::save))
        .route(
            "/ui/mappings/preview",
            post(mapping_preview::submit).layer((
                // The sample is streamed to disk under the preview's own limit.
                axum::extract::DefaultBodyLimit::disable(),
                axum::middleware::from_fn(upload::csrf_from_query),
            )),
        )
        .route("/ui/mappings/{name}", get(mappings::profile))
        .route("/ui/mappings/{name}/delete", post(mappings::remove))
        .route("/ui/users", get(users::show).post(users::create))
        .route("/ui/users/{id}/{action}", post(users::act))
        .route("/ui/password", get(password::show).post(password::change))
        .route("/ui/tenants", get(tenants::show).post(tenants::create))
        .route("/ui/audit", get(audit::show))
        .route("/ui/audit.csv", get(audit::download))
        .route("/ui/roster", get(roster::list))
        .route("/ui/roster/users/{id}", get(record::user))
        .route("/ui/roster/classes/{id}", get(record::class))
        .route("/ui/roster/orgs/{id}", get(record::org))
        .route("/ui/assets/{name}", get(assets::serve))
        // Finds the CSRF token of a form post (the session's rules, as the admin API's).
        .layer(axum::middleware::from_fn(super::admin::session::form_csrf))
        .layer(axum::middleware::from_fn(headers))
}

/// Pages are personal and change: never stored by a cache (assets set their own); a fragment
/// and a page of one URL differ by `HX-Request`; the referrer policy a sign-in needs.
async fn headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.append(header::VARY, HeaderValue::from_static("HX-Request"));
    // Under `no-referrer` browsers send `Origin: null` with a form post, which the sign-in's
    // same-origin check must refuse; `same-origin` names this server to itself and still
    // tells other sites nothing.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
