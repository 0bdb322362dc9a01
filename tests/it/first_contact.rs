//! What a person meets first: which database a command uses, exit codes, the messages and logs
//! of the commands, and the audit trail of what they do.

use crate::helpers::cli::{import_json, rosterhub, wait_for_log};
use rosterhub::auth::Scopes;

use crate::helpers::{Backend, TestDb, fixtures};
use crate::on_both_backends;

/// A command other than `serve` and `migrate`, run where no database was named and the
/// default file does not exist, creates nothing and says where it looked and what to do.
#[test]
fn a_command_in_another_folder_refuses_to_create_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["client", "create", "--name", "sis"][..],
        &["client", "list"],
        &["tenant", "create", "kyoto"],
        &["admin", "list"],
        &["keys", "status"],
        &[
            "import",
            fixtures().join("jp-profile-v1.2.1").to_str().unwrap(),
        ],
    ] {
        let (code, out, err) = rosterhub(args).dir(dir.path()).run();
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        let abs = std::path::absolute(dir.path().join("./data/rosterhub.db")).unwrap();
        assert!(
            err.contains(&format!(
                "no database at sqlite://./data/rosterhub.db ({})",
                abs.display()
            )),
            "{args:?}: {err}"
        );
        assert!(err.contains("--database-url"), "{err}");
        assert!(err.contains("ROSTERHUB_DATABASE_URL"), "{err}");
        assert!(err.contains("データベースがありません"), "{err}");
        assert!(
            !dir.path().join("data").exists(),
            "{args:?} created the data folder"
        );
    }

    // `migrate` creates it, naming it; from then on the other commands use it and say so.
    let (code, _, err) = rosterhub(&["migrate"]).dir(dir.path()).run();
    assert_eq!(code, 0, "{err}");
    let abs = std::path::absolute(dir.path().join("./data/rosterhub.db")).unwrap();
    let named = format!("database: sqlite://./data/rosterhub.db ({})", abs.display());
    assert!(err.contains(&named), "{err}");
    assert!(dir.path().join("data/rosterhub.db").exists());
    let (code, out, err) = rosterhub(&["client", "list"]).dir(dir.path()).run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "[]");
    assert_eq!(err.trim(), named);
}

/// A database named on the command line or in the environment is created as before.
#[test]
fn a_named_database_is_created_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/named.db");
    let url = format!("sqlite://{}", path.display());
    let (code, _, err) = rosterhub(&["tenant", "create", "kyoto"])
        .env(&[("ROSTERHUB_DATABASE_URL", &url)])
        .dir(dir.path())
        .run();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("database: {url}\n")), "{err}");
    assert!(path.exists());

    let (code, out, err) = import_json(&fixtures().join("jp-profile-v1.2.1"), &url).run();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["database"], url);
}

/// A PostgreSQL URL's password is never printed.
#[test]
fn a_postgres_password_is_redacted() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let url = db.url.replacen("postgres@", "postgres:hunter2@", 1);
    assert_ne!(url, db.url, "the test database URL has a user");
    let in_query = format!("{}?password=hunter2", db.url);
    for url in [&url, &in_query] {
        for args in [&["client", "list"][..], &["migrate"]] {
            let (code, _, err) = rosterhub(args)
                .env(&[("ROSTERHUB_DATABASE_URL", url)])
                .run();
            assert_eq!(code, 0, "{err}");
            assert!(!err.contains("hunter2"), "{err}");
            assert!(
                err.contains(&format!("database: {}", url.replace("hunter2", "***"))),
                "{err}"
            );
        }
    }
}

/// A missing bundle is a usage error (exit 2), not a rejected bundle (exit 1); a file that is not
/// a ZIP is a rejected bundle with a finding that says so.
#[test]
fn a_missing_bundle_exits_2_and_a_non_zip_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let missing = dir.path().join("nowhere.zip");
    let missing = missing.to_str().unwrap();
    for args in [
        vec!["validate", missing, "--format", "json"],
        vec![
            "import",
            missing,
            "--format",
            "json",
            "--database-url",
            &url,
        ],
    ] {
        let (code, out, err) = rosterhub(&args).run();
        assert_eq!(code, 2, "{args:?}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["findings"][0]["code"], "bundle_unreadable", "{out}");
        assert!(
            v["findings"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("cannot read {missing}")),
            "{out}"
        );
    }
    let not_zip = dir.path().join("notes.zip");
    std::fs::write(&not_zip, "hello").unwrap();
    let (code, out, _) =
        rosterhub(&["validate", not_zip.to_str().unwrap(), "--format", "json"]).run();
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["findings"][0]["code"], "not_a_zip");
    assert_eq!(
        v["findings"][0]["message"],
        "notes.zip is not a ZIP file: a bundle is a ZIP of CSV files (or a folder of them)"
    );
}

/// `tenant create` of an existing tenant is a no-op, but with another `--name` it says so and
/// exits 1 rather than silently keeping the old name.
#[test]
fn creating_a_tenant_again_with_another_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let create = |name: &str| {
        rosterhub(&[
            "tenant",
            "create",
            "kyoto",
            "--name",
            name,
            "--database-url",
            &url,
        ])
        .run()
    };
    assert_eq!(create("京都市").0, 0);
    let (code, _, err) = create("京都府");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("tenant kyoto exists already with the name \"京都市\"; nothing was changed"),
        "{err}"
    );
    assert!(
        err.contains("テナント kyoto は名前 \"京都市\" で既に存在します"),
        "{err}"
    );
    let (code, _, err) = rosterhub(&["tenant", "create", "kyoto", "--database-url", &url]).run();
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = rosterhub(&["tenant", "list", "--database-url", &url]).run();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v[1],
        serde_json::json!({"id": "kyoto", "name": "京都市", "target": null})
    );
}

/// A 403 names each scope that would open the operation once.
#[test]
fn a_missing_scope_is_named_once() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let server = crate::server::start_with(&db, |_| {});
    db.block_on(async {
        let token = server.token_for("default", Scopes::IMPORT).await;
        for (path, needs) in [
            ("/api/v1/audit", "rosterhub.admin"),
            ("/api/v1/exports", "rosterhub.export or rosterhub.admin"),
        ] {
            let r = server.get_with(path, Some(&token)).await;
            assert_eq!(r.status(), 403);
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(
                body["message"],
                format!("the token's scopes do not cover this operation (it needs {needs})")
            );
        }
    });
}

/// `serve`'s log written to a file carries no colour codes and prints its address plainly.
#[test]
fn serve_logs_to_a_file_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let log_path = dir.path().join("serve.log");
    let server = rosterhub(&["serve", "--database-url", &url])
        .serve(Some(std::fs::File::create(&log_path).unwrap()));
    let log = wait_for_log(&log_path, "listening");
    drop(server);
    assert!(!log.contains('\u{1b}'), "{log:?}");
    let addr = server_addr(&log);
    assert!(
        log.contains(&format!("listening addr={addr} tls=false")),
        "{log}"
    );
    assert!(!log.contains("Some("), "{log}");
}

/// The `127.0.0.1:PORT` in a log.
fn server_addr(log: &str) -> String {
    let start = log.find("127.0.0.1:").expect("an address in the log");
    log[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect()
}

/// Encryption at rest is off by default, and the commands say so: `serve` warns once (and not
/// when a key is given), `keys status` says "off" instead of printing nulls.
#[test]
fn encryption_off_is_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("e.db").display());
    let (code, out, err) = rosterhub(&["keys", "status", "--database-url", &url]).run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!({"encryption": "off", "keys": []})
    );
    assert!(
        err.contains("encryption is off: personal data is stored in plaintext; to turn it on, create a key with `rosterhub keys generate`"),
        "{err}"
    );

    let (_, key, _) = rosterhub(&["keys", "generate"]).run();
    let key = key.trim();
    for (with_key, warnings) in [(false, 1), (true, 0)] {
        let log_path = dir.path().join(format!("serve-{with_key}.log"));
        let mut serve = rosterhub(&["serve", "--database-url", &url]);
        if with_key {
            serve = serve.env(&[("ROSTERHUB_PII_KEY", key)]);
        }
        let server = serve.serve(Some(std::fs::File::create(&log_path).unwrap()));
        let log = wait_for_log(&log_path, "listening");
        drop(server);
        assert_eq!(
            log.matches("personal data encryption is off").count(),
            warnings,
            "{log}"
        );
        if warnings > 0 {
            assert!(log.contains("WARN"), "{log}");
            assert!(log.contains("ROSTERHUB_PII_KEY"), "{log}");
        }
    }

    // With encrypted data and no key: the error says what to do, once.
    let (code, _, err) = rosterhub(&[
        "import",
        fixtures().join("jp-profile-v1.2.1").to_str().unwrap(),
        "--database-url",
        &url,
    ])
    .env(&[("ROSTERHUB_PII_KEY", key)])
    .run();
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = rosterhub(&["client", "list", "--database-url", &url]).run();
    assert_eq!(code, 2);
    assert_eq!(
        err.matches("this database holds encrypted PII").count(),
        1,
        "{err}"
    );
    assert!(err.contains("set ROSTERHUB_PII_KEY"), "{err}");
    let (code, out, err) = rosterhub(&["keys", "status", "--database-url", &url]).run();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["encryption"], "off");
    assert_eq!(v["keys"][0]["values"], 36);
    assert!(
        err.contains("but 36 values in this database are encrypted"),
        "{err}"
    );
    let (_, out, _) = rosterhub(&["keys", "status", "--database-url", &url])
        .env(&[("ROSTERHUB_PII_KEY", key)])
        .run();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["encryption"], "on");
    assert_eq!(v["plaintext_values"], 0);
}

/// What the command line changes is in the tenant's audit log (actor `cli:<os user>`) and a
/// CLI import in its import history with its report, as over the admin API.
fn cli_actions_are_audited_and_imports_listed(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let cli = |args: &[&str]| {
        let (code, out, err) = rosterhub(args).db(&db).env(&[("USER", "hanako")]).run();
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    cli(&["tenant", "create", "kyoto", "--name", "京都市"]);
    let created: serde_json::Value = serde_json::from_str(&cli(&[
        "client", "create", "--name", "sis", "--tenant", "kyoto",
    ]))
    .unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    cli(&["client", "update", &client_id, "--name", "sis 2"]);
    cli(&["client", "revoke", &client_id]);
    let (code, out, err) = rosterhub(&[
        "admin", "create", "taro", "--tenant", "kyoto", "--role", "viewer",
    ])
    .db(&db)
    .env(&[("USER", "hanako")])
    .stdin("a long enough password 1\n")
    .run();
    assert_eq!(code, 0, "{err}");
    let user_id = serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _, err) = rosterhub(&["admin", "set-password", "taro"])
        .db(&db)
        .env(&[("USER", "hanako")])
        .stdin("another long password 2\n")
        .run();
    assert_eq!(code, 0, "{err}");
    cli(&["admin", "disable", "taro"]);
    let rotated: serde_json::Value =
        serde_json::from_str(&cli(&["signing-key", "rotate"])).unwrap();
    let bundle = fixtures().join("jp-profile-v1.2.1");
    let report: serde_json::Value = serde_json::from_str(&cli(&[
        "import",
        bundle.to_str().unwrap(),
        "--tenant",
        "kyoto",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(report["status"], "applied");

    let server = crate::server::start_with(&db, |_| {});
    db.block_on(async {
        let token = server
            .token_for("kyoto", crate::server::admin_scopes())
            .await;
        let get = |path: &'static str| {
            let r = server.http.get(server.url(path)).bearer_auth(&token).send();
            async move {
                let r = r.await.unwrap();
                assert_eq!(r.status(), 200);
                r.json::<serde_json::Value>().await.unwrap()
            }
        };
        let imports = get("/api/v1/imports").await;
        assert_eq!(imports["total"], 1, "{imports}");
        let job = &imports["imports"][0];
        assert_eq!(job["state"], "succeeded");
        assert_eq!(job["file_name"], "jp-profile-v1.2.1");
        assert_eq!(job["report"]["status"], "applied");
        assert_eq!(job["report"]["entities"], report["entities"]);
        let job_id = job["id"].as_str().unwrap().to_owned();
        let one = server
            .get_with(&format!("/api/v1/imports/{job_id}"), Some(&token))
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap();
        assert_eq!(one["report"]["import_id"], report["import_id"], "{one}");
        assert_eq!(one["report"]["warning_count"], report["warning_count"]);

        let audit = get("/api/v1/audit?actor=cli:hanako&limit=100").await;
        let mut got: Vec<(String, String, String, Option<String>)> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["method"], "CLI");
                assert_eq!(e["status"], 200);
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["path"].as_str().unwrap().to_owned(),
                    e["actor"].as_str().unwrap().to_owned(),
                    e["target"].as_str().map(str::to_owned),
                )
            })
            .collect();
        got.reverse();
        let actor = || "cli:hanako".to_owned();
        assert_eq!(
            got,
            [
                (
                    "tenants.create".into(),
                    "rosterhub tenant create".into(),
                    actor(),
                    Some("kyoto".into())
                ),
                (
                    "clients.create".into(),
                    "rosterhub client create".into(),
                    actor(),
                    Some(client_id.clone())
                ),
                (
                    "clients.update".into(),
                    "rosterhub client update".into(),
                    actor(),
                    Some(client_id.clone())
                ),
                (
                    "clients.revoke".into(),
                    "rosterhub client revoke".into(),
                    actor(),
                    Some(client_id.clone())
                ),
                (
                    "users.create".into(),
                    "rosterhub admin create".into(),
                    actor(),
                    Some(user_id.clone())
                ),
                (
                    "users.update".into(),
                    "rosterhub admin set-password".into(),
                    actor(),
                    Some(user_id.clone())
                ),
                (
                    "users.update".into(),
                    "rosterhub admin disable".into(),
                    actor(),
                    Some(user_id)
                ),
                (
                    "signing_keys.rotate".into(),
                    "rosterhub signing-key rotate".into(),
                    actor(),
                    rotated["kid"].as_str().map(str::to_owned)
                ),
                (
                    "imports.create".into(),
                    "rosterhub import".into(),
                    actor(),
                    Some(job_id)
                ),
            ]
        );
    });
}

on_both_backends!(cli_actions_are_audited_and_imports_listed);

/// The official rostering document is served with this server as its server and token URL,
/// beside the admin one, and the docs page offers both.
#[test]
fn the_rostering_document_names_this_server() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let server = crate::server::start_with(&db, |_| {});
    db.block_on(async {
        let r = server.get_with("/api/v1/rostering-openapi.json", None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let doc: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            doc["servers"],
            serde_json::json!([{
                "url": format!("{}/ims/oneroster/rostering/v1p2", server.base),
                "description": "This server"
            }])
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["OAuth2CC"]["flows"]["clientCredentials"]["tokenUrl"],
            format!("{}/oauth/token", server.base)
        );
        let file: serde_json::Value =
            serde_json::from_str(include_str!("../../openapi/rostering-v1p2.json")).unwrap();
        assert_eq!(doc["paths"], file["paths"], "the paths as published");
        assert_eq!(doc["components"]["schemas"], file["components"]["schemas"]);

        let js = server.get_with("/api/v1/docs/swagger-initializer.js", None).await
            .text()
            .await
            .unwrap();
        for document in ["/api/v1/openapi.json", "/api/v1/rostering-openapi.json"] {
            assert!(js.contains(&format!("\"url\": \"{document}\"")), "{js}");
        }
    });
}
