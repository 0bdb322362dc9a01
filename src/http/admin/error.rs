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
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError {
            status,
            code,
            message: message.into(),
        }
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
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rosterhub\""),
            );
        }
        response
    }
}
