//! The server on a real socket: health probes.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestDb};

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[test]
fn health_probes_answer_on_a_real_socket() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    db.rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = rosterhub::http::AppState::new(db.store.clone())
            .await
            .unwrap();
        tokio::spawn(rosterhub::http::serve(listener, state));
        let live = get(addr, "/health/live").await;
        assert!(live.starts_with("HTTP/1.1 200"), "{live}");
        assert!(live.ends_with(r#"{"status":"ok"}"#), "{live}");
        let ready = get(addr, "/health/ready").await;
        assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    });
}
