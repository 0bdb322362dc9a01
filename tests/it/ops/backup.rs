//! `rosterhub backup` while an import holds the database's write lock: the copy opens, passes
//! SQLite's integrity check and holds the rows of before or after the import, never a part;
//! `rosterhub restore` puts it in an empty location (refusing to overwrite without --force) and
//! `rosterhub serve` answers from it. PostgreSQL is refused with the pg_dump command.

use std::path::Path;
use std::time::{Duration, Instant};

use rosterhub::domain::Entity;
use rosterhub::storage::migrate;

use crate::helpers::cli::{create_client, rosterhub, token_of};
use crate::helpers::{Backend, TestDb, fixtures, opts};

/// Rows per rostering table (every tenant), and imports run, of a SQLite file.
fn table_rows(path: &Path) -> Vec<(String, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    Entity::ALL
        .iter()
        .map(|e| e.table())
        .chain(["imports"])
        .map(|t| {
            let n = conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap();
            (t.to_owned(), n)
        })
        .collect()
}

/// Whether a writer (an import) holds the database's write lock now.
fn write_locked(path: &Path) -> bool {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::ZERO).unwrap();
    match conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
        Ok(()) => false,
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            true
        }
        Err(e) => panic!("{e}"),
    }
}

fn sqlite_path(url: &str) -> std::path::PathBuf {
    rosterhub::storage::sqlite::path_from_url(url)
}

#[test]
fn a_backup_during_an_import_is_consistent_and_restores_to_a_serving_database() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    db.tenant("big");
    let main = sqlite_path(&db.url);
    let before = table_rows(&main);

    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.zip");
    let options = rosterhub::generate::GenerateOptions {
        students: 8_000,
        seed: 3,
        profile: rosterhub::generate::GenProfile::JpV121,
        delta: false,
    };
    rosterhub::generate::generate_zip(std::fs::File::create(&big).unwrap(), &options).unwrap();
    let importer = rosterhub(&[
        "import",
        big.to_str().unwrap(),
        "--tenant",
        "big",
        "--format",
        "json",
    ])
    .db(&db)
    .start();

    // The import's transaction holds the write lock from its first row to its commit; seen
    // twice in a row, it is the import's (opening the database takes it only for a moment).
    let started = Instant::now();
    loop {
        if write_locked(&main) {
            std::thread::sleep(Duration::from_millis(300));
            if write_locked(&main) {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the import never began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = dir.path().join("backup");
    let took = Instant::now();
    let (code, _, err) = rosterhub(&["backup", out.to_str().unwrap()]).db(&db).run();
    let took = took.elapsed();
    let import_still_running = write_locked(&main);
    assert_eq!(code, 0, "{err}");
    let imported = importer.wait_with_output().unwrap();
    assert!(
        imported.status.success(),
        "the import went on beside the backup: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let after = table_rows(&main);
    assert_ne!(before, after);
    eprintln!(
        "backup of a database under import: {} ms; import still running after it: \
         {import_still_running}",
        took.as_millis()
    );

    // The copy: sound, and the database as of one moment.
    let copy = out.join("rosterhub.db");
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let copied = table_rows(&copy);
    assert!(
        copied == before || copied == after,
        "a part of the import: {copied:?}"
    );
    if import_still_running {
        assert_eq!(copied, before, "the import had not committed");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "rosterhub-backup");
    assert_eq!(manifest["backend"], "sqlite");
    let files: Vec<(String, String, i64)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["role"].as_str().unwrap().to_owned(),
                f["file"].as_str().unwrap().to_owned(),
                f["schema_version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        vec![
            (
                "ops".into(),
                "rosterhub-ops.db".into(),
                migrate::SQLITE_OPS.len() as i64
            ),
            (
                "main".into(),
                "rosterhub.db".into(),
                migrate::SQLITE.len() as i64
            ),
        ]
    );

    // Once the import committed, a backup holds all of it.
    let later = dir.path().join("later");
    let (code, _, err) = rosterhub(&["backup", later.to_str().unwrap()])
        .db(&db)
        .run();
    assert_eq!(code, 0, "{err}");
    assert_eq!(table_rows(&later.join("rosterhub.db")), after);

    // A second backup into the same folder is refused; nothing is touched.
    let (code, _, err) = rosterhub(&["backup", out.to_str().unwrap()]).db(&db).run();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("exists already and is not an empty folder"),
        "{err}"
    );

    // Restore into an empty location, then serve it.
    let target = dir.path().join("restored/roster.db");
    let url = format!("sqlite://{}", target.display());
    let restore = |extra: &[&str]| {
        let mut args = vec!["restore", out.to_str().unwrap(), "--database-url", &url];
        args.extend_from_slice(extra);
        rosterhub(&args).run()
    };
    let (code, _, err) = restore(&[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(table_rows(&target), copied);
    let (code, _, err) = restore(&[]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "a database is there already ({}, {}): nothing was changed.",
            dir.path().join("restored/roster-ops.db").display(),
            target.display()
        )),
        "{err}"
    );
    let (code, _, err) = restore(&["--force"]);
    assert_eq!(code, 0, "{err}");

    let client = create_client(&url, None);
    let server = rosterhub(&["serve", "--database-url", &url]).serve(None);
    db.rt.block_on(async {
        let http = reqwest::Client::new();
        let token = token_of(&server.base, &client).await;
        let r = http
            .get(format!(
                "{}/ims/oneroster/rostering/v1p2/users?limit=1",
                server.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // The fixture's 36 users of the default tenant, as before the backup.
        assert_eq!(r.headers()["x-total-count"].to_str().unwrap(), "36");
    });
}

#[test]
fn a_damaged_backup_is_not_restored() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let (code, _, err) = rosterhub(&["backup", out.to_str().unwrap()]).db(&db).run();
    assert_eq!(code, 0, "{err}");
    let file = out.join("rosterhub.db");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let target = dir.path().join("r/r.db");
    let (code, _, err) = rosterhub(&[
        "restore",
        out.to_str().unwrap(),
        "--database-url",
        &format!("sqlite://{}", target.display()),
    ])
    .run();
    assert_eq!(code, 2);
    assert!(
        err.contains("is not the file the backup wrote (its SHA-256 differs from the manifest's)"),
        "{err}"
    );
    assert!(!target.exists());
}

#[test]
fn postgres_is_backed_up_with_pg_dump() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let shown = rosterhub::storage::redact_url(&db.url);
    for command in ["backup", "restore"] {
        let (code, out, err) = rosterhub(&[command, "somewhere"]).db(&db).run();
        assert_eq!((code, out.as_str()), (2, ""));
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines[0], format!("database: {shown}"));
        assert_eq!(
            lines[3],
            format!("  pg_dump --format=custom --file=rosterhub.dump '{shown}'")
        );
        assert_eq!(
            lines[5],
            format!("  pg_restore --no-owner --dbname='{shown}' rosterhub.dump")
        );
    }
}
