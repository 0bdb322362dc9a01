//! The dashboard's stored counters (`tenant_counts`) equal a fresh count of the tables after
//! every kind of import: a first bulk, a delta that tombstones, a bulk past the threshold that
//! tombstones most users, a bulk that brings them back, and imports that write nothing
//! (rejected, dry run, unchanged) — in two tenants side by side.

use rosterhub::import::{ImportOptions, Outcome};

use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};

/// The stored counters of `tenant` are what counting its rows gives now; returns them.
fn exact(db: &TestDb, tenant: &str) -> (Vec<(u64, u64)>, [u64; 3]) {
    let (stored, sanity, shortfall) = db.block_on(db.store.dashboard_counts(tenant)).unwrap();
    let fresh = db.block_on(db.store.fresh_entity_counts(tenant)).unwrap();
    let fresh_sanity = db.block_on(db.store.fresh_sanity(tenant)).unwrap();
    let fresh_shortfall = db.block_on(db.store.fresh_shortfall(tenant)).unwrap();
    assert_eq!(stored, fresh, "entity counts of {tenant}");
    assert_eq!(sanity, fresh_sanity, "sanity counts of {tenant}");
    assert_eq!(
        shortfall, fresh_shortfall,
        "national models' shortfall of {tenant}"
    );
    (
        stored.iter().map(|c| (c.active, c.tombstoned)).collect(),
        [
            sanity.students_without_enrollment,
            sanity.classes_without_teacher,
            sanity.schools_without_students,
        ],
    )
}

fn in_tenant(tenant: &str) -> ImportOptions {
    ImportOptions {
        tenant: tenant.into(),
        ..opts()
    }
}

/// Users are the fifth entity of `Entity::ALL`.
const USERS: usize = 4;

fn counters_stay_exact_through_every_import(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let jp = fixtures().join("jp-profile-v1.2.1");
    db.tenant("other");
    assert_eq!(db.import(&jp, in_tenant("other")).status, Outcome::Applied);
    let other = exact(&db, "other");

    // Nothing imported yet: every counter is 0.
    let (empty, sanity) = exact(&db, "default");
    assert!(empty.iter().all(|&c| c == (0, 0)) && sanity == [0, 0, 0]);

    // A first bulk.
    let r = db.import(&jp, opts());
    assert_eq!(r.status, Outcome::Applied);
    let (first, sanity) = exact(&db, "default");
    assert_eq!(first[USERS], (36, 0));
    assert_eq!(sanity, [0, 0, 0]);

    // A delta tombstoning a teacher's enrollment and a student's: a class without its teacher,
    // a student without an enrollment.
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    for f in [
        "orgs",
        "academicSessions",
        "courses",
        "classes",
        "users",
        "roles",
        "demographics",
    ] {
        b.set_mode(f, "absent");
        b.remove(&format!("{f}.csv"));
    }
    b.set_mode("enrollments", "delta");
    let text = b.read("enrollments.csv");
    let mut lines = text.lines();
    let mut delta = format!("{}\n", lines.next().unwrap());
    let rows: Vec<&str> = lines.collect();
    let teacher = rows.iter().find(|l| l.contains(",teacher,")).unwrap();
    let student = rows.iter().find(|l| l.contains(",student,")).unwrap();
    for row in [teacher, student] {
        delta.push_str(&row.replacen(",,,", ",tobedeleted,2026-04-01T09:00:00+09:00,", 1));
        delta.push('\n');
    }
    b.write("enrollments.csv", &delta);
    let r = db.import(b.path(), opts());
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    let (after_delta, sanity) = exact(&db, "default");
    assert_eq!(sanity[1], 1, "a class without its teacher");
    assert_ne!(after_delta, first);

    // Imports that write nothing leave the counters as they are.
    let dry = db.import(
        &jp,
        ImportOptions {
            dry_run: true,
            ..opts()
        },
    );
    assert_eq!(dry.status, Outcome::DryRun);
    let rejected = TempBundle::from_fixture("jp-profile-v1.2.1");
    let users = rejected.read("users.csv");
    let twice = users.lines().nth(1).unwrap().to_owned();
    rejected.write("users.csv", &format!("{users}{twice}\n"));
    assert_eq!(db.import(rejected.path(), opts()).status, Outcome::Rejected);
    assert_eq!(exact(&db, "default").0, after_delta);

    // A bulk past the threshold (forced) tombstones 31 users and what hangs on them.
    let shrink = TempBundle::shrinking();
    let r = db.import(
        shrink.path(),
        ImportOptions {
            force: true,
            ..opts()
        },
    );
    assert_eq!(r.status, Outcome::Applied);
    let (shrunk, _) = exact(&db, "default");
    assert_eq!(shrunk[USERS], (5, 31));

    // The full bulk again brings them back; an unchanged re-import recomputes nothing and
    // stays exact.
    assert_eq!(db.import(&jp, opts()).status, Outcome::Applied);
    let (back, sanity) = exact(&db, "default");
    assert_eq!(back[USERS], (36, 0));
    assert_eq!(sanity, [0, 0, 0]);
    assert_eq!(db.import(&jp, opts()).status, Outcome::Applied);
    assert_eq!(exact(&db, "default").0, back);

    // The other tenant never moved.
    assert_eq!(exact(&db, "other"), other);
}

crate::on_both_backends!(counters_stay_exact_through_every_import);
