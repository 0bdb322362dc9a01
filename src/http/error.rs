//! API errors in the OneRoster format: the `imsx_StatusInfo` object at the root of the body
//! (ONEROSTER.md §3.7), with the 1.2 codeMinor vocabulary.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidFilter(String),
    #[error("{0}")]
    InvalidSelection(String),
    #[error("{0}")]
    InvalidData(String),
    #[error("{0}")]
    Unauthorised(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnknownObject(String),
    #[error("too many requests")]
    Busy { retry_after_secs: u64 },
    /// A failure whose cause was logged where it happened (a panic).
    #[error("internal server error")]
    Internal,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidFilter(_)
            | ApiError::InvalidSelection(_)
            | ApiError::InvalidData(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorised(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::UnknownObject(_) => StatusCode::NOT_FOUND,
            ApiError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Store(_) | ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code_minor(&self) -> &'static str {
        match self {
            ApiError::InvalidFilter(_) => "invalid_filter_field",
            ApiError::InvalidSelection(_) => "invalid_selection_field",
            ApiError::InvalidData(_) => "invaliddata",
            ApiError::Unauthorised(_) => "unauthorisedrequest",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::UnknownObject(_) => "unknownobject",
            ApiError::Busy { .. } => "server_busy",
            ApiError::Store(_) | ApiError::Internal => "internal_server_error",
        }
    }
}

/// The status object itself (no wrapper key).
pub fn status_info(code_minor: &str, description: &str) -> serde_json::Value {
    json!({
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code_minor}
            ]
        }
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let description = match &self {
            // A 5xx logs its cause once and tells the caller nothing internal.
            ApiError::Store(e) => {
                tracing::error!(error = %e, "request failed");
                ApiError::Internal.to_string()
            }
            other => other.to_string(),
        };
        let mut resp = (
            self.status(),
            Json(status_info(self.code_minor(), &description)),
        )
            .into_response();
        match self {
            ApiError::Unauthorised(_) => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Busy { retry_after_secs } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_code_minor() {
        let cases = [
            (
                ApiError::InvalidFilter("x".into()),
                400,
                "invalid_filter_field",
            ),
            (
                ApiError::InvalidSelection("x".into()),
                400,
                "invalid_selection_field",
            ),
            (ApiError::InvalidData("x".into()), 400, "invaliddata"),
            (
                ApiError::Unauthorised("x".into()),
                401,
                "unauthorisedrequest",
            ),
            (ApiError::Forbidden("x".into()), 403, "forbidden"),
            (ApiError::UnknownObject("x".into()), 404, "unknownobject"),
            (
                ApiError::Busy {
                    retry_after_secs: 1,
                },
                429,
                "server_busy",
            ),
            (
                ApiError::Store(StoreError::Injected("x")),
                500,
                "internal_server_error",
            ),
            (ApiError::Internal, 500, "internal_server_error"),
        ];
        for (e, status, minor) in cases {
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            assert_eq!(e.code_minor(), minor, "{e:?}");
        }
    }
}
