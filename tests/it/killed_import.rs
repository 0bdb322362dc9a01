//! A `rosterhub import` killed (SIGKILL: no clean-up of any kind) in the middle of writing
//! leaves the database exactly as it was, on both backends: the import is one transaction, so
//! the rows it had written are never visible and nothing of them remains; the next import
//! applies as if the killed one had never run. It is killed while it reads enrollments.csv, when
//! one thread parses and checks rows and a second stages them into the transaction
//! (`import/stager.rs`).

use std::io::{BufRead, BufReader};
use std::time::Duration;

use rosterhub::generate::{GenProfile, GenerateOptions, generate_zip};
use rosterhub::import::Outcome;

use crate::helpers::cli::rosterhub;
use crate::helpers::{Backend, TestDb, counts, fixtures, opts};
use crate::on_both_backends;

fn a_killed_import_leaves_the_database_as_before(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let before = db.full_state();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.zip");
    let options = GenerateOptions {
        students: 20_000,
        seed: 11,
        profile: GenProfile::JpV121,
        delta: false,
    };
    generate_zip(std::fs::File::create(&big).unwrap(), &options).unwrap();

    let mut child = rosterhub(&["import", big.to_str().unwrap(), "--force"])
        .db(&db)
        .env(&[("RUST_LOG", "rosterhub::import=debug"), ("NO_COLOR", "1")])
        .start();
    // The import logs each file as it starts reading it: once it reads enrollments.csv, the
    // users and roles of 20,000 students are written into its open transaction.
    let log = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in log.lines() {
        let line = line.unwrap();
        let reading = line.contains("reading") && line.contains("enrollments.csv");
        seen.push(line);
        if reading {
            break;
        }
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import ended before it was killed: {seen:#?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        db.full_state(),
        before,
        "a killed import left something behind"
    );

    // Nothing is left locked or half-made: the same bundle now applies in full.
    std::thread::sleep(Duration::from_millis(100));
    let r = db.import(
        &big,
        rosterhub::import::ImportOptions {
            force: true,
            ..opts()
        },
    );
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    // Every user of the bundle is new, and the fixture's 36 are withdrawn.
    assert_eq!(Some(counts(&r, "users").0), r.rows["users"].as_u64());
    assert_eq!(counts(&r, "users").3, 36);
}

on_both_backends!(a_killed_import_leaves_the_database_as_before);
