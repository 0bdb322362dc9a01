//! The server on a real socket: health probes, the trailing-slash rule, gzip, CORS headers and
//! the Prometheus endpoint.

use rosterhub::auth::Scopes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestDb, fixtures, opts};
use crate::server::start_with;

/// A raw HTTP/1.1 GET; returns the response head and body as text (lossy for gzip bodies).
async fn get(addr: std::net::SocketAddr, path: &str, headers: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_server_answers_on_a_real_socket() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = start_with(&db, |_| {});
    let addr = server.addr;
    db.rt.block_on(async {
        let token = server.token_for("default", Scopes::ALL).await;
        let auth = format!("Authorization: Bearer {token}\r\n");

        let live = get(addr, "/health/live", "").await;
        assert!(live.starts_with("HTTP/1.1 200"), "{live}");
        assert!(live.ends_with(r#"{"status":"ok"}"#), "{live}");
        assert!(get(addr, "/health/ready", "").await.starts_with("HTTP/1.1 200"));

        let base = "/ims/oneroster/rostering/v1p2";
        let slash = get(addr, &format!("{base}/users/?limit=2"), &auth).await;
        assert!(slash.starts_with("HTTP/1.1 200"), "/users/ works like /users: {slash}");
        assert!(slash.to_ascii_lowercase().contains("x-total-count: 36"), "{slash}");
        assert!(slash.to_ascii_lowercase().contains("access-control-expose-headers"), "{slash}");
        assert!(slash.to_ascii_lowercase().contains("x-request-id:"), "{slash}");

        let gz = get(addr, &format!("{base}/users"), &format!("{auth}Accept-Encoding: gzip\r\n")).await;
        assert!(gz.to_ascii_lowercase().contains("content-encoding: gzip"), "{gz}");

        let metrics = get(addr, "/metrics", "").await;
        assert!(
            metrics.contains(&format!(
                "http_request_duration_seconds_bucket{{method=\"GET\",route=\"{base}/users\",status=\"200\""
            )),
            "{metrics}"
        );
    });
}
