//! Request hardening and the API's error answers: input PostgreSQL cannot store (NUL) refused
//! alike on both backends, bounded parameters, and 4xx bodies that say what to do.

use rosterhub::auth::Scopes;
use rosterhub::storage::clients::ClientSettings;

use crate::helpers::tokens::client_with;
use crate::helpers::{Backend, TempBundle, TestDb, opts};
use crate::isolation::{Side, serve};

/// Tenant `a` holding the fixture bundle `fixture` (edited by `edit`), served.
fn side_with(backend: Backend, fixture: &str, edit: impl FnOnce(&TempBundle)) -> Option<Side> {
    let db = TestDb::new(backend)?;
    let bundle = TempBundle::from_fixture(fixture);
    edit(&bundle);
    db.tenant("a");
    let r = db.import(
        bundle.path(),
        rosterhub::import::ImportOptions {
            tenant: "a".into(),
            ..opts()
        },
    );
    assert_eq!(
        r.status,
        rosterhub::import::Outcome::Applied,
        "{}",
        r.to_text()
    );
    Some(serve(db))
}

/// The district of the Japan Profile fixture, the root of its org tree.
const ROOT: &str = "ffbc937e-0853-49ce-a7c6-66177a2c28b5";
const TEACHER: &str = "570aa3c8-cd28-498c-b2b3-dab02cc3bddf";
const SCHOOL: &str = "90547f17-4e22-48f2-9c47-bff459705477";
/// A copy of the teacher whose only role is at the deepest org of [`deep_orgs`].
const DEEP_USER: &str = "00000000-0000-4000-a000-000000000001";

/// The sourcedId of the org `depth` levels below the root in [`deep_orgs`].
fn deep_org(depth: usize) -> String {
    format!("00000000-0000-4000-8000-{depth:012}")
}

/// The Japan Profile fixture as plain OneRoster 1.2.1: its `metadata.jp.*` columns dropped
/// (the Japan Profile allows only districts and schools, and a district no parent). The
/// fixture has no quoted cells, so a comma always separates cells.
fn plain_oneroster(b: &TempBundle) {
    for file in [
        "users.csv",
        "orgs.csv",
        "classes.csv",
        "courses.csv",
        "academicSessions.csv",
        "enrollments.csv",
        "roles.csv",
        "demographics.csv",
    ] {
        if !b.has(file) {
            continue;
        }
        let text = b.read(file);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let keep: Vec<usize> = (0..header.len())
            .filter(|&i| !header[i].starts_with("metadata.jp."))
            .collect();
        let row = |l: &str| {
            let cells: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| cells[i]).collect::<Vec<_>>().join(",") + "\n"
        };
        let out: String = std::iter::once(row(&header.join(",")))
            .chain(lines.map(row))
            .collect();
        b.write(file, &out);
    }
}

/// A chain of 20 departments below the district, and a teacher whose only role is at the
/// deepest.
fn deep_orgs(b: &TempBundle) {
    plain_oneroster(b);
    let mut orgs = b.read("orgs.csv");
    for depth in 1..=20 {
        let parent = if depth == 1 {
            ROOT.to_owned()
        } else {
            deep_org(depth - 1)
        };
        orgs.push_str(&format!(
            "{},,,Level {depth},department,,{parent}\n",
            deep_org(depth)
        ));
    }
    b.write("orgs.csv", &orgs);
    let users = b.read("users.csv");
    let teacher = users
        .lines()
        .find(|l| l.starts_with(TEACHER))
        .unwrap()
        .replace(TEACHER, DEEP_USER)
        .replace("t00@example.jp", "deep@example.jp")
        .replace(SCHOOL, &deep_org(20));
    b.write("users.csv", &format!("{users}{teacher}\n"));
    let roles = b.read("roles.csv");
    b.write(
        "roles.csv",
        &format!(
            "{roles}00000000-0000-4000-9000-000000000001,,,{DEEP_USER},primary,teacher,,,{},\n",
            deep_org(20)
        ),
    );
}

/// Org scopes reach every level of the tree, not the first few.
fn an_org_scope_covers_orgs_twenty_levels_down(backend: Backend) {
    let Some(side) = side_with(backend, "jp-profile-v1.2.1", deep_orgs) else {
        return;
    };
    let settings = ClientSettings {
        org_scope: Some(vec![ROOT.to_owned()]),
        ..ClientSettings::default()
    };
    let token = side
        .db
        .block_on(client_with(&side.state, "a", Scopes::ALL, settings))
        .token;
    let user = side.get(&format!("/users/{DEEP_USER}"), &token);
    assert_eq!(user.status, 200, "{}", user.body);
    assert_eq!(
        user.body["user"]["roles"][0]["org"]["sourcedId"],
        deep_org(20).as_str()
    );
    let deepest = side.get(&format!("/orgs/{}", deep_org(20)), &token);
    assert_eq!(deepest.status, 200, "{}", deepest.body);
    let all = side.get("/orgs?limit=1000", &token);
    let unscoped = side.get("/orgs?limit=1000", &side.token);
    assert_eq!(all.total, unscoped.total);
    assert_eq!(all.body, unscoped.body);
}

crate::on_both_backends!(an_org_scope_covers_orgs_twenty_levels_down);
