//! No client secret, token, signing key or pepper in the logs — at TRACE level, around client
//! creation, token requests (good and bad), secret rotation and API calls.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use reqwest::Method;
use rosterhub::auth::Scopes;
use rosterhub::storage::clients::ClientSettings;
use serde_json::json;

use super::{OR, call, get, state, token_request};
use crate::helpers::tokens::client_with;
use crate::helpers::{Backend, TestDb};
use crate::server::listen;

/// Everything the subscriber writes, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[test]
fn secrets_never_reach_the_logs() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    // One thread runs the server and the requests, so this thread's subscriber sees it all.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut secrets: Vec<String> = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let state = state(&db, Default::default()).await;
            let base = format!("http://{}", listen(&state, "127.0.0.1:0").await);
            let admin = client_with(
                &state,
                "default",
                Scopes::ALL.union(Scopes::ADMIN),
                ClientSettings::default(),
            )
            .await;
            secrets.extend([admin.secret.clone(), admin.token.clone()]);

            let body = json!({"name": "LMS"});
            let (status, _, created) = call(
                Method::POST,
                &format!("{base}/api/v1/clients"),
                Some(&admin.token),
                &[],
                Some(&body),
            )
            .await;
            assert_eq!(status, 201);
            let id = created["client_id"].as_str().unwrap().to_owned();
            let secret = created["client_secret"].as_str().unwrap().to_owned();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            secrets.extend([secret.clone(), basic]);

            let (status, _, issued) = token_request(&base, &id, &secret).await;
            assert_eq!(status, 200);
            let token = issued["access_token"].as_str().unwrap().to_owned();
            secrets.push(token.clone());
            let (status, _, _) = token_request(&base, &id, "a-wrong-secret-value").await;
            assert_eq!(status, 401);
            // Credentials in the body.
            let r = reqwest::Client::new()
                .post(format!("{base}/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=client_credentials&client_id={id}&client_secret={secret}"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);

            let path = format!("{base}/api/v1/clients/{id}/rotate-secret");
            let (status, _, rotated) =
                call(Method::POST, &path, Some(&admin.token), &[], None).await;
            assert_eq!(status, 200);
            let rotated_secret = rotated["client_secret"].as_str().unwrap().to_owned();
            secrets.push(rotated_secret.clone());
            let (status, _, _) = token_request(&base, &id, &rotated_secret).await;
            assert_eq!(status, 200);

            let (status, _, _) = get(&format!("{base}{OR}/users"), &token).await;
            assert_eq!(status, 200);
            // A secret sent where a token belongs is refused without being repeated.
            let (status, _, _) = get(&format!("{base}{OR}/users"), &secret).await;
            assert_eq!(status, 401);
            let (status, _, _) = get(&format!("{base}/api/v1/clients"), &rotated_secret).await;
            assert_eq!(status, 401);
        });
    });
    for row in db.rows("SELECT secret FROM signing_keys") {
        secrets.push(row[0].clone().unwrap());
    }
    for row in db.rows("SELECT pepper FROM client_secret_pepper") {
        secrets.push(row[0].clone().unwrap());
    }
    for row in db.rows("SELECT secret_hash FROM api_clients") {
        secrets.push(row[0].clone().unwrap());
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("token issued"),
        "the logs were captured: {logs}"
    );
    assert!(logs.contains("token request refused"), "{logs}");
    assert!(secrets.len() >= 10);
    for s in &secrets {
        assert!(!s.is_empty());
        assert!(
            !logs.contains(s.as_str()),
            "a secret is in the logs: {s}\n{logs}"
        );
    }
}
