//! Login, the session cookie, CSRF, roles over the admin API, logout and expiry.

use reqwest::Method;
use rosterhub::users::Role;
use serde_json::json;

use super::{
    PASSWORD, browser, cookie_token, login, ops_exec, ops_rows, send, sha256_hex, start_with, user,
};
use crate::helpers::{Backend, TestDb, fixtures};
use crate::raw_sql::ops_count;
use crate::server::{Server, test_config, zip_dir};

fn login_sets_a_strict_cookie_and_the_session_reads(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let hanako = user(&db, "Hanako", false, &[("default", Role::Admin)]);
    db.rt.block_on(async {
        // Usernames are case-insensitive.
        let r = login(&server, "hanako", PASSWORD, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let token = cookie_token(&r);
        assert_eq!(token.len(), 43, "256 random bits, base64url");
        assert_eq!(
            r.header("set-cookie"),
            format!("rosterhub_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"),
            "not Secure over plain HTTP"
        );
        assert_eq!(r.header("cache-control"), "no-store");
        let csrf = r.body["csrf_token"].as_str().unwrap().to_owned();
        assert_eq!(csrf.len(), 43);
        let expires_at = r.body["expires_at"].as_str().unwrap().to_owned();
        assert_eq!(
            r.body,
            json!({
                "user": {"id": hanako.id, "username": "Hanako", "display_name": null,
                         "system_admin": false},
                "tenant": "default",
                "role": "admin",
                "roles": [{"tenant": "default", "role": "admin"}],
                "csrf_token": csrf,
                "expires_at": expires_at,
                "idle_timeout_secs": 1800,
            })
        );

        // The database keeps the token's SHA-256, never the token.
        let rows = ops_rows(
            &db,
            "SELECT id, user_id, tenant_id, csrf_token, expires_at - created_at FROM admin_sessions",
        );
        assert_eq!(
            rows,
            vec![vec![
                json!(sha256_hex(&token)),
                json!(hanako.id),
                json!("default"),
                json!(csrf),
                json!(12 * 3600 * 1000),
            ]]
        );
        let login_at = ops_rows(&db, "SELECT last_login_at FROM admin_users");
        assert!(login_at[0][0].as_i64().unwrap() > 0);

        // The cookie opens the session and the admin API, like a token of the same scopes.
        let b = super::Browser { token, csrf };
        let me = b.get(&server, "/api/v1/session").await;
        assert_eq!((me.status, &me.body), (200, &r.body));
        let with_cookie = b.get(&server, "/api/v1/imports").await;
        let (status, with_token) = server.get_json("/api/v1/imports").await;
        assert_eq!((with_cookie.status, status), (200, 200));
        assert_eq!(with_cookie.body, with_token);
        // No cookie at all: 401.
        let none = send(server.http.get(server.url("/api/v1/session"))).await;
        assert_eq!((none.status, none.error()), (401, "unauthorized"));
        // A forged cookie: 401.
        let forged = send(
            server
                .http
                .get(server.url("/api/v1/imports"))
                .header("cookie", format!("rosterhub_session={}", "A".repeat(43))),
        )
        .await;
        assert_eq!((forged.status, forged.error()), (401, "unauthorized"));
    });

    // Behind an https public URL the cookie is Secure; forms log in too; a login posted from
    // another site (Origin) is refused.
    let secure = start_with(&db, |s| {
        s.public_url = Some("https://roster.example.jp".into())
    });
    db.rt.block_on(async {
        let form = "username=hanako&password=correct+horse+battery+staple&tenant=default";
        let post = |origin: Option<&str>| {
            let mut r = secure
                .http
                .post(secure.url("/api/v1/session"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            r
        };
        let r = send(post(Some("https://roster.example.jp"))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.header("set-cookie").ends_with("; Max-Age=43200; Secure"),
            "{}",
            r.header("set-cookie")
        );
        let evil = send(post(Some("https://evil.example"))).await;
        assert_eq!((evil.status, evil.error()), (403, "csrf"));
        assert_eq!(evil.header("set-cookie"), "");
    });
    assert_eq!(
        db.block_on(ops_count(&db, "SELECT COUNT(*) FROM admin_sessions")),
        2
    );
}

fn cookie_writes_need_the_csrf_token(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    // No workers: an upload stays queued.
    let server = start_with(&db, |_| {});
    let uploader = user(&db, "uploader", false, &[("default", Role::Uploader)]);
    let zip = zip_dir(&fixtures().join("jp-profile-v1.2.1"));
    db.rt.block_on(async {
        let b = browser(&server, "uploader", None).await;
        let upload = |csrf: Option<&str>| {
            let mut r = b
                .request(&server, Method::POST, "/api/v1/imports", false)
                .header("content-type", "application/zip")
                .body(zip.clone());
            if let Some(t) = csrf {
                r = r.header("x-csrf-token", t);
            }
            r
        };
        for (csrf, case) in [(None, "no token"), (Some("x".repeat(43)), "a wrong token")] {
            let r = send(upload(csrf.as_deref())).await;
            assert_eq!((r.status, r.error()), (403, "csrf"), "{case}: {}", r.body);
            assert_eq!(
                r.body["message"],
                "this request needs the session's CSRF token in the X-CSRF-Token header \
                 (or the csrf_token form field)"
            );
        }
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM jobs").await, 0);

        let r = send(upload(Some(&b.csrf))).await;
        assert_eq!(r.status, 202, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let rows = ops_rows(&db, "SELECT id, tenant_id, state, created_by FROM jobs");
        assert_eq!(
            rows,
            vec![vec![
                json!(id),
                json!("default"),
                json!("queued"),
                json!(format!("user:{}", uploader.id)),
            ]]
        );

        // An urlencoded form carries the token as the field csrf_token.
        let cancel = |form: String| {
            b.request(
                &server,
                Method::POST,
                &format!("/api/v1/imports/{id}/cancel"),
                false,
            )
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
        };
        let r = send(cancel("reason=none".into())).await;
        assert_eq!((r.status, r.error()), (403, "csrf"), "{}", r.body);
        let r = send(cancel(format!("reason=none&csrf_token={}", b.csrf))).await;
        assert_eq!(
            (r.status, &r.body["state"]),
            (200, &json!("cancelled")),
            "{}",
            r.body
        );

        // Bearer requests need no CSRF token.
        let (status, list) = server.get_json("/api/v1/imports").await;
        assert_eq!(status, 200);
        assert_eq!(list["imports"][0]["state"], "cancelled", "{list}");
        let r = send(
            server
                .http
                .post(server.url("/api/v1/exports"))
                .bearer_auth(&server.token)
                .json(&json!({"mode": "bulk"})),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.body);
    });
}

fn a_viewer_reads_but_cannot_write(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    user(&db, "viewer", false, &[("default", Role::Viewer)]);
    let zip = zip_dir(&fixtures().join("jp-profile-v1.2.1"));
    db.rt.block_on(async {
        // Something to read: an import uploaded with a token.
        let (status, queued, _) = server.upload("", zip.clone()).await;
        assert_eq!(status, 202, "{queued}");
        let id = queued["id"].as_str().unwrap();

        let b = browser(&server, "viewer", None).await;
        let me = b.get(&server, "/api/v1/session").await;
        assert_eq!(me.body["role"], "viewer");
        let list = b.get(&server, "/api/v1/imports").await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert_eq!(list.body["imports"][0]["id"], id);
        let one = b.get(&server, &format!("/api/v1/imports/{id}")).await;
        assert_eq!((one.status, &one.body["state"]), (200, &json!("queued")));

        // Every write is refused before its handler, CSRF token or not.
        let upload = send(
            b.request(&server, Method::POST, "/api/v1/imports", true)
                .header("content-type", "application/zip")
                .body(zip),
        )
        .await;
        assert_eq!(
            (upload.status, &upload.body),
            (
                403,
                &json!({"error": "read_only",
                        "message": "a viewer may only read; this operation changes data"})
            )
        );
        for (method, path, body) in [
            (Method::POST, format!("/api/v1/imports/{id}/cancel"), None),
            (
                Method::POST,
                "/api/v1/exports".to_owned(),
                Some(json!({"mode": "bulk"})),
            ),
            (
                Method::POST,
                "/api/v1/webhooks".to_owned(),
                Some(json!({"url": "https://example.jp/h", "events": ["import.completed"]})),
            ),
            (Method::POST, "/api/v1/users".to_owned(), Some(json!({}))),
        ] {
            let r = b.write(&server, method.clone(), &path, body).await;
            assert_eq!((r.status, r.error()), (403, "read_only"), "{method} {path}");
        }
        // Reads that need rosterhub.admin are not a viewer's either.
        let hooks = b.get(&server, "/api/v1/webhooks").await;
        assert_eq!((hooks.status, hooks.error()), (403, "forbidden"));
        // Nothing changed.
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM jobs").await, 1);
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM webhooks").await, 0);
        let (_, job) = server.get_json(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(job["state"], "queued");
        // A viewer logs out like anyone.
        let out = b
            .write(&server, Method::DELETE, "/api/v1/session", None)
            .await;
        assert_eq!(out.status, 204);
    });
}

fn logout_and_expiry_end_sessions(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.rt.block_on(async {
        // Logout needs the CSRF token; then the session row is gone and the cookie cleared.
        let b = browser(&server, "hanako", None).await;
        let r = send(b.request(&server, Method::DELETE, "/api/v1/session", false)).await;
        assert_eq!((r.status, r.error()), (403, "csrf"));
        let r = b
            .write(&server, Method::DELETE, "/api/v1/session", None)
            .await;
        assert_eq!(r.status, 204);
        assert_eq!(
            r.header("set-cookie"),
            "rosterhub_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        );
        assert_eq!(
            ops_count(&db, "SELECT COUNT(*) FROM admin_sessions").await,
            0
        );
        for path in ["/api/v1/session", "/api/v1/imports"] {
            let r = b.get(&server, path).await;
            assert_eq!(
                (r.status, &r.body),
                (
                    401,
                    &json!({"error": "unauthorized",
                            "message": "the session has ended; log in again"})
                ),
                "{path}"
            );
        }

        // Idle for 30 minutes: refused, and the row deleted.
        let idle = browser(&server, "hanako", None).await;
        let busy = browser(&server, "hanako", None).await;
        let old = rosterhub::domain::datetime::now_ms() - 31 * 60 * 1000;
        ops_exec(
            &db,
            &format!(
                "UPDATE admin_sessions SET last_seen_at = {old} WHERE id = '{}'",
                sha256_hex(&idle.token)
            ),
        );
        assert_eq!(idle.get(&server, "/api/v1/session").await.status, 401);
        assert_eq!(busy.get(&server, "/api/v1/session").await.status, 200);
        // Past the absolute end (12 hours), however busy.
        ops_exec(
            &db,
            &format!(
                "UPDATE admin_sessions SET expires_at = {} WHERE id = '{}'",
                old,
                sha256_hex(&busy.token)
            ),
        );
        assert_eq!(busy.get(&server, "/api/v1/imports").await.status, 401);
        assert_eq!(
            ops_count(&db, "SELECT COUNT(*) FROM admin_sessions").await,
            0
        );

        // A recent request keeps the session alive (sliding): last_seen_at moves.
        let live = browser(&server, "hanako", None).await;
        let ten_min_ago = rosterhub::domain::datetime::now_ms() - 10 * 60 * 1000;
        let id = sha256_hex(&live.token);
        ops_exec(
            &db,
            &format!("UPDATE admin_sessions SET last_seen_at = {ten_min_ago} WHERE id = '{id}'"),
        );
        assert_eq!(live.get(&server, "/api/v1/session").await.status, 200);
        let seen = ops_rows(
            &db,
            &format!("SELECT last_seen_at FROM admin_sessions WHERE id = '{id}'"),
        );
        assert!(
            seen[0][0].as_i64().unwrap() > ten_min_ago + 9 * 60 * 1000,
            "{seen:?}"
        );

        // Disabling the user ends its sessions at once.
        db.block_on(db.store.set_admin_disabled(&hanako.id, true))
            .unwrap();
        assert_eq!(live.get(&server, "/api/v1/session").await.status, 401);
    });
}

crate::on_both_backends!(
    login_sets_a_strict_cookie_and_the_session_reads,
    cookie_writes_need_the_csrf_token,
    a_viewer_reads_but_cannot_write,
    logout_and_expiry_end_sessions,
);
