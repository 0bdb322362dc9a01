//! "What would change": the sample a dry run or a held import keeps with its report — the
//! records inserted, changed field by field, and tombstoned, with their names — the same on
//! both backends.

use rosterhub::import::{ImportOptions, Outcome};
use serde_json::{Value, json};

use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};
use crate::on_both_backends;

const S1: &str = "de274027-6f10-4912-9777-f62c295f0e8f"; // 高橋 翔太
const S2: &str = "8b317a29-3002-475c-85e9-97033759db35"; // 中村 𠮷田

fn dry_run() -> ImportOptions {
    ImportOptions {
        dry_run: true,
        ..opts()
    }
}

fn changes(r: &rosterhub::import::Report) -> Value {
    serde_json::to_value(&r.changes).unwrap()
}

fn a_first_dry_run_samples_the_records_it_would_insert(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let r = db.import(&fixtures().join("jp-profile-v1.2.1"), dry_run());
    assert_eq!(r.status, Outcome::DryRun);
    let c = changes(&r);
    let users = c["users"]["inserted"].as_array().unwrap();
    // 36 users: the first 20 by sourcedId.
    assert_eq!(users.len(), 20);
    assert_eq!(
        users[0],
        json!({"sourcedId": "0a5651f6-ec4a-436a-87f0-dac737ff04ac", "label": "中村 さくら（ナカムラ サクラ）"})
    );
    assert_eq!(c["orgs"]["inserted"].as_array().unwrap().len(), 2);
    assert_eq!(c["users"]["changed"], json!([]));
}

fn a_dry_run_names_who_is_withdrawn_and_what_changes(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.remove_user(S2);
    b.replace("users.csv", ",翔太,高橋,", ",翔,高橋,");
    let r = db.import(b.path(), dry_run());
    assert_eq!(r.status, Outcome::DryRun);
    let c = changes(&r);
    assert_eq!(
        c["users"],
        json!({
            "inserted": [],
            "changed": [{
                "sourcedId": S1,
                "label": "高橋 翔太（タカハシ ショウタ）",
                "fields": [{"field": "givenName", "old": "翔太", "new": "翔"}]
            }],
            "tombstoned": [{"sourcedId": S2, "label": "中村 𠮷田（ナカムラ ヨシダ）"}]
        })
    );
    // Her role and enrollment go too, named by role, user and org or class.
    let roles = c["roles"]["tombstoned"].as_array().unwrap();
    assert_eq!(roles.len(), 1);
    assert!(
        roles[0]["label"]
            .as_str()
            .unwrap()
            .starts_with(&format!("student {S2} ")),
        "{roles:?}"
    );
    assert_eq!(c["enrollments"]["tombstoned"].as_array().unwrap().len(), 1);
    // Nothing else changes, and nothing was written.
    let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["demographics", "enrollments", "roles", "users"]);
    assert_eq!(db.count("users", "default"), 36);
}

fn an_applied_import_keeps_no_sample(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let r = db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    assert_eq!(r.status, Outcome::Applied);
    assert!(r.changes.is_none());
    assert!(!r.to_json().contains("\"changes\""));
}

fn a_held_import_samples_at_most_twenty_withdrawals_per_file(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let r = db.import(TempBundle::shrinking().path(), opts());
    assert_eq!(r.status, Outcome::Held);
    let c = changes(&r);
    let gone = c["users"]["tombstoned"].as_array().unwrap();
    assert_eq!(gone.len(), 20, "31 withdrawn, 20 shown");
    let mut ids: Vec<&str> = gone
        .iter()
        .map(|g| g["sourcedId"].as_str().unwrap())
        .collect();
    let sorted = {
        let mut s = ids.clone();
        s.sort();
        s
    };
    assert_eq!(ids, sorted);
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert!(
        gone.iter()
            .all(|g| g["label"].as_str().unwrap().contains('（')),
        "{gone:?}"
    );
}

on_both_backends!(
    a_first_dry_run_samples_the_records_it_would_insert,
    a_dry_run_names_who_is_withdrawn_and_what_changes,
    an_applied_import_keeps_no_sample,
    a_held_import_samples_at_most_twenty_withdrawals_per_file,
);
