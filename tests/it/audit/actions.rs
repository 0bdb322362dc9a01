//! Every audited action leaves exactly one entry with the right actor, action, status, count,
//! target, IP, user agent and request id; requests without a tenant leave none.

use reqwest::Method;
use rosterhub::audit::Filter;
use rosterhub::auth::Scopes;
use rosterhub::domain::datetime::now_ms;
use rosterhub::storage::clients::ClientSettings;
use serde_json::{Value, json};

use super::{OR, by_request, entries, expected, one, req, send};
use crate::helpers::tokens::{TestClient, client, client_with};
use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};
use crate::server::{Server, admin_scopes, test_config, zip_dir};

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

pub(super) fn each_audited_action_leaves_exactly_one_entry(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = Server::start(&db, "default", test_config());
    let held = zip_dir(TempBundle::shrinking().path());
    db.rt.block_on(async {
        let TestClient {
            id: reader,
            token: rtok,
            ..
        } = client(&server.state, "default", Scopes::CORE).await;
        let TestClient {
            id: admin,
            token: atok,
            ..
        } = client(&server.state, "default", admin_scopes()).await;
        let reader = format!("client:{reader}");
        let admin = format!("client:{admin}");
        let users = format!("{OR}/users");
        let get = |path: &str, tok: Option<&str>| req(&server, Method::GET, path, tok);

        // A collection read: the records on the page returned, not the total.
        let before = now_ms();
        let (s, h, body) = send(
            get(&format!("{users}?limit=5&offset=2"), Some(&rtok)),
            "r-page",
        )
        .await;
        assert_eq!((s, &h["x-total-count"]), (200, &"36".parse().unwrap()));
        let first = json_of(&body)["users"][0]["sourcedId"]
            .as_str()
            .unwrap()
            .to_owned();
        let e = one(&server, "default", "r-page").await;
        let want = expected(
            &e,
            &reader,
            "oneroster.read",
            "GET",
            &users,
            Some("limit=5&offset=2"),
            200,
            Some(5),
            None,
            "r-page",
        );
        assert_eq!(e, want);
        assert!(
            e.at >= before && e.at <= now_ms(),
            "stamped when it arrived"
        );
        assert_eq!(e.tenant, "default");
        // The last page holds 36 − 30 records.
        send(get(&format!("{users}?offset=30"), Some(&rtok)), "r-last").await;
        assert_eq!(
            one(&server, "default", "r-last").await.result_count,
            Some(6)
        );

        // A single object: one record, the object as the target.
        let (s, _, _) = send(get(&format!("{users}/{first}"), Some(&rtok)), "r-one").await;
        assert_eq!(s, 200);
        let e = one(&server, "default", "r-one").await;
        let path = format!("{users}/{first}");
        assert_eq!(
            e,
            expected(
                &e,
                &reader,
                "oneroster.read",
                "GET",
                &path,
                None,
                200,
                Some(1),
                Some(&first),
                "r-one"
            )
        );

        // An e-mail filter: found nothing, and the address is not kept.
        let q = "filter=email%3D%27nobody%40example.jp%27";
        send(get(&format!("{users}?{q}"), Some(&rtok)), "r-mail").await;
        let e = one(&server, "default", "r-mail").await;
        assert_eq!(
            (e.result_count, e.query.as_deref()),
            (Some(0), Some("filter=email%3D%27%2A%2A%2A%27"))
        );

        // Refused for want of a scope: recorded, with no records.
        let (s, _, _) = send(get(&format!("{OR}/demographics"), Some(&rtok)), "r-403").await;
        assert_eq!(s, 403);
        let e = one(&server, "default", "r-403").await;
        let path = format!("{OR}/demographics");
        assert_eq!(
            e,
            expected(
                &e,
                &reader,
                "oneroster.read",
                "GET",
                &path,
                None,
                403,
                Some(0),
                None,
                "r-403"
            )
        );

        // No token, or a forged one: no tenant, so no entry anywhere.
        assert_eq!(send(get(&users, None), "r-anon").await.0, 401);
        assert_eq!(
            send(get(&users, Some("e30.e30.sig")), "r-forged").await.0,
            401
        );
        assert!(by_request(&server, "default", "r-anon").await.is_empty());
        assert!(by_request(&server, "default", "r-forged").await.is_empty());

        // Upload → held → discarded; upload → held → approved.
        let upload = || {
            req(&server, Method::POST, "/api/v1/imports", Some(&atok))
                .header("content-type", "application/zip")
                .body(held.clone())
        };
        let (s, _, body) = send(upload(), "r-up1").await;
        assert_eq!(s, 202);
        let first_import = json_of(&body)["id"].as_str().unwrap().to_owned();
        let e = one(&server, "default", "r-up1").await;
        assert_eq!(
            e,
            expected(
                &e,
                &admin,
                "imports.create",
                "POST",
                "/api/v1/imports",
                None,
                202,
                None,
                Some(&first_import),
                "r-up1"
            )
        );
        let path = format!("/api/v1/imports/{first_import}");
        assert_eq!(server.wait(&path).await["state"], "held");
        let discard = format!("{path}/discard");
        let (s, _, _) = send(
            req(&server, Method::POST, &discard, Some(&atok)),
            "r-discard",
        )
        .await;
        assert_eq!(s, 200);
        let e = one(&server, "default", "r-discard").await;
        assert_eq!(
            e,
            expected(
                &e,
                &admin,
                "imports.discard",
                "POST",
                &discard,
                None,
                200,
                None,
                Some(&first_import),
                "r-discard"
            )
        );

        let (_, _, body) = send(upload(), "r-up2").await;
        let second = json_of(&body)["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/imports/{second}");
        assert_eq!(server.wait(&path).await["state"], "held");
        let approve = format!("{path}/approve");
        let (s, _, _) = send(
            req(&server, Method::POST, &approve, Some(&atok)),
            "r-approve",
        )
        .await;
        assert_eq!(s, 202);
        let e = one(&server, "default", "r-approve").await;
        assert_eq!(
            e,
            expected(
                &e,
                &admin,
                "imports.approve",
                "POST",
                &approve,
                None,
                202,
                None,
                Some(&second),
                "r-approve"
            )
        );
        assert_eq!(server.wait(&path).await["state"], "succeeded");

        // An export and its download.
        let create = req(&server, Method::POST, "/api/v1/exports", Some(&atok)).json(&json!({}));
        let (s, _, body) = send(create, "r-export").await;
        assert_eq!(s, 202);
        let export = json_of(&body)["id"].as_str().unwrap().to_owned();
        let e = one(&server, "default", "r-export").await;
        assert_eq!(
            e,
            expected(
                &e,
                &admin,
                "exports.create",
                "POST",
                "/api/v1/exports",
                None,
                202,
                None,
                Some(&export),
                "r-export"
            )
        );
        let path = format!("/api/v1/exports/{export}");
        assert_eq!(server.wait(&path).await["state"], "succeeded");
        let download = format!("{path}/download");
        let (s, _, zip) = send(get(&download, Some(&atok)), "r-download").await;
        assert_eq!((s, &zip[..2]), (200, &b"PK"[..]));
        let e = one(&server, "default", "r-download").await;
        assert_eq!(
            e,
            expected(
                &e,
                &admin,
                "exports.download",
                "GET",
                &download,
                None,
                200,
                None,
                Some(&export),
                "r-download"
            )
        );

        // A webhook subscription.
        let body = json!({"url": "https://example.com/hook", "events": ["*"]});
        let (s, _, created) = send(
            req(&server, Method::POST, "/api/v1/webhooks", Some(&atok)).json(&body),
            "r-hook",
        )
        .await;
        assert_eq!(s, 201);
        let hook = json_of(&created)["id"].as_str().unwrap().to_owned();
        let e = one(&server, "default", "r-hook").await;
        assert_eq!(
            e,
            expected(
                &e,
                &admin,
                "webhooks.create",
                "POST",
                "/api/v1/webhooks",
                None,
                201,
                None,
                Some(&hook),
                "r-hook"
            )
        );

        // A revoked client's request still names its tenant: recorded with its refusal.
        server
            .state
            .store
            .revoke_client(&admin["client:".len()..])
            .await
            .unwrap();
        let (s, _, _) = send(get("/api/v1/imports", Some(&atok)), "r-revoked").await;
        assert_eq!(s, 401);
        let e = one(&server, "default", "r-revoked").await;
        assert_eq!(
            e,
            expected(
                &e,
                &admin,
                "imports.list",
                "GET",
                "/api/v1/imports",
                None,
                401,
                None,
                None,
                "r-revoked"
            )
        );

        // Exactly these write actions, each once per request.
        let of = |action: &str| Filter {
            action: Some(action.into()),
            ..Filter::default()
        };
        for (action, n) in [
            ("imports.create", 2),
            ("imports.discard", 1),
            ("imports.approve", 1),
            ("exports.create", 1),
            ("exports.download", 1),
            ("webhooks.create", 1),
        ] {
            assert_eq!(
                entries(&server, "default", of(action)).await.len(),
                n,
                "{action}"
            );
        }
    });
}

pub(super) fn token_requests_and_refusals_are_audited(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let c = client(&server.state, "default", Scopes::CORE).await;
        let id = c.id.clone();
        let form = |secret: &str| {
            format!("grant_type=client_credentials&client_id={id}&client_secret={secret}")
        };
        let token = |body: String| {
            req(&server, Method::POST, "/oauth/token", None)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
        };
        assert_eq!(send(token(form(&c.secret)), "t-ok").await.0, 200);
        assert_eq!(send(token(form("wrong")), "t-bad").await.0, 401);
        // Basic credentials name the client as well.
        let basic = req(&server, Method::POST, "/oauth/token", None)
            .basic_auth(&id, Some("wrong"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        assert_eq!(send(basic, "t-basic").await.0, 401);
        // An unknown client belongs to no tenant: not recorded.
        let unknown = "grant_type=client_credentials&client_id=nobody&client_secret=x".to_owned();
        assert_eq!(send(token(unknown), "t-unknown").await.0, 401);

        let actor = format!("client:{id}");
        let e = one(&server, "default", "t-ok").await;
        assert_eq!(
            e,
            expected(
                &e,
                &actor,
                "token.issue",
                "POST",
                "/oauth/token",
                None,
                200,
                None,
                None,
                "t-ok"
            )
        );
        for rid in ["t-bad", "t-basic"] {
            let e = one(&server, "default", rid).await;
            assert_eq!(
                e,
                expected(
                    &e,
                    &actor,
                    "token.refused",
                    "POST",
                    "/oauth/token",
                    None,
                    401,
                    None,
                    None,
                    rid
                )
            );
        }
        assert!(by_request(&server, "default", "t-unknown").await.is_empty());
        // Nothing secret is stored.
        let all = entries(&server, "default", Filter::default()).await;
        assert_eq!(all.len(), 3);
        assert!(!format!("{all:?}").contains(&c.secret));
    });
}

pub(super) fn the_guards_refusals_are_audited(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let mut tokens = Vec::new();
        for settings in [
            ClientSettings {
                allowed_ips: Some(vec!["10.0.0.0/8".parse().unwrap()]),
                ..ClientSettings::default()
            },
            ClientSettings {
                rate_limit_per_min: Some(1),
                ..ClientSettings::default()
            },
        ] {
            let c = client_with(&server.state, "default", Scopes::CORE, settings).await;
            tokens.push((format!("client:{}", c.id), c.token));
        }
        let orgs = format!("{OR}/orgs");
        let get = |tok: &str| req(&server, Method::GET, &orgs, Some(tok));

        // A token used from outside its client's allow-list.
        let (elsewhere, tok) = &tokens[0];
        assert_eq!(send(get(tok), "g-ip").await.0, 403);
        let e = one(&server, "default", "g-ip").await;
        assert_eq!(
            e,
            expected(
                &e,
                elsewhere,
                "oneroster.read",
                "GET",
                &orgs,
                None,
                403,
                Some(0),
                None,
                "g-ip"
            )
        );

        // Past the rate limit.
        let (limited, tok) = &tokens[1];
        assert_eq!(send(get(tok), "g-ok").await.0, 200);
        assert_eq!(send(get(tok), "g-429").await.0, 429);
        let e = one(&server, "default", "g-429").await;
        assert_eq!(
            e,
            expected(
                &e,
                limited,
                "oneroster.read",
                "GET",
                &orgs,
                None,
                429,
                Some(0),
                None,
                "g-429"
            )
        );
    });
}
