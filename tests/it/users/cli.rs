//! `rosterhub admin …` through the binary (passwords on stdin or in the environment), and a
//! `rosterhub serve` whose log, at debug level, shows no password, session token or CSRF token.

use serde_json::{Value, json};

use super::{PASSWORD, Reply, cookie_token, ops_rows, send, sha256_hex};
use crate::helpers::cli::rosterhub;
use crate::helpers::{Backend, TestDb};

fn the_cli_manages_admin_users(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("t2");
    let stdin = format!("{PASSWORD}\n");
    let (code, out, err) = rosterhub(&[
        "admin",
        "create",
        "Hanako",
        "--tenant",
        "default",
        "--role",
        "admin",
        "--display-name",
        "山田 花子",
    ])
    .db(&db)
    .stdin(&stdin)
    .run();
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            &created["username"],
            &created["display_name"],
            &created["system_admin"],
            &created["roles"]
        ),
        (
            &json!("Hanako"),
            &json!("山田 花子"),
            &json!(false),
            &json!([{"tenant": "default", "role": "admin"}])
        )
    );
    assert!(!out.contains(PASSWORD) && !out.contains("argon2") && !err.contains(PASSWORD));
    let hash = ops_rows(&db, "SELECT password_hash FROM admin_users");
    let hash = hash[0][0].as_str().unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!hash.contains(PASSWORD));

    // A system admin, the password from the environment.
    let (code, out, err) = rosterhub(&["admin", "create", "root", "--system"])
        .db(&db)
        .env(&[("ROSTERHUB_ADMIN_PASSWORD", "the root password")])
        .run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["system_admin"],
        true
    );

    // Refusals.
    for (args, input, says) in [
        (
            &["admin", "create", "hanako", "--system"][..],
            stdin.as_str(),
            "is taken",
        ),
        (
            &["admin", "create", "x", "--system"],
            "short\n",
            "at least 12 characters",
        ),
        (
            &[
                "admin", "create", "x", "--tenant", "nope", "--role", "admin",
            ],
            stdin.as_str(),
            "rosterhub tenant create nope",
        ),
        (
            &["admin", "create", "x", "--tenant", "t2", "--role", "boss"],
            stdin.as_str(),
            "unknown --role",
        ),
        (&["admin", "create", "x"], stdin.as_str(), "--system"),
        (&["admin", "create", "x", "--system"], "", "no password"),
    ] {
        let (code, _, err) = rosterhub(args).db(&db).stdin(input).run();
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }

    // Roles, list, disable/enable, a new password.
    let (code, _, err) = rosterhub(&[
        "admin", "grant", "hanako", "--tenant", "t2", "--role", "viewer",
    ])
    .db(&db)
    .run();
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = rosterhub(&["admin", "list"]).db(&db).run();
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    let roles: Vec<(&Value, &Value)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (&u["username"], &u["roles"]))
        .collect();
    assert_eq!(
        roles,
        [
            (
                &json!("Hanako"),
                &json!([{"tenant": "default", "role": "admin"}, {"tenant": "t2", "role": "viewer"}])
            ),
            (&json!("root"), &json!([])),
        ]
    );
    assert!(!out.contains("hash") && !out.contains("argon2"), "{out}");
    let (code, out, _) = rosterhub(&["admin", "list", "--tenant", "t2"])
        .db(&db)
        .run();
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        rosterhub(&["admin", "revoke-role", "hanako", "--tenant", "t2"])
            .db(&db)
            .run()
            .0,
        0
    );
    assert_eq!(
        rosterhub(&["admin", "revoke-role", "hanako", "--tenant", "t2"])
            .db(&db)
            .run()
            .0,
        1
    );
    assert_eq!(
        rosterhub(&["admin", "disable", "nobody"]).db(&db).run().0,
        1
    );

    assert_eq!(
        rosterhub(&["admin", "disable", "hanako"]).db(&db).run().0,
        0
    );
    let disabled = ops_rows(
        &db,
        &format!("SELECT disabled_at FROM admin_users WHERE id = '{id}'"),
    );
    assert!(disabled[0][0].is_i64());
    assert_eq!(rosterhub(&["admin", "enable", "hanako"]).db(&db).run().0, 0);
    let (code, _, err) = rosterhub(&["admin", "set-password", "hanako"])
        .db(&db)
        .stdin("a brand new password\n")
        .run();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("a brand new password"));
    let stored = ops_rows(
        &db,
        &format!("SELECT password_hash, disabled_at FROM admin_users WHERE id = '{id}'"),
    );
    assert_ne!(stored[0][0].as_str().unwrap(), hash, "a new hash");
    assert_eq!(stored[0][1], Value::Null, "enabled again");
}

fn no_password_or_token_reaches_the_log(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let (code, _, err) = rosterhub(&[
        "admin", "create", "hanako", "--tenant", "default", "--role", "admin",
    ])
    .db(&db)
    .stdin(&format!("{PASSWORD}\n"))
    .run();
    assert_eq!(code, 0, "{err}");
    let log = tempfile::NamedTempFile::new().unwrap();
    let serve = rosterhub(&["serve", "--workers", "0"])
        .db(&db)
        .env(&[("RUST_LOG", "debug")])
        .serve(Some(log.reopen().unwrap()));
    let base = format!("{}/api/v1", serve.base);
    let http = reqwest::Client::new();
    let wrong = "a wrong password that must not be logged";
    let (token, csrf) = db.rt.block_on(async {
        let post = |password: &str| {
            http.post(format!("{base}/session"))
                .json(&json!({"username": "hanako", "password": password}))
        };
        let r: Reply = send(post(wrong)).await;
        assert_eq!(r.status, 401);
        let r = send(post(PASSWORD)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let token = cookie_token(&r);
        let csrf = r.body["csrf_token"].as_str().unwrap().to_owned();
        let cookie = format!("rosterhub_session={token}");
        let r = send(
            http.get(format!("{base}/imports"))
                .header("cookie", &cookie),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = send(
            http.delete(format!("{base}/session"))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf),
        )
        .await;
        assert_eq!(r.status, 204);
        (token, csrf)
    });
    drop(serve);
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        text.contains("admin user logged in"),
        "the log is captured: {text}"
    );
    for (secret, what) in [
        (PASSWORD, "the password"),
        (wrong, "a wrong password"),
        (token.as_str(), "the session token"),
        (sha256_hex(&token).as_str(), "the session id"),
        (csrf.as_str(), "the CSRF token"),
    ] {
        assert!(!text.contains(secret), "{what} is in the log:\n{text}");
    }
}

crate::on_both_backends!(
    the_cli_manages_admin_users,
    no_password_or_token_reaches_the_log
);
