//! The district's daily delta (`rosterhub generate --delta`) on a generated tenant, on both
//! backends: its counts are exact, and the tenant ends up as one that imported the delta's
//! outcome as a bulk bundle. The delta's rows are classified against just the stored records
//! they name (`ImportTx::expect_ids`), the bulk's against every stored record: one answer.

use std::collections::BTreeMap;
use std::path::Path;

use rosterhub::generate::{GenProfile, GenerateOptions, generate_dir};
use rosterhub::import::{ImportOptions, Outcome};

use crate::helpers::{Backend, TestDb, counts, opts};
use crate::on_both_backends;

/// 2,000 students: the delta changes 20 of them and withdraws 2.
const STUDENTS: u64 = 2_000;

const DELTA_FILES: [&str; 4] = [
    "users.csv",
    "roles.csv",
    "enrollments.csv",
    "demographics.csv",
];

fn generated(dir: &Path, delta: bool) {
    let options = GenerateOptions {
        students: STUDENTS,
        seed: 5,
        profile: GenProfile::JpV121,
        delta,
    };
    generate_dir(dir, &options).unwrap();
}

/// The bulk bundle `bulk` with the delta `delta` applied, written to `out`: the delta's changed
/// rows in place of the bulk's (status and dateLastModified empty, as bulk rows have them),
/// its withdrawn records left out.
fn merged(bulk: &Path, delta: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    for entry in std::fs::read_dir(bulk).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), out.join(entry.file_name())).unwrap();
    }
    for file in DELTA_FILES {
        // Generated cells hold no line breaks and a sourcedId no comma: lines are rows.
        let mut changes: BTreeMap<String, Option<String>> = BTreeMap::new();
        for line in std::fs::read_to_string(delta.join(file))
            .unwrap()
            .lines()
            .skip(1)
        {
            let [id, status, _modified, rest] = line.splitn(4, ',').collect::<Vec<_>>()[..] else {
                panic!("{file}: a row of fewer than four fields: {line}");
            };
            let row = (status == "active").then(|| format!("{id},,,{rest}"));
            changes.insert(id.to_owned(), row);
        }
        let text = std::fs::read_to_string(bulk.join(file)).unwrap();
        let mut lines = text.lines();
        let mut merged = format!("{}\n", lines.next().unwrap());
        for line in lines {
            let id = line.split(',').next().unwrap();
            match changes.get(id) {
                None => merged.push_str(line),
                Some(Some(changed)) => merged.push_str(changed),
                Some(None) => continue,
            }
            merged.push('\n');
        }
        std::fs::write(out.join(file), merged).unwrap();
    }
}

fn into(tenant: &str) -> ImportOptions {
    ImportOptions {
        tenant: tenant.into(),
        ..opts()
    }
}

fn a_daily_delta_leaves_the_tenant_as_its_bulk_outcome_would(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (bulk, delta, after) = (
        dir.path().join("bulk"),
        dir.path().join("delta"),
        dir.path().join("after"),
    );
    generated(&bulk, false);
    generated(&delta, true);
    merged(&bulk, &delta, &after);

    db.import_tenant("by_delta", &bulk);
    let r = db.import(&delta, into("by_delta"));
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    for entity in ["users", "roles", "enrollments"] {
        assert_eq!(counts(&r, entity), (0, 20, 0, 2), "{entity}");
    }
    assert_eq!(counts(&r, "demographics"), (0, 0, 0, 2));

    db.import_tenant("by_bulk", &bulk);
    let r = db.import(&after, into("by_bulk"));
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    assert_eq!(counts(&r, "users").3, 2);
    assert_eq!(db.dump("by_delta"), db.dump("by_bulk"));

    // The same delta again changes nothing: every record it names is found as it left it.
    let r = db.import(&delta, into("by_delta"));
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    for entity in ["users", "roles", "enrollments"] {
        assert_eq!(counts(&r, entity), (0, 0, 22, 0), "{entity}");
    }
    assert_eq!(counts(&r, "demographics"), (0, 0, 2, 0));
    assert_eq!(db.dump("by_delta"), db.dump("by_bulk"));
}

on_both_backends!(a_daily_delta_leaves_the_tenant_as_its_bulk_outcome_would);
