//! OpenTelemetry tracing. With the `otel` feature: `rosterhub serve --otlp-endpoint` exports a
//! request that carries a W3C `traceparent` as a span of that trace, named by its route
//! template, to a real OTLP/HTTP receiver on a socket, and the request's JSON log line carries
//! the same trace id. Without it: the setting is refused at start, saying how to build it.

use std::time::{Duration, Instant};

use crate::helpers::cli::rosterhub;

#[cfg(feature = "otel")]
mod exported {
    use std::sync::{Arc, Mutex};

    use axum::routing::post;
    use serde_json::Value;

    use super::*;
    use crate::helpers::cli::{create_client, token_of, wait_for_log};
    use crate::helpers::fixtures;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    /// Every span of the OTLP JSON bodies received, flattened.
    fn spans(bodies: &[Value]) -> Vec<Value> {
        let mut out = Vec::new();
        for b in bodies {
            for rs in b["resourceSpans"].as_array().into_iter().flatten() {
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    out.extend(ss["spans"].as_array().into_iter().flatten().cloned());
                }
            }
        }
        out
    }

    /// A span's string attribute.
    fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
        span["attributes"]
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| &a["value"])
    }

    /// The spans received once `found` picks what it looks for from them (30 s at most).
    fn wait_for<T>(received: &Mutex<Vec<Value>>, found: impl Fn(&[Value]) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            let got = spans(&received.lock().unwrap());
            if let Some(t) = found(&got) {
                return t;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "not among the spans received: {got:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    #[test]
    fn a_traced_request_reaches_the_collector_and_the_log() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        // The receiver: POST /v1/traces with an OTLP JSON body, kept for the test to read.
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let receiver = {
            let received = received.clone();
            axum::Router::new().route(
                "/v1/traces",
                post(move |body: axum::body::Bytes| async move {
                    let json: Value = serde_json::from_slice(&body).expect("an OTLP JSON body");
                    received.lock().unwrap().push(json);
                    "{}"
                }),
            )
        };
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let collector = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(async move { axum::serve(listener, receiver).await });

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let log_path = dir.path().join("serve.log");
        let server = rosterhub(&[
            "serve",
            "--database-url",
            &url,
            "--otlp-endpoint",
            &collector,
        ])
        .env(&[
            ("ROSTERHUB_LOG_FORMAT", "json"),
            ("RUST_LOG", "info,rosterhub::http=debug"),
            // Export every 100 ms instead of every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ])
        .serve(Some(std::fs::File::create(&log_path).unwrap()));

        let path = "/ims/oneroster/rostering/v1p2/users/u-0001";
        let status = rt.block_on(async {
            reqwest::Client::new()
                .get(format!("{}{path}", server.base))
                .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(status, 401, "no token");

        let span = wait_for(&received, |got| {
            got.iter().find(|s| s["traceId"] == TRACE_ID).cloned()
        });
        let route = "/ims/oneroster/rostering/v1p2/users/{id}";
        assert_eq!(span["name"], format!("GET {route}"), "{span}");
        assert_eq!(span["parentSpanId"], "00f067aa0ba902b7", "{span}");
        assert_eq!(
            attribute(&span, "http.route"),
            Some(&serde_json::json!({"stringValue": route})),
            "{span}"
        );
        assert_eq!(
            attribute(&span, "http.response.status_code"),
            Some(&serde_json::json!({"intValue": "401"})),
            "{span}"
        );

        // The request's log line names the same trace.
        let log = wait_for_log(&log_path, "request finished");
        let line = log
            .lines()
            .find(|l| l.contains("request finished"))
            .unwrap();
        let line: Value = serde_json::from_str(line).unwrap();
        assert_eq!(line["span"]["trace_id"], TRACE_ID, "{line}");

        // An import job: its span, the import's below it and each phase below that.
        let client = create_client(&url, Some("rosterhub.import"));
        let status = rt.block_on(async {
            let token = token_of(&server.base, &client).await;
            reqwest::Client::new()
                .post(format!("{}/api/v1/imports", server.base))
                .bearer_auth(token)
                .header("content-type", "application/zip")
                .body(crate::server::zip_dir(
                    &fixtures().join("jp-profile-v1.2.1"),
                ))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(status, 202);
        let named = |got: &[Value], name: &str| got.iter().find(|s| s["name"] == name).cloned();
        let apply = wait_for(&received, |got| named(got, "import.apply"));
        let got = spans(&received.lock().unwrap());
        let job = named(&got, "job import").expect("the job's span");
        let import = named(&got, "import").expect("the import's span");
        assert_eq!(import["parentSpanId"], job["spanId"], "{import}");
        for phase in ["import.validate", "import.references", "import.plan"] {
            let s = named(&got, phase).unwrap_or_else(|| panic!("no {phase} span"));
            assert_eq!(s["parentSpanId"], import["spanId"], "{s}");
        }
        assert_eq!(apply["parentSpanId"], import["spanId"], "{apply}");
        assert_eq!(apply["traceId"], job["traceId"], "{apply}");
        drop(server);
    }
}

/// A build without the feature refuses the setting at start and says how to get it.
#[cfg(not(feature = "otel"))]
#[test]
fn without_the_feature_the_endpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut child = rosterhub(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--otlp-endpoint",
        "http://127.0.0.1:4318",
    ])
    .start();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("serve started with an endpoint it cannot use");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cargo build --release --features otel"),
        "{err}"
    );
    assert!(err.contains("ビルドが必要です"), "{err}");
    assert!(!dir.path().join("t.db").exists(), "nothing was created");
}
