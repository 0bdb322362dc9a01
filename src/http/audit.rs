//! The audit middleware: one entry per request to the OneRoster API, the admin API (not its
//! OpenAPI document and docs page) and the token endpoint, and per write of the web UI (its
//! posts, sign-in and sign-out, and its audit log download; not its page views), recorded
//! after the response is made.
//!
//! [`record`] is a router `layer` (so it runs once the route is matched, and for unknown
//! paths too) outside the IP/rate-limit guard (so its refusals — a token used from outside its
//! allow-list, a 429 — are recorded too) and inside the request-id layer.
//!
//! - **Tenant and actor**: from the bearer token, verified here again (one HMAC: cheap), as
//!   `client:<client_id>`; an [`AuditNote`] (left in the request's [`AuditSlot`] by an
//!   extractor, or in the response's extensions by a handler) overrides them. A request with
//!   no valid token and no note naming a tenant is not recorded: it reached no tenant's data
//!   (it was refused with 401), and the audit log is per tenant. Such refusals are counted in
//!   the request metrics and the trace log.
//! - **Action**: the note's, else derived from the matched route (see [`crate::audit`]; a web
//!   UI route as the admin API's, its `{action}` segment taken from the path:
//!   `/ui/clients/{id}/{action}` → `clients.revoke`); for a
//!   request that matched no route (an unknown path) from the path, its second admin segment
//!   taken as the `{id}` (every admin route is `/resource[/{id}[/action]]`).
//! - **Result count** (OneRoster reads): the note's, else for a `200` collection the records on
//!   the page actually returned — `min(limit, X-Total-Count − offset)` with the handler's own
//!   `limit`/`offset` rules — for a `200` single object 1, and 0 for a `304` or an error (no
//!   records went out). Admin operations have a count only when their handler notes one.
//! - **Target**: the note's, else the id of a `201`/`202`'s `Location`, else the route's first
//!   path parameter (`/imports/{id}/approve` → the import id).
//! - **Source IP**: the address the guard decided on ([`ClientIp`]: the peer, or the
//!   `X-Forwarded-For` address from a trusted proxy), else the TCP peer (`ConnectInfo`).
//! - **Request id**: the `x-request-id` header as set (or kept) by the request-id layer, which
//!   runs outside this one.
//! - **The query string**, as sent, except that values compared with personal fields in a
//!   `filter` are replaced by `***` ([`crate::audit::redact`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;

use super::AppState;
use super::credentials::{ClientIp, VerifiedPrincipal, bearer_token};
use crate::audit::redact::redact_query;
use crate::audit::{AuditNote, AuditSlot, Entry, truncate};
use crate::domain::datetime::now_ms;
use crate::http::oneroster::params::{self, DEFAULT_LIMIT};
use crate::web::form::{form_decode, percent_decode};
use crate::web::{
    ADMIN_BASE_PATH, ONEROSTER_BASE_PATH, TOKEN_PATH, UI_BASE_PATH, UI_LOGIN_PATH, UI_LOGOUT_PATH,
};

/// The web UI's download of the audit log (under [`UI_BASE_PATH`]).
const UI_AUDIT_CSV: &str = "/audit.csv";

/// Whether a `method` request to `path` is audited.
pub fn audited(method: &Method, path: &str) -> bool {
    if path == TOKEN_PATH
        || path.starts_with(ONEROSTER_BASE_PATH)
        || path == UI_LOGIN_PATH
        || path == UI_LOGOUT_PATH
    {
        return true;
    }
    if let Some(rest) = path.strip_prefix(UI_BASE_PATH)
        && rest.starts_with('/')
    {
        // The web UI's writes, as the admin API's, and the audit log it downloads; its pages
        // are not (they read what the API's reads would, and every view would be an entry).
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        return !safe || rest == UI_AUDIT_CSV;
    }
    match path.strip_prefix(ADMIN_BASE_PATH) {
        Some(rest) => rest.starts_with('/') && rest != "/openapi.json" && !is_docs(rest),
        None => false,
    }
}

fn is_docs(rest: &str) -> bool {
    rest == "/docs" || rest.starts_with("/docs/")
}

/// The middleware (a router `layer`, outside the guard).
pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if !audited(req.method(), &path) {
        return next.run(req).await;
    }
    let at = now_ms();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let method = req.method().clone();
    let raw_query = req.uri().query().map(str::to_owned);
    let headers = req.headers();
    // The guard verified the token already (its principal comes back with the response);
    // only requests it did not look at are verified here.
    let token = bearer_token(headers).map(str::to_owned);
    let request_id = header_text(headers, "x-request-id", 200);
    let user_agent = header_text(headers, header::USER_AGENT.as_str(), 256);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());

    let response = next.run(req).await;

    let principal = response
        .extensions()
        .get::<VerifiedPrincipal>()
        .map(|v| v.0.clone())
        .or_else(|| token.and_then(|t| state.auth.verify(&t).ok()));
    let mut note = slot.take();
    if let Some(n) = response.extensions().get::<AuditNote>() {
        note = note.overridden_by(n.clone());
    }
    let Some(tenant) = note
        .tenant
        .take()
        .or_else(|| principal.as_ref().map(|p| p.tenant.clone()))
    else {
        return response;
    };
    let actor = note
        .actor
        .take()
        .or_else(|| {
            principal
                .as_ref()
                .map(|p| format!("client:{}", p.client_id))
        })
        .unwrap_or_else(|| "anonymous".to_owned());
    let source_ip = response
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0)
        .or(peer)
        .map(|ip| ip.to_canonical().to_string());
    let route = route.unwrap_or_else(|| route_of_path(&path));
    let route = ui_route(&route, &path);
    let route = route.as_str();
    let status = response.status();
    let oneroster = route.starts_with(ONEROSTER_BASE_PATH);
    let entry = Entry {
        id: uuid::Uuid::now_v7().to_string(),
        tenant,
        at,
        actor: truncate(&actor, 300),
        action: note
            .action
            .map(str::to_owned)
            .unwrap_or_else(|| action_for(&method, route)),
        method: method.as_str().to_owned(),
        result_count: note.count.or_else(|| {
            oneroster.then(|| read_count(&state, status, response.headers(), raw_query.as_deref()))
        }),
        target: note
            .target
            .take()
            .or_else(|| created_id(status, response.headers()))
            .or_else(|| first_param(route, &path))
            .map(|t| truncate(&t, 300)),
        query: raw_query.map(|q| truncate(&redact_query(&q), 4096)),
        path: truncate(&path, 2048),
        status: status.as_u16(),
        source_ip,
        request_id,
        user_agent,
    };
    // Reads may be folded into aggregates when the writer is behind; everything else waits
    // for room in its queue rather than be lost.
    if entry.action == crate::audit::READ_ACTION {
        state.audit.record_read(entry, route);
    } else {
        state.audit.record(entry).await;
    }
    response
}

/// The route template of a path that matched no route: the second segment under the admin
/// API is its `{id}`.
fn route_of_path(path: &str) -> String {
    match path.strip_prefix(ADMIN_BASE_PATH) {
        Some(rest) => {
            let mut segments: Vec<&str> = rest.split('/').collect();
            // ["", resource, id, action…]
            if segments.len() > 2 {
                segments[2] = "{id}";
            }
            format!("{}{}", ADMIN_BASE_PATH, segments.join("/"))
        }
        None => path.to_owned(),
    }
}

/// A web UI route with its `{action}` segment (`/ui/clients/{id}/{action}`) filled in from the
/// path, so the action names what was done (`clients.revoke`); other routes as they are.
fn ui_route(route: &str, path: &str) -> String {
    if !route.starts_with(UI_BASE_PATH) || !route.contains("{action}") {
        return route.to_owned();
    }
    route
        .split('/')
        .zip(path.split('/'))
        .map(|(r, p)| if r == "{action}" { p } else { r })
        .collect::<Vec<_>>()
        .join("/")
}

fn header_text(headers: &HeaderMap, name: &str, max: usize) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| truncate(v, max))
}

/// The stable action name of a route (see [`crate::audit`]).
pub fn action_for(method: &Method, route: &str) -> String {
    if route.starts_with(ONEROSTER_BASE_PATH) {
        // The rostering API is read-only (GET and HEAD).
        return crate::audit::READ_ACTION.to_owned();
    }
    if route == TOKEN_PATH {
        return "token.request".to_owned();
    }
    // The web UI's writes are named as the admin API's (`/ui/webhooks` → `webhooks.create`).
    let ui = route
        .strip_prefix(UI_BASE_PATH)
        .filter(|rest| rest.starts_with('/'));
    let segments: Vec<&str> = ui
        .or_else(|| route.strip_prefix(ADMIN_BASE_PATH))
        .unwrap_or(route)
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let Some(resource) = segments.first() else {
        return "admin.unknown".to_owned();
    };
    let is_param = |s: &str| s.starts_with('{');
    let verb = match (*resource, method) {
        ("session", &Method::POST) => "login".to_owned(),
        ("session", &Method::DELETE) => "logout".to_owned(),
        ("session", _) => "read".to_owned(),
        _ => match segments.last() {
            // An action or a sub-resource: its own word (`findings.csv` → `findings`).
            Some(last) if segments.len() > 1 && !is_param(last) => {
                last.split('.').next().unwrap_or(last).replace('-', "_")
            }
            // An item.
            _ if segments.len() > 1 => match *method {
                Method::GET | Method::HEAD => "read".to_owned(),
                Method::DELETE => "delete".to_owned(),
                _ => "update".to_owned(),
            },
            // A collection.
            _ => match *method {
                Method::GET | Method::HEAD => "list".to_owned(),
                Method::POST => "create".to_owned(),
                Method::DELETE => "delete".to_owned(),
                _ => "update".to_owned(),
            },
        },
    };
    format!("{}.{verb}", resource.replace('-', "_"))
}

/// Records a OneRoster read returned (see the module docs).
fn read_count(
    state: &AppState,
    status: StatusCode,
    headers: &HeaderMap,
    query: Option<&str>,
) -> u64 {
    if status != StatusCode::OK {
        return 0;
    }
    let Some(total) = headers
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return 1;
    };
    match params::parse(query, state.max_limit) {
        Ok(p) => {
            let limit = p.limit.unwrap_or(DEFAULT_LIMIT).min(state.max_limit);
            total.saturating_sub(p.offset.unwrap_or(0)).min(limit)
        }
        Err(_) => total,
    }
}

/// The last path segment of a `201`/`202`'s `Location`: the id of what was created or queued.
fn created_id(status: StatusCode, headers: &HeaderMap) -> Option<String> {
    if status != StatusCode::CREATED && status != StatusCode::ACCEPTED {
        return None;
    }
    let location = headers.get(header::LOCATION)?.to_str().ok()?;
    let path = location.split(['?', '#']).next()?;
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    (!last.is_empty()).then(|| percent_decode(last).unwrap_or_else(|_| last.to_owned()))
}

/// The value of the route's first `{param}` in `path`.
fn first_param(route: &str, path: &str) -> Option<String> {
    route
        .split('/')
        .zip(path.split('/'))
        .find(|(r, _)| r.starts_with('{') && !r.starts_with("{*"))
        .map(|(_, p)| percent_decode(p).unwrap_or_else(|_| p.to_owned()))
}

/// The token endpoint's audit note: `token.issue` or `token.refused`, the client as the actor
/// (never the secret). A request naming no known client has no tenant and is not recorded.
pub async fn note_token(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    mut response: Response,
) -> Response {
    let Some(client_id) = token_client_id(headers, body) else {
        return response;
    };
    let tenant = match state.store.find_client(&client_id).await {
        Ok(Some(client)) => client.tenant,
        _ => return response,
    };
    let issued = response.status() == StatusCode::OK;
    response.extensions_mut().insert(AuditNote {
        actor: Some(format!("client:{client_id}")),
        tenant: Some(tenant),
        action: Some(if issued {
            "token.issue"
        } else {
            "token.refused"
        }),
        ..AuditNote::default()
    });
    response
}

/// The client id of a token request: HTTP Basic, else the body's `client_id`.
fn token_client_id(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, enc)| {
            base64::engine::general_purpose::STANDARD
                .decode(enc.trim())
                .ok()
        });
    let id = match basic {
        Some(decoded) => {
            let colon = decoded.iter().position(|&b| b == b':')?;
            form_decode(&decoded[..colon]).ok()?
        }
        None => body
            .split(|&b| b == b'&')
            .find_map(|pair| pair.strip_prefix(b"client_id="))
            .and_then(|v| form_decode(v).ok())?,
    };
    (!id.is_empty() && id.len() <= 200).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_have_stable_action_names() {
        let cases = [
            (
                "GET",
                "/ims/oneroster/rostering/v1p2/users",
                "oneroster.read",
            ),
            (
                "GET",
                "/ims/oneroster/rostering/v1p2/schools/{id}/classes",
                "oneroster.read",
            ),
            ("POST", "/oauth/token", "token.request"),
            ("POST", "/api/v1/imports", "imports.create"),
            ("GET", "/api/v1/imports", "imports.list"),
            ("GET", "/api/v1/imports/{id}", "imports.read"),
            (
                "GET",
                "/api/v1/imports/{id}/findings.csv",
                "imports.findings",
            ),
            ("POST", "/api/v1/imports/{id}/approve", "imports.approve"),
            ("POST", "/api/v1/imports/{id}/discard", "imports.discard"),
            ("POST", "/api/v1/imports/{id}/cancel", "imports.cancel"),
            ("POST", "/api/v1/imports/{id}/undo", "imports.undo"),
            (
                "GET",
                "/api/v1/records/{entity}/{sourcedId}/history",
                "records.history",
            ),
            ("POST", "/api/v1/exports", "exports.create"),
            ("GET", "/api/v1/exports/{id}/download", "exports.download"),
            ("GET", "/api/v1/jobs/{id}/events", "jobs.events"),
            ("POST", "/api/v1/webhooks", "webhooks.create"),
            ("PATCH", "/api/v1/webhooks/{id}", "webhooks.update"),
            ("DELETE", "/api/v1/webhooks/{id}", "webhooks.delete"),
            (
                "GET",
                "/api/v1/webhooks/{id}/deliveries",
                "webhooks.deliveries",
            ),
            ("POST", "/api/v1/clients", "clients.create"),
            ("PATCH", "/api/v1/clients/{id}", "clients.update"),
            (
                "POST",
                "/api/v1/clients/{id}/rotate-secret",
                "clients.rotate_secret",
            ),
            ("POST", "/api/v1/clients/{id}/revoke", "clients.revoke"),
            ("POST", "/api/v1/users", "users.create"),
            ("DELETE", "/api/v1/users/{id}", "users.delete"),
            ("POST", "/api/v1/session", "session.login"),
            ("DELETE", "/api/v1/session", "session.logout"),
            ("GET", "/api/v1/session", "session.read"),
            ("POST", "/api/v1/tenants", "tenants.create"),
            ("GET", "/api/v1/audit", "audit.list"),
        ];
        for (method, route, want) in cases {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(action_for(&m, route), want, "{method} {route}");
        }
    }

    #[test]
    fn only_the_apis_are_audited() {
        for (path, want) in [
            ("/ims/oneroster/rostering/v1p2/users", true),
            ("/api/v1/imports", true),
            ("/api/v1/audit", true),
            ("/oauth/token", true),
            ("/api/v1/openapi.json", false),
            ("/api/v1/docs", false),
            ("/api/v1/docs/swagger-ui.css", false),
            ("/api/v1docs", false),
            ("/health/live", false),
            ("/metrics", false),
        ] {
            assert_eq!(audited(&Method::GET, path), want, "{path}");
        }
        // The web UI: its writes and its audit log download, not its pages.
        for (method, path, want) in [
            (Method::GET, "/ui/login", true),
            (Method::POST, "/ui/logout", true),
            (Method::GET, "/ui/webhooks", false),
            (Method::POST, "/ui/webhooks", true),
            (Method::POST, "/ui/clients/c1/revoke", true),
            (Method::GET, "/ui/audit", false),
            (Method::GET, "/ui/audit.csv", true),
            (Method::POST, "/uix", false),
        ] {
            assert_eq!(audited(&method, path), want, "{method} {path}");
        }
        assert_eq!(
            ui_route("/ui/clients/{id}/{action}", "/ui/clients/c1/revoke"),
            "/ui/clients/{id}/revoke"
        );
        assert_eq!(
            action_for(&Method::POST, "/ui/clients/{id}/revoke"),
            "clients.revoke"
        );
        assert_eq!(action_for(&Method::POST, "/ui/webhooks"), "webhooks.create");
    }

    #[test]
    fn token_requests_name_their_client_never_the_secret() {
        let mut h = HeaderMap::new();
        assert_eq!(
            token_client_id(
                &h,
                b"grant_type=client_credentials&client_id=a%2Bb+c&client_secret=s"
            ),
            Some("a+b c".into())
        );
        assert_eq!(token_client_id(&h, b"grant_type=client_credentials"), None);
        let basic = base64::engine::general_purpose::STANDARD.encode("my%3Aid:sec:ret");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {basic}").parse().unwrap(),
        );
        assert_eq!(
            token_client_id(&h, b"client_id=other"),
            Some("my:id".into())
        );
    }

    #[test]
    fn paths_that_reached_no_route_read_as_routes() {
        for (path, want) in [
            ("/api/v1/imports", "/api/v1/imports"),
            ("/api/v1/imports/x1", "/api/v1/imports/{id}"),
            (
                "/api/v1/clients/c1/rotate-secret",
                "/api/v1/clients/{id}/rotate-secret",
            ),
            (
                "/ims/oneroster/rostering/v1p2/users/u1",
                "/ims/oneroster/rostering/v1p2/users/u1",
            ),
        ] {
            assert_eq!(route_of_path(path), want, "{path}");
        }
        let m = Method::POST;
        assert_eq!(
            action_for(&m, &route_of_path("/api/v1/imports/x1/approve")),
            "imports.approve"
        );
    }

    #[test]
    fn targets_come_from_locations_and_path_parameters() {
        let mut h = HeaderMap::new();
        h.insert(header::LOCATION, "/api/v1/imports/0197-ab".parse().unwrap());
        assert_eq!(
            created_id(StatusCode::ACCEPTED, &h).as_deref(),
            Some("0197-ab")
        );
        assert_eq!(created_id(StatusCode::OK, &h), None);
        assert_eq!(
            first_param("/api/v1/imports/{id}/approve", "/api/v1/imports/x1/approve").as_deref(),
            Some("x1")
        );
        assert_eq!(
            first_param(
                "/ims/oneroster/rostering/v1p2/users/{id}",
                "/ims/oneroster/rostering/v1p2/users/u%201"
            )
            .as_deref(),
            Some("u 1")
        );
        assert_eq!(first_param("/api/v1/imports", "/api/v1/imports"), None);
    }
}
