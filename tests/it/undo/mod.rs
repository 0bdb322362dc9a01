//! Undoing an import and reading a record's history, on both backends: what the OneRoster API
//! serves after an undo, delta queries, undoing an undo, conflicts with later imports, forced
//! undos, restarts, retention, encrypted columns, and the history of a record changed by
//! several imports. `Hub` is the server in this process (no socket) over a test database.

mod conflicts;
mod history;
mod kept;
mod revert;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rosterhub::auth::Scopes;
use rosterhub::import::{Outcome, Report};
use serde_json::Value;

use crate::helpers::tokens::client;
use crate::helpers::{TempBundle, TestDb, fixtures, opts};
use crate::server::{oneshot, state};

pub const BASE: &str = "/ims/oneroster/rostering/v1p2";
/// 高橋 翔太, a student of the fixture.
pub const S1: &str = "de274027-6f10-4912-9777-f62c295f0e8f";
/// 中村 𠮷田, a student of the fixture.
pub const S2: &str = "8b317a29-3002-475c-85e9-97033759db35";
/// A student import B adds, with her role, enrollment and demographics.
pub const NEW: &str = "0d5e8f70-1c2b-4a3d-9e8f-7a6b5c4d3e2f";
const NEW_ROLE: &str = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
pub const NEW_ENROLLMENT: &str = "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e";

/// The OneRoster collections and the key of their list.
const COLLECTIONS: [&str; 7] = [
    "orgs",
    "academicSessions",
    "courses",
    "classes",
    "users",
    "enrollments",
    "demographics",
];

/// The fixture: import A of every test.
pub fn a() -> PathBuf {
    fixtures().join("jp-profile-v1.2.1")
}

/// Import B: renames S1 (翔太 → 翔), withdraws S2 (her user, role, enrollment and
/// demographics become tombstones: absent from the bulk files) and adds NEW.
pub fn b() -> TempBundle {
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.replace("users.csv", ",翔太,高橋,", ",翔,高橋,");
    b.remove_user(S2);
    add_student(&b);
    b
}

/// Appends a line to a file of the bundle.
fn append(b: &TempBundle, file: &str, line: &str) {
    let mut text = b.read(file);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    b.write(file, &text);
}

/// Adds NEW as a student of S1's school and homeroom.
fn add_student(b: &TempBundle) {
    let school = "90547f17-4e22-48f2-9c47-bff459705477";
    let class = "63df3d0e-1fa9-4601-b56a-a91ad2346995";
    append(
        b,
        "users.csv",
        &format!(
            "{NEW},,,true,s99@example.jp,,美咲,佐藤,,,,,,,P1,,,,,,{school},,ミサキ,サトウ,,{class},,,"
        ),
    );
    append(
        b,
        "roles.csv",
        &format!("{NEW_ROLE},,,{NEW},primary,student,,,{school},"),
    );
    append(
        b,
        "enrollments.csv",
        &format!("{NEW_ENROLLMENT},,,{class},{school},{NEW},student,false,,,99,"),
    );
    append(
        b,
        "demographics.csv",
        &format!("{NEW},,,2018-06-03,female,,,,,,,,,,,"),
    );
}

/// A time strictly between what was imported so far and what comes next, as a delta client
/// would note it (`dateLastModified>'…'`).
pub fn a_moment() -> String {
    std::thread::sleep(std::time::Duration::from_millis(5));
    let t = rosterhub::domain::datetime::format_ms(rosterhub::domain::datetime::now_ms());
    std::thread::sleep(std::time::Duration::from_millis(5));
    t
}

/// Drops every `dateLastModified`: what must be equal after an undo is everything else.
fn without_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("dateLastModified");
            m.values_mut().for_each(without_times);
        }
        Value::Array(a) => a.iter_mut().for_each(without_times),
        _ => {}
    }
}

/// The app over a test database, with a reading client and an administrator's token.
pub struct Hub {
    pub db: TestDb,
    app: axum::Router,
    pub reader: String,
    /// `rosterhub.admin`: may undo, sees personal values in histories.
    pub admin: String,
    /// `rosterhub.import` only: reads histories, personal values masked.
    pub importer: String,
}

impl Hub {
    pub fn new(backend: crate::helpers::Backend) -> Option<Hub> {
        Hub::over(TestDb::new(backend)?)
    }

    /// The app over `db` (a new `AppState`: what a restarted server has).
    pub fn over(db: TestDb) -> Option<Hub> {
        let state = db.block_on(state(&db, |_| {}));
        let token = |scopes| db.block_on(client(&state, "default", scopes)).token;
        let reader = token(Scopes::ALL);
        let admin = token(Scopes::ADMIN);
        let importer = token(Scopes::IMPORT);
        Some(Hub {
            app: rosterhub::http::router(state.clone()),
            db,
            reader,
            admin,
            importer,
        })
    }

    /// Imports `bundle` (which must be applied); its report.
    pub fn import(&self, bundle: &std::path::Path) -> Report {
        let r = self.db.import(bundle, opts());
        assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
        r
    }

    fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.db.block_on(oneshot(&self.app, req));
        let body = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        (resp.status(), body)
    }

    pub fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let path = path.replace(' ', "%20").replace('>', "%3E");
        let req = Request::get(path)
            .header("host", "example.test")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(req)
    }

    pub fn post(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let req = Request::post(path)
            .header("host", "example.test")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(req)
    }

    /// `POST /api/v1/imports/{id}/undo?{query}` as an administrator.
    pub fn undo(&self, import_id: &str, query: &str) -> (StatusCode, Value) {
        self.post(
            &format!("/api/v1/imports/{import_id}/undo?{query}"),
            &self.admin,
        )
    }

    /// An undo that must succeed: its report.
    pub fn undone(&self, import_id: &str, query: &str) -> Value {
        let (status, body) = self.undo(import_id, query);
        assert_eq!(status, StatusCode::OK, "{body}");
        body["report"].clone()
    }

    /// Every record the OneRoster API serves, `collection/sourcedId` → its JSON without
    /// `dateLastModified`.
    pub fn served(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for c in COLLECTIONS {
            let (status, body) = self.get(&format!("{BASE}/{c}?limit=10000"), &self.reader);
            assert_eq!(status, StatusCode::OK, "{c}: {body}");
            for mut record in body[c].as_array().unwrap().clone() {
                let id = record["sourcedId"].as_str().unwrap().to_owned();
                without_times(&mut record);
                out.insert(format!("{c}/{id}"), record);
            }
        }
        out
    }

    /// The records a delta client polling since `since` gets: `collection/sourcedId`.
    pub fn delta(&self, since: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for c in COLLECTIONS {
            let path = format!("{BASE}/{c}?limit=10000&filter=dateLastModified>'{since}'");
            let (status, body) = self.get(&path, &self.reader);
            assert_eq!(status, StatusCode::OK, "{c}: {body}");
            for r in body[c].as_array().unwrap() {
                out.insert(format!("{c}/{}", r["sourcedId"].as_str().unwrap()));
            }
        }
        out
    }

    /// The dashboard's stored counters equal a fresh count.
    pub fn counters_are_exact(&self) {
        let store = &self.db.store;
        let (stored, sanity, shortfall) =
            self.db.block_on(store.dashboard_counts("default")).unwrap();
        let fresh = self
            .db
            .block_on(store.fresh_entity_counts("default"))
            .unwrap();
        assert_eq!(stored, fresh, "entity counters");
        let fresh = self.db.block_on(store.fresh_sanity("default")).unwrap();
        assert_eq!(sanity, fresh, "sanity counters");
        let fresh = self.db.block_on(store.fresh_shortfall("default")).unwrap();
        assert_eq!(shortfall, fresh, "national models' shortfall");
    }
}

/// The records whose served JSON differs between two snapshots, or that only one has.
pub fn differing(x: &BTreeMap<String, Value>, y: &BTreeMap<String, Value>) -> BTreeSet<String> {
    x.keys()
        .chain(y.keys())
        .filter(|k| x.get(*k) != y.get(*k))
        .cloned()
        .collect()
}

/// An import's id from its report.
pub fn id(r: &Report) -> String {
    r.import_id.clone().unwrap()
}
