//! The APIs described: `GET /openapi.json` (the admin API; a hand-written OpenAPI 3.1 document,
//! `openapi/admin-v1.json` at the repository root), `GET /rostering-openapi.json` (the official
//! OneRoster 1.2 rostering document, `openapi/rostering-v1p2.json`, as published but with this
//! server in `servers` and its token endpoint in the OAuth flow, so a vendor can point a client
//! generator or Swagger UI at it) and an interactive Swagger UI at `/docs` with a selector
//! between the two. The UI's scripts
//! and styles are compiled into the binary (`utoipa-swagger-ui`, vendored) and served from here,
//! so the page works offline. Neither needs a token.
//!
//! The page is served at `/docs` itself rather than through the crate's own router: the server
//! trims trailing slashes before routing, so the crate's `/docs` → `/docs/` redirect would loop,
//! and the vendored `index.html` loads its files by relative paths that `/docs` (no slash)
//! would resolve one level too high. This page names them by absolute paths instead (under the
//! path of `--public-url`, when it has one).

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use crate::http::AppState;

/// The document as written.
const DOCUMENT: &str = include_str!("../../../openapi/admin-v1.json");

/// The document with this build's version.
static SERVED: LazyLock<Value> = LazyLock::new(|| {
    let mut doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON");
    doc["info"]["version"] = env!("CARGO_PKG_VERSION").into();
    doc
});

/// The official rostering document as published (1EdTech's placeholder server).
const ROSTERING: &str = include_str!("../../../openapi/rostering-v1p2.json");

static ROSTERING_PARSED: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(ROSTERING).expect("rostering-v1p2.json is valid JSON"));

/// The documentation's routes, relative to [`super::BASE_PATH`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(document))
        .route("/rostering-openapi.json", get(rostering_document))
        .route("/docs", get(page))
        .route("/docs/", get(page))
        .route("/docs/{*file}", get(asset))
}

/// The path part of `--public-url` (`https://host/roster` → `/roster`), or nothing.
fn prefix(state: &AppState) -> String {
    let Some(url) = &state.public_url else {
        return String::new();
    };
    let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..].trim_end_matches('/').to_owned(),
        None => String::new(),
    }
}

/// The document; behind `--public-url`, its server and token URL are that URL's.
async fn document(State(state): State<AppState>) -> Response {
    let Some(public) = &state.public_url else {
        return axum::Json(&*SERVED).into_response();
    };
    let public = public.trim_end_matches('/');
    let mut doc = SERVED.clone();
    doc["servers"] = serde_json::json!([{"url": public, "description": "This server"}]);
    if let Some(flow) =
        doc.pointer_mut("/components/securitySchemes/oauth2/flows/clientCredentials")
    {
        flow["tokenUrl"] = format!("{public}/oauth/token").into();
    }
    axum::Json(doc).into_response()
}

/// The rostering document with this server as its only server (`--public-url`, else the
/// request's Host) and its token endpoint as the flow's `tokenUrl`: the published document
/// names 1EdTech's host, where no roster is served.
async fn rostering_document(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = state.base_url(&headers);
    let mut doc = ROSTERING_PARSED.clone();
    doc["servers"] = serde_json::json!([{
        "url": format!("{base}{}", crate::http::oneroster::BASE_PATH),
        "description": "This server"
    }]);
    if let Some(Value::Object(schemes)) = doc.pointer_mut("/components/securitySchemes") {
        for scheme in schemes.values_mut() {
            if let Some(flow) = scheme.pointer_mut("/flows/clientCredentials") {
                flow["tokenUrl"] = format!("{base}/oauth/token").into();
            }
        }
    }
    axum::Json(doc).into_response()
}

/// Where the page's files are, as an absolute path.
fn assets_path(state: &AppState) -> String {
    format!("{}{}/docs", prefix(state), super::BASE_PATH)
}

/// The Swagger UI page (the vendored `index.html`, with absolute paths).
async fn page(State(state): State<AppState>) -> Html<String> {
    let base = assets_path(&state);
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>RosterHub API documentation</title>
    <link rel="stylesheet" type="text/css" href="{base}/swagger-ui.css" />
    <link rel="stylesheet" type="text/css" href="{base}/index.css" />
    <link rel="icon" type="image/png" href="{base}/favicon-32x32.png" sizes="32x32" />
    <link rel="icon" type="image/png" href="{base}/favicon-16x16.png" sizes="16x16" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{base}/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="{base}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="{base}/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"#
    ))
}

/// One of Swagger UI's files; `swagger-initializer.js` points it at the document.
async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    if file.is_empty() || file == "index.html" {
        return page(State(state)).await.into_response();
    }
    let base = format!("{}{}", prefix(&state), super::BASE_PATH);
    // Two documents: Swagger UI shows a selector in its top bar.
    // Two documents, each named by its path: Swagger UI shows a selector in its top bar, the
    // admin API first.
    let config = utoipa_swagger_ui::Config::new([
        format!("{base}/openapi.json"),
        format!("{base}/rostering-openapi.json"),
    ])
    // No badge fetched from validator.swagger.io: the page stays offline.
    .validator_url("none")
    .display_request_duration(true);
    match utoipa_swagger_ui::serve(&file, Arc::new(config)) {
        Ok(Some(f)) => {
            // The files are compiled in: served without a copy.
            let body = match f.bytes {
                Cow::Borrowed(b) => Body::from(b),
                Cow::Owned(v) => Body::from(v),
            };
            let mut r = body.into_response();
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&f.content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if f.gzpipped {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            r
        }
        Ok(None) => super::error::AdminError::not_found(format!("no documentation file {file:?}"))
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, file, "cannot serve a Swagger UI file");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
