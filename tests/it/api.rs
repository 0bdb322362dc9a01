//! The OneRoster REST API against real databases: tokens, every operation, JSON validated
//! against the official OpenAPI schemas, filters, paging, errors.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rosterhub::auth::Scopes;
use rosterhub::http::AppState;
use serde_json::Value;

use crate::helpers::tokens::client;
use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};
use crate::on_both_backends;
use crate::server::{oneshot, state};

const BASE: &str = "/ims/oneroster/rostering/v1p2";
const S1: &str = "de274027-6f10-4912-9777-f62c295f0e8f";
const CLASS_1_1: &str = "63df3d0e-1fa9-4601-b56a-a91ad2346995";
const SCHOOL: &str = "90547f17-4e22-48f2-9c47-bff459705477";
const SESSION: &str = "9ee69c38-c9f8-4566-afa6-531223ce3e55";
const TEACHER: &str = "570aa3c8-cd28-498c-b2b3-dab02cc3bddf";
const COURSE: &str = "d7afca7d-efa0-4f1e-99bb-3865855006e4";

/// The official OpenAPI document's schemas, compiled on demand.
fn schema(name: &str) -> jsonschema::Validator {
    static DOC: OnceLock<Value> = OnceLock::new();
    let doc = DOC.get_or_init(|| {
        let path = crate::helpers::fixtures().join("../../openapi/rostering-v1p2.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    });
    let root = serde_json::json!({
        "components": {"schemas": doc["components"]["schemas"].clone()},
        "$ref": format!("#/components/schemas/{name}"),
    });
    jsonschema::validator_for(&root).unwrap()
}

pub(crate) fn assert_valid(name: &str, body: &Value) {
    let v = schema(name);
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{body:#}");
}

struct Api {
    db: TestDb,
    state: AppState,
    app: axum::Router,
    token: String,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Api {
    fn new(backend: Backend) -> Option<Api> {
        let db = TestDb::new(backend)?;
        let r = db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
        assert_eq!(r.status, rosterhub::import::Outcome::Applied);
        let state = db.block_on(state(&db, |_| {}));
        let mut api = Api {
            app: rosterhub::http::router(state.clone()),
            db,
            state,
            token: String::new(),
        };
        api.token = api.token_for(
            Scopes::CORE
                .union(Scopes::ROSTER)
                .union(Scopes::DEMOGRAPHICS),
        );
        Some(api)
    }

    fn token_for(&self, scopes: Scopes) -> String {
        self.client_and_token("default", scopes).1
    }

    /// A new client of `tenant` and a token for it, through `/oauth/token`.
    fn client_and_token(&self, tenant: &str, scopes: Scopes) -> (String, String) {
        let client = self.db.block_on(client(&self.state, tenant, scopes));
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            client.id, client.secret
        );
        let req = Request::post("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let r = self.send(req);
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["token_type"], "Bearer");
        (
            client.id,
            r.body["access_token"].as_str().unwrap().to_owned(),
        )
    }

    fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.db.block_on(oneshot(&self.app, req));
        let body = if resp.body().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(resp.body()).unwrap()
        };
        Resp {
            status: resp.status(),
            headers: resp.headers().clone(),
            body,
        }
    }

    fn get_with(&self, path: &str, token: Option<&str>) -> Resp {
        // What a client's URL encoder would do to spaces and angle brackets.
        let path = path
            .replace(' ', "%20")
            .replace('>', "%3E")
            .replace('<', "%3C");
        let mut req = Request::get(format!("{BASE}{path}")).header("host", "example.test");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        self.send(req.body(Body::empty()).unwrap())
    }

    fn get(&self, path: &str) -> Resp {
        self.get_with(path, Some(&self.token.clone()))
    }

    fn ids(&self, path: &str, key: &str) -> Vec<String> {
        let r = self.get(path);
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        r.body[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["sourcedId"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn every_operation_answers_with_schema_valid_json(backend: Backend) {
    let Some(api) = Api::new(backend) else { return };
    let collections = [
        (
            "/academicSessions",
            "academicSessions",
            "AcademicSessionSetDType",
            1,
        ),
        ("/classes", "classes", "ClassSetDType", 4),
        (
            &format!("/classes/{CLASS_1_1}/students"),
            "users",
            "UserSetDType",
            8,
        ),
        (
            &format!("/classes/{CLASS_1_1}/teachers"),
            "users",
            "UserSetDType",
            1,
        ),
        ("/courses", "courses", "CourseSetDType", 2),
        (
            &format!("/courses/{COURSE}/classes"),
            "classes",
            "ClassSetDType",
            2,
        ),
        ("/demographics", "demographics", "DemographicsSetDType", 32),
        ("/enrollments", "enrollments", "EnrollmentSetDType", 36),
        (
            "/gradingPeriods",
            "academicSessions",
            "AcademicSessionSetDType",
            0,
        ),
        ("/orgs", "orgs", "OrgSetDType", 2),
        ("/schools", "orgs", "OrgSetDType", 1),
        (
            &format!("/schools/{SCHOOL}/classes"),
            "classes",
            "ClassSetDType",
            4,
        ),
        (
            &format!("/schools/{SCHOOL}/courses"),
            "courses",
            "CourseSetDType",
            2,
        ),
        (
            &format!("/schools/{SCHOOL}/enrollments"),
            "enrollments",
            "EnrollmentSetDType",
            36,
        ),
        (
            &format!("/schools/{SCHOOL}/students"),
            "users",
            "UserSetDType",
            32,
        ),
        (
            &format!("/schools/{SCHOOL}/teachers"),
            "users",
            "UserSetDType",
            4,
        ),
        (
            &format!("/schools/{SCHOOL}/terms"),
            "academicSessions",
            "AcademicSessionSetDType",
            1,
        ),
        (
            &format!("/schools/{SCHOOL}/classes/{CLASS_1_1}/enrollments"),
            "enrollments",
            "EnrollmentSetDType",
            9,
        ),
        (
            &format!("/schools/{SCHOOL}/classes/{CLASS_1_1}/students"),
            "users",
            "UserSetDType",
            8,
        ),
        (
            &format!("/schools/{SCHOOL}/classes/{CLASS_1_1}/teachers"),
            "users",
            "UserSetDType",
            1,
        ),
        ("/students", "users", "UserSetDType", 32),
        (
            &format!("/students/{S1}/classes"),
            "classes",
            "ClassSetDType",
            1,
        ),
        ("/teachers", "users", "UserSetDType", 4),
        (
            &format!("/teachers/{TEACHER}/classes"),
            "classes",
            "ClassSetDType",
            1,
        ),
        ("/terms", "academicSessions", "AcademicSessionSetDType", 1),
        (
            &format!("/terms/{SESSION}/classes"),
            "classes",
            "ClassSetDType",
            4,
        ),
        (
            &format!("/terms/{SESSION}/gradingPeriods"),
            "academicSessions",
            "AcademicSessionSetDType",
            0,
        ),
        ("/users", "users", "UserSetDType", 36),
        (
            &format!("/users/{S1}/classes"),
            "classes",
            "ClassSetDType",
            1,
        ),
    ];
    for (path, key, schema_name, n) in collections {
        let r = api.get(path);
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(r.body[key].as_array().map(Vec::len), Some(n), "{path}");
        assert_eq!(r.headers["x-total-count"], n.to_string().as_str(), "{path}");
        assert_valid(schema_name, &r.body);
    }
    let singles = [
        (
            format!("/academicSessions/{SESSION}"),
            "academicSession",
            "SingleAcademicSessionDType",
        ),
        (format!("/classes/{CLASS_1_1}"), "class", "SingleClassDType"),
        (format!("/courses/{COURSE}"), "course", "SingleCourseDType"),
        (
            format!("/demographics/{S1}"),
            "demographics",
            "SingleDemographicsDType",
        ),
        (
            "/enrollments/9d7e3380-4ca2-43f7-81c2-ce5f3b62569f".to_owned(),
            "enrollment",
            "SingleEnrollmentDType",
        ),
        (format!("/orgs/{SCHOOL}"), "org", "SingleOrgDType"),
        (format!("/schools/{SCHOOL}"), "org", "SingleOrgDType"),
        (format!("/students/{S1}"), "user", "SingleUserDType"),
        (format!("/teachers/{TEACHER}"), "user", "SingleUserDType"),
        (
            format!("/terms/{SESSION}"),
            "academicSession",
            "SingleAcademicSessionDType",
        ),
        (format!("/users/{S1}"), "user", "SingleUserDType"),
    ];
    for (path, key, schema_name) in singles {
        let r = api.get(&path);
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(r.body[key].is_object(), "{path}");
        assert_valid(schema_name, &r.body);
    }
    // A gradingPeriod that does not exist, a student who is a teacher: 404 in the OneRoster format.
    for path in [
        format!("/gradingPeriods/{SESSION}"),
        format!("/students/{TEACHER}"),
        format!("/schools/{CLASS_1_1}"),
    ] {
        let r = api.get(&path);
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_valid("imsx_StatusInfoDType", &r.body);
    }
}

fn a_user_is_exactly_the_json_the_schema_and_the_japan_profile_want(backend: Backend) {
    let Some(api) = Api::new(backend) else { return };
    let r = api.get("/users/8b317a29-3002-475c-85e9-97033759db35");
    let u = &r.body["user"];
    let href = |c: &str, id: &str| format!("http://example.test{BASE}/{c}/{id}");
    assert_eq!(u["sourcedId"], "8b317a29-3002-475c-85e9-97033759db35");
    assert_eq!(u["status"], "active");
    assert!(u["dateLastModified"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        u["dateLastModified"].as_str().unwrap().len(),
        24,
        "YYYY-MM-DDTHH:MM:SS.sssZ"
    );
    assert_eq!(u["enabledUser"], "true", "booleans are strings");
    assert_eq!(u["givenName"], "𠮷田");
    assert_eq!(u["grades"], serde_json::json!(["P1"]));
    assert_eq!(
        u["metadata"],
        serde_json::json!({"jp.kanaGivenName": "ヨシダ", "jp.kanaFamilyName": "ナカムラ", "jp.homeClass": CLASS_1_1})
    );
    assert_eq!(
        u["roles"],
        serde_json::json!([{"roleType": "primary", "role": "student",
            "org": {"href": href("orgs", SCHOOL), "sourcedId": SCHOOL, "type": "org"}}])
    );
    assert_eq!(u["primaryOrg"]["href"], href("orgs", SCHOOL));
    assert!(
        u.get("middleName").is_none(),
        "absent values are omitted, never null"
    );
    assert!(!r.body.to_string().contains("null"));
}

fn unknown_parents_are_404_and_empty_results_are_200(backend: Backend) {
    let Some(api) = Api::new(backend) else { return };
    for path in [
        "/classes/nope/students",
        "/schools/nope/classes",
        "/terms/nope/classes",
        "/users/nope/classes",
        "/courses/nope/classes",
        "/users/nope",
    ] {
        let r = api.get(path);
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            r.body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"],
            "unknownobject",
            "{path}"
        );
    }
    // The class exists at the school, but not at another school.
    let r = api.get(&format!("/schools/{TEACHER}/classes/{CLASS_1_1}/students"));
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api.get(&format!("/terms/{SESSION}/gradingPeriods"));
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a Japan Profile schoolYear serves as the term"
    );
    assert_eq!(r.body["academicSessions"], serde_json::json!([]));
}

fn filters_sort_fields_and_paging(backend: Backend) {
    let Some(api) = Api::new(backend) else { return };
    assert_eq!(
        api.ids("/users?filter=email%3D%27t00%40example.jp%27", "users"),
        [TEACHER]
    );
    assert_eq!(
        api.ids(
            "/teachers?filter=email='t00@example.jp'&limit=10000",
            "users"
        ),
        [TEACHER]
    );
    assert_eq!(
        api.ids("/users?filter=role%3D%27teacher%27", "users").len(),
        4,
        "legacy role filter"
    );
    assert_eq!(
        api.ids(
            "/users?filter=roles.role='student' AND grades='P1'",
            "users"
        )
        .len(),
        16
    );
    assert_eq!(api.ids("/classes?filter=title~'1年'", "classes").len(), 2);
    let r = api.get("/users?filter=nope%3D%271%27");
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"],
        "invalid_filter_field"
    );
    // sort + orderBy
    let asc = api.ids("/users?sort=familyName", "users");
    let desc = api.ids("/users?sort=familyName&orderBy=desc", "users");
    assert_eq!(asc.len(), 36);
    let reversed: Vec<String> = asc.iter().rev().cloned().collect();
    assert_eq!(
        desc, reversed,
        "descending is the exact reverse (sourcedId breaks ties both ways)"
    );
    let names: Vec<String> = api.get("/users?sort=familyName&fields=familyName").body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["familyName"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    // fields
    let r = api.get("/users?fields=sourcedId,givenName&limit=1");
    assert_eq!(
        r.body["users"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["sourcedId", "givenName"]
    );
    assert_eq!(api.get("/users?fields=").status, StatusCode::BAD_REQUEST);
    assert!(
        api.get("/users?fields=sourcedId,nope&limit=1").body["users"][0]["givenName"].is_string()
    );
    // malformed paging values
    for q in [
        "limit=0",
        "limit=-1",
        "limit=abc",
        "limit=1e3",
        "offset=x",
        "limit=1&limit=2",
    ] {
        let r = api.get(&format!("/users?{q}"));
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_valid("imsx_StatusInfoDType", &r.body);
    }
    // A paging walk sees every record exactly once; Link keeps the other parameters.
    let mut seen = Vec::new();
    let mut next = Some("/users?filter=status%3D%27active%27&limit=7".to_owned());
    while let Some(path) = next.take() {
        let r = api.get(&path);
        assert_eq!(r.headers["x-total-count"], "36");
        seen.extend(
            r.body["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["sourcedId"].as_str().unwrap().to_owned()),
        );
        let link = r.headers["link"].to_str().unwrap().to_owned();
        assert!(link.contains("filter=status%3D%27active%27"), "{link}");
        next = link
            .split(", ")
            .find(|l| l.ends_with("rel=\"next\""))
            .map(|l| {
                let url = &l[1..l.find('>').unwrap()];
                url.split(BASE).nth(1).unwrap().to_owned()
            });
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (36, 36));
}

fn auth_scopes_and_errors(backend: Backend) {
    let Some(api) = Api::new(backend) else { return };
    let r = api.get_with("/users", None);
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_valid("imsx_StatusInfoDType", &r.body);
    assert_eq!(
        api.get_with("/users", Some("not-a-token")).status,
        StatusCode::UNAUTHORIZED
    );
    // Revocation takes effect on the very next request, not at token expiry.
    let (client, token) = api.client_and_token("default", Scopes::CORE);
    assert_eq!(api.get_with("/orgs", Some(&token)).status, StatusCode::OK);
    assert!(
        api.db
            .rt
            .block_on(api.db.store.revoke_client(&client))
            .unwrap()
    );
    let r = api.get_with("/orgs", Some(&token));
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a revoked client's token is refused"
    );
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let core = api.token_for(Scopes::CORE);
    assert_eq!(api.get_with("/users", Some(&core)).status, StatusCode::OK);
    let r = api.get_with(&format!("/classes/{CLASS_1_1}/students"), Some(&core));
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "relationship endpoints need roster.readonly"
    );
    assert_eq!(
        api.get_with("/demographics", Some(&core)).status,
        StatusCode::FORBIDDEN
    );
    let r = api.get("/nothing/here");
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_valid("imsx_StatusInfoDType", &r.body);
    // ETag: the same answer twice is a 304 the second time.
    let first = api.get("/orgs");
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    let req = Request::get(format!("{BASE}/orgs"))
        .header("host", "example.test")
        .header("authorization", format!("Bearer {}", api.token))
        .header("if-none-match", etag)
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(req).status, StatusCode::NOT_MODIFIED);
}

fn delta_polling_returns_exactly_what_changed(backend: Backend) {
    let Some(api) = Api::new(backend) else { return };
    let active = "/users?filter=status%3D%27active%27";
    assert_eq!(api.get(active).headers["x-total-count"], "36");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let since = rosterhub::domain::datetime::format_ms(rosterhub::domain::datetime::now_ms());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.remove_user(S1);
    b.replace("users.csv", ",蓮,高橋,", ",蓮,髙橋,");
    let r = api.db.import(b.path(), opts());
    assert_eq!(r.status, rosterhub::import::Outcome::Applied);
    let mut changed = api.ids(
        &format!("/users?filter=dateLastModified>'{since}'"),
        "users",
    );
    changed.sort();
    let mut expected = vec![S1.to_owned(), TEACHER.to_owned()];
    expected.sort();
    assert_eq!(
        changed, expected,
        "the renamed teacher and the withdrawn student, nothing else"
    );
    let r = api.get(&format!("/users/{S1}"));
    assert_eq!(r.body["user"]["status"], "tobedeleted");
    assert_eq!(
        api.get(active).headers["x-total-count"],
        "35",
        "an applied import invalidates cached totals"
    );
    assert_eq!(
        api.ids(
            &format!("/enrollments?filter=dateLastModified>'{since}'"),
            "enrollments"
        )
        .len(),
        1
    );
}

fn deep_pages_through_cached_anchors_match_plain_offsets(backend: Backend) {
    let Some(api) = Api::new(backend) else { return };
    let dir = tempfile::tempdir().unwrap();
    let opts_gen = rosterhub::generate::GenerateOptions {
        students: 2_500,
        seed: 3,
        profile: rosterhub::generate::GenProfile::JpV121,
        delta: false,
    };
    rosterhub::generate::generate_dir(dir.path(), &opts_gen).unwrap();
    api.db.tenant("big");
    let r = api.db.import(
        dir.path(),
        rosterhub::import::ImportOptions {
            tenant: "big".into(),
            ..opts()
        },
    );
    assert_eq!(r.status, rosterhub::import::Outcome::Applied);
    let mut expected: Vec<String> = api
        .db
        .rows("SELECT sourced_id FROM enrollments WHERE tenant_id = 'big'")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    expected.sort();
    assert!(expected.len() > 2_500);
    // The default tenant's token cannot see tenant "big": a client of "big" is needed.
    let token = api.client_and_token("big", Scopes::CORE).1;
    for desc in [false, true] {
        let mut want = expected.clone();
        if desc {
            want.reverse();
        }
        for offset in [0usize, 999, 1000, 1001, 2345, want.len() - 3] {
            let order = if desc { "&orderBy=desc" } else { "" };
            let r = api.get_with(
                &format!("/enrollments?limit=250&offset={offset}{order}&fields=sourcedId"),
                Some(&token),
            );
            let got: Vec<String> = r.body["enrollments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["sourcedId"].as_str().unwrap().to_owned())
                .collect();
            let end = (offset + 250).min(want.len());
            assert_eq!(got, want[offset..end], "offset {offset} desc {desc}");
        }
    }
    let r = api.get_with(
        &format!("/enrollments?offset={}", expected.len() + 5),
        Some(&token),
    );
    assert_eq!(r.body["enrollments"], serde_json::json!([]));

    // Walking `next` links with a filter sees every matching record exactly once.
    let mut students: Vec<String> = api
        .db
        .rows("SELECT sourced_id FROM enrollments WHERE tenant_id = 'big' AND role = 'student'")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    students.sort();
    for limit in [100, 1000] {
        let mut seen = Vec::new();
        let mut next = Some(format!(
            "/enrollments?filter=role%3D%27student%27&limit={limit}"
        ));
        while let Some(path) = next.take() {
            let r = api.get_with(&path, Some(&token));
            assert_eq!(
                r.headers["x-total-count"],
                students.len().to_string().as_str()
            );
            seen.extend(
                r.body["enrollments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["sourcedId"].as_str().unwrap().to_owned()),
            );
            let link = r.headers["link"].to_str().unwrap().to_owned();
            next = link
                .split(", ")
                .find(|l| l.ends_with("rel=\"next\""))
                .map(|l| {
                    let url = &l[1..l.find('>').unwrap()];
                    url.split(BASE).nth(1).unwrap().to_owned()
                });
        }
        assert_eq!(
            seen, students,
            "limit {limit}: every student enrollment once, in order"
        );
    }
}

/// No filter, sort, fields or paging text ever produces a 500: only 200 or 400.
#[test]
fn random_query_strings_never_produce_a_500() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let api = Api::new(Backend::Sqlite).unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 200,
        ..Config::default()
    });
    let fragment = prop_oneof![
        Just("filter=".to_owned()),
        Just("sort=".to_owned()),
        Just("fields=".to_owned()),
        Just("limit=".to_owned()),
        Just("offset=".to_owned()),
        Just("orderBy=".to_owned()),
    ];
    let value = "[a-zA-Z.=!<>~' %0-9+@_-]{0,40}";
    runner
        .run(&(fragment, value), |(key, v)| {
            let encoded: String = v
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            let r = api.get(&format!("/users?{key}{encoded}"));
            prop_assert!(
                r.status == StatusCode::OK || r.status == StatusCode::BAD_REQUEST,
                "{} for {key}{v}",
                r.status
            );
            Ok(())
        })
        .unwrap();
}

/// Two tenants with the same sourcedIds: no operation, filter, count or link of one tenant's
/// token ever shows a byte of the other tenant's data.
fn tenants_never_see_each_other(backend: Backend) {
    let Some(api) = Api::new(backend) else { return };
    // Tenant "other": the same bundle with a marker in every user's and class's name.
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.write(
        "users.csv",
        &b.read("users.csv")
            .replace("@example.jp", "@other-tenant.example"),
    );
    b.write(
        "classes.csv",
        &b.read("classes.csv").replace("組", "組OTHERTENANT"),
    );
    b.replace("orgs.csv", "サンプル市教育委員会", "OTHERTENANT教育委員会");
    api.db.import_tenant("other", b.path());
    let mut paths: Vec<String> = [
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
        // Filters that would match the other tenant's data (without echoing the markers).
        "/users?filter=email~'tenant.example'",
        "/users?filter=email~'example'&limit=3",
        "/classes?filter=title~'THERTEN'",
        "/orgs?filter=name~'THERTEN'",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for p in [
        format!("/classes/{CLASS_1_1}"),
        format!("/classes/{CLASS_1_1}/students"),
        format!("/classes/{CLASS_1_1}/teachers"),
        format!("/courses/{COURSE}/classes"),
        format!("/schools/{SCHOOL}/classes"),
        format!("/schools/{SCHOOL}/students"),
        format!("/schools/{SCHOOL}/teachers"),
        format!("/schools/{SCHOOL}/enrollments"),
        format!("/schools/{SCHOOL}/courses"),
        format!("/schools/{SCHOOL}/terms"),
        format!("/schools/{SCHOOL}/classes/{CLASS_1_1}/students"),
        format!("/students/{S1}/classes"),
        format!("/teachers/{TEACHER}/classes"),
        format!("/terms/{SESSION}/classes"),
        format!("/users/{S1}"),
        format!("/users/{S1}/classes"),
        format!("/orgs/{SCHOOL}"),
        format!("/demographics/{S1}"),
    ] {
        paths.push(p);
    }
    for path in &paths {
        let r = api.get(path);
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let text = format!("{}{:?}", r.body, r.headers);
        assert!(
            !text.contains("OTHERTENANT") && !text.contains("other-tenant"),
            "{path} leaked: {text}"
        );
    }
    // Counts are per tenant: the default tenant still has exactly its 36 users.
    assert_eq!(api.get("/users").headers["x-total-count"], "36");
    assert_eq!(
        api.get("/users?filter=email~'tenant.example'").headers["x-total-count"],
        "0"
    );
    // The other tenant's own token sees its own data, through the same cache.
    let other = api.client_and_token("other", Scopes::CORE).1;
    let r = api.get_with("/users?filter=email~'tenant.example'", Some(&other));
    assert_eq!(
        r.headers["x-total-count"], "4",
        "the other tenant's four teachers have e-mails"
    );
}

on_both_backends!(
    every_operation_answers_with_schema_valid_json,
    a_user_is_exactly_the_json_the_schema_and_the_japan_profile_want,
    unknown_parents_are_404_and_empty_results_are_200,
    filters_sort_fields_and_paging,
    auth_scopes_and_errors,
    delta_polling_returns_exactly_what_changed,
    deep_pages_through_cached_anchors_match_plain_offsets,
    tenants_never_see_each_other,
);
