//! The server in this process on a real socket, as the tests run it: `Server::start` (with its
//! job workers) and `start_with` (none, the state adjusted first) serve a database and hold a
//! token; `state`, `listen` and `listen_tls` are their steps, for tests that serve one state
//! twice or over TLS; `oneshot` calls a router without a socket.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use rosterhub::auth::Scopes;
use rosterhub::http::AppState;
use rosterhub::jobs::{JobsConfig, JobsHandle};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::helpers::{TestDb, tokens};

/// A server of a test database on `127.0.0.1`, stopped with the database's runtime.
pub struct Server {
    /// `http://<addr>`.
    pub base: String,
    pub addr: SocketAddr,
    /// A token of the server's tenant for every admin scope.
    pub token: String,
    pub http: reqwest::Client,
    pub state: AppState,
}

/// Every admin scope.
pub fn admin_scopes() -> Scopes {
    Scopes::IMPORT.union(Scopes::EXPORT).union(Scopes::ADMIN)
}

/// Test settings: short leases and polls, files kept.
pub fn test_config() -> JobsConfig {
    JobsConfig {
        workers: 1,
        lease_ms: 5_000,
        poll_ms: 50,
        ..JobsConfig::default()
    }
}

/// The app state of `db` (default settings, the signing key loaded), as `configure` leaves it.
pub async fn state(db: &TestDb, configure: impl FnOnce(&mut AppState)) -> AppState {
    let mut state = AppState::new(db.store.clone()).await.unwrap();
    configure(&mut state);
    state
}

async fn bind(addr: &str) -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Serves `state` on a new socket bound to `addr` (`127.0.0.1:0`, `[::1]:0`); the address.
pub async fn listen(state: &AppState, addr: &str) -> SocketAddr {
    let (listener, addr) = bind(addr).await;
    tokio::spawn(rosterhub::http::serve(listener, state.clone()));
    addr
}

/// Serves `state` over TLS on a new socket of `127.0.0.1`; the address.
pub async fn listen_tls(
    state: &AppState,
    config: Arc<tokio_rustls::rustls::ServerConfig>,
) -> SocketAddr {
    let (listener, addr) = bind("127.0.0.1:0").await;
    tokio::spawn(rosterhub::http::serve_tls(listener, state.clone(), config));
    addr
}

/// One request through `app`, without a socket; the response with its whole body.
pub async fn oneshot(app: &axum::Router, req: Request<Body>) -> Response<Bytes> {
    let (parts, body) = app.clone().oneshot(req).await.unwrap().into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Response::from_parts(parts, bytes)
}

/// A server without job workers (for tests that run no jobs) whose state `configure` adjusts;
/// its token is of tenant `default`.
pub fn start_with(db: &TestDb, configure: impl FnOnce(&mut AppState)) -> Server {
    let jobs = JobsConfig {
        workers: 0,
        ..test_config()
    };
    Server::launch(db, "default", jobs, configure)
}

impl Server {
    /// Serves `db` with `config` (its workers started) and a token of `tenant` for every admin
    /// scope.
    pub fn start(db: &TestDb, tenant: &str, config: JobsConfig) -> Server {
        Server::launch(db, tenant, config, |_| {})
    }

    fn launch(
        db: &TestDb,
        tenant: &str,
        jobs: JobsConfig,
        configure: impl FnOnce(&mut AppState),
    ) -> Server {
        db.block_on(async {
            let state = state(db, |s| {
                s.jobs = JobsHandle::new(jobs);
                configure(s);
            })
            .await;
            rosterhub::jobs::spawn_workers(state.store.clone(), &state.jobs);
            let addr = listen(&state, "127.0.0.1:0").await;
            let mut server = Server {
                base: format!("http://{addr}"),
                addr,
                token: String::new(),
                http: reqwest::Client::new(),
                state,
            };
            server.token = server.token_for(tenant, admin_scopes()).await;
            server
        })
    }

    /// A token of a new client of `tenant` with `scopes`.
    pub async fn token_for(&self, tenant: &str, scopes: Scopes) -> String {
        tokens::client(&self.state, tenant, scopes).await.token
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET of `path` with `token` (none: without an `Authorization` header); the response as
    /// it came.
    pub async fn get_with(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    /// A GET of `path` with the server's token; the response as it came.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, Some(&self.token)).await
    }

    /// The body of a GET of `path`, whatever its status.
    pub async fn get_bytes(&self, path: &str) -> Vec<u8> {
        self.get(path).await.bytes().await.unwrap().to_vec()
    }

    /// The body of a GET of `path` as text, whatever its status.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A POST of `body` as `content_type` to `path` with the server's token, to be sent.
    pub fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
    }

    /// Uploads a ZIP body; returns the status, the JSON and the response headers.
    pub async fn upload(
        &self,
        query: &str,
        zip: Vec<u8>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .post_body(&format!("/api/v1/imports{query}"), "application/zip", zip)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }

    /// Starts an export of `body`, waits until it succeeds and downloads it: the job and the
    /// ZIP.
    pub async fn export(&self, body: &Value) -> (Value, Vec<u8>) {
        let (status, created) = self.post_json("/api/v1/exports", body).await;
        assert_eq!(status, 202, "{created}");
        let path = format!("/api/v1/exports/{}", created["id"].as_str().unwrap());
        let job = self.wait(&path).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        let zip = self.get_bytes(&format!("{path}/download")).await;
        (job, zip)
    }

    /// Polls a job until it is no longer queued or running.
    pub async fn wait(&self, path: &str) -> Value {
        let started = Instant::now();
        // Polls back off to 0.5 s: a slow run under load must not spend the client's rate
        // limit (600 a minute) on polling and read a 429.
        let mut pause = Duration::from_millis(50);
        loop {
            let (status, job) = self.get_json(path).await;
            assert_eq!(status, 200, "{path} after {:?}: {job}", started.elapsed());
            let state = job["state"].as_str().unwrap_or("").to_owned();
            if state != "queued" && state != "running" {
                return job;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "job stuck: {job}"
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

/// A folder's files as a ZIP (deflated), in name order.
pub fn zip_dir(dir: &Path) -> Vec<u8> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for p in names {
        zip.start_file(p.file_name().unwrap().to_string_lossy(), opts)
            .unwrap();
        zip.write_all(&std::fs::read(&p).unwrap()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}
