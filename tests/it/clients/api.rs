//! `/api/v1/clients`: create, list, show, change, rotate the secret, revoke — exact JSON, the
//! caller's tenant only, `rosterhub.admin` only, secrets shown once and hashes never.

use reqwest::Method;
use rosterhub::auth::Scopes;
use rosterhub::domain::datetime::{format_ms, now_ms};
use serde_json::{Value, json};

use super::{OR, call, get, token_request};
use crate::helpers::{Backend, TestDb};
use crate::server::{Server, test_config};

const ROSTER: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly";

fn all_read() -> String {
    Scopes::ALL.to_list_string()
}

impl Server {
    async fn clients_call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let (status, _, body) = call(method, &self.url(path), Some(&self.token), &[], body).await;
        (status, body)
    }
}

fn clients_are_managed_through_the_api(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        // Create: 201, Location, the secret once; the settings as given.
        let body = json!({
            "name": "LMS",
            "scopes": ["roster.readonly"],
            "allowed_ips": ["10.1.2.3/8", "2001:db8::/32"],
            "rate_limit_per_min": 120,
            "org_scope": ["org-1", "org-2"],
        });
        let r = reqwest::Client::new()
            .post(server.url("/api/v1/clients"))
            .bearer_auth(&server.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = r.json().await.unwrap();
        let id = created["client_id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(location, server.url(&format!("/api/v1/clients/{id}")));
        assert_eq!(secret.len(), 43);
        let lms = json!({
            "client_id": id,
            "name": "LMS",
            "tenant": "default",
            "scopes": ROSTER,
            "allowed_ips": ["10.0.0.0/8", "2001:db8::/32"],
            "rate_limit_per_min": 120,
            "effective_rate_limit_per_min": 120,
            "org_scope": ["org-1", "org-2"],
            "active": true,
            "created_at": created["created_at"],
            "revoked_at": null,
            "previous_secret_valid_until": null,
            "target": null,
        });
        let mut with_secret = lms.clone();
        with_secret["client_secret"] = json!(secret);
        assert_eq!(created, with_secret);
        let stored = db.rows(&format!(
            "SELECT secret_hash, allowed_ips, CAST(rate_limit_per_min AS TEXT), org_scope \
             FROM api_clients WHERE client_id = '{id}'"
        ));
        let hash = stored[0][0].clone().unwrap();
        assert!(!hash.contains(&secret), "only a hash is stored");
        assert_eq!(
            stored[0][1..],
            [Some("10.0.0.0/8 2001:db8::/32".into()), Some("120".into()), Some("org-1 org-2".into())]
        );

        // Defaults: every rostering scope, no restriction.
        let (status, sis) = server.clients_call(Method::POST, "/api/v1/clients", Some(&json!({"name": "SIS"}))).await;
        assert_eq!(status, 201, "{sis}");
        assert_eq!(
            (&sis["scopes"], &sis["allowed_ips"], &sis["rate_limit_per_min"], &sis["effective_rate_limit_per_min"], &sis["org_scope"]),
            (&json!(all_read()), &Value::Null, &Value::Null, &json!(600), &Value::Null)
        );
        let sis_id = sis["client_id"].as_str().unwrap().to_owned();
        let sis_secret = sis["client_secret"].as_str().unwrap().to_owned();
        let (status, _, body) = token_request(&server.base, &sis_id, &sis_secret).await;
        assert_eq!(status, 200, "the new secret works: {body}");

        // Show and list: no secret, no hash.
        let (status, shown) = server.clients_call(Method::GET, &format!("/api/v1/clients/{id}"), None).await;
        assert_eq!((status, &shown), (200, &lms));
        let (status, list) = server.clients_call(Method::GET, "/api/v1/clients", None).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = list["clients"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["test", "LMS", "SIS"], "oldest first: the test's own client first");
        assert_eq!(list["clients"][1], lms);
        let text = list.to_string();
        assert!(!text.contains(&secret) && !text.contains(&hash) && !text.contains("client_secret"), "{text}");

        // Change: absent fields stay, null removes a restriction.
        let patch = json!({"name": "LMS 2", "allowed_ips": null, "rate_limit_per_min": null, "scopes": "roster.readonly rosterhub.export"});
        let (status, changed) = server.clients_call(Method::PATCH, &format!("/api/v1/clients/{id}"), Some(&patch)).await;
        let mut want = lms.clone();
        want["name"] = json!("LMS 2");
        want["allowed_ips"] = Value::Null;
        want["rate_limit_per_min"] = Value::Null;
        want["effective_rate_limit_per_min"] = json!(600);
        want["scopes"] = json!(format!("{ROSTER} rosterhub.export"));
        assert_eq!((status, &changed), (200, &want));
        for (body, code, message) in [
            (json!({"rate_limit_per_min": 0}), "invalid_rate_limit_per_min", "rate_limit_per_min: must be a whole number of requests per minute from 1 to 1000000"),
            (json!({"allowed_ips": ["nope"]}), "invalid_allowed_ips", "allowed_ips: \"nope\" is not an IP address or a CIDR range (like 192.0.2.0/24 or 2001:db8::/32)"),
            (json!({"scopes": "roster"}), "invalid_scopes", ""),
            (json!({"name": ""}), "invalid_name", "name: must be 1 to 200 characters"),
            (json!({"secret_hash": "x"}), "unknown_field", ""),
        ] {
            let (status, got) = server.clients_call(Method::PATCH, &format!("/api/v1/clients/{id}"), Some(&body)).await;
            assert_eq!((status, &got["error"]), (400, &json!(code)), "{body}: {got}");
            if !message.is_empty() {
                assert_eq!(got["message"], message);
            }
        }
        let (_, unchanged) = server.clients_call(Method::GET, &format!("/api/v1/clients/{id}"), None).await;
        assert_eq!(unchanged, want, "a refused change changes nothing");
        let (status, got) = server.clients_call(Method::POST, "/api/v1/clients", Some(&json!({"scopes": "roster.readonly"}))).await;
        assert_eq!((status, got), (400, json!({"error": "invalid_name", "message": "name: is required"})));

        // Rotate: a new secret once; the old one works for the overlap.
        let path = format!("/api/v1/clients/{sis_id}/rotate-secret");
        let (status, rotated) = server.clients_call(Method::POST, &path, Some(&json!({"overlap_hours": 1}))).await;
        assert_eq!(status, 200, "{rotated}");
        let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
        assert_ne!(new_secret, sis_secret);
        let until = rotated["previous_secret_valid_until"].as_str().unwrap();
        let expected = now_ms() + 3_600_000;
        assert!(until >= format_ms(expected - 60_000).as_str() && until <= format_ms(expected).as_str(), "{until}");
        for s in [&sis_secret, &new_secret] {
            let (status, _, body) = token_request(&server.base, &sis_id, s).await;
            assert_eq!(status, 200, "both secrets inside the overlap: {body}");
        }
        let (status, rotated2) = server.clients_call(Method::POST, &path, Some(&json!({"overlap_hours": 0}))).await;
        assert_eq!((status, &rotated2["previous_secret_valid_until"]), (200, &Value::Null));
        let newest = rotated2["client_secret"].as_str().unwrap();
        let (status, _, _) = token_request(&server.base, &sis_id, &new_secret).await;
        assert_eq!(status, 401, "no overlap: the old secret stops at once");
        let (status, _, _) = token_request(&server.base, &sis_id, newest).await;
        assert_eq!(status, 200);
        let (status, got) = server.clients_call(Method::POST, &path, Some(&json!({"overlap_hours": 721}))).await;
        assert_eq!((status, &got["error"]), (400, &json!("invalid_overlap_hours")));
        // No body at all: the default overlap (24 h).
        let r = reqwest::Client::new().post(server.url(&path)).bearer_auth(&server.token).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);

        // Revoke: effective on the very next request of its tokens.
        let sis_token = server.state.auth.issue("default", &sis_id, Scopes::ALL).unwrap().access_token;
        let (status, _, _) = get(&server.url(&format!("{OR}/orgs")), &sis_token).await;
        assert_eq!(status, 200);
        let (status, revoked) = server.clients_call(Method::POST, &format!("/api/v1/clients/{sis_id}/revoke"), None).await;
        assert_eq!((status, &revoked["active"]), (200, &json!(false)));
        assert!(revoked["revoked_at"].is_string());
        let (status, _, _) = get(&server.url(&format!("{OR}/orgs")), &sis_token).await;
        assert_eq!(status, 401, "revoked: refused at once");
        let (status, got) = server.clients_call(Method::POST, &path, None).await;
        assert_eq!((status, &got["error"]), (409, &json!("conflict")));
    });
}

fn another_tenants_clients_are_not_found_and_scopes_are_enforced(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("other");
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let theirs = db
            .store
            .create_client("other", "theirs", Scopes::ALL)
            .await
            .unwrap();
        let id = theirs.record.client_id.clone();
        let not_found = json!({"error": "not_found", "message": format!("no client {id:?}")});
        for (method, path, body) in [
            (Method::GET, format!("/api/v1/clients/{id}"), None),
            (
                Method::PATCH,
                format!("/api/v1/clients/{id}"),
                Some(json!({"name": "mine"})),
            ),
            (
                Method::POST,
                format!("/api/v1/clients/{id}/rotate-secret"),
                None,
            ),
            (Method::POST, format!("/api/v1/clients/{id}/revoke"), None),
        ] {
            let (status, got) = server
                .clients_call(method.clone(), &path, body.as_ref())
                .await;
            assert_eq!((status, &got), (404, &not_found), "{method} {path}");
        }
        let (_, list) = server
            .clients_call(Method::GET, "/api/v1/clients", None)
            .await;
        assert!(!list.to_string().contains(&id));
        assert_eq!(
            db.store.find_client(&id).await.unwrap().unwrap(),
            theirs.record,
            "untouched"
        );

        // Only rosterhub.admin opens the API.
        let before = db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM api_clients");
        for scopes in [Scopes::IMPORT, Scopes::EXPORT.union(Scopes::ALL)] {
            let token = server.token_for("default", scopes).await;
            for (method, body) in [
                (Method::GET, None),
                (Method::POST, Some(json!({"name": "x"}))),
            ] {
                let (status, _, got) = call(
                    method.clone(),
                    &server.url("/api/v1/clients"),
                    Some(&token),
                    &[],
                    body.as_ref(),
                )
                .await;
                assert_eq!(
                    (status, &got["error"]),
                    (403, &json!("forbidden")),
                    "{scopes} {method}"
                );
            }
        }
        let (status, _, got) =
            call(Method::GET, &server.url("/api/v1/clients"), None, &[], None).await;
        assert_eq!((status, &got["error"]), (401, &json!("unauthorized")));
        let after = db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM api_clients");
        assert_eq!(
            after.parse::<u32>().unwrap(),
            before.parse::<u32>().unwrap() + 2,
            "only the two test clients"
        );
    });
}

crate::on_both_backends!(
    clients_are_managed_through_the_api,
    another_tenants_clients_are_not_found_and_scopes_are_enforced,
);
