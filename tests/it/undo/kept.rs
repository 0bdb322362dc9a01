//! What the change log keeps and for how long: encrypted columns stay ciphertext in it (an undo
//! brings the encrypted value and its blind index back, and a key rotation re-encrypts it), and
//! the workers' maintenance deletes logs past `--changelog-days`, after which the import cannot
//! be undone.

use axum::http::StatusCode;
use rosterhub::jobs::JobsConfig;
use rosterhub::pii::{Columns, DEFAULT_COLUMNS, Key, PiiConfig};
use serde_json::json;

use super::{BASE, Hub, S1, a, b, id};
use crate::helpers::{Backend, TempBundle, TestDb};
use crate::on_both_backends;

const TEACHER: &str = "570aa3c8-cd28-498c-b2b3-dab02cc3bddf";

fn encrypted_columns_stay_encrypted_in_the_change_log(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    let config = PiiConfig::new(Key::generate())
        .with_columns(Columns::parse(&format!("{DEFAULT_COLUMNS},users.username")).unwrap());
    db.store = db
        .block_on(db.store.clone().with_pii(Some(config)))
        .unwrap();
    let hub = Hub::over(db).unwrap();
    hub.import(&a());
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.replace(
        "users.csv",
        ",高橋,,,t00@example.jp,",
        ",高橋,,,t01@example.jp,",
    );
    let rb = hub.import(b.path());
    let logged = hub.db.rows(&format!(
        "SELECT email, username, action FROM changelog_users WHERE sourced_id = '{TEACHER}'"
    ));
    assert_eq!(logged.len(), 1);
    let cell = |i: usize| logged[0][i].clone().unwrap();
    assert!(cell(0).starts_with("pii1:"), "{}", cell(0));
    assert!(cell(1).starts_with("pii1:"), "{}", cell(1));
    assert_eq!(cell(2), "updated");
    let plain = hub.db.rows(
        "SELECT CAST(COUNT(*) AS TEXT) FROM changelog_users WHERE email LIKE '%example.jp%' \
         OR username LIKE '%example.jp%'",
    );
    assert_eq!(plain[0][0].as_deref(), Some("0"), "no plaintext in the log");

    hub.undone(&id(&rb), "");
    let (status, body) = hub.get(&format!("{BASE}/users/{TEACHER}"), &hub.reader);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email"], "t00@example.jp");
    // The blind index came back with the value: an exact filter finds the address again.
    let (_, found) = hub.get(
        &format!("{BASE}/users?filter=email='t00@example.jp'"),
        &hub.reader,
    );
    let ids: Vec<&str> = found["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["sourcedId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [TEACHER]);
}

fn keys(current: &Key, previous: Option<&Key>) -> PiiConfig {
    let config = PiiConfig::new(current.clone())
        .with_columns(Columns::parse(&format!("{DEFAULT_COLUMNS},users.username")).unwrap());
    match previous {
        Some(p) => config.with_previous(p.clone()),
        None => config,
    }
}

fn a_key_rotation_reencrypts_the_change_log_too(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    let (old, new) = (Key::generate(), Key::generate());
    db.store = db
        .block_on(db.store.clone().with_pii(Some(keys(&old, None))))
        .unwrap();
    let hub = Hub::over(db).unwrap();
    hub.import(&a());
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.replace(
        "users.csv",
        ",高橋,,,t00@example.jp,",
        ",高橋,,,t01@example.jp,",
    );
    hub.import(b.path());
    b.replace(
        "users.csv",
        ",高橋,,,t01@example.jp,",
        ",高橋,,,t02@example.jp,",
    );
    let rc = hub.import(b.path());

    let Hub { mut db, .. } = hub;
    db.store = db
        .block_on(db.store.clone().with_pii(Some(keys(&new, Some(&old)))))
        .unwrap();
    // One row a page: the teacher's two log rows are two pages of one sourcedId.
    let report = db.block_on(db.store.rotate_pii(1)).unwrap();
    assert_eq!(report.remaining, 0);
    assert_eq!(report.retired, [old.id().to_owned()]);
    let logged = db.rows(&format!(
        "SELECT email FROM changelog_users WHERE sourced_id = '{TEACHER}' ORDER BY seq"
    ));
    assert_eq!(logged.len(), 2);
    for cell in logged {
        let cell = cell[0].clone().unwrap();
        assert!(cell.starts_with(&format!("pii1:{}:", new.id())), "{cell}");
    }

    // With the new key alone, undoing C puts B's address back, readable.
    db.store = db
        .block_on(db.store.clone().with_pii(Some(keys(&new, None))))
        .unwrap();
    let hub = Hub::over(db).unwrap();
    hub.undone(&id(&rc), "");
    let (_, body) = hub.get(&format!("{BASE}/users/{TEACHER}"), &hub.reader);
    assert_eq!(body["user"]["email"], "t01@example.jp");
}

fn change_logs_past_retention_are_deleted_and_cannot_be_undone(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let b = b();
    let rb = hub.import(b.path());
    // Kept while younger than the retention…
    let keep = JobsConfig {
        changelog_retention_ms: Some(3_600_000),
        ..JobsConfig::default()
    };
    hub.db
        .block_on(rosterhub::jobs::worker::maintain_once(&hub.db.store, &keep))
        .unwrap();
    assert_eq!(hub.db.count("changelog_imports", "default"), 2);
    std::thread::sleep(std::time::Duration::from_millis(5));
    // …deleted past it, every table of it.
    let expire = JobsConfig {
        changelog_retention_ms: Some(1),
        ..JobsConfig::default()
    };
    hub.db
        .block_on(rosterhub::jobs::worker::maintain_once(
            &hub.db.store,
            &expire,
        ))
        .unwrap();
    for table in ["changelog_imports", "changelog_loads", "changelog_users"] {
        assert_eq!(hub.db.count(table, "default"), 0, "{table}");
    }
    let (status, body) = hub.undo(&id(&rb), "");
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "no_change_log");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("--changelog-days"),
        "{body}"
    );
    let (_, history) = hub.get(&format!("/api/v1/records/users/{S1}/history"), &hub.admin);
    assert_eq!(history["history"], json!([]));
}

on_both_backends!(
    encrypted_columns_stay_encrypted_in_the_change_log,
    a_key_rotation_reencrypts_the_change_log_too,
    change_logs_past_retention_are_deleted_and_cannot_be_undone,
);
