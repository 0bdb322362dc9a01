//! Org-scoped clients: a client limited to a school sees that school and what is attached to
//! it — in every endpoint, filter and count — and nothing of the other schools.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rosterhub::auth::Scopes;
use rosterhub::generate::{GenProfile, GenerateOptions, generate_dir};
use rosterhub::storage::clients::ClientSettings;
use serde_json::Value;

use super::{Side, serve};
use crate::helpers::tokens::client_with;
use crate::helpers::{Backend, TestDb};
use crate::server::oneshot;

fn set(rows: Vec<Vec<Option<String>>>) -> BTreeSet<String> {
    rows.into_iter().filter_map(|r| r[0].clone()).collect()
}

/// Everything a scoped answer may contain, computed in SQL from the data.
struct Expected {
    orgs: BTreeSet<String>,
    classes: BTreeSet<String>,
    courses: BTreeSet<String>,
    enrollments: BTreeSet<String>,
    users: BTreeSet<String>,
}

fn expected(db: &TestDb, orgs: &[&str]) -> Expected {
    let list = orgs
        .iter()
        .map(|o| format!("'{o}'"))
        .collect::<Vec<_>>()
        .join(",");
    let q = |sql: String| set(db.rows(&sql));
    Expected {
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        classes: q(format!(
            "SELECT sourced_id FROM classes WHERE tenant_id = 'a' AND school_sourced_id IN ({list})"
        )),
        courses: q(format!(
            "SELECT sourced_id FROM courses WHERE tenant_id = 'a' AND org_sourced_id IN ({list})"
        )),
        enrollments: q(format!(
            "SELECT sourced_id FROM enrollments WHERE tenant_id = 'a' AND school_sourced_id IN ({list})"
        )),
        users: q(format!(
            "SELECT user_sourced_id FROM roles WHERE tenant_id = 'a' AND org_sourced_id IN ({list}) \
             UNION SELECT user_sourced_id FROM enrollments WHERE tenant_id = 'a' AND school_sourced_id IN ({list})"
        )),
    }
}

fn ids(body: &Value, key: &str) -> BTreeSet<String> {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}: {body}"))
        .iter()
        .map(|r| r["sourcedId"].as_str().unwrap().to_owned())
        .collect()
}

/// Every record of an answer is inside the scope (by its wrapper key).
fn assert_inside(body: &Value, want: &Expected, path: &str) {
    let check = |key: &str, allowed: &BTreeSet<String>| {
        for r in body[key]
            .as_array()
            .into_iter()
            .flatten()
            .chain(body.get(key.trim_end_matches('s')))
        {
            if let Some(id) = r["sourcedId"].as_str() {
                assert!(
                    allowed.contains(id),
                    "{path}: {key} {id} is outside the scope"
                );
            }
        }
    };
    check("orgs", &want.orgs);
    check("classes", &want.classes);
    check("courses", &want.courses);
    check("enrollments", &want.enrollments);
    check("users", &want.users);
    check("demographics", &want.users);
    // Embedded roles name only orgs inside the scope.
    for u in body["users"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(body.get("user"))
    {
        for role in u["roles"].as_array().into_iter().flatten() {
            let org = role["org"]["sourcedId"].as_str().unwrap();
            assert!(want.orgs.contains(org), "{path}: a role at {org}");
        }
    }
}

/// A token of a new client of `a` scoped to `orgs`.
fn scoped_token(side: &Side, orgs: &[&str]) -> String {
    let settings = ClientSettings {
        org_scope: Some(orgs.iter().map(|o| o.to_string()).collect()),
        ..ClientSettings::default()
    };
    let c = client_with(&side.state, "a", Scopes::ALL, settings);
    side.db.block_on(c).token
}

pub fn an_org_scoped_client_sees_only_its_orgs(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    generate_dir(
        dir.path(),
        &GenerateOptions {
            students: 1200,
            seed: 5,
            profile: GenProfile::JpV121,
            delta: false,
        },
    )
    .unwrap();
    db.import_tenant("a", dir.path());
    let schools: Vec<String> = set(db.rows(
        "SELECT sourced_id FROM orgs WHERE tenant_id = 'a' AND type = 'school' ORDER BY sourced_id",
    ))
    .into_iter()
    .collect();
    assert!(schools.len() >= 3, "{schools:?}");
    let district =
        db.scalar("SELECT sourced_id FROM orgs WHERE tenant_id = 'a' AND type = 'district'");
    let side = serve(db);
    let (mine, other) = (schools[0].as_str(), schools[1].as_str());
    let token = scoped_token(&side, &[mine]);
    let want = expected(&side.db, &[mine]);
    assert!(!want.classes.is_empty() && !want.users.is_empty());

    // Collections: exactly what is attached to the school, counts included.
    let get = |path: &str| {
        let a = side.get(path, &token);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a
    };
    let orgs = get("/orgs");
    assert_eq!(ids(&orgs.body, "orgs"), want.orgs);
    assert_eq!(orgs.total.as_deref(), Some("1"));
    assert_eq!(ids(&get("/schools").body, "orgs"), want.orgs);
    for (path, key, set) in [
        ("/classes?limit=1000", "classes", &want.classes),
        ("/courses?limit=1000", "courses", &want.courses),
        ("/enrollments?limit=10000", "enrollments", &want.enrollments),
        ("/users?limit=10000", "users", &want.users),
    ] {
        let a = get(path);
        assert_eq!(&ids(&a.body, key), set, "{path}");
        assert_eq!(a.total, Some(set.len().to_string()), "{path}");
        assert_inside(&a.body, &want, path);
    }
    let demographics = get("/demographics?limit=10000");
    assert!(ids(&demographics.body, "demographics").is_subset(&want.users));
    // Sessions belong to no org: all of them.
    assert_eq!(
        get("/academicSessions").total,
        Some(
            side.db.scalar(
                "SELECT CAST(COUNT(*) AS TEXT) FROM academic_sessions WHERE tenant_id = 'a'"
            )
        )
    );

    // The other school and everything of it: 404 or empty, never data.
    let other_class = side.db.scalar(&format!(
        "SELECT sourced_id FROM classes WHERE tenant_id = 'a' AND school_sourced_id = '{other}' LIMIT 1"
    ));
    let other_student = side.db.scalar(&format!(
        "SELECT user_sourced_id FROM roles WHERE tenant_id = 'a' AND org_sourced_id = '{other}' \
         AND role = 'student' LIMIT 1"
    ));
    assert!(!want.users.contains(&other_student));
    for path in [
        format!("/orgs/{other}"),
        format!("/schools/{other}"),
        format!("/schools/{other}/classes"),
        format!("/schools/{other}/students"),
        format!("/schools/{other}/enrollments"),
        format!("/classes/{other_class}"),
        format!("/classes/{other_class}/students"),
        format!("/users/{other_student}"),
        format!("/students/{other_student}"),
        format!("/students/{other_student}/classes"),
        format!("/demographics/{other_student}"),
        format!("/orgs/{district}"),
    ] {
        let a = side.get(&path, &token);
        assert_eq!(a.status, 404, "{path}: {}", a.body);
        assert_eq!(
            a.body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"],
            "unknownobject",
            "{path}"
        );
    }
    let a = get(&format!("/users?filter=sourcedId='{other_student}'"));
    assert_eq!(
        (a.total.as_deref(), ids(&a.body, "users").len()),
        (Some("0"), 0)
    );

    // Random reads: nothing outside the scope, whatever the filter or page.
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let ops = prop::sample::select(vec![
        "/orgs",
        "/schools",
        "/classes",
        "/courses",
        "/enrollments",
        "/users",
        "/students",
        "/teachers",
        "/demographics",
    ]);
    let filters = prop::sample::select(vec![
        "",
        "filter=status='active'",
        "filter=roles.role='student'",
        "filter=sourcedId>'7'",
        "filter=title~'組'",
        "filter=familyName~'田'",
        "filter=type='school'",
    ]);
    runner
        .run(
            &(ops, filters, 0u64..200, 1u64..100),
            |(op, filter, offset, limit)| {
                let path = format!("{op}?limit={limit}&offset={offset}&{filter}");
                let a = side.get(&path, &token);
                prop_assert!(a.status == 200 || a.status == 400, "{}: {}", path, a.status);
                assert_inside(&a.body, &want, &path);
                Ok(())
            },
        )
        .unwrap();

    // A district scope covers the district and every school below it.
    let token = scoped_token(&side, &[&district]);
    let all: BTreeSet<String> = schools.iter().cloned().chain([district.clone()]).collect();
    assert_eq!(ids(&side.get("/orgs?limit=1000", &token).body, "orgs"), all);

    // An org-scoped client is refused on the admin API (imports and exports are tenant-wide).
    let req = axum::http::Request::get("/api/v1/imports")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let r = side.db.block_on(oneshot(&side.app, req));
    assert_eq!(r.status(), 403);
}
