//! A record's history: each import that touched it, newest first, with the exact fields it
//! changed; personal values only for administrators — over the admin API and on the web UI's
//! record page.

use axum::http::StatusCode;
use rosterhub::import::ImportOptions;
use rosterhub::users::Role;
use serde_json::{Value, json};

use super::{Hub, S1, a, id};
use crate::helpers::{Backend, TempBundle, opts};
use crate::on_both_backends;
use crate::server::start_with;
use crate::ui::Visitor;
use crate::users::user;

/// A teacher of the fixture with an e-mail address (`t00@example.jp`).
const TEACHER: &str = "570aa3c8-cd28-498c-b2b3-dab02cc3bddf";

/// Replaces `from` by `to` in the line of `file` that starts with `id`.
fn edit_line(b: &TempBundle, file: &str, id: &str, from: &str, to: &str) {
    let text = b.read(file);
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(id) && l.contains(from) {
                found = true;
                l.replacen(from, to, 1)
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(found, "{file}: no line of {id} with {from:?}");
    b.write(file, &(lines.join("\n") + "\n"));
}

fn history(hub: &Hub, entity: &str, id: &str, token: &str) -> Value {
    let (status, body) = hub.get(&format!("/api/v1/records/{entity}/{id}/history"), token);
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The entries without their times (checked apart: newest first).
fn without_at(body: &Value) -> Vec<Value> {
    let entries = body["history"].as_array().unwrap();
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(times, sorted, "newest first");
    entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.as_object_mut().unwrap().remove("at");
            e
        })
        .collect()
}

fn history_shows_the_exact_changes_of_each_import(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    let ra = hub.import(&a());
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    edit_line(&b, "users.csv", S1, ",翔太,高橋,", ",翔,高橋,");
    let rb = hub.db.import(
        b.path(),
        ImportOptions {
            actor: Some("cli:tanaka".into()),
            ..opts()
        },
    );
    edit_line(&b, "users.csv", S1, ",翔,高橋,", ",翔,髙橋,");
    edit_line(&b, "users.csv", S1, ",ショウタ,", ",ショウ,");
    let rc = hub.import(b.path());
    b.remove_user(S1);
    let rd = hub.import(b.path());

    let body = history(&hub, "users", S1, &hub.admin);
    assert_eq!(body["entity"], "users");
    assert_eq!(body["sourcedId"], S1);
    assert_eq!(body["personal_values"], true);
    let school = "90547f17-4e22-48f2-9c47-bff459705477";
    let class = "63df3d0e-1fa9-4601-b56a-a91ad2346995";
    let change =
        |field: &str, old: Value, new: Value| json!({"field": field, "old": old, "new": new});
    assert_eq!(
        without_at(&body),
        vec![
            json!({"import_id": id(&rd), "by": null, "action": "tombstoned", "fields": [
                change("status", json!("active"), json!("tobedeleted")),
            ]}),
            json!({"import_id": id(&rc), "by": null, "action": "updated", "fields": [
                change("familyName", json!("高橋"), json!("髙橋")),
                change("metadata.jp.kanaGivenName", json!("ショウタ"), json!("ショウ")),
            ]}),
            json!({"import_id": id(&rb), "by": "cli:tanaka", "action": "updated", "fields": [
                change("givenName", json!("翔太"), json!("翔")),
            ]}),
            json!({"import_id": id(&ra), "by": null, "action": "inserted", "fields": [
                change("enabledUser", Value::Null, json!("true")),
                change("username", Value::Null, json!("s1@example.jp")),
                change("givenName", Value::Null, json!("翔太")),
                change("familyName", Value::Null, json!("高橋")),
                change("grades", Value::Null, json!("P1")),
                change("primaryOrgSourcedId", Value::Null, json!(school)),
                change("status", Value::Null, json!("active")),
                change("metadata.jp.homeClass", Value::Null, json!(class)),
                change("metadata.jp.kanaFamilyName", Value::Null, json!("タカハシ")),
                change("metadata.jp.kanaGivenName", Value::Null, json!("ショウタ")),
            ]}),
        ]
    );

    // An undo shows as an import of its own, and the undone one says by which.
    let undo = hub.undone(&id(&rd), "");
    let undo_id = undo["import_id"].as_str().unwrap();
    let entries = without_at(&history(&hub, "users", S1, &hub.admin));
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[0]["undo_of"], json!(id(&rd)));
    assert_eq!(entries[0]["action"], "updated");
    assert_eq!(
        entries[0]["fields"],
        json!([change("status", json!("tobedeleted"), json!("active"))])
    );
    assert_eq!(entries[1]["undone_by"], json!(undo_id));

    let (status, _) = hub.get("/api/v1/records/users/nobody/history", &hub.admin);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = hub.get(&format!("/api/v1/records/pupils/{S1}/history"), &hub.admin);
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// Import B for the masking tests: the teacher's e-mail address and S1's sex change.
fn personal_changes() -> TempBundle {
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    edit_line(
        &b,
        "users.csv",
        TEACHER,
        ",t00@example.jp,,,",
        ",t01@example.jp,,,",
    );
    edit_line(&b, "demographics.csv", S1, ",male,", ",female,");
    b
}

fn personal_values_are_shown_only_to_administrators(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let b = personal_changes();
    hub.import(b.path());
    let fields = |entity: &str, id: &str, token: &str| {
        history(&hub, entity, id, token)["history"][0]["fields"].clone()
    };
    assert_eq!(
        fields("users", TEACHER, &hub.admin),
        json!([{"field": "email", "old": "t00@example.jp", "new": "t01@example.jp"}])
    );
    assert_eq!(
        fields("users", TEACHER, &hub.importer),
        json!([{"field": "email", "old": null, "new": null, "masked": true}])
    );
    assert_eq!(
        history(&hub, "users", TEACHER, &hub.importer)["personal_values"],
        false
    );
    assert_eq!(
        fields("demographics", S1, &hub.admin),
        json!([{"field": "sex", "old": "male", "new": "female"}])
    );
    assert_eq!(
        fields("demographics", S1, &hub.importer),
        json!([{"field": "sex", "old": null, "new": null, "masked": true}])
    );
}

fn the_record_page_shows_its_history_as_a_table(backend: Backend) {
    let Some(hub) = Hub::new(backend) else { return };
    hub.import(&a());
    let b = personal_changes();
    let rb = hub.import(b.path());
    let server = start_with(&hub.db, |_| {});
    user(&hub.db, "kanri", false, &[("default", Role::Admin)]);
    user(&hub.db, "miru", false, &[("default", Role::Viewer)]);
    hub.db.block_on(async {
        let page = |name: &'static str| {
            let server = &server;
            async move {
                let mut v = Visitor::new(server);
                v.sign_in(name, "").await;
                let a = v.get(&format!("/ui/roster/users/{TEACHER}")).await;
                assert_eq!(a.status, 200);
                let at = a
                    .text
                    .find("id=\"history-table\"")
                    .expect("a history table");
                let table = &a.text[at..];
                table[..table.find("</table>").unwrap()].to_owned()
            }
        };
        let admin = page("kanri").await;
        assert!(admin.contains(&id(&rb)), "{admin}");
        assert!(admin.contains("t00@example.jp → t01@example.jp"), "{admin}");
        assert!(admin.contains("<td>更新</td>"), "{admin}");
        assert!(admin.contains("<td>追加</td>"), "{admin}");
        let viewer = page("miru").await;
        assert!(!viewer.contains("t01@example.jp"), "{viewer}");
        assert!(viewer.contains("個人情報のため管理者のみ表示"), "{viewer}");
    });
}

on_both_backends!(
    history_shows_the_exact_changes_of_each_import,
    personal_values_are_shown_only_to_administrators,
    the_record_page_shows_its_history_as_a_table,
);
