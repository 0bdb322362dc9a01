//! The UI's static files, embedded in the binary and served under `/ui/assets/` with a year's
//! cache: their links carry a hash of the content (`?v=`), so a new build's files are fetched
//! anew while unchanged ones stay cached.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Where the assets are served.
pub const BASE: &str = "/ui/assets";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../assets/ui/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../assets/ui/app.js"),
    },
    Asset {
        name: "htmx-2.0.11.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../assets/ui/htmx-2.0.11.min.js"),
    },
];

/// The URL of an asset with its content hash, e.g. `/ui/assets/app.css?v=1a2b3c4d5e6f7a8b`.
pub fn url(name: &str) -> String {
    static URLS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let urls = URLS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let hash = xxhash_rust::xxh3::xxh3_64(a.bytes);
                (a.name, format!("{BASE}/{}?v={hash:016x}", a.name))
            })
            .collect()
    });
    urls.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, u)| u.clone())
        .unwrap_or_else(|| format!("{BASE}/{name}"))
}

pub async fn serve(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}
