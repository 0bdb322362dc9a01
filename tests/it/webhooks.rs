//! Webhooks: signed deliveries to a local receiver, retries with growing gaps, a dead and a
//! hanging endpoint beside a healthy one, and the subscriptions API over a real socket.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use rosterhub::auth::Scopes;
use rosterhub::storage::Store;
use rosterhub::webhooks::{
    self, Delivery, DeliveryState, Events, NewWebhook, Secret, WebhookConfig, WebhookUrl,
    spawn_delivery_worker,
};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::helpers::{Backend, TestDb};
use crate::raw_sql;
use crate::server::start_with;

crate::on_both_backends!(
    a_delivery_is_signed_and_is_the_stored_payload,
    a_failing_receiver_is_retried_with_growing_gaps,
    a_dead_endpoint_fails_without_delaying_a_healthy_one,
    the_subscriptions_api_over_a_real_socket,
    two_workers_never_send_one_attempt_twice,
    the_outbox_follows_the_subscriptions,
);

pub(crate) const SECRET: &str = "test-secret-0123456789";

/// One request the receiver got.
#[derive(Clone)]
pub(crate) struct Received {
    pub(crate) at: Instant,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
}

#[derive(Default)]
struct Inbox {
    requests: Vec<Received>,
    failures_left: usize,
}

/// A local endpoint that records requests and answers 500 to the first `failures` of them.
#[derive(Clone)]
pub(crate) struct Receiver(Arc<Mutex<Inbox>>);

impl Receiver {
    pub(crate) async fn start(failures: usize) -> (String, Receiver) {
        let r = Receiver(Arc::new(Mutex::new(Inbox {
            requests: Vec::new(),
            failures_left: failures,
        })));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(r.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, r)
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.0.lock().unwrap().requests.clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut inbox = r.0.lock().unwrap();
    inbox.requests.push(Received {
        at: Instant::now(),
        headers,
        body: body.to_vec(),
    });
    if inbox.failures_left > 0 {
        inbox.failures_left -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

fn config(max_attempts: u32, base_delay_ms: u64) -> WebhookConfig {
    WebhookConfig {
        max_attempts,
        base_delay_ms,
        max_delay_ms: 10_000,
        timeout_ms: 2_000,
        poll_ms: 20,
        concurrency: 4,
    }
}

async fn subscribe(store: &Store, url: &str, events: &[&str], active: bool) -> String {
    let new = NewWebhook {
        url: WebhookUrl::parse(url).unwrap(),
        events: Events::parse(events).unwrap(),
        secret: Secret::parse(SECRET).unwrap(),
        active,
        description: String::new(),
    };
    webhooks::store::create(store, "default", new)
        .await
        .unwrap()
        .id
}

/// Enqueues `event` as a job would (the outbox rows in one transaction); returns how many
/// deliveries it made.
async fn emit(store: &Store, event: &str, data: &Value) -> usize {
    let deliveries = webhooks::event_deliveries(store, "default", event, data)
        .await
        .unwrap();
    store.enqueue_deliveries(&deliveries).await.unwrap();
    deliveries.len()
}

async fn delivery(store: &Store, hook: &str) -> Delivery {
    let page = store
        .webhook_deliveries("default", hook, 10, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.total, 1, "{page:?}");
    page.deliveries[0].clone()
}

/// Waits until the subscription's one delivery is no longer pending.
async fn settled(store: &Store, hook: &str, within: Duration) -> Delivery {
    let start = Instant::now();
    loop {
        let d = delivery(store, hook).await;
        if d.state != DeliveryState::Pending {
            return d;
        }
        assert!(
            start.elapsed() < within,
            "still pending after {within:?}: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) fn hmac_hex(secret: &str, signed: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed);
    hex::encode(mac.finalize().into_bytes())
}

fn is_iso_ms_utc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z'
}

fn a_delivery_is_signed_and_is_the_stored_payload(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let store = &db.store;
        let (url, receiver) = Receiver::start(0).await;
        let hook = subscribe(store, &url, &["import.completed"], true).await;
        let other_event = subscribe(store, &url, &["export.completed"], true).await;
        let inactive = subscribe(store, &url, &["*"], false).await;

        let data = json!({"job_id": "j1", "import_id": "i1", "counts": {"users": 36}});
        assert_eq!(
            emit(store, "import.completed", &data).await,
            1,
            "one active subscriber"
        );
        let worker = spawn_delivery_worker(store.clone(), config(5, 200));
        let d = settled(store, &hook, Duration::from_secs(10)).await;
        worker.abort();

        assert_eq!(
            (d.state.as_str(), d.attempts, d.last_status),
            ("succeeded", 1, Some(200))
        );
        assert_eq!(d.last_error, None);
        assert!(d.finished_at.is_some());
        assert_eq!(d.attempts_log.len(), 1);
        assert_eq!(
            (d.attempts_log[0].attempt, d.attempts_log[0].status),
            (1, Some(200))
        );
        for other in [&other_event, &inactive] {
            let page = store
                .webhook_deliveries("default", other, 10, 0)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(page.total, 0, "not subscribed or inactive: no delivery");
        }

        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        let stored = raw_sql::query(
            &db,
            "SELECT payload FROM webhook_deliveries WHERE id = $1",
            &[&d.id],
        )
        .await;
        assert_eq!(
            String::from_utf8(r.body.clone()).unwrap(),
            stored[0][0].as_str().unwrap(),
            "sent byte for byte"
        );
        let payload: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(payload["id"], d.id.as_str());
        assert_eq!(payload["event"], "import.completed");
        assert_eq!(payload["tenant"], "default");
        assert_eq!(payload["data"], data);
        assert!(
            is_iso_ms_utc(payload["created_at"].as_str().unwrap()),
            "{payload}"
        );
        let keys: Vec<&str> = payload
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "event", "created_at", "tenant", "data"]);

        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.header("rosterhub-event"), "import.completed");
        assert_eq!(r.header("rosterhub-delivery"), d.id);
        assert_eq!(r.header("rosterhub-attempt"), "1");
        assert_eq!(
            r.header("user-agent"),
            format!("RosterHub-Webhooks/{}", env!("CARGO_PKG_VERSION"))
        );
        let sig = r.header("rosterhub-signature");
        let (t, v1) = sig
            .strip_prefix("t=")
            .and_then(|s| s.split_once(",v1="))
            .unwrap_or_else(|| panic!("signature {sig:?}"));
        let t: i64 = t.parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            (now - t).abs() < 60,
            "t is the send time in unix seconds: {t}"
        );
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(&r.body);
        assert_eq!(v1, hmac_hex(SECRET, &signed), "HMAC-SHA256(secret, t.body)");
        assert_ne!(v1, hmac_hex("another-secret-0123", &signed));
    });
}

fn a_failing_receiver_is_retried_with_growing_gaps(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let store = &db.store;
        let (url, receiver) = Receiver::start(2).await;
        let hook = subscribe(store, &url, &["*"], true).await;
        assert_eq!(
            emit(store, "import.failed", &json!({"job_id": "j2"})).await,
            1
        );
        let worker = spawn_delivery_worker(store.clone(), config(5, 200));
        let d = settled(store, &hook, Duration::from_secs(10)).await;
        worker.abort();

        assert_eq!(
            (d.state.as_str(), d.attempts, d.last_status),
            ("succeeded", 3, Some(200))
        );
        assert_eq!(d.last_error, None, "cleared by the success");
        let log: Vec<(i64, Option<i64>, Option<&str>)> = d
            .attempts_log
            .iter()
            .map(|a| (a.attempt, a.status, a.error.as_deref()))
            .collect();
        assert_eq!(
            log,
            [
                (1, Some(500), Some("HTTP 500 Internal Server Error")),
                (2, Some(500), Some("HTTP 500 Internal Server Error")),
                (3, Some(200), None),
            ]
        );
        assert!(d.attempts_log.windows(2).all(|w| w[0].at <= w[1].at));

        let requests = receiver.requests();
        assert_eq!(requests.len(), 3);
        let attempts: Vec<&str> = requests
            .iter()
            .map(|r| r.header("rosterhub-attempt"))
            .collect();
        assert_eq!(attempts, ["1", "2", "3"]);
        assert!(
            requests
                .iter()
                .all(|r| r.header("rosterhub-delivery") == d.id)
        );
        assert!(
            requests.iter().all(|r| r.body == requests[0].body),
            "the same payload each time"
        );
        let gap1 = requests[1].at - requests[0].at;
        let gap2 = requests[2].at - requests[1].at;
        // base 200 ms ±20 %, then 400 ms ±20 %.
        assert!(gap1 >= Duration::from_millis(150), "first gap {gap1:?}");
        assert!(gap2 >= Duration::from_millis(300), "second gap {gap2:?}");
        assert!(gap2 > gap1, "backoff grows: {gap1:?} then {gap2:?}");
    });
}

fn a_dead_endpoint_fails_without_delaying_a_healthy_one(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let store = &db.store;
        // A port with nothing listening: connections are refused.
        let dead_url = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/hook", l.local_addr().unwrap())
        };
        // A port that accepts connections and never answers.
        let hanging = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hanging_url = format!("http://{}/hook", hanging.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = hanging.accept().await {
                open.push(socket);
            }
        });
        let (healthy_url, receiver) = Receiver::start(0).await;
        // Created (and so enqueued and claimed) in this order.
        let dead = subscribe(store, &dead_url, &["export.completed"], true).await;
        let slow = subscribe(store, &hanging_url, &["export.completed"], true).await;
        let healthy = subscribe(store, &healthy_url, &["export.completed"], true).await;

        let mut cfg = config(3, 50);
        cfg.concurrency = 2;
        cfg.timeout_ms = 3_000;
        let emitted = Instant::now();
        assert_eq!(
            emit(store, "export.completed", &json!({"job_id": "j3"})).await,
            3
        );
        let worker = spawn_delivery_worker(store.clone(), cfg);

        let ok = settled(store, &healthy, Duration::from_secs(10)).await;
        let healthy_after = emitted.elapsed();
        assert_eq!((ok.state.as_str(), ok.attempts), ("succeeded", 1));
        assert_eq!(receiver.requests().len(), 1);
        assert!(
            healthy_after < Duration::from_millis(1_500),
            "the healthy delivery waited {healthy_after:?}, behind the hanging one"
        );
        let stuck = delivery(store, &slow).await;
        assert_eq!(
            (stuck.state.as_str(), stuck.attempts),
            ("pending", 0),
            "still in flight"
        );

        let failed = settled(store, &dead, Duration::from_secs(10)).await;
        worker.abort();
        held.abort();
        assert_eq!((failed.state.as_str(), failed.attempts), ("failed", 3));
        assert_eq!(failed.last_status, None);
        assert!(failed.finished_at.is_some());
        let last_error = failed.last_error.clone().unwrap_or_default();
        assert!(last_error.starts_with("connection failed"), "{last_error}");
        assert!(
            !last_error.contains(&dead_url),
            "errors do not repeat the URL: {last_error}"
        );
        assert_eq!(failed.attempts_log.len(), 3);
        for (i, a) in failed.attempts_log.iter().enumerate() {
            assert_eq!((a.attempt, a.status), (i as i64 + 1, None));
            assert!(
                a.error
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("connection failed")
            );
        }
    });
}

/// A tiny client of the admin API.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        (status, headers, json)
    }
}

fn the_subscriptions_api_over_a_real_socket(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("other");
    let server = start_with(&db, |_| {});
    db.rt.block_on(async {
        use reqwest::Method;
        let store = &db.store;
        let admin = server.token_for("default", Scopes::ADMIN).await;
        let importer = server.token_for("default", Scopes::IMPORT).await;
        let stranger = server.token_for("other", Scopes::ADMIN).await;
        let api = Api {
            http: reqwest::Client::new(),
            base: server.url("/api/v1"),
        };
        let (receiver_url, _receiver) = Receiver::start(1).await;

        // Create: the secret is generated and shown this once.
        let (s, h, first) = api
            .call(
                Method::POST,
                "/webhooks",
                &admin,
                Some(json!({"url": receiver_url, "events": ["import.completed", "import.held"]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{first}");
        let id = first["id"].as_str().unwrap().to_owned();
        assert_eq!(
            h["location"].to_str().unwrap(),
            server.url(&format!("/api/v1/webhooks/{id}"))
        );
        assert_eq!(first["url"], receiver_url);
        assert_eq!(first["events"], json!(["import.completed", "import.held"]));
        assert_eq!(
            (&first["active"], &first["description"]),
            (&json!(true), &json!(""))
        );
        let secret = first["secret"].as_str().unwrap();
        assert!(
            secret.starts_with("whsec_") && secret.len() == 6 + 43,
            "{secret}"
        );
        assert!(is_iso_ms_utc(first["created_at"].as_str().unwrap()));
        let stored = store.webhook("default", &id).await.unwrap().unwrap();
        assert_eq!(stored.secret, secret);

        let (s, _, second) = api
            .call(
                Method::POST,
                "/webhooks",
                &admin,
                Some(
                    json!({"url": "https://example.com/h", "events": ["*"], "secret": SECRET,
                            "active": false, "description": "audit"}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{second}");
        assert_eq!(second["secret"], SECRET);
        assert_eq!(
            (&second["active"], &second["description"]),
            (&json!(false), &json!("audit"))
        );
        let id2 = second["id"].as_str().unwrap().to_owned();

        // List: newest first, no secrets.
        let (s, _, list) = api.call(Method::GET, "/webhooks", &admin, None).await;
        assert_eq!(s, StatusCode::OK);
        let hooks = list["webhooks"].as_array().unwrap();
        let ids: Vec<&str> = hooks.iter().map(|w| w["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [id2.as_str(), id.as_str()]);
        assert!(hooks.iter().all(|w| w.get("secret").is_none()), "{list}");
        let (s, _, one) = api
            .call(Method::GET, &format!("/webhooks/{id}"), &admin, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(one.get("secret"), None);
        let mut expected = first.clone();
        expected.as_object_mut().unwrap().remove("secret");
        assert_eq!(one, expected);

        // A delivery, and its log over HTTP: 500 once, then 200.
        assert_eq!(
            emit(store, "import.held", &json!({"job_id": "j4"})).await,
            1
        );
        let (s, _, page) = api
            .call(
                Method::GET,
                &format!("/webhooks/{id}/deliveries"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 1);
        let pending = &page["deliveries"][0];
        assert_eq!(pending["event"], "import.held");
        assert_eq!(
            (&pending["state"], &pending["attempts"]),
            (&json!("pending"), &json!(0))
        );
        assert!(
            is_iso_ms_utc(pending["next_attempt_at"].as_str().unwrap()),
            "{pending}"
        );
        assert_eq!(
            (
                &pending["last_status"],
                &pending["last_error"],
                &pending["finished_at"]
            ),
            (&Value::Null, &Value::Null, &Value::Null)
        );
        assert_eq!(pending["attempts_log"], json!([]));
        let worker = spawn_delivery_worker(store.clone(), config(5, 50));
        settled(store, &id, Duration::from_secs(10)).await;
        worker.abort();
        let (_, _, page) = api
            .call(
                Method::GET,
                &format!("/webhooks/{id}/deliveries?limit=10&offset=0"),
                &admin,
                None,
            )
            .await;
        let done = &page["deliveries"][0];
        let keys: Vec<&str> = done
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "event",
                "state",
                "attempts",
                "next_attempt_at",
                "last_status",
                "last_error",
                "created_at",
                "finished_at",
                "attempts_log"
            ]
        );
        assert_eq!(done["id"], pending["id"]);
        assert_eq!(
            (&done["state"], &done["attempts"]),
            (&json!("succeeded"), &json!(2))
        );
        assert_eq!(
            (&done["last_status"], &done["next_attempt_at"]),
            (&json!(200), &Value::Null)
        );
        assert!(
            is_iso_ms_utc(done["finished_at"].as_str().unwrap()),
            "{done}"
        );
        let log = done["attempts_log"].as_array().unwrap();
        assert_eq!(log.len(), 2, "{done}");
        assert_eq!(
            (&log[0]["attempt"], &log[0]["status"], &log[0]["error"]),
            (
                &json!(1),
                &json!(500),
                &json!("HTTP 500 Internal Server Error")
            )
        );
        assert_eq!(
            (&log[1]["attempt"], &log[1]["status"], &log[1]["error"]),
            (&json!(2), &json!(200), &Value::Null)
        );
        assert!(is_iso_ms_utc(log[0]["at"].as_str().unwrap()) && log[0]["duration_ms"].is_i64());
        let (_, _, empty) = api
            .call(
                Method::GET,
                &format!("/webhooks/{id}/deliveries?offset=1"),
                &admin,
                None,
            )
            .await;
        assert_eq!(
            (&empty["deliveries"], &empty["total"]),
            (&json!([]), &json!(1))
        );
        let (s, _, e) = api
            .call(
                Method::GET,
                &format!("/webhooks/{id}/deliveries?limit=0"),
                &admin,
                None,
            )
            .await;
        assert_eq!(
            (s, &e["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_query"))
        );
        assert!(e["message"].as_str().unwrap().starts_with("limit:"), "{e}");

        // Patch: only the fields named change; the secret is never shown.
        let (s, _, patched) = api
            .call(
                Method::PATCH,
                &format!("/webhooks/{id}"),
                &admin,
                Some(json!({"events": ["*"], "active": false, "description": "paused"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{patched}");
        assert_eq!(patched["events"], json!(["*"]));
        assert_eq!(
            (&patched["active"], &patched["description"]),
            (&json!(false), &json!("paused"))
        );
        assert_eq!(
            (&patched["url"], &patched["created_at"]),
            (&first["url"], &first["created_at"])
        );
        assert_eq!(patched.get("secret"), None);
        let (s, _, _) = api
            .call(
                Method::PATCH,
                &format!("/webhooks/{id}"),
                &admin,
                Some(
                    json!({"secret": "rotated-secret-0123456789", "url": "https://example.org/x"}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let stored = store.webhook("default", &id).await.unwrap().unwrap();
        assert_eq!(
            (
                stored.secret.as_str(),
                stored.url.as_str(),
                stored.active,
                stored.events
            ),
            (
                "rotated-secret-0123456789",
                "https://example.org/x",
                false,
                vec!["*".to_owned()]
            )
        );

        // Invalid input: 400s naming the field.
        for (body, code, starts) in [
            (
                json!({"url": "ftp://example.com/", "events": ["*"]}),
                "invalid_url",
                "url:",
            ),
            (
                json!({"url": "/relative", "events": ["*"]}),
                "invalid_url",
                "url:",
            ),
            (json!({"events": ["*"]}), "invalid_url", "url: is required"),
            (
                json!({"url": "https://e.com/", "events": []}),
                "invalid_events",
                "events:",
            ),
            (
                json!({"url": "https://e.com/", "events": ["import.done"]}),
                "invalid_events",
                "events: unknown event \"import.done\"",
            ),
            (
                json!({"url": "https://e.com/", "events": ["*"], "secret": "short"}),
                "invalid_secret",
                "secret:",
            ),
            (
                json!({"url": "https://e.com/", "events": ["*"], "colour": "red"}),
                "unknown_field",
                "colour:",
            ),
        ] {
            let (s, _, e) = api
                .call(Method::POST, "/webhooks", &admin, Some(body.clone()))
                .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(e["error"], code, "{body}: {e}");
            assert!(
                e["message"].as_str().unwrap().starts_with(starts),
                "{body}: {e}"
            );
        }
        let (s, _, e) = api
            .call(
                Method::PATCH,
                &format!("/webhooks/{id}"),
                &admin,
                Some(json!({"events": []})),
            )
            .await;
        assert_eq!(
            (s, &e["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_events"))
        );
        let (_, _, list) = api.call(Method::GET, "/webhooks", &admin, None).await;
        assert_eq!(
            list["webhooks"].as_array().unwrap().len(),
            2,
            "nothing was created"
        );

        // Another tenant sees none of it, whatever the method.
        let (_, _, theirs) = api.call(Method::GET, "/webhooks", &stranger, None).await;
        assert_eq!(theirs, json!({"webhooks": []}));
        for (method, path, body) in [
            (Method::GET, format!("/webhooks/{id}"), None),
            (
                Method::PATCH,
                format!("/webhooks/{id}"),
                Some(json!({"active": true})),
            ),
            (Method::GET, format!("/webhooks/{id}/deliveries"), None),
            (Method::DELETE, format!("/webhooks/{id}"), None),
        ] {
            let (s, _, e) = api.call(method.clone(), &path, &stranger, body).await;
            assert_eq!(
                (s, &e["error"]),
                (StatusCode::NOT_FOUND, &json!("not_found")),
                "{method} {path}"
            );
        }
        assert!(!store.webhook("default", &id).await.unwrap().unwrap().active);

        // rosterhub.import does not open webhooks; no token at all is 401.
        for (method, path) in [
            (Method::GET, "/webhooks".to_owned()),
            (Method::DELETE, format!("/webhooks/{id}")),
        ] {
            let (s, _, e) = api.call(method, &path, &importer, None).await;
            assert_eq!(
                (s, &e["error"]),
                (StatusCode::FORBIDDEN, &json!("forbidden")),
                "{path}"
            );
        }
        let (s, _, e) = api
            .call(
                Method::POST,
                "/webhooks",
                &importer,
                Some(json!({"url": "https://e.com/", "events": ["*"]})),
            )
            .await;
        assert_eq!(
            (s, &e["error"]),
            (StatusCode::FORBIDDEN, &json!("forbidden"))
        );
        let (s, _, _) = api
            .call(Method::GET, "/webhooks", "not-a-token", None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        // Delete: 204, then gone with its deliveries.
        let (s, _, body) = api
            .call(Method::DELETE, &format!("/webhooks/{id}"), &admin, None)
            .await;
        assert_eq!((s, body), (StatusCode::NO_CONTENT, Value::Null));
        let (s, _, _) = api
            .call(Method::GET, &format!("/webhooks/{id}"), &admin, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _, e) = api
            .call(
                Method::GET,
                &format!("/webhooks/{id}/deliveries"),
                &admin,
                None,
            )
            .await;
        assert_eq!(
            (s, &e["error"]),
            (StatusCode::NOT_FOUND, &json!("not_found"))
        );
        let left = raw_sql::query(
            &db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1",
            &[&id],
        )
        .await;
        assert_eq!(left[0][0], 0, "deliveries went with the subscription");
        let (s, _, _) = api
            .call(Method::DELETE, &format!("/webhooks/{id}"), &admin, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "deleting twice");
        let (_, _, list) = api.call(Method::GET, "/webhooks", &admin, None).await;
        assert_eq!(list["webhooks"][0]["id"], id2.as_str());
    });
}

fn two_workers_never_send_one_attempt_twice(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let store = &db.store;
        let (url, receiver) = Receiver::start(0).await;
        let hook = subscribe(store, &url, &["import.completed"], true).await;
        for i in 0..24 {
            assert_eq!(emit(store, "import.completed", &json!({"n": i})).await, 1);
        }
        // Two replicas on one database.
        let a = spawn_delivery_worker(store.clone(), config(3, 1_000));
        let b = spawn_delivery_worker(store.clone(), config(3, 1_000));
        let start = Instant::now();
        let page = loop {
            let page = store
                .webhook_deliveries("default", &hook, 100, 0)
                .await
                .unwrap()
                .unwrap();
            if page
                .deliveries
                .iter()
                .all(|d| d.state != DeliveryState::Pending)
            {
                break page;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{page:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        a.abort();
        b.abort();
        assert_eq!(page.total, 24);
        assert!(
            page.deliveries
                .iter()
                .all(|d| d.state == DeliveryState::Succeeded && d.attempts == 1)
        );
        let mut sent: Vec<String> = receiver
            .requests()
            .iter()
            .map(|r| r.header("rosterhub-delivery").to_owned())
            .collect();
        assert_eq!(sent.len(), 24, "one request per delivery");
        sent.sort();
        sent.dedup();
        assert_eq!(sent.len(), 24, "no delivery sent twice");
    });
}

fn the_outbox_follows_the_subscriptions(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let store = &db.store;
        let (url, receiver) = Receiver::start(0).await;
        let kept = subscribe(store, &url, &["import.failed"], true).await;
        let deleted = subscribe(store, &url, &["import.failed"], true).await;
        let paused = subscribe(store, &url, &["import.failed"], true).await;
        let deliveries = webhooks::event_deliveries(store, "default", "import.failed", &json!({}))
            .await
            .unwrap();
        assert_eq!(deliveries.len(), 3);
        // Between reading the subscriptions and the job's final batch, one is deleted and one
        // paused: the batch still commits, without their deliveries.
        assert!(store.delete_webhook("default", &deleted).await.unwrap());
        let pause = webhooks::WebhookPatch {
            active: Some(false),
            ..Default::default()
        };
        webhooks::store::update(store, "default", &paused, pause.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store.enqueue_deliveries(&deliveries).await.unwrap(),
            [true, false, false]
        );
        assert_eq!(delivery(store, &kept).await.state, DeliveryState::Pending);
        assert_eq!(
            store
                .webhook_deliveries("default", &paused, 10, 0)
                .await
                .unwrap()
                .unwrap()
                .total,
            0
        );

        // A subscription paused with a delivery pending: it ends failed, unsent.
        webhooks::store::update(store, "default", &kept, pause)
            .await
            .unwrap()
            .unwrap();
        let worker = spawn_delivery_worker(store.clone(), config(3, 50));
        let d = settled(store, &kept, Duration::from_secs(10)).await;
        worker.abort();
        assert_eq!(
            (d.state.as_str(), d.attempts, d.last_error.as_deref()),
            ("failed", 0, Some("subscription inactive"))
        );
        assert!(d.attempts_log.is_empty());
        assert!(receiver.requests().is_empty(), "nothing was sent");
    });
}
