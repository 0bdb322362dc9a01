//! The April rollover (年次更新): a new 年度's first bulk no longer lists the graduating grade;
//! in rollover mode those students and last year's enrollments may go without holding the
//! import, while the withdrawal of other students still counts towards the threshold.

use rosterhub::import::rollover::Rollover;
use rosterhub::import::{ImportOptions, Outcome, Report};

use crate::helpers::{Backend, TempBundle, TestDb, counts, opts};

/// Last year's roster: the fixture with its second grade made the sixth (16 P6, 16 P1 students
/// and 4 teachers).
fn last_year() -> TempBundle {
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.edit_rows("users.csv", |_, row| {
        if row["grades"] == "P2" {
            row.insert("grades".into(), "P6".into());
        }
    });
    b
}

/// The users of `b` in `grade`, in file order.
fn in_grade(b: &TempBundle, grade: &str) -> Vec<String> {
    let mut ids = Vec::new();
    b.edit_rows("users.csv", |_, row| {
        if row["grades"] == grade {
            ids.push(row["sourcedId"].clone());
        }
    });
    ids
}

/// This year's first bulk: last year's without `gone` (their users, roles, enrollments and
/// demographics rows).
fn without(gone: &[String]) -> TempBundle {
    let b = last_year();
    for file in [
        "users.csv",
        "roles.csv",
        "enrollments.csv",
        "demographics.csv",
    ] {
        b.drop_rows(file, |line| {
            gone.iter().any(|id| line.contains(id.as_str()))
        });
    }
    b
}

fn rollover(threshold: f64) -> ImportOptions {
    ImportOptions {
        rollover: Some(Rollover::parse("").unwrap()),
        threshold,
        ..opts()
    }
}

fn finding<'a>(r: &'a Report, code: &str) -> Vec<&'a str> {
    r.findings
        .iter()
        .filter(|f| f.code == code)
        .map(|f| f.message.as_str())
        .collect()
}

fn only_unexpected_withdrawals_hold_a_rollover(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let b = last_year();
    assert_eq!(db.import(b.path(), opts()).status, Outcome::Applied);
    let graduates = in_grade(&b, "P6");
    assert_eq!(graduates.len(), 16);

    // Not in rollover mode, the graduating class alone holds the import.
    let plain = db.import(without(&graduates).path(), opts());
    assert_eq!(plain.status, Outcome::Held);
    assert_eq!(
        finding(&plain, "threshold_exceeded"),
        [
            "held: this import would tombstone 16 of 36 active users (44 %) and 16 of 36 active \
          enrollments (44 %), more than the 30 % safety threshold; nothing was written (re-run \
          with --force to apply it)"
        ]
    );

    // The graduating class and two second-graders who left: held for the two alone.
    let mut gone = graduates.clone();
    gone.extend(in_grade(&b, "P1").into_iter().take(2));
    let held = db.import(without(&gone).path(), rollover(0.05));
    assert_eq!(held.status, Outcome::Held);
    assert_eq!(
        finding(&held, "threshold_exceeded"),
        [
            "held: this import would tombstone 2 of 36 active users (6 %) besides the rollover's \
          expected ones, more than the 5 % safety threshold; nothing was written (re-run with \
          --force to apply it)"
        ]
    );
    assert_eq!(
        finding(&held, "rollover_expected"),
        [
            "rollover (年次更新): 16 users and 18 enrollments tombstoned as expected — last year's \
          enrollments and the students of the graduating grades P6,J3,H3 — not counted towards \
          the safety threshold"
        ]
    );
    assert_eq!(db.count("users", "default"), 36);

    // Below the threshold the same two are applied with the rest.
    let two_of_36 = db.import(without(&gone).path(), rollover(0.06));
    assert_eq!(two_of_36.status, Outcome::Applied);

    // A rollover that loses only its graduates applies at any threshold.
    let db2 = TestDb::new(backend).unwrap();
    db2.import(b.path(), opts());
    let applied = db2.import(without(&graduates).path(), rollover(0.0));
    assert_eq!(applied.status, Outcome::Applied, "{:?}", applied.findings);
    assert_eq!(counts(&applied, "users"), (0, 0, 20, 16));
    assert_eq!(finding(&applied, "threshold_exceeded"), Vec::<&str>::new());
    assert_eq!(
        db2.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM users WHERE status = 'active'"),
        "20"
    );
}

crate::on_both_backends!(only_unexpected_withdrawals_hold_a_rollover);
