//! Security headers, request limits and TLS, on a real socket.

use std::time::Duration;

use crate::helpers::{Backend, TestDb};
use crate::server::{listen, listen_tls, state};

/// A self-signed certificate for `localhost`: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn check_security_headers(h: &reqwest::header::HeaderMap, tls: bool) {
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(
        h.get("strict-transport-security")
            .map(|v| v.to_str().unwrap()),
        tls.then_some("max-age=31536000; includeSubDomains")
    );
}

#[test]
fn tls_security_headers_and_limits() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    db.rt.block_on(async {
        // Plain HTTP: the headers, no HSTS.
        let plain = listen(&state(&db, |_| {}).await, "127.0.0.1:0").await;
        let http = reqwest::Client::new();
        let r = http
            .get(format!("http://{plain}/health/live"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        check_security_headers(r.headers(), false);
        // Errors carry them too.
        let r = http
            .get(format!("http://{plain}/ims/oneroster/rostering/v1p2/users"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        check_security_headers(r.headers(), false);

        // A body over the limit outside the upload route: 413, not read whole.
        let r = http
            .post(format!("http://{plain}/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 2 << 20])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        // A header block too large: refused by the HTTP layer.
        let r = http
            .get(format!("http://{plain}/health/live"))
            .header("x-big", "a".repeat(1 << 20))
            .send()
            .await;
        match r {
            Ok(r) => assert_eq!(r.status(), 431),
            Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
        }

        // TLS: the same API over HTTPS with HSTS.
        let config = rosterhub::http::tls::load_config(&cert_path, &key_path).unwrap();
        let addr = listen_tls(&state(&db, |s| s.tls = true).await, config).await;
        let https = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
            .resolve("localhost", addr)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let r = https
            .get(format!("https://localhost:{}/health/live", addr.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);
        let r = https
            .get(format!("https://localhost:{}/health/ready", addr.port()))
            .send()
            .await
            .unwrap();
        check_security_headers(r.headers(), true);
        // Plain HTTP to the TLS port is not served.
        let r = http.get(format!("http://{addr}/health/live")).send().await;
        assert!(r.is_err() || !r.unwrap().status().is_success());
    });
    // A key file that is not a key: a clear error, and no key bytes in it.
    std::fs::write(&key_path, "not a key").unwrap();
    let err = rosterhub::http::tls::load_config(&cert_path, &key_path).unwrap_err();
    assert!(
        format!("{err:#}").contains("cannot read a PEM private key"),
        "{err:#}"
    );
}
