//! `rosterhub client …` and `rosterhub signing-key …` through the binary.

use serde_json::{Value, json};

use crate::helpers::cli::rosterhub;
use crate::helpers::{Backend, TestDb};

fn json_out(db: &TestDb, args: &[&str]) -> Value {
    let (code, out, err) = rosterhub(args).db(db).run();
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

fn the_client_commands_round_trip(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let created = json_out(
        &db,
        &[
            "client",
            "create",
            "--name",
            "LMS",
            "--scopes",
            "roster.readonly",
            "--allow-ip",
            "10.0.0.0/8",
            "--allow-ip",
            "::1",
            "--rate-limit-per-min",
            "30",
            "--orgs",
            "org-1,org-2",
        ],
    );
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let roster = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly";
    assert_eq!(
        created,
        json!({"client_id": id, "client_secret": secret, "tenant": "default", "scopes": roster})
    );

    let list = json_out(&db, &["client", "list"]);
    let c = &list[0];
    assert_eq!(
        c,
        &json!({
            "client_id": id, "name": "LMS", "tenant": "default", "scopes": roster,
            "allowed_ips": ["10.0.0.0/8", "::1/128"], "rate_limit_per_min": 30,
            "org_scope": ["org-1", "org-2"], "created_at": c["created_at"], "revoked_at": null,
            "previous_secret_valid_until": null, "target": null,
        })
    );
    assert!(!list.to_string().contains(&secret));

    let updated = json_out(
        &db,
        &[
            "client",
            "update",
            &id,
            "--any-ip",
            "--default-rate-limit",
            "--all-orgs",
            "--name",
            "LMS 2",
        ],
    );
    assert_eq!(
        (
            &updated["name"],
            &updated["allowed_ips"],
            &updated["rate_limit_per_min"],
            &updated["org_scope"]
        ),
        (&json!("LMS 2"), &Value::Null, &Value::Null, &Value::Null)
    );
    let updated = json_out(
        &db,
        &[
            "client",
            "update",
            &id,
            "--allow-ip",
            "192.0.2.0/24",
            "--rate-limit-per-min",
            "5",
        ],
    );
    assert_eq!(
        (&updated["allowed_ips"], &updated["rate_limit_per_min"]),
        (&json!(["192.0.2.0/24"]), &json!(5))
    );
    for (args, message) in [
        (
            vec!["client", "update", &id, "--rate-limit-per-min", "0"],
            "--rate-limit-per-min must be",
        ),
        (
            vec!["client", "update", &id, "--allow-ip", "10.0.0.0/40"],
            "--allow-ip \"10.0.0.0/40\"",
        ),
        (vec!["client", "update", &id], "nothing to change"),
        (
            vec!["client", "rotate-secret", &id, "--overlap-hours", "1000"],
            "--overlap-hours",
        ),
    ] {
        let (code, _, err) = rosterhub(&args).db(&db).run();
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let (code, _, err) = rosterhub(&["client", "update", "nobody", "--any-ip"])
        .db(&db)
        .run();
    // After the line naming the database.
    assert_eq!(
        (code, err.lines().last()),
        (1, Some("no client \"nobody\""))
    );

    let rotated = json_out(
        &db,
        &["client", "rotate-secret", &id, "--overlap-hours", "2"],
    );
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["client_id"], json!(id));
    assert!(
        rotated["previous_secret_valid_until"].is_string(),
        "{rotated}"
    );
    let record = db.block_on(db.store.find_client(&id)).unwrap().unwrap();
    let pepper = db.block_on(db.store.client_pepper()).unwrap();
    let now = rosterhub::domain::datetime::now_ms();
    assert!(record.secret_matches(&pepper, new_secret, now));
    assert!(
        record.secret_matches(&pepper, &secret, now),
        "the old one during the overlap"
    );

    let (code, _, _) = rosterhub(&["client", "revoke", &id]).db(&db).run();
    assert_eq!(code, 0);
    let (code, out, err) = rosterhub(&["client", "rotate-secret", &id]).db(&db).run();
    assert_eq!(
        (code, out.as_str(), err.lines().last()),
        (1, "", Some(format!("no active client {id:?}").as_str()))
    );
}

fn signing_keys_rotate_and_list_without_secrets(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let first = db.block_on(db.store.signing_key()).unwrap();
    let rotated = json_out(&db, &["signing-key", "rotate"]);
    let kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(kid, first.kid);
    assert_eq!(rotated, json!({"kid": kid, "retired": 1, "deleted": 0}));
    let list = json_out(&db, &["signing-key", "list"]);
    let keys = list.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[0],
        json!({"kid": kid, "created_at": keys[0]["created_at"], "retired_at": null, "verifies_until": null})
    );
    assert_eq!(keys[1]["kid"], json!(first.kid));
    assert!(keys[1]["retired_at"].is_string() && keys[1]["verifies_until"].is_string());
    let secrets = db.rows("SELECT secret FROM signing_keys");
    assert_eq!(secrets.len(), 2);
    let text = list.to_string();
    for s in secrets {
        assert!(
            !text.contains(&s[0].clone().unwrap()),
            "a key secret is printed"
        );
    }
    assert_eq!(db.block_on(db.store.signing_key()).unwrap().kid, kid);
}

crate::on_both_backends!(
    the_client_commands_round_trip,
    signing_keys_rotate_and_list_without_secrets,
);
