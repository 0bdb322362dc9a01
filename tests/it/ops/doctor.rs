//! `rosterhub doctor` on a healthy set-up and on broken ones (no PII key, an unmigrated
//! database, a worker that stopped, an unreachable PostgreSQL), line by line, in both
//! languages; and that it writes nothing.

use rosterhub::storage::migrate;

use crate::helpers::cli::{import_json, rosterhub};
use crate::helpers::{Backend, TestDb, fixtures};
use crate::on_both_backends;

/// Runs `doctor` on `db` with `env`: exit code and stdout lines.
fn doctor(db: &TestDb, env: &[(&str, &str)], extra: &[&str]) -> (i32, Vec<String>) {
    let mut args = vec!["doctor"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--database-url", &db.url]);
    let (code, out, err) = rosterhub(&args).env(env).run();
    assert_eq!(err, "", "doctor writes its report on stdout only");
    (code, out.lines().map(str::to_owned).collect())
}

/// The `disk` line's numbers and status depend on the machine (a shared disk may be nearly
/// full): it must be there, with the data directory's volume.
fn disk_line(lines: &[String]) -> &str {
    lines
        .iter()
        .find(|l| l.contains("  disk         /"))
        .unwrap_or_else(|| panic!("no disk line: {lines:#?}"))
}

/// The exit code expected from the other checks' worst status (`base`) and the disk line's.
fn with_disk(base: i32, lines: &[String]) -> i32 {
    let disk = match &disk_line(lines)[..4] {
        "OK  " => 0,
        "WARN" => 1,
        _ => 2,
    };
    base.max(disk)
}

/// The lines without the disk line.
fn without_disk(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| !l.contains("  disk  "))
        .cloned()
        .collect()
}

fn latest(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => format!(
            "schema database {n} of {n}, operational file {o} of {o}",
            n = migrate::SQLITE.len(),
            o = migrate::SQLITE_OPS.len()
        ),
        Backend::Postgres => format!("schema database {n} of {n}", n = migrate::POSTGRES.len()),
    }
}

fn shown(db: &TestDb) -> String {
    rosterhub::storage::redact_url(&db.url)
}

fn clock_ok(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "OK    clock        no time stamped in the database is ahead of this machine's clock"
        }
        Backend::Postgres => {
            "OK    clock        this machine's clock agrees with the database server's (within 2 s)"
        }
    }
}

/// A database with the fixture imported under a PII key, and a signing key: the key (base64),
/// its id and the signing key's kid.
fn healthy(db: &TestDb) -> (String, String, String) {
    let key = rosterhub::pii::Key::generate();
    let b64 = key.to_base64();
    let (code, _, err) = import_json(&fixtures().join("jp-profile-v1.2.1"), &db.url)
        .env(&[("ROSTERHUB_PII_KEY", b64.as_str())])
        .run();
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = rosterhub(&["signing-key", "rotate", "--database-url", &db.url])
        .env(&[("ROSTERHUB_PII_KEY", b64.as_str())])
        .run();
    assert_eq!(code, 0, "{err}");
    let kid = serde_json::from_str::<serde_json::Value>(&out).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    (b64, key.id().to_owned(), kid)
}

fn a_healthy_set_up_is_all_ok(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let (key, id, kid) = healthy(&db);
    let (code, lines) = doctor(&db, &[("ROSTERHUB_PII_KEY", &key)], &[]);
    assert_eq!(
        without_disk(&lines),
        vec![
            "OK    config       serve settings are valid (no configuration file)".to_owned(),
            format!("OK    database     {} answers", shown(&db)),
            format!("OK    migrations   {}: up to date", latest(backend)),
            format!("OK    pii-key      key {id} decrypts a stored value (users.email)"),
            format!("OK    signing-key  key {kid} signs access tokens"),
            clock_ok(backend).to_owned(),
            "OK    workers      0 running with current heartbeats, 0 queued".to_owned(),
        ]
    );
    assert_eq!(lines[5], disk_line(&lines), "disk comes after the keys");
    assert_eq!(code, with_disk(0, &lines));

    // In Japanese: the same checks, the words translated.
    let (code, lines) = doctor(
        &db,
        &[("ROSTERHUB_PII_KEY", &key), ("LANG", "ja_JP.UTF-8")],
        &[],
    );
    assert_eq!(code, with_disk(0, &lines));
    assert_eq!(
        lines[3],
        format!("OK    pii-key      鍵 {id} で保存済みの値を復号できます (users.email)")
    );
    let (_, en) = doctor(
        &db,
        &[("ROSTERHUB_PII_KEY", &key), ("LANG", "ja_JP.UTF-8")],
        &["--lang", "en"],
    );
    assert_eq!(
        en[3],
        format!("OK    pii-key      key {id} decrypts a stored value (users.email)")
    );
}

fn a_missing_pii_key_fails_and_says_what_to_do(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let (_, id, _) = healthy(&db);
    let (code, lines) = doctor(&db, &[], &[]);
    assert_eq!(code, with_disk(2, &lines));
    assert_eq!(
        lines[3],
        "FAIL  pii-key      this database holds encrypted PII; set ROSTERHUB_PII_KEY (base64 of \
         32 bytes) or ROSTERHUB_PII_KEY_FILE (--pii-key-file) to its key — `rosterhub keys \
         status` lists the key ids in use"
    );
    let (_, ja) = doctor(&db, &[], &["--lang", "ja"]);
    assert_eq!(
        ja[3],
        "FAIL  pii-key      このデータベースには暗号化された個人情報がありますが、鍵が設定されていません — \
         ROSTERHUB_PII_KEY または pii_key_file にその鍵を設定してください (鍵 ID は \
         `rosterhub keys status` で分かります)"
    );
    // Another key than the data's: refused by the database's key check.
    let other = rosterhub::pii::Key::generate();
    let (code, lines) = doctor(&db, &[("ROSTERHUB_PII_KEY", &other.to_base64())], &[]);
    assert_eq!(code, with_disk(2, &lines));
    assert_eq!(
        lines[3],
        format!(
            "FAIL  pii-key      this database holds PII encrypted under key {id}, which is not \
             configured (the configured keys are {}); during a rotation set the old key as \
             ROSTERHUB_PII_KEY_PREVIOUS (or --pii-previous-key-file)",
            other.id()
        )
    );
}

fn an_unmigrated_database_warns_and_stays_unmigrated(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let latest_main = migrate::SQLITE.len();
    // The database as an older rosterhub left it: the last two migrations not applied.
    db.rows(&format!(
        "DELETE FROM schema_migrations WHERE version > {}",
        latest_main - 2
    ));
    let (code, lines) = doctor(&db, &[], &[]);
    let state = match backend {
        Backend::Sqlite => format!(
            "schema database {} of {latest_main}, operational file {o} of {o}",
            latest_main - 2,
            o = migrate::SQLITE_OPS.len()
        ),
        Backend::Postgres => format!("schema database {} of {latest_main}", latest_main - 2),
    };
    assert_eq!(
        without_disk(&lines),
        vec![
            "OK    config       serve settings are valid (no configuration file)".to_owned(),
            format!("OK    database     {} answers", shown(&db)),
            format!(
                "WARN  migrations   {state}: not migrated; the other database checks wait for it \
                 — run `rosterhub migrate` (serve also migrates at start), then doctor again"
            ),
        ]
    );
    disk_line(&lines);
    assert_eq!(code, with_disk(1, &lines));
    assert_eq!(
        db.scalar("SELECT CAST(MAX(version) AS TEXT) FROM schema_migrations"),
        (latest_main - 2).to_string(),
        "doctor migrated nothing"
    );
}

fn a_job_whose_worker_stopped_is_named(backend: Backend) {
    use rosterhub::storage::ops::jobs::{JobKind, JobParams, NewJob};
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let (key, _, _) = healthy(&db);
    let job = db.block_on(async {
        let params = JobParams::default();
        let (job, _) = db
            .store
            .create_job(NewJob {
                tenant: "default",
                kind: JobKind::Import,
                params: &params,
                idempotency_key: None,
                upload_blob: None,
                created_by: "test",
            })
            .await
            .unwrap();
        // Claimed under a lease that ran out two minutes ago: its worker is gone.
        db.store
            .claim_job("replica-a:w0", -120_000, 5)
            .await
            .unwrap()
            .unwrap();
        job
    });
    let (code, lines) = doctor(&db, &[("ROSTERHUB_PII_KEY", &key)], &[]);
    assert_eq!(code, with_disk(1, &lines));
    let line = lines.iter().find(|l| l.contains("  workers  ")).unwrap();
    let expected = |secs: u32| {
        format!(
            "WARN  workers      1 running job(s) without a heartbeat, the oldest for {secs} s \
             (import {}) — their worker stopped; a replica with workers takes them over, and if \
             none runs, start `rosterhub serve` with workers ≥ 1",
            job.id
        )
    };
    assert!((120..=125).any(|s| *line == expected(s)), "{line}");
}

on_both_backends!(
    a_healthy_set_up_is_all_ok,
    a_missing_pii_key_fails_and_says_what_to_do,
    an_unmigrated_database_warns_and_stays_unmigrated,
    a_job_whose_worker_stopped_is_named,
);

#[test]
fn an_unreachable_postgres_fails_and_the_other_database_checks_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = rosterhub(&["doctor", "--lang", "en"])
        .env(&[(
            "ROSTERHUB_DATABASE_URL",
            "postgres://app:secret@127.0.0.1:1/roster",
        )])
        .dir(dir.path())
        .run();
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(
        without_disk(&lines),
        vec![
            "OK    config       serve settings are valid (no configuration file)",
            "FAIL  database     cannot reach postgres://app:***@127.0.0.1:1/roster: PostgreSQL: \
             error communicating with database: Connection refused (os error 111) — check the \
             URL (`rosterhub config show`), that the server runs and that this machine may \
             connect to it",
        ]
    );
    disk_line(&lines);
    assert_eq!(code, with_disk(2, &lines));
}

#[test]
fn a_missing_sqlite_database_fails_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none/rosterhub.db");
    let url = format!("sqlite://{}", path.display());
    let (code, out, _) = rosterhub(&["doctor", "--database-url", &url]).run();
    assert_eq!(code, 2);
    assert_eq!(
        out.lines().nth(1),
        Some(
            format!(
                "FAIL  database     no database at {} — create it with `rosterhub migrate` \
                 (serve creates it at its first start), or set database_url to the existing one",
                path.display()
            )
            .as_str()
        )
    );
    assert!(!path.exists() && !path.parent().unwrap().exists());
}

#[test]
fn an_invalid_setting_fails_the_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rosterhub.toml");
    std::fs::write(&file, "rate_limit_per_min = 0\nlisen = \"x\"\n").unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let (code, out, _) = rosterhub(&["doctor", "--database-url", &url])
        .env(&[("ROSTERHUB_CONFIG", file.to_str().unwrap())])
        .run();
    assert_eq!(code, 2);
    let lines: Vec<&str> = out.lines().take(2).collect();
    assert_eq!(
        lines,
        vec![
            "WARN  config       unknown key `lisen` in the configuration file; did you mean \
             `listen`? — correct or remove it",
            "FAIL  config       --rate-limit-per-min must be at least 1 — `rosterhub config show` \
             shows where the value came from",
        ]
    );
}
