//! Response headers every answer carries, and the limits on requests.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::panic::Format;
use crate::web::form::{DecodeError, form_decode_lossy, pairs_lossy, percent_decode};
use crate::web::{ADMIN_BASE_PATH, TOKEN_PATH};

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

/// Where a request holds text no database may store: PostgreSQL refuses NUL in `text`, so a
/// NUL reaching a query is a 500 there and a silent mismatch on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Path,
    QueryString,
    Body,
    Credentials,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Path => "path",
            Part::QueryString => "query string",
            Part::Body => "body",
            Part::Credentials => "Basic credentials",
        }
    }
}

/// Refuses, with a 400 in the error format of the API the path belongs to, a request whose
/// decoded path, query string, form or JSON body (up to [`MAX_BODY_BYTES`]) or Basic
/// credentials hold a NUL, or whose path does not decode to UTF-8 — before any layer that
/// reads the database (the guard looks clients up, the audit log writes what it saw). The
/// upload route's body is a ZIP file, checked by the bundle reader instead.
pub async fn refuse_unstorable(request: Request, next: Next) -> Response {
    let format = format_of(request.uri().path());
    if let Some(part) = unstorable_head(&request) {
        return refusal(format, part);
    }
    if !has_inspected_body(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return too_large(format),
    };
    let form = parts.uri.path() == TOKEN_PATH || is_form(&parts.headers);
    if body_holds_nul(&bytes, form) {
        return refusal(format, Part::Body);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// The error format of `path`'s API: unknown paths answer as the OneRoster API does.
fn format_of(path: &str) -> Format {
    if path == TOKEN_PATH {
        Format::Token
    } else if path.starts_with(ADMIN_BASE_PATH) {
        Format::Admin
    } else {
        Format::OneRoster
    }
}

/// The part of the request line or headers that holds what cannot be stored.
fn unstorable_head(request: &Request) -> Option<Part> {
    let path = request.uri().path();
    if form_decode_lossy(path).contains('\0') || percent_decode(path) == Err(DecodeError::NotUtf8) {
        return Some(Part::Path);
    }
    if let Some(q) = request.uri().query()
        && form_decode_lossy(q).contains('\0')
    {
        return Some(Part::QueryString);
    }
    let basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        });
    if basic.is_some_and(|b| form_decode_lossy(&b).contains('\0')) {
        return Some(Part::Credentials);
    }
    None
}

/// Whether the body is read here: every body but an upload's, within the body limit (a
/// longer one is refused by its handler's own limit). An upload — the admin API's raw or
/// multipart ZIP, a school's list as `text/csv`, the web UI's multipart form — holds binary
/// bytes by nature; the bundle reader checks its contents (a NUL in a cell is a finding), and
/// no route stores a multipart, ZIP or CSV body as it came.
fn has_inspected_body(request: &Request) -> bool {
    let binary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| ct.trim().to_ascii_lowercase())
        .is_some_and(|ct| {
            ct.starts_with("multipart/form-data")
                || ct.starts_with("application/zip")
                || ct.starts_with("application/octet-stream")
                || ct.starts_with("text/csv")
        });
    let upload = binary
        || request.method() == axum::http::Method::POST
            && request.uri().path() == format!("{ADMIN_BASE_PATH}/imports");
    // The body's own size hint: exact from Content-Length, and for bodies made in process.
    let hint = axum::body::HttpBody::size_hint(request.body());
    !upload && hint.exact() != Some(0) && hint.lower() <= MAX_BODY_BYTES as u64
}

/// Whether a request's `Content-Type` is an urlencoded form.
pub(crate) fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// A NUL in a body: a raw NUL byte, a `%00` of a form, or a `\u0000` in any string or key of
/// a JSON body (only parsed when the escape is there; a body that is not JSON is left to its
/// handler, which refuses it).
fn body_holds_nul(bytes: &[u8], form: bool) -> bool {
    if bytes.contains(&0) {
        return true;
    }
    if form {
        return pairs_lossy(&String::from_utf8_lossy(bytes))
            .any(|(k, v)| k.contains('\0') || v.contains('\0'));
    }
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return false;
    }
    fn holds(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().any(holds),
            serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds(v)),
            _ => false,
        }
    }
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| holds(&v))
}

/// The 400 of a request holding what cannot be stored, in `format`.
fn refusal(format: Format, part: Part) -> Response {
    let what = if part == Part::Path {
        "a NUL character (%00) or bytes that are not UTF-8"
    } else {
        "a NUL character (%00 or \\u0000)"
    };
    let message = format!(
        "the request's {} holds {what}, which no record can contain; remove it and send \
         the request again",
        part.name()
    );
    refuse(format, StatusCode::BAD_REQUEST, &message)
}

fn too_large(format: Format) -> Response {
    refuse(
        format,
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// A refusal in each API's error format: OneRoster `imsx_StatusInfo` (codeMinor
/// `invaliddata`), the admin API's `{"error", "message"}`, RFC 6749 `invalid_request`.
fn refuse(format: Format, status: StatusCode, message: &str) -> Response {
    use axum::response::IntoResponse as _;
    match format {
        Format::Admin => {
            let code = if status == StatusCode::BAD_REQUEST {
                "invalid_request"
            } else {
                "payload_too_large"
            };
            crate::http::admin::error::AdminError::new(status, code, message).into_response()
        }
        Format::Token => crate::auth::endpoint::refusal(status, "invalid_request", message),
        Format::OneRoster | Format::Plain => (
            status,
            axum::Json(crate::http::error::status_info("invaliddata", message)),
        )
            .into_response(),
    }
}
