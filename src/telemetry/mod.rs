//! Logging: human-readable on a terminal, JSON lines otherwise (`ROSTERHUB_LOG_FORMAT`); with
//! the `otel` feature and `serve --otlp-endpoint`, spans exported over OTLP too ([`otel`]).
//! Nothing personal or secret is logged: ids and counts only.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

#[cfg(feature = "otel")]
pub mod otel;

/// Why `--otlp-endpoint` cannot be honoured by this build.
#[cfg(not(feature = "otel"))]
const NOT_BUILT: &str = "--otlp-endpoint (ROSTERHUB_OTLP_ENDPOINT) needs a build with OpenTelemetry: \
     cargo build --release --features otel (docs/operations.md, \"Tracing\"); or unset it\n\
     --otlp-endpoint (ROSTERHUB_OTLP_ENDPOINT) には OpenTelemetry 入りのビルドが必要です。\
     cargo build --release --features otel でビルドするか、設定を外してください。";

/// Installs the global subscriber. `RUST_LOG` filters (default `info`). `otlp_endpoint`: the
/// OTLP/HTTP collector spans go to (`serve` only); an error if it cannot be used.
pub fn init(json: bool, otlp_endpoint: Option<&str>) -> Result<(), String> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    // Colour only on a terminal: escape codes in a log file or a pipe are noise.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // JSON lines carry the fields of the current span (a request's `trace_id`, `request_id`).
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    #[cfg(feature = "otel")]
    let spans = otlp_endpoint.map(otel::layer).transpose()?;
    #[cfg(not(feature = "otel"))]
    let spans: Option<tracing_subscriber::layer::Identity> = match otlp_endpoint {
        Some(_) => return Err(NOT_BUILT.to_owned()),
        None => None,
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(spans)
        .with(filter)
        .try_init();
    Ok(())
}

/// Sends the spans still queued (at the end of `serve`); nothing without the `otel` feature.
pub fn shutdown() {
    #[cfg(feature = "otel")]
    otel::shutdown();
}

/// Makes a request's span a child of the trace in its `traceparent` header and records the
/// trace id in its `trace_id` field; nothing without the `otel` feature or an exporter.
pub fn adopt_parent(headers: &axum::http::HeaderMap, span: &tracing::Span) {
    #[cfg(feature = "otel")]
    otel::adopt_parent(headers, span);
    #[cfg(not(feature = "otel"))]
    let _ = (headers, span);
}
