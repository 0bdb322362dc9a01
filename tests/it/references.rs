//! References must not contradict the store: an active record never points at a tombstone
//! (in the bundle or stored), a delta cannot tombstone a record that active stored records
//! still reference, org parents form no cycle, and tombstoning an unknown id is a warning.

use rosterhub::domain::Entity;
use rosterhub::import::{Outcome, Report};

use crate::helpers::{Backend, TempBundle, TestDb, errors, fixtures, opts};
use crate::on_both_backends;

const CLASS_1_1: &str = "63df3d0e-1fa9-4601-b56a-a91ad2346995";
const SCHOOL: &str = "90547f17-4e22-48f2-9c47-bff459705477";
const DISTRICT: &str = "ffbc937e-0853-49ce-a7c6-66177a2c28b5";
const S2: &str = "8b317a29-3002-475c-85e9-97033759db35";
const WHEN: &str = "2025-06-01T00:00:00.000Z";

/// A delta bundle of the fixture's manifest with only `files` present (as delta), each with
/// the fixture's header and the given rows.
fn delta(files: &[(&str, Vec<String>)]) -> TempBundle {
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    // Every rostering file the fixture has.
    for f in Entity::ALL
        .iter()
        .map(|e| e.name())
        .filter(|f| b.has(&format!("{f}.csv")))
    {
        let header = b
            .read(&format!("{f}.csv"))
            .lines()
            .next()
            .unwrap()
            .to_owned();
        match files.iter().find(|(name, _)| *name == f) {
            Some((_, rows)) => {
                b.set_mode(f, "delta");
                b.write(
                    &format!("{f}.csv"),
                    &format!("{header}\n{}\n", rows.join("\n")),
                );
            }
            None => {
                b.set_mode(f, "absent");
                b.remove(&format!("{f}.csv"));
            }
        }
    }
    b
}

/// The fixture's row of `file` whose sourcedId is `id`, with status and time set.
fn row(file: &str, id: &str, status: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join("jp-profile-v1.2.1").join(file)).unwrap();
    let line = text.lines().find(|l| l.starts_with(id)).unwrap();
    line.replacen(",,,", &format!(",{status},{WHEN},"), 1)
}

/// The ids of the fixture's enrollments in a class.
fn enrollments_of(class: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(fixtures().join("jp-profile-v1.2.1/enrollments.csv")).unwrap();
    text.lines()
        .filter(|l| l.contains(class))
        .map(|l| l[..36].to_owned())
        .collect()
}

fn codes(report: &Report) -> Vec<(String, u64, &'static str)> {
    errors(report)
}

fn tombstoning_a_class_with_active_enrollments_is_refused_until_they_go_too(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let before = db.full_state();
    let class_only = delta(&[(
        "classes",
        vec![row("classes.csv", CLASS_1_1, "tobedeleted")],
    )]);
    let r = db.import(class_only.path(), opts());
    assert_eq!(r.status, Outcome::Rejected, "{}", r.to_text());
    assert_eq!(
        codes(&r),
        [("classes.csv".into(), 2, "tombstone_still_referenced")]
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "tombstone_still_referenced")
        .unwrap();
    assert!(
        f.message.contains("9 active stored record(s)"),
        "{}",
        f.message
    );
    assert!(f.message.contains("enrollments `"), "{}", f.message);
    let after = db.full_state();
    assert_eq!(
        before[..before.len() - 1],
        after[..after.len() - 1],
        "nothing written"
    );

    // With its enrollments tombstoned in the same delta, it applies.
    let enrollments: Vec<String> = enrollments_of(CLASS_1_1)
        .iter()
        .map(|id| row("enrollments.csv", id, "tobedeleted"))
        .collect();
    let both = delta(&[
        (
            "classes",
            vec![row("classes.csv", CLASS_1_1, "tobedeleted")],
        ),
        ("enrollments", enrollments),
    ]);
    let r = db.import(both.path(), opts());
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());

    // Now a new active enrollment in the tombstoned class is refused: the class is stored as a
    // tombstone.
    let new = format!(
        "0f0e0d0c-0b0a-4909-8807-060504030201,active,{WHEN},{CLASS_1_1},{SCHOOL},{S2},student,false,,,40,true"
    );
    let r = db.import(delta(&[("enrollments", vec![new])]).path(), opts());
    assert_eq!(
        codes(&r),
        [("enrollments.csv".into(), 2, "reference_to_tombstone")],
        "{}",
        r.to_text()
    );
}

fn an_active_row_cannot_reference_a_tombstone_of_the_same_bundle(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let enrollments: Vec<String> = enrollments_of(CLASS_1_1)
        .iter()
        .map(|id| row("enrollments.csv", id, "tobedeleted"))
        .chain(std::iter::once(format!(
            "0f0e0d0c-0b0a-4909-8807-060504030201,active,{WHEN},{CLASS_1_1},{SCHOOL},{S2},student,false,,,40,true"
        )))
        .collect();
    let b = delta(&[
        (
            "classes",
            vec![row("classes.csv", CLASS_1_1, "tobedeleted")],
        ),
        ("enrollments", enrollments),
    ]);
    let r = db.import(b.path(), opts());
    assert_eq!(
        codes(&r),
        [("enrollments.csv".into(), 11, "reference_to_tombstone")],
        "{}",
        r.to_text()
    );
}

fn org_parent_cycles_are_errors_in_the_bundle_and_against_the_store(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    // In one bulk file: a → c → b → a.
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    let orgs = b.read("orgs.csv");
    let (a, bb, c) = (
        "aaaaaaaa-0000-4000-8000-000000000001",
        "aaaaaaaa-0000-4000-8000-000000000002",
        "aaaaaaaa-0000-4000-8000-000000000003",
    );
    let cycle = format!("{a},,,A,district,,{c}\n{bb},,,B,district,,{a}\n{c},,,C,district,,{bb}\n");
    b.write("orgs.csv", &format!("{orgs}{cycle}"));
    let r = rosterhub::import::validate(b.path(), &opts(), &());
    let cycles: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "org_parent_cycle")
        .collect();
    assert_eq!(cycles.len(), 1, "{}", r.to_text());
    assert_eq!(cycles[0].line, Some(4));
    assert!(
        cycles[0]
            .message
            .contains(&format!("`{a}` → `{c}` → `{bb}` → `{a}`")),
        "{}",
        cycles[0].message
    );

    // A delta that makes the stored district the child of its own school.
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let district = row("orgs.csv", DISTRICT, "active");
    assert!(
        district.ends_with(','),
        "the district has no parent: {district}"
    );
    let looped = format!("{district}{SCHOOL}");
    let r = db.import(delta(&[("orgs", vec![looped])]).path(), opts());
    assert_eq!(
        codes(&r),
        [("orgs.csv".into(), 2, "org_parent_cycle")],
        "{}",
        r.to_text()
    );
}

fn tombstoning_an_unknown_id_is_a_warning(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let unknown = row("classes.csv", CLASS_1_1, "tobedeleted").replacen(
        CLASS_1_1,
        "99999999-0000-4000-8000-000000000009",
        1,
    );
    let r = db.import(delta(&[("classes", vec![unknown])]).path(), opts());
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    let w: Vec<_> = r.findings.iter().map(|f| (f.code, f.line)).collect();
    assert_eq!(w, [("tombstone_unknown", Some(2))]);
}

on_both_backends!(
    tombstoning_a_class_with_active_enrollments_is_refused_until_they_go_too,
    an_active_row_cannot_reference_a_tombstone_of_the_same_bundle,
    org_parent_cycles_are_errors_in_the_bundle_and_against_the_store,
    tombstoning_an_unknown_id_is_a_warning,
);
