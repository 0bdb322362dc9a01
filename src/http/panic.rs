//! A panic in a handler answers `500` instead of dropping the connection (tower-http's
//! `CatchPanicLayer`), in the error format of the area the route belongs to:
//! `imsx_StatusInfo` under the OneRoster API, `{"error", "message"}` under the admin API, an
//! RFC 6749 error at the token endpoint, and `{"error": "internal server error"}` elsewhere.
//!
//! The panic's message is logged once, at ERROR, by the layer that caught it (the innermost):
//! never the request's query, headers or body, which may hold personal data. The response
//! tells the caller nothing internal. The layers sit inside the request-id, trace and
//! security-header layers (`super::router`), so the answer carries those like any other.

use std::any::Any;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use super::admin::error::AdminError;
use super::error::ApiError;

/// Whose error format a caught panic answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OneRoster,
    Admin,
    Token,
    /// Health probes, metrics, unknown paths, the middleware around every route.
    Plain,
}

/// The layer answering a panic below it in `format`.
pub fn layer(format: Format) -> CatchPanicLayer<Answer> {
    CatchPanicLayer::custom(Answer(format))
}

/// The panic handler of [`layer`].
#[derive(Debug, Clone, Copy)]
pub struct Answer(Format);

impl ResponseForPanic for Answer {
    type ResponseBody = Body;

    fn response_for_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
        tracing::error!(
            panic = message(&*panic),
            "a request handler panicked; answered 500"
        );
        response(self.0)
    }
}

/// The text a panic was raised with (`panic!`'s formatted message, `expect`'s text…).
fn message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// The `500` of a panic in `format`.
pub fn response(format: Format) -> Response<Body> {
    match format {
        Format::OneRoster => ApiError::Internal.into_response(),
        Format::Admin => {
            AdminError::internal("an internal error occurred; see the server log").into_response()
        }
        Format::Token => crate::auth::endpoint::refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the token could not be issued",
        ),
        Format::Plain => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "internal server error"})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::Request;
    use axum::routing::get;
    use serde_json::Value;
    use tower::ServiceExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::http::AppState;
    use crate::storage::Store;

    async fn boom() -> &'static str {
        panic!("boom at row 7")
    }

    /// Every ERROR event, as `Debug` of its fields.
    #[derive(Clone, Default)]
    struct Errors(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Errors {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Fields(String);
            impl tracing::field::Visit for Fields {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!("{}={v:?} ", f.name()));
                }
            }
            if *event.metadata().level() == tracing::Level::ERROR {
                let mut fields = Fields(String::new());
                event.record(&mut fields);
                self.0.lock().unwrap().push(fields.0);
            }
        }
    }

    /// The server's own stack (`super::super::app`, as `router` builds it) with a handler that
    /// panics at `/panic` under each API and at the root.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_its_areas_format() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("panic.db").display());
        let state = AppState::new(Store::open(&url).await.unwrap())
            .await
            .unwrap();
        let panicking = || Router::new().route("/panic", get(boom));
        let app = super::super::app(state, panicking(), panicking(), panicking());
        let cases = [
            (
                "/ims/oneroster/rostering/v1p2/panic?filter=email%3D'a%40b.jp'",
                r#"{"imsx_codeMajor":"failure","imsx_severity":"error","imsx_description":"internal server error","imsx_CodeMinor":{"imsx_codeMinorField":[{"imsx_codeMinorFieldName":"TargetEndSystem","imsx_codeMinorFieldValue":"internal_server_error"}]}}"#,
            ),
            (
                "/api/v1/panic",
                r#"{"error":"internal_error","message":"an internal error occurred; see the server log"}"#,
            ),
            ("/panic", r#"{"error":"internal server error"}"#),
        ];
        for (path, body) in cases {
            let errors = Errors::default();
            let _log = tracing::subscriber::set_default(
                tracing_subscriber::registry().with(errors.clone()),
            );
            let request = Request::get(path)
                .header("x-request-id", "req-1")
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{path}"
            );
            let headers = response.headers();
            assert_eq!(headers["x-request-id"], "req-1", "{path}");
            assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(headers["x-frame-options"], "DENY", "{path}");
            assert_eq!(headers["content-type"], "application/json", "{path}");
            let got = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(
                serde_json::from_slice::<Value>(&got).unwrap(),
                serde_json::from_str::<Value>(body).unwrap(),
                "{path}"
            );
            // The trace layer adds its own ERROR line for every 5xx; the panic's is one line.
            let logged = errors.0.lock().unwrap().clone();
            let panics = logged
                .iter()
                .filter(|e| e.contains("boom at row 7"))
                .count();
            assert_eq!(panics, 1, "{path}: logged once: {logged:?}");
            assert!(
                logged.iter().all(|e| !e.contains("a%40b.jp")),
                "{path}: no query: {logged:?}"
            );
        }
    }

    #[test]
    fn the_token_endpoint_answers_in_rfc_6749_form() {
        let response = response(Format::Token);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["cache-control"], "no-store");
    }

    #[test]
    fn the_message_is_the_panics_text() {
        assert_eq!(message(&"static"), "static");
        assert_eq!(message(&String::from("formatted 1")), "formatted 1");
        assert_eq!(message(&7_u8), "(no message)");
    }
}
