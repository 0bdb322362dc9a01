//! Response headers every answer carries, and the limits on requests.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The largest request body outside the upload route (JSON bodies, forms, token requests).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// How long a request may take, except uploads, downloads and event streams.
pub const REQUEST_TIMEOUT_SECS: u64 = 60;

/// A strict policy for the server's own pages: nothing from elsewhere, no inline scripts, no
/// framing. The API's JSON needs none of it; the admin UI will live within it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers; `Strict-Transport-Security` only when the server speaks TLS (a
/// plain-HTTP answer cannot set it meaningfully, and behind a TLS proxy the proxy sets it).
pub async fn security_headers(tls: bool, request: Request, next: Next) -> Response {
    let is_docs = request.uri().path().starts_with("/api/v1/docs");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::REFERRER_POLICY) {
        // The web UI sets `same-origin` (see `ui::headers`); everything else sends none.
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        // Swagger UI sets inline styles on its elements (its scripts are files of ours).
        let csp = if is_docs {
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        } else {
            CONTENT_SECURITY_POLICY
        };
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}
