//! Errors of the admin API: a status and `{"error": code, "message": text}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::storage::StoreError;

#[derive(Debug)]
pub struct AdminError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Itemised problems of a document refused as a whole (a mapping profile's errors with
    /// their lines), answered as `"errors"` beside `error` and `message`.
    pub errors: Vec<serde_json::Value>,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
        }
    }
    /// The error with its itemised problems (`"errors": [...]`).
    pub fn with_errors(mut self, errors: Vec<serde_json::Value>) -> AdminError {
        self.errors = errors;
        self
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn conflict(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn unauthorised(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 413 of a JSON or form body over the server's limit (uploads have their own limit).
    pub fn body_too_large() -> AdminError {
        AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than the limit of {} bytes: send a smaller body",
                crate::http::hardening::MAX_BODY_BYTES
            ),
        )
    }
    pub fn internal(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> AdminError {
        match e {
            StoreError::UnknownTenant(t) => AdminError::not_found(format!("unknown tenant {t:?}")),
            StoreError::Conflict(_) => {
                AdminError::conflict("the resource changed meanwhile; reload it and try again")
            }
            e => {
                tracing::error!(error = %e, "admin API storage error");
                AdminError::internal("a storage error occurred; see the server log")
            }
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.code, "message": self.message});
        if !self.errors.is_empty() {
            body["errors"] = self.errors.into();
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rosterhub\""),
            );
        }
        response
    }
}

/// The documented error body for errors made outside the handlers: axum's extractors answer a
/// body over the limit (413), a wrong Content-Type (415) or a method the route lacks (405) in
/// plain text, and clients of the admin API parse `{"error", "message"}` from every error.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => AdminError::body_too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AdminError::new(
            status,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        StatusCode::METHOD_NOT_ALLOWED => AdminError::new(
            status,
            "method_not_allowed",
            "this path does not take this method: see the API reference at /api/v1/docs",
        ),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => AdminError::new(
            status,
            "invalid_json",
            "the body is not valid JSON of the expected shape",
        ),
        StatusCode::NOT_FOUND => AdminError::not_found("no such resource"),
        _ if status.is_server_error() => {
            AdminError::internal("an internal error occurred; see the server log")
        }
        _ => AdminError::new(status, "bad_request", "the request was refused"),
    };
    // The original's headers stay (e.g. `Allow` of a 405); the body and its type are replaced.
    let (mut parts, _) = response.into_parts();
    let (_, body) = error.into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, body)
}
