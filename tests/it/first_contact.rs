//! What a person meets first: which database a command uses, exit codes, the messages and logs
//! of the commands, and the audit trail of what they do.

use crate::helpers::cli::rosterhub;
use crate::helpers::{Backend, TestDb, fixtures};

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
        &["import", fixtures().join("jp-profile-v1.2.1").to_str().unwrap()],
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

    let (code, out, err) = rosterhub(&[
        "import",
        fixtures().join("jp-profile-v1.2.1").to_str().unwrap(),
        "--database-url",
        &url,
        "--format",
        "json",
    ])
    .run();
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
    for args in [&["client", "list"][..], &["migrate"]] {
        let (code, _, err) = rosterhub(args)
            .env(&[("ROSTERHUB_DATABASE_URL", &url)])
            .run();
        assert_eq!(code, 0, "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.contains(&format!("database: {}", url.replace("hunter2", "***"))),
            "{err}"
        );
    }
}
