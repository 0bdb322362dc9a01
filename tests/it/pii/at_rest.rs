//! What is stored: ciphertext only, unchanged by a re-import, unreadable without the key or
//! out of its place; and nothing personal or secret in the logs.

use rosterhub::domain::Entity;
use rosterhub::import::{self, ImportOptions};
use rosterhub::pii::{Key, PiiError};
use rosterhub::storage::select::Selection;
use rosterhub::storage::{Store, StoreError};

use super::{bundle, config, import_into, personal_values, raw_column, use_keys};
use crate::helpers::{Backend, TestDb, counts};
use crate::on_both_backends;

/// Every stored byte of the database as text: the SQLite files (main, WAL after a checkpoint,
/// and the operational file), or on PostgreSQL every row of every table that holds data.
fn stored_text(db: &TestDb) -> String {
    match &db.store {
        Store::Sqlite(s) => {
            let conn = s.connect().unwrap();
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .unwrap();
            let dir = s.path().parent().unwrap();
            let mut bytes = Vec::new();
            let mut files = 0;
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("test")
                {
                    bytes.extend(std::fs::read(&path).unwrap());
                    files += 1;
                }
            }
            assert!(files >= 3, "main file, its WAL, the operational file");
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Store::Postgres(_) => {
            let mut text = String::new();
            let tables = Entity::ALL
                .iter()
                .map(|e| e.table())
                .chain(["imports", "pii_keys", "tenants"]);
            for t in tables {
                for row in db.rows(&format!("SELECT t::text FROM {t} t")) {
                    text.push_str(&row[0].clone().unwrap_or_default());
                    text.push('\n');
                }
            }
            text
        }
    }
}

fn encrypted_import_leaves_no_plaintext_at_rest(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    let key = Key::generate();
    use_keys(&mut db, Some(config(&key)));
    import_into(&db, "default");
    let stored = stored_text(&db);
    assert!(stored.contains("pii1:"), "the values are there, encrypted");
    for value in personal_values() {
        assert!(!stored.contains(&value), "{value} is stored in clear");
    }
    assert!(
        !stored.contains(&key.to_base64()),
        "the key is never stored"
    );
    // Every configured column holds ciphertext only, and e-mails have a blind index.
    for (table, column) in [
        ("users", "email"),
        ("users", "username"),
        ("demographics", "birth_date"),
    ] {
        let values = raw_column(&db, table, column);
        assert!(!values.is_empty(), "{table}.{column}");
        for v in values {
            assert!(
                v.starts_with(&format!("pii1:{}:", key.id())),
                "{table}.{column}: {v}"
            );
        }
    }
    let indexed = raw_column(&db, "users", "email_bidx");
    assert_eq!(indexed.len(), raw_column(&db, "users", "email").len());
    assert!(indexed.iter().all(|h| h.len() == 32));
    // Columns not configured stay plaintext.
    assert!(raw_column(&db, "users", "given_name").contains(&"蓮".to_owned()));
}

fn reimporting_the_same_bundle_changes_nothing(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    use_keys(&mut db, Some(config(&Key::generate())));
    import_into(&db, "default");
    let mut before = db.full_state();
    let dump = db.dump("default");
    let report = import_into(&db, "default");
    assert_eq!(counts(&report, "users"), (0, 0, 36, 0));
    assert_eq!(
        counts(&report, "demographics").2,
        report.rows["demographics"]
    );
    // Not one ciphertext rewritten (a rewrite would change them: fresh nonces).
    assert_eq!(db.dump("default"), dump);
    let mut after = db.full_state();
    // Only the import's own record is added (the last line counts imports).
    let imports = |state: &mut Vec<String>| state.pop().unwrap().parse::<u64>().unwrap();
    assert_eq!(imports(&mut after), imports(&mut before) + 1);
    assert_eq!(after, before);
}

fn the_database_refuses_to_open_without_its_key(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    let key = Key::generate();
    // Opening with a key registers it even before anything is encrypted.
    use_keys(&mut db, Some(config(&key)));
    import_into(&db, "default");
    let open = |config| db.block_on(Store::open_with_pii(&db.url, config));
    let err = open(None).err().unwrap();
    assert!(matches!(err, StoreError::Pii(PiiError::KeyRequired)));
    let text = err.to_string();
    assert!(
        text.starts_with("this database holds encrypted PII; set ROSTERHUB_PII_KEY"),
        "{text}"
    );
    // `Store::open` reads the keys from the environment, which has none here.
    assert!(matches!(
        db.block_on(Store::open(&db.url)).err().unwrap(),
        StoreError::Pii(PiiError::KeyRequired)
    ));
    let other = Key::generate();
    let err = open(Some(config(&other))).err().unwrap().to_string();
    assert!(
        err.contains(&format!(
            "encrypted under key {}, which is not configured",
            key.id()
        )),
        "{err}"
    );
    assert!(!err.contains(&other.to_base64()) && !err.contains(&key.to_base64()));
    let reopened = open(Some(config(&key))).unwrap();
    assert_eq!(reopened.pii().unwrap().current().id(), key.id());
    // A database that never had a key opens without one.
    let plain = TestDb::new(backend).unwrap();
    db.block_on(Store::open_with_pii(&plain.url, None)).unwrap();
}

/// Reads users by sourcedId through the API's record reader.
fn read_user(
    db: &TestDb,
    tenant: &str,
    id: &str,
) -> Result<Vec<rosterhub::storage::read::Record>, StoreError> {
    let user = db
        .store
        .record(tenant, Entity::Users, id, &Selection::All, None);
    db.block_on(user).map(|r| r.into_iter().collect())
}

fn a_value_moved_to_another_tenant_row_or_column_fails_to_decrypt(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    use_keys(&mut db, Some(config(&Key::generate())));
    // Two tenants with the same sourcedIds.
    import_into(&db, "t1");
    import_into(&db, "t2");
    let teacher = super::TEACHER;
    let email = |tenant: &str| {
        read_user(&db, tenant, teacher).unwrap()[0]
            .get(Entity::Users, "email")
            .map(str::to_owned)
    };
    assert_eq!(email("t2").as_deref(), Some("t00@example.jp"));
    let exec = |sql: &str| match &db.store {
        Store::Sqlite(s) => {
            s.connect().unwrap().execute(sql, []).unwrap();
        }
        Store::Postgres(p) => {
            db.block_on(sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p.pool()))
                .unwrap();
        }
    };
    // t1's ciphertext copied over t2's: same plaintext, same row id, another tenant.
    exec(&format!(
        "UPDATE users SET email = (SELECT u.email FROM users u WHERE u.tenant_id = 't1' \
         AND u.sourced_id = '{teacher}') WHERE tenant_id = 't2' AND sourced_id = '{teacher}'"
    ));
    let err = read_user(&db, "t2", teacher).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Pii(PiiError::Authentication {
                table: "users",
                column: "email"
            })
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("example.jp"));
    // Within t1: the e-mail moved into the phone column fails too.
    exec(&format!(
        "UPDATE users SET phone = email WHERE tenant_id = 't1' AND sourced_id = '{teacher}'"
    ));
    assert!(matches!(
        read_user(&db, "t1", teacher).unwrap_err(),
        StoreError::Pii(PiiError::Authentication {
            column: "phone",
            ..
        })
    ));
    // The other rows of t1 still read.
    assert_eq!(
        read_user(&db, "t1", super::S1).unwrap()[0].get(Entity::Users, "username"),
        Some("s1@example.jp")
    );
}

/// A tracing writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn nothing_secret_or_personal_is_logged(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    let key = Key::generate();
    use_keys(&mut db, Some(config(&key)));
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let (app, token) = super::app(&db, "default");
    tracing::subscriber::with_default(subscriber, || {
        // On this thread, so every event of the import and of the requests is captured.
        let _rt = db.rt.enter();
        let report = import::import(&db.store, &bundle(), &ImportOptions::default(), &()).unwrap();
        assert_eq!(report.status, import::Outcome::Applied);
        for path in [
            "/users?filter=email='t00@example.jp'",
            "/demographics",
            "/users?filter=email~'t00'",
            &format!("/users/{}", super::TEACHER),
        ] {
            super::get(&db, &app, &token, path);
        }
        tracing::info!("capture works");
    });
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("capture works"), "{text}");
    assert!(!text.contains(&key.to_base64()));
    for value in personal_values() {
        assert!(!text.contains(&value), "{value} logged:\n{text}");
    }
}

on_both_backends!(
    encrypted_import_leaves_no_plaintext_at_rest,
    reimporting_the_same_bundle_changes_nothing,
    the_database_refuses_to_open_without_its_key,
    a_value_moved_to_another_tenant_row_or_column_fails_to_decrypt,
    nothing_secret_or_personal_is_logged,
);
