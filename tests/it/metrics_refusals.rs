//! The refusal counters on `/metrics` move with what the server refuses: missing and invalid
//! bearer tokens, wrong client secrets up to the lock-out, an empty rate-limit bucket, an
//! address outside a client's allow-list. The recorder is process-wide and tests run side by
//! side, so each check is a lower bound on the increase during this test.

use rosterhub::auth::Scopes;
use rosterhub::storage::clients::ClientSettings;

use crate::helpers::tokens::{TestClient, client_with};
use crate::helpers::{Backend, TestDb};
use crate::server::{Server, start_with};

/// The value of one series (`name{labels}` as rendered) in a scrape; 0 when absent.
fn value(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn scrape(server: &Server) -> String {
    server
        .get_with("/metrics", None)
        .await
        .text()
        .await
        .unwrap()
}

async fn new_client(server: &Server, settings: ClientSettings) -> TestClient {
    client_with(&server.state, "default", Scopes::ALL, settings).await
}

fn refusals_are_counted_by_kind_and_area(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let users = "/ims/oneroster/rostering/v1p2/users";
    db.rt.block_on(async {
        let before = scrape(&server).await;

        for token in [None, Some("not-a-token")] {
            assert_eq!(server.get_with(users, token).await.status(), 401);
        }

        // Wrong secrets: 401 until the client id's limit (20), then 429 without a check.
        let guessed = new_client(&server, ClientSettings::default()).await;
        let mut statuses = Vec::new();
        for _ in 0..21 {
            let r = server
                .http
                .post(server.url("/oauth/token"))
                .basic_auth(&guessed.id, Some("wrong"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        assert_eq!(statuses[..20], [401; 20]);
        assert_eq!(statuses[20], 429);

        let limited = new_client(
            &server,
            ClientSettings {
                rate_limit_per_min: Some(1),
                ..ClientSettings::default()
            },
        )
        .await;
        assert_eq!(
            server.get_with(users, Some(&limited.token)).await.status(),
            200
        );
        assert_eq!(
            server.get_with(users, Some(&limited.token)).await.status(),
            429
        );

        let elsewhere = new_client(
            &server,
            ClientSettings {
                allowed_ips: Some(vec!["192.0.2.0/24".parse().unwrap()]),
                ..ClientSettings::default()
            },
        )
        .await;
        assert_eq!(
            server
                .get_with(users, Some(&elsewhere.token))
                .await
                .status(),
            403
        );

        let after = scrape(&server).await;
        let increase = |series: &str| value(&after, series) - value(&before, series);
        for (series, at_least) in [
            (r#"rosterhub_auth_failures_total{kind="bearer"}"#, 2.0),
            (r#"rosterhub_auth_failures_total{kind="token"}"#, 20.0),
            (r#"rosterhub_auth_lockouts_total{kind="token"}"#, 1.0),
            (r#"rosterhub_rate_limited_total{area="oneroster"}"#, 1.0),
            (r#"rosterhub_ip_refused_total{area="oneroster"}"#, 1.0),
        ] {
            assert!(
                increase(series) >= at_least,
                "{series}: {} before, {} after",
                value(&before, series),
                value(&after, series)
            );
        }
    });
}

crate::on_both_backends!(refusals_are_counted_by_kind_and_area);
