//! Tenant isolation and org scoping, on both backends.
//!
//! Isolation is checked against a reference: tenant `a` is served from a database that also
//! holds tenant `b` (the same sourcedIds, other content) and from one that holds only `a`.
//! Every answer — body, `X-Total-Count`, `Link`, status — and every export must be the same
//! on both: any byte of `b` would show as a difference. A property test drives random
//! operations, filters, sorts and pages through the same comparison.

mod scope;

use scope::an_org_scoped_client_sees_only_its_orgs;

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rosterhub::auth::Scopes;
use rosterhub::http::AppState;
use serde_json::Value;

use crate::helpers::tokens::client;
use crate::helpers::{Backend, TempBundle, TestDb, fixtures};
use crate::server::{oneshot, state};

pub(crate) const BASE: &str = "/ims/oneroster/rostering/v1p2";
const STUDENT: &str = "de274027-6f10-4912-9777-f62c295f0e8f";
const CLASS: &str = "63df3d0e-1fa9-4601-b56a-a91ad2346995";
const SCHOOL: &str = "90547f17-4e22-48f2-9c47-bff459705477";
const SESSION: &str = "9ee69c38-c9f8-4566-afa6-531223ce3e55";
const TEACHER: &str = "570aa3c8-cd28-498c-b2b3-dab02cc3bddf";
const COURSE: &str = "d7afca7d-efa0-4f1e-99bb-3865855006e4";

/// A database and the API over it, with a token of tenant `a`.
pub(crate) struct Side {
    pub db: TestDb,
    pub state: AppState,
    pub app: axum::Router,
    pub token: String,
}

/// A side's answer, as compared: status, total, link, body without times.
#[derive(Debug, PartialEq)]
pub(crate) struct Answer {
    pub status: u16,
    pub total: Option<String>,
    pub link: Option<String>,
    pub body: Value,
}

/// `dateLastModified` is the time of each database's own import: not compared.
fn without_times(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("dateLastModified");
            o.values_mut().for_each(without_times);
        }
        Value::Array(a) => a.iter_mut().for_each(without_times),
        _ => {}
    }
}

impl Side {
    /// A new client of `tenant` with `scopes`: its id and a token.
    pub fn token_for(&self, tenant: &str, scopes: Scopes) -> (String, String) {
        let c = self.db.block_on(client(&self.state, tenant, scopes));
        (c.id, c.token)
    }

    pub fn get(&self, path: &str, token: &str) -> Answer {
        let path = path
            .replace(' ', "%20")
            .replace('>', "%3E")
            .replace('<', "%3C")
            .replace('\'', "%27");
        let req = Request::get(format!("{BASE}{path}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let r = self.db.block_on(oneshot(&self.app, req));
        let header = |n: &str| {
            r.headers()
                .get(n)
                .map(|v| v.to_str().expect("headers are ASCII").to_owned())
        };
        let mut body = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
        without_times(&mut body);
        Answer {
            status: r.status().as_u16(),
            total: header("x-total-count"),
            link: header("link"),
            body,
        }
    }
}

/// Serves `db` with a fixed public URL (so both sides write the same links).
pub(crate) fn serve(db: TestDb) -> Side {
    let state = db.block_on(state(&db, |s| {
        s.public_url = Some("https://hub.example".into());
    }));
    let mut side = Side {
        app: rosterhub::http::router(state.clone()),
        db,
        state,
        token: String::new(),
    };
    side.token = side.token_for("a", Scopes::ALL).1;
    side
}

/// Tenant `b`: the fixture's sourcedIds with other content, one user fewer (a tombstone) and
/// other e-mails, so that counts, filters and bodies would all show a leak.
fn other_tenant_bundle() -> TempBundle {
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.write(
        "users.csv",
        &b.read("users.csv").replace("@example.jp", "@b.example"),
    );
    b.write("classes.csv", &b.read("classes.csv").replace("組", "班"));
    b.replace("orgs.csv", "サンプル市教育委員会", "別の市教育委員会");
    b
}

/// The two sides: `a` beside `b`, and `a` alone.
fn sides(backend: Backend) -> Option<(Side, Side)> {
    let shared = TestDb::new(backend)?;
    let alone = TestDb::new(backend)?;
    let fixture = fixtures().join("jp-profile-v1.2.1");
    // `b` first, so that `a`'s rows are never the only ones of a table in the shared database.
    let b = other_tenant_bundle();
    shared.import_tenant("b", b.path());
    shared.import_tenant("a", &fixture);
    alone.import_tenant("a", &fixture);
    Some((serve(shared), serve(alone)))
}

/// Every operation, with ids of the fixture.
pub(crate) fn operations() -> Vec<String> {
    let mut ops: Vec<String> = [
        "/academicSessions",
        "/classes",
        "/courses",
        "/demographics",
        "/enrollments",
        "/gradingPeriods",
        "/orgs",
        "/schools",
        "/students",
        "/teachers",
        "/terms",
        "/users",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ops.extend([
        format!("/academicSessions/{SESSION}"),
        format!("/classes/{CLASS}"),
        format!("/classes/{CLASS}/students"),
        format!("/classes/{CLASS}/teachers"),
        format!("/courses/{COURSE}"),
        format!("/courses/{COURSE}/classes"),
        format!("/demographics/{STUDENT}"),
        format!("/enrollments/{}", first_enrollment()),
        format!("/gradingPeriods/{SESSION}"),
        format!("/orgs/{SCHOOL}"),
        format!("/schools/{SCHOOL}"),
        format!("/schools/{SCHOOL}/classes"),
        format!("/schools/{SCHOOL}/classes/{CLASS}/enrollments"),
        format!("/schools/{SCHOOL}/classes/{CLASS}/students"),
        format!("/schools/{SCHOOL}/classes/{CLASS}/teachers"),
        format!("/schools/{SCHOOL}/courses"),
        format!("/schools/{SCHOOL}/enrollments"),
        format!("/schools/{SCHOOL}/students"),
        format!("/schools/{SCHOOL}/teachers"),
        format!("/schools/{SCHOOL}/terms"),
        format!("/students/{STUDENT}"),
        format!("/students/{STUDENT}/classes"),
        format!("/teachers/{TEACHER}"),
        format!("/teachers/{TEACHER}/classes"),
        format!("/terms/{SESSION}"),
        format!("/terms/{SESSION}/classes"),
        format!("/terms/{SESSION}/gradingPeriods"),
        format!("/users/{STUDENT}"),
        format!("/users/{STUDENT}/classes"),
    ]);
    ops
}

fn first_enrollment() -> String {
    let text =
        std::fs::read_to_string(fixtures().join("jp-profile-v1.2.1/enrollments.csv")).unwrap();
    text.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned()
}

fn every_operation_filter_and_export_is_the_same_as_alone(backend: Backend) {
    let Some((shared, alone)) = sides(backend) else {
        return;
    };
    let mut paths = operations();
    assert_eq!(paths.len(), 41, "every operation of the rostering service");
    paths.extend(
        [
            "/users?filter=email~'example'",
            "/users?filter=email~'b.example'",
            "/users?filter=status='tobedeleted'",
            "/classes?filter=title~'班'",
            "/orgs?filter=name~'市'",
            "/users?filter=roles.role='student' AND grades~'P'&sort=familyName&limit=5&offset=3",
            "/enrollments?limit=7&offset=14",
            "/users?fields=sourcedId,email&orderBy=desc&limit=10",
            "/demographics?filter=sex='female'",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for path in &paths {
        let got = shared.get(path, &shared.token);
        let want = alone.get(path, &alone.token);
        // `/gradingPeriods/{schoolYear}` is a 404 on both sides.
        assert!(
            got.status == 200 || path.starts_with("/gradingPeriods/"),
            "{path}: {:?}",
            got.body
        );
        assert_eq!(got, want, "{path}");
    }
    assert_eq!(
        shared.db.bulk_export("a"),
        alone.db.bulk_export("a"),
        "tenant a's export"
    );
}

/// One random read: an operation, maybe a filter, a sort, a page.
fn random_path() -> impl Strategy<Value = String> {
    let filters = prop_oneof![
        Just(String::new()),
        Just("filter=email~'example'".to_owned()),
        Just("filter=roles.role='teacher'".to_owned()),
        Just("filter=status='active' OR status='tobedeleted'".to_owned()),
        Just("filter=title~'組'".to_owned()),
        Just("filter=familyName='高橋'".to_owned()),
        Just("filter=dateLastModified>'2000-01-01T00:00:00Z'".to_owned()),
        Just("filter=sourcedId>'8'".to_owned()),
        Just("filter=type='school'".to_owned()),
    ];
    let sorts = prop_oneof![
        Just(String::new()),
        Just("sort=sourcedId&orderBy=desc".to_owned()),
        Just("sort=familyName".to_owned()),
        Just("sort=title".to_owned()),
    ];
    (
        prop::sample::select(operations()),
        filters,
        sorts,
        0u64..40,
        1u64..30,
    )
        .prop_map(|(op, filter, sort, offset, limit)| {
            let mut q: Vec<String> = vec![format!("limit={limit}"), format!("offset={offset}")];
            q.extend([filter, sort].into_iter().filter(|s| !s.is_empty()));
            format!("{op}?{}", q.join("&"))
        })
}

fn random_reads_are_the_same_as_alone(backend: Backend) {
    let Some((shared, alone)) = sides(backend) else {
        return;
    };
    // A fixed seed: the share of reads answered with data (checked below) is a property of
    // the paths drawn, ~60 % on average; a fresh seed per run fell under the bar now and then.
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 96,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let answered = std::cell::Cell::new(0);
    runner
        .run(&random_path(), |path| {
            let got = shared.get(&path, &shared.token);
            let want = alone.get(&path, &alone.token);
            answered.set(answered.get() + u32::from(got.status == 200));
            prop_assert_eq!(got, want, "{}", path);
            Ok(())
        })
        .unwrap();
    // Not a comparison of two refusals: most random reads are answered with data.
    // (The rest are 400s for a filter or sort field the resource does not have, and 404s.)
    assert!(
        answered.get() >= 48,
        "{} of 96 answered 200",
        answered.get()
    );
}

crate::on_both_backends!(
    every_operation_filter_and_export_is_the_same_as_alone,
    random_reads_are_the_same_as_alone,
    an_org_scoped_client_sees_only_its_orgs,
);
