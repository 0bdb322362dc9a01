//! A RosterHub server on a real socket for admin API tests, with its job workers.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use rosterhub::auth::Scopes;
use rosterhub::jobs::{JobsConfig, JobsHandle};
use serde_json::Value;

use crate::helpers::TestDb;

pub struct Server {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub state: rosterhub::http::AppState,
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

impl Server {
    /// Serves `db` with `config` (its workers started) and a token of `tenant` for all scopes.
    pub fn start(db: &TestDb, tenant: &str, config: JobsConfig) -> Server {
        db.rt.block_on(async {
            let mut state = rosterhub::http::AppState::new(db.store.clone())
                .await
                .unwrap();
            state.jobs = JobsHandle::new(config);
            rosterhub::jobs::spawn_workers(state.store.clone(), &state.jobs);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(rosterhub::http::serve(listener, state.clone()));
            let mut server = Server {
                base: format!("http://{addr}"),
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
        let client = self
            .state
            .store
            .create_client(tenant, "test", scopes)
            .await
            .unwrap();
        self.state
            .auth
            .issue(tenant, &client.record.client_id, scopes)
            .unwrap()
            .access_token
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
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

    /// Uploads a ZIP body; returns the status, the JSON and the response headers.
    pub async fn upload(
        &self,
        query: &str,
        zip: Vec<u8>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let r = self
            .http
            .post(self.url(&format!("/api/v1/imports{query}")))
            .bearer_auth(&self.token)
            .header("content-type", "application/zip")
            .body(zip)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }

    /// Polls a job until it is no longer queued or running.
    pub async fn wait(&self, path: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, job) = self.get_json(path).await;
            assert_eq!(status, 200, "{job}");
            let state = job["state"].as_str().unwrap_or("").to_owned();
            if state != "queued" && state != "running" {
                return job;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "job stuck: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
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
