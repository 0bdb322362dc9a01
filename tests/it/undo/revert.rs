//! An undo serves again what was served before the undone import, tells delta clients exactly
//! what it reverted, can itself be undone, works on a first import and after a restart, and a
//! dry run shows what it would change without writing.

use axum::http::StatusCode;
use rosterhub::storage::Store;
use serde_json::{Value, json};

use super::{Hub, NEW, NEW_ENROLLMENT, S1, S2, a, a_moment, b, differing, id};
use crate::helpers::Backend;
use crate::on_both_backends;

fn counts(report: &Value, entity: &str) -> (u64, u64, u64, u64) {
    let c = &report["entities"][entity];
    let g = |k: &str| c[k].as_u64().unwrap();
    (g("inserted"), g("updated"), g("unchanged"), g("tombstoned"))
}

fn undoing_an_import_serves_again_what_was_served_before_it(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let after_a = hub.served();
    let b = b();
    let rb = hub.import(b.path());
    let after_b = hub.served();
    let changed = differing(&after_a, &after_b);
    for k in [
        format!("users/{S1}"),
        format!("users/{S2}"),
        format!("users/{NEW}"),
        format!("demographics/{S2}"),
        format!("demographics/{NEW}"),
    ] {
        assert!(changed.contains(&k), "B changes {k}: {changed:?}");
    }
    assert_eq!(changed.len(), 7, "{changed:?}");
    let since = a_moment();

    let report = hub.undone(&id(&rb), "");
    assert_eq!(report["status"], "applied");
    assert_ne!(report["import_id"], json!(id(&rb)));
    assert_eq!(report["undo"]["undo_of"], json!(id(&rb)));
    assert_eq!(report["undo"]["skipped_total"], 0);
    // S1 renamed back and S2 back as active; NEW a tombstone. Her role, enrollment and
    // demographics likewise.
    assert_eq!(counts(&report, "users"), (0, 2, 0, 1));
    for e in ["roles", "enrollments", "demographics"] {
        assert_eq!(counts(&report, e), (0, 1, 0, 1), "{e}");
    }
    assert_eq!(report["entities"].as_object().unwrap().len(), 4);

    let after_undo = hub.served();
    for (k, v) in &after_a {
        assert_eq!(after_undo.get(k), Some(v), "{k} is served as after A");
    }
    for (k, v) in after_undo.iter().filter(|(k, _)| !after_a.contains_key(*k)) {
        assert!(k.ends_with(NEW) || k.ends_with(NEW_ENROLLMENT), "{k}");
        assert_eq!(v["status"], "tobedeleted", "{k}");
    }
    assert_eq!(
        hub.delta(&since),
        changed,
        "a delta since before the undo returns exactly the reverted records"
    );
    hub.counters_are_exact();
}

fn an_undo_is_undone_like_any_import(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let b = b();
    let rb = hub.import(b.path());
    let after_b = hub.served();
    let undo = hub.undone(&id(&rb), "");
    let undo_id = undo["import_id"].as_str().unwrap().to_owned();

    // Undone once: a second undo of B is refused and names the undo to undo instead.
    let (status, body) = hub.undo(&id(&rb), "");
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "already_undone");
    assert!(
        body["message"].as_str().unwrap().contains(&undo_id),
        "{body}"
    );

    let since = a_moment();
    let redo = hub.undone(&undo_id, "");
    assert_eq!(redo["undo"]["undo_of"], json!(undo_id));
    assert_eq!(
        counts(&redo, "users"),
        (0, 2, 0, 1),
        "S1 and NEW back, S2 gone"
    );
    assert_eq!(hub.served(), after_b, "undoing the undo serves B again");
    assert_eq!(hub.delta(&since).len(), 7);
    hub.counters_are_exact();

    // B's changes are back, but through two later imports: undoing B now conflicts.
    let (status, body) = hub.undo(&id(&rb), "");
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "undo_conflict", "{body}");
}

fn undoing_a_first_import_deletes_what_it_inserted(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    let ra = hub.import(&a());
    let after_a = hub.served();
    let report = hub.undone(&id(&ra), "");
    assert_eq!(counts(&report, "users"), (0, 0, 0, 36));
    assert_eq!(counts(&report, "orgs"), (0, 0, 0, 2));
    let after_undo = hub.served();
    assert_eq!(after_undo.len(), after_a.len());
    assert!(
        after_undo.values().all(|v| v["status"] == "tobedeleted"),
        "every record a tombstone"
    );
    hub.counters_are_exact();
    let undo_id = report["import_id"].as_str().unwrap().to_owned();
    hub.undone(&undo_id, "");
    assert_eq!(hub.served(), after_a);
    hub.counters_are_exact();
}

fn an_undo_works_after_a_restart(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let after_a = hub.served();
    let b = b();
    let rb = hub.import(b.path());
    // A new store and server on the same database: nothing of the first kept in memory.
    let Hub { mut db, .. } = hub;
    db.store = db.block_on(Store::open(&db.url)).unwrap();
    let hub = Hub::over(db).unwrap();
    hub.undone(&id(&rb), "");
    let after_undo = hub.served();
    for (k, v) in &after_a {
        assert_eq!(after_undo.get(k), Some(v), "{k}");
    }
}

fn a_dry_run_shows_what_would_change_and_writes_nothing(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let b = b();
    let rb = hub.import(b.path());
    let before = hub.db.full_state();
    let (status, body) = hub.undo(&id(&rb), "dry_run=true");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], Value::Null);
    assert_eq!(body["import_id"], Value::Null);
    let report = &body["report"];
    assert_eq!(report["status"], "dry_run");
    assert_eq!(counts(report, "users"), (0, 2, 0, 1));
    assert_eq!(
        report["changes"]["users"],
        json!({
            "inserted": [],
            "changed": [
                {
                    "sourcedId": S2,
                    "label": "中村 𠮷田（ナカムラ ヨシダ）",
                    "fields": [{"field": "status", "old": "tobedeleted", "new": "active"}]
                },
                {
                    "sourcedId": S1,
                    "label": "高橋 翔（タカハシ ショウタ）",
                    "fields": [{"field": "givenName", "old": "翔", "new": "翔太"}]
                }
            ],
            "tombstoned": [{"sourcedId": NEW, "label": "佐藤 美咲（サトウ ミサキ）"}]
        })
    );
    assert_eq!(hub.db.full_state(), before, "a dry run writes nothing");
}

/// A delta withdrawing S1: `tobedeleted` rows for her user, role, enrollment and demographics,
/// every other file absent.
fn delta_withdrawing_s1() -> crate::helpers::TempBundle {
    let d = crate::helpers::TempBundle::from_fixture("jp-profile-v1.2.1");
    let files = ["users", "roles", "enrollments", "demographics"];
    let manifest: String = d
        .read("manifest.csv")
        .lines()
        .map(|l| match l.split_once(',') {
            Some((k, v)) if k.starts_with("file.") && v != "absent" => {
                let delta = files.contains(&&k["file.".len()..]);
                format!("{k},{}\n", if delta { "delta" } else { "absent" })
            }
            _ => format!("{l}\n"),
        })
        .collect();
    d.write("manifest.csv", &manifest);
    for f in ["orgs", "academicSessions", "courses", "classes"] {
        d.remove(&format!("{f}.csv"));
    }
    for f in files {
        let file = format!("{f}.csv");
        let text = d.read(&file);
        let mut lines = text.lines();
        let mut out = format!("{}\n", lines.next().unwrap());
        for l in lines.filter(|l| l.contains(S1)) {
            let (id, rest) = l.split_once(",,,").unwrap();
            out.push_str(&format!(
                "{id},tobedeleted,2025-04-01T00:00:00.000Z,{rest}\n"
            ));
        }
        d.write(&file, &out);
    }
    d
}

fn undoing_a_delta_brings_back_what_it_withdrew(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let after_a = hub.served();
    let d = delta_withdrawing_s1();
    let rd = hub.import(d.path());
    for e in ["users", "roles", "enrollments", "demographics"] {
        let (_, _, _, tombstoned) = crate::helpers::counts(&rd, e);
        assert_eq!(tombstoned, 1, "{e}");
    }
    let since = a_moment();
    let report = hub.undone(&id(&rd), "");
    for e in ["users", "roles", "enrollments", "demographics"] {
        assert_eq!(counts(&report, e), (0, 1, 0, 0), "{e}");
    }
    assert_eq!(hub.served(), after_a);
    assert_eq!(
        hub.delta(&since).len(),
        3,
        "her user, enrollment and demographics"
    );
    hub.counters_are_exact();
}

on_both_backends!(
    undoing_a_delta_brings_back_what_it_withdrew,
    undoing_an_import_serves_again_what_was_served_before_it,
    an_undo_is_undone_like_any_import,
    undoing_a_first_import_deletes_what_it_inserted,
    an_undo_works_after_a_restart,
    a_dry_run_shows_what_would_change_and_writes_nothing,
);
