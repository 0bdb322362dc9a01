//! Logins, failed logins and session-authenticated requests in the audit log: the right actor,
//! tenant, action and request id, and never a password.

use reqwest::Method;
use rosterhub::users::Role;
use serde_json::{Value, json};

use super::{Browser, PASSWORD, cookie_token, hanako_served, ops_rows, send, user};
use crate::helpers::Backend;

fn logins_and_cookie_requests_are_audited(backend: Backend) {
    let Some((db, server, hanako)) = hanako_served(backend) else {
        return;
    };
    let viewer = user(&db, "viewer", false, &[("default", Role::Viewer)]);
    db.rt.block_on(async {
        let post = |name: &str, password: &str, request_id: &str| {
            server
                .http
                .post(server.url("/api/v1/session"))
                .header("x-request-id", request_id.to_owned())
                .json(&json!({"username": name, "password": password}))
        };
        assert_eq!(
            send(post("Hanako", "wrong password 123", "r-1"))
                .await
                .status,
            401
        );
        let ok = send(post("hanako", PASSWORD, "r-2")).await;
        assert_eq!(ok.status, 200);
        let b = Browser {
            token: cookie_token(&ok),
            csrf: ok.body["csrf_token"].as_str().unwrap().to_owned(),
        };
        let r = send(
            b.request(&server, Method::GET, "/api/v1/imports", false)
                .header("x-request-id", "r-3"),
        )
        .await;
        assert_eq!(r.status, 200);
        // A refused write is recorded under the user too.
        let r = send(
            b.request(&server, Method::POST, "/api/v1/exports", false)
                .header("x-request-id", "r-4")
                .json(&json!({"mode": "bulk"})),
        )
        .await;
        assert_eq!(r.status, 403);
        let v = super::browser(&server, "viewer", None).await;
        let r = send(
            v.request(&server, Method::POST, "/api/v1/exports", true)
                .header("x-request-id", "r-5")
                .json(&json!({"mode": "bulk"})),
        )
        .await;
        assert_eq!((r.status, r.error()), (403, "read_only"));
        let r = send(
            b.request(&server, Method::DELETE, "/api/v1/session", true)
                .header("x-request-id", "r-6"),
        )
        .await;
        assert_eq!(r.status, 204);
        server.state.audit.flush().await;
    });
    let rows = ops_rows(
        &db,
        "SELECT request_id, tenant_id, actor, action, status, target FROM audit_log \
         WHERE request_id LIKE 'r-%' ORDER BY request_id",
    );
    let user_h = format!("user:{}", hanako.id);
    let user_v = format!("user:{}", viewer.id);
    assert_eq!(
        rows,
        vec![
            vec![
                json!("r-1"),
                json!("default"),
                json!("login:Hanako"),
                json!("session.login_failed"),
                json!(401),
                Value::Null
            ],
            vec![
                json!("r-2"),
                json!("default"),
                json!("login:hanako"),
                json!("session.login"),
                json!(200),
                json!(user_h)
            ],
            vec![
                json!("r-3"),
                json!("default"),
                json!(user_h),
                json!("imports.list"),
                json!(200),
                Value::Null
            ],
            vec![
                json!("r-4"),
                json!("default"),
                json!(user_h),
                json!("exports.create"),
                json!(403),
                Value::Null
            ],
            vec![
                json!("r-5"),
                json!("default"),
                json!(user_v),
                json!("exports.create"),
                json!(403),
                Value::Null
            ],
            vec![
                json!("r-6"),
                json!("default"),
                json!(user_h),
                json!("session.logout"),
                json!(204),
                Value::Null
            ],
        ]
    );
    let all = format!("{:?}", ops_rows(&db, "SELECT * FROM audit_log"));
    assert!(
        !all.contains(PASSWORD) && !all.contains("wrong password"),
        "{all}"
    );
}

crate::on_both_backends!(logins_and_cookie_requests_are_audited);
