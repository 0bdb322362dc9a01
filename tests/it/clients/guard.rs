//! The guard on a real socket: rate limits (headers, 429 in each API's format) and IP
//! allow-lists (IPv4, IPv6, X-Forwarded-For only from trusted proxies).

use std::time::{Duration, Instant};

use reqwest::Method;
use rosterhub::auth::Scopes;
use rosterhub::domain::restrict::parse_allowed_ips;
use rosterhub::http::error::status_info;
use rosterhub::http::guard::GuardConfig;
use rosterhub::storage::clients::ClientSettings;
use serde_json::json;

use super::{OR, call, get, rate, state, token_request};
use crate::helpers::tokens::client_with;
use crate::helpers::{Backend, TestDb};
use crate::server::{listen, oneshot};

fn all() -> Scopes {
    Scopes::ALL.union(Scopes::ADMIN)
}

fn limited(n: u32) -> ClientSettings {
    ClientSettings {
        rate_limit_per_min: Some(n),
        ..ClientSettings::default()
    }
}

fn allowed(ranges: &str) -> ClientSettings {
    ClientSettings {
        allowed_ips: Some(parse_allowed_ips(ranges).unwrap()),
        ..ClientSettings::default()
    }
}

fn near(got: u64, want: u64) -> bool {
    // The bucket refills while the test runs: a second at most off.
    got == want || got + 1 == want
}

fn a_client_empties_its_bucket_and_gets_429_in_each_apis_format(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let state = state(&db, GuardConfig::default()).await;
        let base = format!("http://{}", listen(&state, "127.0.0.1:0").await);
        let c = client_with(&state, "default", all(), limited(3)).await;
        let orgs = format!("{base}{OR}/orgs");

        // Three per minute: one token every 20 s; X-RateLimit-Reset is when the bucket is full.
        for (remaining, reset) in [(2, 20), (1, 40), (0, 60)] {
            let (status, h, body) = get(&orgs, &c.token).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body, json!({"orgs": []}));
            let (limit, rem, res) = rate(&h).expect("rate headers on a 200");
            assert_eq!((limit, rem), (3, remaining));
            assert!(near(res, reset), "reset {res}, want {reset}");
        }
        let (status, h, body) = get(&orgs, &c.token).await;
        assert_eq!(status, 429);
        assert_eq!(body, status_info("server_busy", "too many requests"));
        let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(near(retry, 20), "Retry-After {retry}");
        let (limit, rem, res) = rate(&h).unwrap();
        assert_eq!((limit, rem), (3, 0));
        assert!(near(res, 60));

        // The bucket is the client's: the admin API and the token endpoint share it.
        let (status, h, body) = get(&format!("{base}/api/v1/clients"), &c.token).await;
        assert_eq!(status, 429);
        let message = body["message"].as_str().unwrap().to_owned();
        assert_eq!(body, json!({"error": "rate_limited", "message": message}));
        assert!(message.starts_with("too many requests: this client may make 3 a minute; retry after "), "{message}");
        assert!(h.contains_key("retry-after"));
        let (status, h, body) = token_request(&base, &c.id, &c.secret).await;
        assert_eq!(status, 429);
        assert_eq!(
            body,
            json!({"error": "temporarily_unavailable", "error_description": "too many requests from this client; retry later"})
        );
        assert_eq!(h["cache-control"], "no-store");
        assert!(h.contains_key("retry-after"));
        assert_eq!(rate(&h).unwrap().0, 3);

        // Another client has its own bucket, of the server's default size.
        let other = client_with(&state, "default", all(), ClientSettings::default()).await;
        let (status, h, _) = get(&orgs, &other.token).await;
        assert_eq!(status, 200);
        assert_eq!(rate(&h), Some((600, 599, 1)));

        // No valid token: no bucket, the handler's 401, no rate headers.
        for token in [None, Some("not-a-jwt")] {
            let (status, h, body) = call(Method::GET, &orgs, token, &[], None).await;
            assert_eq!(status, 401, "{body}");
            assert_eq!(body["imsx_codeMajor"], "failure");
            assert!(rate(&h).is_none(), "{h:?}");
        }
        // Browsers may read the headers.
        let (_, h, _) = call(Method::GET, &orgs, Some(&other.token), &[("origin", "http://ui.example")], None).await;
        let exposed = h["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
        for name in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"] {
            assert!(exposed.contains(name), "{exposed}");
        }
    });
}

/// Every case: (server, client, X-Forwarded-For, the address named in the 403 or `None`: 200).
fn allow_lists_admit_only_their_ranges(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let open = state(&db, GuardConfig::default()).await;
        let v4 = format!("http://{}", listen(&open, "127.0.0.1:0").await);
        let v6 = format!("http://{}", listen(&open, "[::1]:0").await);
        let behind_proxy = state(
            &db,
            GuardConfig {
                trusted_proxies: parse_allowed_ips("127.0.0.1").unwrap(),
                ..GuardConfig::default()
            },
        )
        .await;
        let proxy = format!("http://{}", listen(&behind_proxy, "127.0.0.1:0").await);

        let v4_only = client_with(&open, "default", all(), allowed("127.0.0.0/8")).await;
        let v6_only = client_with(&open, "default", all(), allowed("::1")).await;
        let office = client_with(&open, "default", all(), allowed("10.0.0.0/8, 2001:db8::/32")).await;
        let cases = [
            (&v4, &v4_only, None, None, "IPv4 in range"),
            (&v6, &v4_only, None, Some("::1"), "IPv6 outside an IPv4 list"),
            (&v6, &v6_only, None, None, "IPv6 in range"),
            (&v4, &v6_only, None, Some("127.0.0.1"), "IPv4 outside an IPv6 list"),
            (&v4, &office, None, Some("127.0.0.1"), "outside"),
            (&v6, &office, None, Some("::1"), "outside, IPv6"),
            (&v4, &office, Some("10.1.2.3"), Some("127.0.0.1"), "spoofed header from an untrusted peer"),
            (&v6, &office, Some("2001:db8::1"), Some("::1"), "spoofed IPv6 header"),
            (&proxy, &office, Some("10.1.2.3"), None, "a trusted proxy's client"),
            (&proxy, &office, Some("2001:db8::9"), None, "a trusted proxy's IPv6 client"),
            (&proxy, &office, Some("203.0.113.5"), Some("203.0.113.5"), "the proxy's client outside"),
            (&proxy, &office, Some("10.1.2.3, 203.0.113.5"), Some("203.0.113.5"), "right-most counts"),
            (&proxy, &office, Some("203.0.113.5, 10.1.2.3"), None, "a spoofed left entry is ignored"),
            (&proxy, &office, None, Some("127.0.0.1"), "no header: the proxy itself"),
        ];
        for (base, c, xff, refused, case) in cases {
            let headers: Vec<(&str, &str)> = xff.map(|x| ("x-forwarded-for", x)).into_iter().collect();
            let url = format!("{base}{OR}/orgs");
            let (status, h, body) = call(Method::GET, &url, Some(&c.token), &headers, None).await;
            match refused {
                None => {
                    assert_eq!((status, &body), (200, &json!({"orgs": []})), "{case}");
                }
                Some(ip) => {
                    assert_eq!(status, 403, "{case}: {body}");
                    let msg = format!("requests from {ip} are not allowed for this client");
                    assert_eq!(body, status_info("forbidden", &msg), "{case}");
                    assert_eq!(rate(&h).map(|r| r.0), Some(600), "{case}: rate headers");
                    // The admin API refuses in its own format.
                    let url = format!("{base}/api/v1/clients");
                    let (status, _, body) = call(Method::GET, &url, Some(&c.token), &headers, None).await;
                    assert_eq!(status, 403, "{case}");
                    assert_eq!(body, json!({"error": "ip_not_allowed", "message": msg}), "{case}");
                }
            }
        }

        // The token endpoint applies the list to the credentials' client.
        let refused = json!({"error": "invalid_client", "error_description": "requests from this address are not allowed for this client"});
        for (base, c, ok) in [(&v4, &v4_only, true), (&v6, &v4_only, false), (&v4, &office, false)] {
            let (status, h, body) = token_request(base, &c.id, &c.secret).await;
            if ok {
                assert_eq!(status, 200, "{body}");
                assert!(body["access_token"].is_string());
            } else {
                assert_eq!((status, &body), (403, &refused));
                assert_eq!(h["cache-control"], "no-store");
            }
        }

        // A change through the API applies at once on the replica that made it, and within
        // the settings cache's lifetime on the others.
        let admin = client_with(&open, "default", all(), ClientSettings::default()).await;
        let url = format!("{v4}/api/v1/clients/{}", office.id);
        let body = json!({"allowed_ips": null});
        let (status, _, body) = call(Method::PATCH, &url, Some(&admin.token), &[], Some(&body)).await;
        assert_eq!((status, &body["allowed_ips"]), (200, &json!(null)), "{body}");
        let (status, _, _) = get(&format!("{v4}{OR}/orgs"), &office.token).await;
        assert_eq!(status, 200, "at once on this replica");
        let started = Instant::now();
        loop {
            let (status, _, _) = get(&format!("{proxy}{OR}/orgs"), &office.token).await;
            if status == 200 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(7), "the other replica still refuses");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

/// In process: the address the guard decided is in the response's extensions; without a
/// known peer address an allow-listed client is refused.
#[test]
fn the_decided_address_is_handed_on_and_an_unknown_one_is_refused() {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use rosterhub::http::guard::ClientIp;

    let db = TestDb::new(Backend::Sqlite).unwrap();
    db.rt.block_on(async {
        let config = GuardConfig {
            trusted_proxies: parse_allowed_ips("10.0.0.0/8").unwrap(),
            ..GuardConfig::default()
        };
        let state = state(&db, config).await;
        let c = client_with(&state, "default", all(), allowed("192.0.2.0/24")).await;
        let app = rosterhub::http::router(state.clone());
        let request = |peer: Option<&str>, xff: Option<&str>| {
            let mut r = axum::http::Request::get(format!("{OR}/orgs"))
                .header("authorization", format!("Bearer {}", c.token));
            if let Some(x) = xff {
                r = r.header("x-forwarded-for", x);
            }
            let mut r = r.body(Body::empty()).unwrap();
            if let Some(p) = peer {
                let addr: std::net::SocketAddr = p.parse().unwrap();
                r.extensions_mut().insert(ConnectInfo(addr));
            }
            r
        };
        for (peer, xff, status, ip) in [
            (Some("192.0.2.7:5000"), None, 200, Some("192.0.2.7")),
            (
                Some("10.0.0.1:5000"),
                Some("192.0.2.8"),
                200,
                Some("192.0.2.8"),
            ),
            (
                Some("[::ffff:192.0.2.9]:5000"),
                None,
                200,
                Some("192.0.2.9"),
            ),
            (
                Some("198.51.100.1:5000"),
                Some("192.0.2.8"),
                403,
                Some("198.51.100.1"),
            ),
            (None, None, 403, None),
        ] {
            let response = oneshot(&app, request(peer, xff)).await;
            assert_eq!(response.status().as_u16(), status, "{peer:?} {xff:?}");
            let decided = response.extensions().get::<ClientIp>().map(|c| c.0);
            assert_eq!(decided, ip.map(|i| i.parse().unwrap()), "{peer:?} {xff:?}");
            if peer.is_none() {
                let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
                assert_eq!(
                    body,
                    status_info(
                        "forbidden",
                        "this client may call only from listed addresses, and the request's \
                         address is unknown"
                    )
                );
            }
        }
    });
}

crate::on_both_backends!(
    a_client_empties_its_bucket_and_gets_429_in_each_apis_format,
    allow_lists_admit_only_their_ranges,
);
