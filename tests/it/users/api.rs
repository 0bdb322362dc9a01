//! `/api/v1/tenants` (system admins only) and `/api/v1/users` (a tenant's admins).

use reqwest::Method;
use rosterhub::users::Role;
use serde_json::{Value, json};

use super::{Browser, PASSWORD, browser, hanako_served, login, ops_rows, send, start_with, user};
use crate::helpers::{Backend, TestDb};
use crate::server::admin_scopes;

fn tenants_are_for_system_admins_only(backend: Backend) {
    let Some((db, server, _)) = hanako_served(backend) else {
        return;
    };
    user(&db, "root", true, &[]);
    db.rt.block_on(async {
        let only = json!({"error": "forbidden",
                          "message": "only a system admin's session may manage tenants"});
        // A bearer token of an admin client: 403, whatever the method.
        let r = send(
            server
                .http
                .get(server.url("/api/v1/tenants"))
                .bearer_auth(&server.token),
        )
        .await;
        assert_eq!((r.status, &r.body), (403, &only));
        let r = send(
            server
                .http
                .post(server.url("/api/v1/tenants"))
                .bearer_auth(&server.token)
                .json(&json!({"id": "x"})),
        )
        .await;
        assert_eq!((r.status, &r.body), (403, &only));
        // A tenant admin's session: 403. Nobody: 401.
        let hanako = browser(&server, "hanako", None).await;
        let r = hanako.get(&server, "/api/v1/tenants").await;
        assert_eq!((r.status, &r.body), (403, &only));
        let r = send(server.http.get(server.url("/api/v1/tenants"))).await;
        assert_eq!((r.status, r.error()), (401, "unauthorized"));

        // A system admin lists, creates and reads tenants.
        let root = browser(&server, "root", None).await;
        let me = root.get(&server, "/api/v1/session").await;
        assert_eq!(
            (&me.body["tenant"], &me.body["role"]),
            (&Value::Null, &Value::Null)
        );
        let r = root.get(&server, "/api/v1/tenants").await;
        assert_eq!(
            (r.status, &r.body),
            (
                200,
                &json!({"tenants": [{"id": "default", "name": "Default tenant"}]})
            )
        );
        let r = send(
            root.request(&server, Method::POST, "/api/v1/tenants", false)
                .json(&json!({"id": "city-02"})),
        )
        .await;
        assert_eq!((r.status, r.error()), (403, "csrf"));
        let r = root
            .write(
                &server,
                Method::POST,
                "/api/v1/tenants",
                Some(json!({"id": "city-02", "name": "第二市"})),
            )
            .await;
        assert_eq!(
            (r.status, &r.body),
            (201, &json!({"id": "city-02", "name": "第二市"}))
        );
        assert_eq!(r.header("location"), server.url("/api/v1/tenants/city-02"));
        assert!(db.block_on(db.store.tenant_exists("city-02")).unwrap());
        for (body, code) in [
            (json!({"id": "city-02"}), "conflict"),
            (json!({"id": "City 2"}), "invalid_id"),
            (json!({"id": ""}), "invalid_id"),
            (json!({"name": "x"}), "invalid_id"),
            (json!({"id": "ok", "name": ""}), "invalid_name"),
            (json!({"id": "ok", "region": "x"}), "unknown_field"),
        ] {
            let r = root
                .write(&server, Method::POST, "/api/v1/tenants", Some(body.clone()))
                .await;
            assert_eq!(r.error(), code, "{body}: {}", r.body);
        }
        let r = root.get(&server, "/api/v1/tenants/city-02").await;
        assert_eq!(
            (r.status, &r.body),
            (200, &json!({"id": "city-02", "name": "第二市"}))
        );
        let r = root.get(&server, "/api/v1/tenants/nope").await;
        assert_eq!((r.status, r.error()), (404, "not_found"));

        // A system admin acts on a tenant it names; without one, tenant routes ask for it.
        let r = root.get(&server, "/api/v1/imports").await;
        assert_eq!((r.status, r.error()), (400, "tenant_required"));
        let in_tenant = |t: &str| {
            root.request(&server, Method::GET, "/api/v1/imports", false)
                .header("x-rosterhub-tenant", t.to_owned())
        };
        let r = send(in_tenant("city-02")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = send(in_tenant("nope")).await;
        assert_eq!((r.status, r.error()), (404, "not_found"));
        // A login may choose the tenant too.
        let r = login(&server, "root", PASSWORD, Some("city-02")).await;
        assert_eq!(
            (&r.body["tenant"], &r.body["role"]),
            (&json!("city-02"), &json!("admin"))
        );
        // A tenant admin cannot reach another tenant with the header.
        let r = send(
            hanako
                .request(&server, Method::GET, "/api/v1/imports", false)
                .header("x-rosterhub-tenant", "city-02"),
        )
        .await;
        assert_eq!(
            (r.status, &r.body),
            (
                403,
                &json!({"error": "forbidden", "message": "you have no role in tenant \"city-02\""})
            )
        );
    });
}

/// `GET /api/v1/users` minus the times.
async fn listed(b: &Browser, server: &crate::server::Server) -> Vec<Value> {
    let r = b.get(server, "/api/v1/users").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| json!([u["username"], u["role"], u["display_name"], u["disabled"]]))
        .collect()
}

fn a_tenant_admin_manages_its_tenants_users(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("t2");
    let server = start_with(&db, |_| {});
    let boss = user(&db, "boss", false, &[("default", Role::Admin)]);
    let other = user(&db, "other", false, &[("t2", Role::Admin)]);
    let shared = user(
        &db,
        "shared",
        false,
        &[("default", Role::Viewer), ("t2", Role::Admin)],
    );
    user(&db, "uploader", false, &[("default", Role::Uploader)]);
    db.rt.block_on(async {
        let b = browser(&server, "boss", None).await;
        assert_eq!(
            listed(&b, &server).await,
            vec![
                json!(["boss", "admin", null, false]),
                json!(["shared", "viewer", null, false]),
                json!(["uploader", "uploader", null, false]),
            ],
            "only this tenant's users, with their role here"
        );

        // Create.
        let new = json!({"username": "Taro", "password": "a long enough pass", "role": "uploader",
                         "display_name": "山田 太郎"});
        let r = b
            .write(&server, Method::POST, "/api/v1/users", Some(new.clone()))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let taro = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            r.header("location"),
            server.url(&format!("/api/v1/users/{taro}"))
        );
        let created_at = r.body["created_at"].clone();
        assert_eq!(
            r.body,
            json!({"id": taro, "username": "Taro", "display_name": "山田 太郎", "email": null,
                   "language": null, "role": "uploader", "disabled": false, "locked_until": null, "last_login_at": null,
                   "created_at": created_at, "updated_at": created_at})
        );
        let hash = ops_rows(
            &db,
            &format!("SELECT password_hash FROM admin_users WHERE id = '{taro}'"),
        );
        let hash = hash[0][0].as_str().unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(!hash.contains("a long enough pass"));
        for (body, code) in [
            (
                json!({"username": "taro", "password": "a long enough pass", "role": "viewer"}),
                "conflict",
            ),
            (
                json!({"username": "x", "password": "short", "role": "viewer"}),
                "invalid_password",
            ),
            (
                json!({"username": "x y", "password": "a long enough pass", "role": "viewer"}),
                "invalid_username",
            ),
            (
                json!({"username": "x", "password": "a long enough pass", "role": "root"}),
                "invalid_role",
            ),
            (
                json!({"username": "x", "password": "a long enough pass"}),
                "invalid_role",
            ),
            (
                json!({"username": "x", "password": "a long enough pass", "role": "admin",
                    "system_admin": true}),
                "unknown_field",
            ),
        ] {
            let r = b
                .write(&server, Method::POST, "/api/v1/users", Some(body.clone()))
                .await;
            assert_eq!(r.error(), code, "{body}: {}", r.body);
        }

        // Taro logs in; a role change applies to its session at the next request.
        let r = login(&server, "taro", "a long enough pass", None).await;
        assert_eq!((r.status, &r.body["role"]), (200, &json!("uploader")));
        let taro_b = Browser {
            token: super::cookie_token(&r),
            csrf: r.body["csrf_token"].as_str().unwrap().to_owned(),
        };
        let path = format!("/api/v1/users/{taro}");
        let r = b
            .write(
                &server,
                Method::PATCH,
                &path,
                Some(json!({"role": "viewer"})),
            )
            .await;
        assert_eq!((r.status, &r.body["role"]), (200, &json!("viewer")));
        assert_eq!(
            taro_b.get(&server, "/api/v1/session").await.body["role"],
            "viewer"
        );
        // A new password ends its sessions; the old one stops working.
        let r = b
            .write(
                &server,
                Method::PATCH,
                &path,
                Some(json!({"password": "another long pass"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(taro_b.get(&server, "/api/v1/session").await.status, 401);
        assert_eq!(
            login(&server, "taro", "a long enough pass", None)
                .await
                .status,
            401
        );
        assert_eq!(
            login(&server, "taro", "another long pass", None)
                .await
                .status,
            200
        );

        // Another tenant's user is not found; a shared user's role can change, nothing else.
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let r = b
                .write(
                    &server,
                    method.clone(),
                    &format!("/api/v1/users/{}", other.id),
                    Some(json!({})),
                )
                .await;
            assert_eq!((r.status, r.error()), (404, "not_found"), "{method}");
        }
        let shared_path = format!("/api/v1/users/{}", shared.id);
        let r = b
            .write(
                &server,
                Method::PATCH,
                &shared_path,
                Some(json!({"password": "x".repeat(12)})),
            )
            .await;
        assert_eq!((r.status, r.error()), (403, "forbidden"));
        let r = b
            .write(
                &server,
                Method::PATCH,
                &shared_path,
                Some(json!({"role": "uploader"})),
            )
            .await;
        assert_eq!((r.status, &r.body["role"]), (200, &json!("uploader")));

        // Not oneself.
        let own = format!("/api/v1/users/{}", boss.id);
        let r = b
            .write(
                &server,
                Method::PATCH,
                &own,
                Some(json!({"role": "viewer"})),
            )
            .await;
        assert_eq!((r.status, r.error()), (409, "self"));
        let r = b.write(&server, Method::DELETE, &own, None).await;
        assert_eq!((r.status, r.error()), (409, "self"));
        let r = b
            .write(
                &server,
                Method::PATCH,
                &own,
                Some(json!({"password": "my new long pass"})),
            )
            .await;
        assert_eq!((r.status, r.error()), (400, "invalid_field"), "{}", r.body);

        // Delete: the role goes; a user with no role left goes too.
        let r = b.write(&server, Method::DELETE, &path, None).await;
        assert_eq!(r.status, 204);
        assert!(db.block_on(db.store.admin_user(&taro)).unwrap().is_none());
        let r = b.write(&server, Method::DELETE, &shared_path, None).await;
        assert_eq!(r.status, 204);
        let left = db
            .block_on(db.store.admin_user(&shared.id))
            .unwrap()
            .unwrap();
        assert_eq!(left.roles, vec![("t2".to_owned(), Role::Admin)]);
        assert_eq!(
            listed(&b, &server).await,
            vec![
                json!(["boss", "admin", null, false]),
                json!(["uploader", "uploader", null, false])
            ]
        );

        // An uploader may not manage users; an admin client may.
        let up = browser(&server, "uploader", None).await;
        let r = up.get(&server, "/api/v1/users").await;
        assert_eq!((r.status, r.error()), (403, "forbidden"));
        let (status, body) = server.get_json("/api/v1/users").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["users"].as_array().unwrap().len(), 2);
        let token = server.token_for("t2", admin_scopes()).await;
        let r = send(
            server
                .http
                .get(server.url("/api/v1/users"))
                .bearer_auth(token),
        )
        .await;
        let names: Vec<&Value> = r.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| &u["username"])
            .collect();
        assert_eq!(
            names,
            [&json!("other"), &json!("shared")],
            "t2's users only"
        );
    });
}

crate::on_both_backends!(
    tenants_are_for_system_admins_only,
    a_tenant_admin_manages_its_tenants_users,
);
