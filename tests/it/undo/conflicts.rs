//! An import that later changed the same records refuses the undo, naming them, over HTTP and
//! on the command line; forced, the undo reverts only the other records and lists the skipped.
//! Who may undo, and what cannot be undone.

use axum::http::StatusCode;
use rosterhub::import::ImportOptions;
use serde_json::{Value, json};

use super::{Hub, NEW, S1, S2, a, b, id};
use crate::helpers::cli::rosterhub;
use crate::helpers::{Backend, TempBundle, opts};
use crate::on_both_backends;

/// Import C: B, and S1 renamed once more (翔 → 翔平).
fn c() -> TempBundle {
    let c = b();
    c.replace("users.csv", ",翔,高橋,", ",翔平,高橋,");
    c
}

fn given_name(hub: &Hub, user: &str) -> Value {
    let path = format!("{}/users/{user}", super::BASE);
    hub.get(&path, &hub.reader).1["user"]["givenName"].clone()
}

fn a_later_import_of_the_same_records_refuses_the_undo_and_names_them(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let (b, c) = (b(), c());
    let rb = hub.import(b.path());
    let rc = hub.import(c.path());
    let before = hub.db.full_state();

    let (status, body) = hub.undo(&id(&rb), "");
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "undo_conflict");
    assert_eq!(
        body["conflicts"],
        json!([{"entity": "users", "sourcedId": S1, "later_import_id": id(&rc)}])
    );
    assert_eq!(body["conflict_count"], 1);
    assert!(body["message"].as_str().unwrap().contains("force=true"));
    assert_eq!(hub.db.full_state(), before, "nothing was written");

    // The command line refuses alike, with a non-zero exit code.
    let (code, out, err) = rosterhub(&["import", "undo", &id(&rb), "--format", "json"])
        .db(&hub.db)
        .run();
    assert_eq!(code, 1, "{out}{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["error"], "undo_conflict");
    assert_eq!(out["conflicts"], body["conflicts"]);
    let (code, _, err) = rosterhub(&["import", "undo", &id(&rb)]).db(&hub.db).run();
    assert_eq!(code, 1);
    assert!(err.contains(S1) && err.contains(&id(&rc)), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(hub.db.full_state(), before);
}

fn a_forced_undo_reverts_only_what_no_later_import_changed(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let (b, c) = (b(), c());
    let rb = hub.import(b.path());
    let rc = hub.import(c.path());
    let report = hub.undone(&id(&rb), "force=true");
    assert_eq!(
        report["undo"],
        json!({
            "undo_of": id(&rb),
            "skipped": [{"entity": "users", "sourcedId": S1, "later_import_id": id(&rc)}],
            "skipped_total": 1
        })
    );
    assert_eq!(report["warning_count"], 1);
    assert_eq!(report["findings"][0]["code"], "undo_skipped");
    assert_eq!(report["findings"][0]["value"], S1);
    let users = &report["entities"]["users"];
    assert_eq!(
        (users["updated"].clone(), users["tombstoned"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(given_name(&hub, S1), "翔平", "C's change stays");
    let status = |u: &str| {
        let path = format!("{}/users/{u}", super::BASE);
        hub.get(&path, &hub.reader).1["user"]["status"].clone()
    };
    assert_eq!(status(S2), "active");
    assert_eq!(status(NEW), "tobedeleted");
    hub.counters_are_exact();
}

fn only_administrators_undo_and_only_applied_imports(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    let ra = hub.import(&a());
    let path = format!("/api/v1/imports/{}/undo", id(&ra));
    let (status, body) = hub.post(&path, &hub.importer);
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = hub.undo("no-such-import", "");
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found");
    let dry = hub.db.import(
        &a(),
        ImportOptions {
            dry_run: true,
            ..opts()
        },
    );
    let (status, body) = hub.undo(&id(&dry), "");
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "not_applied");
    let (status, body) = hub.undo(&id(&ra), "force=maybe");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

on_both_backends!(
    a_later_import_of_the_same_records_refuses_the_undo_and_names_them,
    a_forced_undo_reverts_only_what_no_later_import_changed,
    only_administrators_undo_and_only_applied_imports,
);
