//! The guard in front of the OneRoster API, the admin API and the token endpoint: per API
//! client, the IP allow-list and the rate limit.
//!
//! - The client: on the APIs, the `sub` of a valid bearer token (verified here, cheaply, with
//!   the signing keys kept fresh); on `/oauth/token`, the client id of the credentials (Basic or
//!   body). A request with no valid token, or naming no known active client, passes through
//!   untouched: the handlers answer it (401) as before.
//! - The address: the TCP peer, or, only when the peer is in `--trusted-proxies`, the
//!   right-most untrusted address of `X-Forwarded-For` ([`ip`]). It goes into the request's
//!   and the response's extensions as [`ClientIp`] (the audit log records it); the client's
//!   settings go into the request's as [`GuardedClient`].
//! - Allow-list: a client with `allowed_ips` is refused from any other address (and when the
//!   address is unknown) with 403 in the area's error format: `imsx_StatusInfo` on OneRoster
//!   routes, `{"error": "ip_not_allowed"}` on admin routes. Checked before the rate limit, so
//!   refused addresses cannot drain the bucket. The token endpoint checks it itself, after the
//!   secret (`{"error": "invalid_client"}`, 403), so that the refusal tells nothing to a caller
//!   without the secret.
//! - Rate limit: one token bucket per client ([`bucket`]: capacity = its limit per minute or
//!   `--rate-limit-per-min`, refilled continuously), shared by its token requests and API calls,
//!   in memory per replica (each replica limits separately). Every response to a guarded
//!   request carries `X-RateLimit-Limit` (the capacity), `X-RateLimit-Remaining` (whole
//!   requests left) and `X-RateLimit-Reset` (seconds until the bucket is full again); an empty
//!   bucket answers 429 with `Retry-After` (seconds until the next token) in the area's format.
//!
//! Client settings are cached per replica for [`SETTINGS_TTL`]: a change of allow-list or limit
//! applies at once on the replica that made it through `/api/v1/clients`
//! ([`Guard::forget`]) and within that time on the others. Revocation does not depend on this
//! cache: the handlers check the client on every request.

pub mod bucket;
pub mod ip;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use self::bucket::{Buckets, Decision};
use super::AppState;
use super::admin::error::AdminError;
use super::credentials::bearer_token;
use super::metrics::security;
// What the guard leaves in requests and responses; defined apart so that the handlers need
// not import the guard.
pub use super::credentials::{ClientIp, VerifiedPrincipal};
use super::error::ApiError;
use crate::auth::endpoint::{refusal, requested_client_id};
use crate::domain::restrict::ip_allowed;
use crate::storage::clients::ClientRecord;
use crate::storage::{Store, StoreError};
use crate::web::{ADMIN_BASE_PATH, ONEROSTER_BASE_PATH, TOKEN_PATH};

/// Requests per minute of a client without a limit of its own, unless configured.
pub const DEFAULT_RATE_LIMIT_PER_MIN: u32 = 600;
/// How long a replica uses a client's settings before reading them again.
pub const SETTINGS_TTL: Duration = Duration::from_secs(5);
/// The largest token request body read (a client credentials form is a few hundred bytes).
const TOKEN_BODY_LIMIT: usize = 64 * 1024;
/// Above this many cached clients the cache is emptied (made-up client ids cannot grow it).
const MAX_CACHED: usize = 10_000;

pub const RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// The headers the guard adds, for CORS `Access-Control-Expose-Headers`.
pub const RATE_LIMIT_HEADERS: [HeaderName; 3] =
    [RATE_LIMIT_LIMIT, RATE_LIMIT_REMAINING, RATE_LIMIT_RESET];

/// The active client a guarded request speaks for, as the guard read it (cached for up to
/// [`SETTINGS_TTL`]), in the request's extensions: its settings without another query.
#[derive(Debug, Clone)]
pub struct GuardedClient(pub Arc<ClientRecord>);

#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// The limit of clients without their own (`--rate-limit-per-min`).
    pub default_rate_limit_per_min: u32,
    /// Peers whose `X-Forwarded-For` is believed (`--trusted-proxies`).
    pub trusted_proxies: Vec<IpNet>,
    pub settings_ttl: Duration,
}

impl Default for GuardConfig {
    fn default() -> GuardConfig {
        GuardConfig {
            default_rate_limit_per_min: DEFAULT_RATE_LIMIT_PER_MIN,
            trusted_proxies: Vec::new(),
            settings_ttl: SETTINGS_TTL,
        }
    }
}

/// The guard's configuration, buckets and settings cache. Cheap to clone (clones share them).
#[derive(Clone, Default)]
pub struct Guard {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    config: GuardConfig,
    buckets: Buckets,
    settings: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    at: Instant,
    client: Option<Arc<ClientRecord>>,
}

impl Guard {
    pub fn new(config: GuardConfig) -> Guard {
        Guard {
            inner: Arc::new(Inner {
                config,
                ..Inner::default()
            }),
        }
    }

    pub fn config(&self) -> &GuardConfig {
        &self.inner.config
    }

    /// Drops the cached settings of a client (after a change, so it applies at once here).
    pub fn forget(&self, client_id: &str) {
        self.cache().remove(client_id);
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.inner
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The client's settings, from the cache if fresh.
    async fn client(
        &self,
        store: &Store,
        client_id: &str,
    ) -> Result<Option<Arc<ClientRecord>>, StoreError> {
        if let Some(c) = self.cache().get(client_id)
            && c.at.elapsed() < self.inner.config.settings_ttl
        {
            return Ok(c.client.clone());
        }
        let client = store.find_client(client_id).await?.map(Arc::new);
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(
            client_id.to_owned(),
            Cached {
                at: Instant::now(),
                client: client.clone(),
            },
        );
        Ok(client)
    }

    fn limit_of(&self, client: &ClientRecord) -> u32 {
        client
            .rate_limit_per_min
            .unwrap_or(self.inner.config.default_rate_limit_per_min)
    }
}

/// Which API a path belongs to: each answers in its own error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    OneRoster,
    Admin,
    Token,
}

impl Area {
    /// The `area` label of the metrics (`metrics::security::AREAS`).
    fn label(self) -> &'static str {
        match self {
            Area::OneRoster => "oneroster",
            Area::Admin => "admin",
            Area::Token => "token",
        }
    }
}

fn area(path: &str) -> Option<Area> {
    let under = |base: &str| {
        path.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if path == TOKEN_PATH {
        Some(Area::Token)
    } else if under(ONEROSTER_BASE_PATH) {
        Some(Area::OneRoster)
    } else if under(ADMIN_BASE_PATH) {
        // The OpenAPI document and the Swagger UI are public.
        let rest = &path[ADMIN_BASE_PATH.len()..];
        let public = rest == "/openapi.json" || rest == "/docs" || rest.starts_with("/docs/");
        (!public).then_some(Area::Admin)
    } else {
        None
    }
}

/// The middleware. See the module documentation.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = peer.map(|p| ip::client_ip(p, req.headers(), &state.guard.config().trusted_proxies));
    let mut req = req;
    if let Some(ip) = ip {
        req.extensions_mut().insert(ClientIp(ip));
    }
    let mut response = match area(req.uri().path()) {
        None => next.run(req).await,
        Some(area) => {
            let mut verified = None;
            let mut response = guarded(&state, area, ip, req, next, &mut verified).await;
            if let Some(p) = verified {
                response.extensions_mut().insert(VerifiedPrincipal(p));
            }
            response
        }
    };
    if let Some(ip) = ip {
        response.extensions_mut().insert(ClientIp(ip));
    }
    response
}

async fn guarded(
    state: &AppState,
    area: Area,
    ip: Option<IpAddr>,
    req: Request,
    next: Next,
    verified: &mut Option<crate::auth::Principal>,
) -> Response {
    // The client the request speaks for.
    let (req, client_id, tenant) = match area {
        Area::Token => {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, TOKEN_BODY_LIMIT).await else {
                return refusal(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    "the request body is too large",
                );
            };
            let id = requested_client_id(&parts.headers, &bytes);
            (Request::from_parts(parts, Body::from(bytes)), id, None)
        }
        Area::OneRoster | Area::Admin => {
            let principal = match bearer_token(req.headers()) {
                Some(token) => state.auth.verify_fresh(token).await.ok(),
                None => None,
            };
            match principal {
                Some(p) => {
                    let mut req = req;
                    req.extensions_mut().insert(VerifiedPrincipal(p.clone()));
                    *verified = Some(p.clone());
                    (req, Some(p.client_id), Some(p.tenant))
                }
                None => (req, None, None),
            }
        }
    };
    let Some(client_id) = client_id else {
        return next.run(req).await;
    };
    let client = match state.guard.client(&state.store, &client_id).await {
        Ok(c) => c,
        Err(e) => return store_error(area, e),
    };
    let client =
        client.filter(|c| c.is_active() && tenant.as_deref().is_none_or(|t| t == c.tenant));
    let Some(client) = client else {
        // Unknown or revoked: the handler refuses it.
        return next.run(req).await;
    };
    let limit = state.guard.limit_of(&client);
    let now = Instant::now();
    let allowed_here = ip.is_some_and(|ip| ip_allowed(client.allowed_ips.as_deref(), ip));
    // On the token endpoint the allow-list is checked after the secret (by the endpoint): a
    // 403 here would tell anyone without the secret that the client exists and is restricted.
    if area != Area::Token && client.allowed_ips.is_some() && !allowed_here {
        tracing::info!(client_id = %client.client_id, "request refused: address not allowed");
        security::ip_refused(area.label());
        let mut response = not_allowed(area, ip);
        let decision = state
            .guard
            .inner
            .buckets
            .peek(&client.client_id, limit, now);
        rate_headers(response.headers_mut(), &decision);
        security::client_request(&client.client_id, area.label(), response.status());
        return response;
    }
    let decision = state
        .guard
        .inner
        .buckets
        .take(&client.client_id, limit, now);
    let mut response = if decision.allowed {
        let mut req = req;
        req.extensions_mut().insert(GuardedClient(client.clone()));
        next.run(req).await
    } else {
        tracing::info!(client_id = %client.client_id, "request refused: rate limit");
        security::rate_limited(area.label());
        too_many(area, &decision)
    };
    rate_headers(response.headers_mut(), &decision);
    security::client_request(&client.client_id, area.label(), response.status());
    response
}

fn rate_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert(RATE_LIMIT_LIMIT, HeaderValue::from(d.limit));
    headers.insert(RATE_LIMIT_REMAINING, HeaderValue::from(d.remaining));
    headers.insert(RATE_LIMIT_RESET, HeaderValue::from(d.reset_secs));
}

fn not_allowed(area: Area, ip: Option<IpAddr>) -> Response {
    let message = match ip {
        Some(ip) => format!("requests from {ip} are not allowed for this client"),
        None => "this client may call only from listed addresses, and the request's address \
                 is unknown"
            .to_owned(),
    };
    match area {
        Area::OneRoster => ApiError::Forbidden(message).into_response(),
        Area::Admin => {
            AdminError::new(StatusCode::FORBIDDEN, "ip_not_allowed", message).into_response()
        }
        Area::Token => refusal(
            StatusCode::FORBIDDEN,
            "invalid_client",
            "requests from this address are not allowed for this client",
        ),
    }
}

fn too_many(area: Area, d: &Decision) -> Response {
    let retry_after_secs = d.retry_after_secs;
    let mut response = match area {
        Area::OneRoster => return ApiError::Busy { retry_after_secs }.into_response(),
        Area::Admin => AdminError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests: this client may make {} a minute; retry after \
                 {retry_after_secs} s",
                d.limit
            ),
        )
        .into_response(),
        Area::Token => refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "too many requests from this client; retry later",
        ),
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

fn store_error(area: Area, e: StoreError) -> Response {
    match area {
        Area::OneRoster => ApiError::Store(e).into_response(),
        Area::Admin => AdminError::from(e).into_response(),
        Area::Token => {
            tracing::error!(error = %e, "token request: cannot read the client");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the token could not be issued",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_area() {
        for (path, want) in [
            ("/oauth/token", Some(Area::Token)),
            ("/oauth/token/x", None),
            ("/ims/oneroster/rostering/v1p2/users", Some(Area::OneRoster)),
            ("/ims/oneroster/rostering/v1p2", Some(Area::OneRoster)),
            ("/ims/oneroster/rostering/v1p2x", None),
            ("/api/v1/imports", Some(Area::Admin)),
            ("/api/v1/clients/abc/revoke", Some(Area::Admin)),
            ("/api/v1/openapi.json", None),
            ("/api/v1/docs", None),
            ("/api/v1/docs/swagger-ui.css", None),
            ("/api/v1/docsx", Some(Area::Admin)),
            ("/health/live", None),
            ("/metrics", None),
        ] {
            assert_eq!(area(path), want, "{path}");
        }
    }

    #[test]
    fn refusals_come_in_each_areas_format() {
        let d = Decision {
            allowed: false,
            limit: 60,
            remaining: 0,
            reset_secs: 60,
            retry_after_secs: 1,
        };
        for area in [Area::OneRoster, Area::Admin, Area::Token] {
            let r = too_many(area, &d);
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{area:?}");
            assert_eq!(r.headers()[header::RETRY_AFTER], "1", "{area:?}");
            let r = not_allowed(area, Some("192.0.2.1".parse().unwrap()));
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{area:?}");
        }
    }
}
