//! Failed credentials are counted in the database before they are checked: parallel requests,
//! through two servers on one database, get no more checks than the documented limits (5 per
//! username and 20 per address at the login, 20 per client id and 60 per address at
//! `/oauth/token`), and the answers do not tell which usernames or clients exist.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use rosterhub::auth::Scopes;
use rosterhub::domain::restrict::parse_allowed_ips;
use rosterhub::storage::clients::ClientSettings;
use rosterhub::users::Role;
use serde_json::{Value, json};

use crate::helpers::tokens::{client, client_with};
use crate::helpers::{Backend, TestDb};
use crate::server::{Server, start_with};
use crate::users::{PASSWORD, Reply, hanako_served, login, ops_rows, send, user};

const WRONG: &str = "wrong password 123";

fn locked() -> Value {
    json!({"error": "account_locked",
           "message": "the account is locked after repeated failed logins; try again later"})
}

fn wrong() -> Value {
    json!({"error": "invalid_credentials", "message": "wrong username or password"})
}

/// How many replies had each `error` code (`ok` for none).
fn tally(replies: &[Reply]) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for r in replies {
        let code = match r.error() {
            "" => format!("{} ok", r.status),
            e => format!("{} {e}", r.status),
        };
        *t.entry(code).or_default() += 1;
    }
    t
}

fn retry_after(r: &Reply) -> i64 {
    r.header("retry-after").parse().expect("Retry-After")
}

fn sixty_parallel_wrong_passwords_check_five(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    // Two servers on one database: two replicas.
    let servers = [start_with(&db, |_| {}), start_with(&db, |_| {})];
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.rt.block_on(async {
        let replies =
            join_all((0..60).map(|i| login(&servers[i % 2], "hanako", WRONG, None))).await;
        let t = tally(&replies);
        // Exactly five were checked (wrong: 401, or 429 from the address past its 20); the
        // other 55 were refused before the check.
        let refused = t.get("429 account_locked").copied().unwrap_or(0);
        assert_eq!(refused, 55, "{t:?}");
        let checked: usize = t
            .iter()
            .filter(|(k, _)| !k.ends_with("account_locked"))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(checked, 5, "{t:?}");
        let failures = ops_rows(
            &db,
            &format!(
                "SELECT COUNT(*) FROM admin_login_failures WHERE user_id = '{}'",
                hanako.id
            ),
        );
        assert_eq!(failures, vec![vec![json!(5)]], "failures recorded");
        // Locked: the right password does not open it either.
        let r = login(&servers[0], "hanako", PASSWORD, None).await;
        assert_eq!((r.status, &r.body), (429, &locked()));
        assert!(
            (840..=900).contains(&retry_after(&r)),
            "{}",
            retry_after(&r)
        );
    });
}

fn unknown_and_existing_usernames_lock_alike(backend: Backend) {
    let Some((db, server, _)) = hanako_served(backend) else {
        return;
    };
    db.rt.block_on(async {
        for name in ["hanako", "nobody"] {
            for attempt in 1..=5 {
                let r = login(&server, name, WRONG, None).await;
                assert_eq!((r.status, &r.body), (401, &wrong()), "{name} {attempt}");
                assert_eq!(r.header("retry-after"), "", "{name} {attempt}");
            }
            // The sixth: the same refusal whether the user exists or not (the username is
            // matched whatever its case).
            let r = login(&server, &name.to_uppercase(), WRONG, None).await;
            assert_eq!((r.status, &r.body), (429, &locked()), "{name}");
            assert!((840..=900).contains(&retry_after(&r)), "{name}");
        }
    });
}

/// A token request with HTTP Basic credentials.
async fn token(server: &Server, id: &str, secret: &str) -> Reply {
    send(
        server
            .http
            .post(server.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials"),
    )
    .await
}

fn throttled(r: &Reply) -> bool {
    r.status == 429
        && r.body
            == json!({"error": "invalid_client", "error_description": format!(
                "too many failed token requests for this client or from this address; check \
                 the client id and secret and retry after {} s", retry_after(r))})
        && (840..=900).contains(&retry_after(r))
}

fn parallel_wrong_secrets_check_twenty_per_client(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let servers = [start_with(&db, |_| {}), start_with(&db, |_| {})];
    let failed =
        json!({"error": "invalid_client", "error_description": "client authentication failed"});
    db.rt.block_on(async {
        let c = client(&servers[0].state, "default", Scopes::ALL).await;
        let other = client(&servers[0].state, "default", Scopes::ALL).await;
        let replies = join_all((0..30).map(|i| token(&servers[i % 2], &c.id, "wrong"))).await;
        let refused = replies.iter().filter(|r| throttled(r)).count();
        let checked = replies
            .iter()
            .filter(|r| (r.status, &r.body) == (401, &failed))
            .count();
        assert_eq!((checked, refused), (20, 10), "{:?}", tally(&replies));
        // The client's own secret waits too; another client is not affected.
        assert!(throttled(&token(&servers[0], &c.id, &c.secret).await));
        let r = token(&servers[1], &other.id, &other.secret).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // A client id that does not exist is counted alike (the answers do not tell).
        for _ in 0..20 {
            let r = token(&servers[0], "no-such-client", "wrong").await;
            assert_eq!((r.status, &r.body), (401, &failed));
        }
        assert!(throttled(
            &token(&servers[0], "no-such-client", "wrong").await
        ));
    });
}

fn parallel_wrong_secrets_check_sixty_per_address(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    db.rt.block_on(async {
        let replies = join_all((0..70).map(|i| {
            let id = format!("made-up-{i}");
            let server = &server;
            async move { token(server, &id, "wrong").await }
        }))
        .await;
        let refused = replies.iter().filter(|r| throttled(r)).count();
        let checked = replies.iter().filter(|r| r.status == 401).count();
        assert_eq!((checked, refused), (60, 10), "{:?}", tally(&replies));
    });
}

fn the_allow_list_is_checked_after_the_secret(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    db.rt.block_on(async {
        let settings = ClientSettings {
            allowed_ips: Some(parse_allowed_ips("10.0.0.0/8").unwrap()),
            ..ClientSettings::default()
        };
        let c = client_with(&server.state, "default", Scopes::ALL, settings).await;
        // Without the secret, nothing tells that the client exists and is restricted.
        let r = token(&server, &c.id, "wrong").await;
        assert_eq!(
            (r.status, &r.body),
            (
                401,
                &json!({"error": "invalid_client", "error_description": "client authentication failed"})
            )
        );
        let r = token(&server, &c.id, &c.secret).await;
        assert_eq!(
            (r.status, &r.body),
            (
                403,
                &json!({"error": "invalid_client",
                        "error_description": "requests from this address are not allowed for this client"})
            )
        );
    });
}

crate::on_both_backends!(
    sixty_parallel_wrong_passwords_check_five,
    unknown_and_existing_usernames_lock_alike,
    parallel_wrong_secrets_check_twenty_per_client,
    parallel_wrong_secrets_check_sixty_per_address,
    the_allow_list_is_checked_after_the_secret,
);
