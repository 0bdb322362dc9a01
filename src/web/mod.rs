//! What the HTTP server shares with the modules behind it: where each API is mounted, and the
//! one percent / form decoder ([`form`]).
//!
//! A leaf: it imports nothing of the crate. `jobs` (links in webhook payloads), `audit`
//! (redacting query strings), `auth` (token request forms) and `http` all use it, so none of
//! them needs to import `http` for a path or a decoder — that would make import cycles.

pub mod form;

/// Where the OneRoster rostering API is mounted.
pub const ONEROSTER_BASE_PATH: &str = "/ims/oneroster/rostering/v1p2";
/// Where the admin API is mounted.
pub const ADMIN_BASE_PATH: &str = "/api/v1";
/// Where the token endpoint is routed.
pub const TOKEN_PATH: &str = "/oauth/token";
/// Where the web admin UI is mounted.
pub const UI_BASE_PATH: &str = "/ui";
/// The UI's sign-in and sign-out forms (audited like the admin API's `/session`).
pub const UI_LOGIN_PATH: &str = "/ui/login";
pub const UI_LOGOUT_PATH: &str = "/ui/logout";
