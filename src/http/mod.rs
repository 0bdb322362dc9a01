//! The HTTP server: the OneRoster rostering API, the token endpoint, health probes.

pub mod admin;
pub mod audit;
pub mod credentials;
pub mod error;
pub mod guard;
pub mod hardening;
pub mod metrics;
pub mod oneroster;
pub mod panic;
pub mod tls;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, ServiceExt};
use serde_json::json;
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::cors::{Any, CorsLayer};
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use self::metrics::security::{AuthFailure, Lockout};
use crate::auth::Auth;
use crate::storage::Store;

/// The largest `limit` served when none is configured.
pub const DEFAULT_MAX_LIMIT: u64 = 10_000;

/// What every handler shares: one `Arc`, so the clone each middleware and extractor makes per
/// request is one reference count, not a dozen (measured: about a tenth of a cached read's
/// throughput on two cores). Fields read and set through `Deref`/`DerefMut` (set before the
/// state is shared: `DerefMut` copies it otherwise).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }
}

/// The server's settings and handles (see [`AppState`]).
#[derive(Clone)]
pub struct Shared {
    pub store: Store,
    /// A PostgreSQL read replica (`--read-database-url`) that the OneRoster API reads roster
    /// data from; `None`: everything reads the primary (see [`Shared::reads`]).
    pub replica: Option<Store>,
    pub auth: Auth,
    /// The public base URL (scheme + host [+ prefix]) for `href`s and `Link`s behind a proxy;
    /// `None`: built from the request's Host header.
    pub public_url: Option<String>,
    /// The largest page size served (`limit` above it is capped, with correct `Link`s).
    pub max_limit: u64,
    /// Emit Japan Profile metadata nested (`{"jp": {…}}`) instead of flat `"jp.…"` keys.
    pub nested_metadata: bool,
    /// Totals and paging anchors per tenant data generation.
    pub cache: oneroster::cache::ReadCache,
    /// Job settings and the bell that wakes this process's workers.
    pub jobs: crate::jobs::JobsHandle,
    /// Mark the admin session cookie `Secure`: set when serving TLS (an `https` `--public-url`
    /// does it too, see `admin::session`).
    pub secure_cookies: bool,
    /// The audit log's writer (entries are queued, written in batches).
    pub audit: crate::audit::AuditLog,
    /// Per-client IP allow-lists and rate limits (`guard`).
    pub guard: guard::Guard,
    /// The server speaks TLS itself: responses carry `Strict-Transport-Security`.
    pub tls: bool,
    /// The time zone the web UI shows dates in (`--time-zone`).
    pub ui_zone: ui::zone::Zone,
}

impl Shared {
    /// Where the OneRoster API reads roster data: the replica if there is one. Tokens, clients
    /// and every write stay on [`Shared::store`].
    pub fn reads(&self) -> &Store {
        self.replica.as_ref().unwrap_or(&self.store)
    }

    /// The base URL (scheme + host [+ prefix]) of absolute links — `href`s, `Link`s,
    /// `Location`s, webhook payloads: `--public-url`, else `http://` and the request's Host.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}")
            }
        }
    }
}

impl AppState {
    /// The state with default settings: the signing key is loaded from (or created in) the
    /// database.
    pub async fn new(store: Store) -> anyhow::Result<AppState> {
        // The recorder before anything counts: series shown at 0 from the start (the audit
        // writer's among them) would be lost on the recorder-less default.
        metrics::handle();
        let auth = Auth::load(&store).await?;
        let audit = crate::audit::AuditLog::start(store.clone());
        Ok(AppState(Arc::new(Shared {
            store,
            replica: None,
            auth,
            public_url: None,
            max_limit: DEFAULT_MAX_LIMIT,
            nested_metadata: false,
            cache: Default::default(),
            jobs: Default::default(),
            secure_cookies: false,
            audit,
            guard: Default::default(),
            tls: false,
            ui_zone: Default::default(),
        })))
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    app(state, Router::new(), Router::new(), Router::new())
}

/// The server: its routes with `top`, `oneroster` and `admin` merged in at the root and under
/// each API's base path (tests add handlers there), inside the middleware.
fn app(
    state: AppState,
    top: Router<AppState>,
    oneroster: Router<AppState>,
    admin: Router<AppState>,
) -> Router {
    let tls = state.tls;
    // Reads answer within the timeout or get 408; uploads, downloads and event streams are
    // long by nature and are bounded by their size limits instead.
    let timeout = || {
        tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(hardening::REQUEST_TIMEOUT_SECS),
        )
    };
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        // `crate::web::TOKEN_PATH`, written out: the OpenAPI test reads this table's paths.
        .route(
            "/oauth/token",
            post(token).layer(
                tower::ServiceBuilder::new()
                    .layer(panic::layer(panic::Format::Token))
                    .layer(timeout()),
            ),
        )
        .route("/metrics", get(metrics::render))
        .merge(top)
        // The web UI's pages answer within the timeout like reads.
        .merge(ui::routes().layer(timeout()))
        // A panic in a handler answers 500 in its API's error format.
        .nest(
            oneroster::BASE_PATH,
            oneroster::routes()
                .merge(oneroster)
                .layer(timeout())
                .layer(panic::layer(panic::Format::OneRoster)),
        )
        .nest(
            admin::BASE_PATH,
            admin::routes()
                .merge(admin)
                .layer(panic::layer(panic::Format::Admin)),
        )
        .fallback(not_found)
        // JSON bodies, forms and token requests are small; the upload route lifts this limit
        // for its own streamed body (`--upload-limit-mb`).
        .layer(axum::extract::DefaultBodyLimit::max(
            hardening::MAX_BODY_BYTES,
        ))
        // Per-client IP allow-lists and rate limits, before the audit entry is made.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        // One audit entry per API request (the guard's refusals too), inside the request-id layer.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::record,
        ))
        // A NUL (or a path that is not UTF-8) is refused before anything reads the database.
        .layer(axum::middleware::from_fn(hardening::refuse_unstorable))
        .with_state(state)
        .route_layer(axum::middleware::from_fn(metrics::track))
        // Any other panic (health, metrics, the guard, the audit layer) answers a plain 500,
        // still inside the layers that add request ids and security headers.
        .layer(panic::layer(panic::Format::Plain))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_headers(Any)
                .expose_headers([
                    HeaderName::from_static("x-total-count"),
                    header::LINK,
                    header::RETRY_AFTER,
                    guard::RATE_LIMIT_LIMIT,
                    guard::RATE_LIMIT_REMAINING,
                    guard::RATE_LIMIT_RESET,
                ]),
        )
        // ZIP downloads are compressed already (and keep their Content-Length).
        .layer(CompressionLayer::new().gzip(true).compress_when(
            DefaultPredicate::new().and(NotForContentType::const_new("application/zip")),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(request_finished),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestV7))
        .layer(axum::middleware::from_fn(move |req, next| {
            hardening::security_headers(tls, req, next)
        }))
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: Option<axum::Extension<credentials::ClientIp>>,
    body: Bytes,
) -> Response {
    let ip = ip.map(|axum::Extension(credentials::ClientIp(ip))| ip);
    let response =
        crate::auth::token_endpoint(&state.auth, &state.store, &headers, body.clone(), ip).await;
    // The endpoint's refusals (the guard's rate limit answers before it): 401 a wrong
    // credential, 429 the failed-credential limit, 403 the client's allow-list.
    match response.status() {
        StatusCode::UNAUTHORIZED => metrics::security::auth_failure(AuthFailure::Token),
        StatusCode::TOO_MANY_REQUESTS => metrics::security::lockout(Lockout::Token),
        StatusCode::FORBIDDEN => metrics::security::ip_refused("token"),
        _ => {}
    }
    audit::note_token(&state, &headers, &body, response).await
}

/// Unknown paths answer in the OneRoster error format.
async fn not_found() -> Response {
    error::ApiError::UnknownObject("no such endpoint".into()).into_response()
}

/// The process is up.
async fn live() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The process can serve: the database answers.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    // Ready when the primary and (if any) the read replica answer.
    let mut answered = state.store.ping().await;
    if let (Ok(()), Some(r)) = (&answered, &state.replica) {
        answered = r.ping().await;
    }
    match answered {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
        }
    }
}

/// Serves on `listener` until SIGINT/SIGTERM, then drains in-flight requests.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    serve_on(listener, state).await
}

/// Like [`serve`], speaking TLS with `config` (HTTP/2 and HTTP/1.1 by ALPN).
pub async fn serve_tls(
    listener: TcpListener,
    state: AppState,
    config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    // `tap_io` gives the TLS listener the same `ConnectInfo<SocketAddr>` as plain TCP.
    serve_on(
        tls::TlsListener::new(listener, config)?.tap_io(|_| {}),
        state,
    )
    .await
}

/// [`serve`] on any listener: plain TCP, or TLS (`serve_tls`).
async fn serve_on<L>(listener: L, state: AppState) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    for<'a> SocketAddr: axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    metrics::handle();
    // The address as people write it (`127.0.0.1:8080`), not a Rust debug value.
    match listener.local_addr() {
        Ok(addr) => tracing::info!(%addr, tls = state.tls, "listening"),
        Err(_) => tracing::info!(tls = state.tls, "listening"),
    }
    let audit = state.audit.clone();
    // `/users/` works like `/users`: the slash is trimmed before routing.
    let app = NormalizePathLayer::trim_trailing_slash().layer(router(state));
    // The TCP peer's address reaches the guard as `ConnectInfo`.
    let app = ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    // The last requests' audit entries are written before the process ends.
    audit.flush().await;
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT: shutting down"),
        _ = term => tracing::info!("SIGTERM: shutting down"),
    }
}

/// A request's span: its method, route template (never the raw path in the exported span's name,
/// which ids would make unbounded) and request id; with OpenTelemetry, a child of the caller's
/// `traceparent` and carrying the trace id (`telemetry::adopt_parent`).
fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("", |p| p.as_str());
    let method = req.method().as_str();
    let span = tracing::info_span!(
        "request",
        "otel.name" = %format_args!("{method} {route}"),
        "otel.kind" = "server",
        "http.request.method" = method,
        "http.route" = route,
        "http.response.status_code" = tracing::field::Empty,
        path = %req.uri().path(),
        request_id = %id,
        trace_id = tracing::field::Empty,
    );
    crate::telemetry::adopt_parent(req.headers(), &span);
    span
}

/// Records the answer's status on the request's span; a debug line per request
/// (`RUST_LOG=rosterhub::http=debug`).
fn request_finished<B>(
    res: &axum::http::Response<B>,
    took: std::time::Duration,
    span: &tracing::Span,
) {
    span.record(
        "http.response.status_code",
        i64::from(res.status().as_u16()),
    );
    tracing::debug!(
        status = res.status().as_u16(),
        ms = took.as_millis() as u64,
        "request finished"
    );
}

/// Request ids are UUIDv7: time-ordered, so the audit log finds a request's entries by walking
/// the moments around the id's timestamp (`storage::ops::audit`) instead of the whole log.
#[derive(Clone, Copy)]
struct MakeRequestV7;

impl MakeRequestId for MakeRequestV7 {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::now_v7().to_string();
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}
