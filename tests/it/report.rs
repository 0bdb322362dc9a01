//! The report a person reads: findings in the order of the files (dependency order) and
//! lines, a count per code, and a dry run's table that says what *would* change.

use rosterhub::import::{self, Report};

use crate::helpers::{Backend, TestDb, fixtures, opts};

fn file_rank(file: Option<&str>) -> usize {
    const ORDER: [&str; 9] = [
        "orgs.csv",
        "academicSessions.csv",
        "courses.csv",
        "classes.csv",
        "users.csv",
        "roles.csv",
        "enrollments.csv",
        "demographics.csv",
        "userProfiles.csv",
    ];
    match file {
        None => 0,
        Some("manifest.csv") => 1,
        Some(f) => ORDER.iter().position(|o| *o == f).map_or(99, |i| i + 2),
    }
}

#[test]
fn findings_come_in_file_then_line_order_with_a_count_per_code() {
    let report = import::validate(&fixtures().join("invalid/many-defects-v1.2"), &opts(), &());
    let listed: Vec<&import::Finding> = report
        .findings
        .iter()
        .filter(|f| f.code != "findings_truncated")
        .collect();
    assert!(listed.len() > 20, "the bundle has many defects");
    let keys: Vec<(usize, u64)> = listed
        .iter()
        .map(|f| (file_rank(f.file.as_deref()), f.line.unwrap_or(0)))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "findings in file rank, line order");
    // The counts add up to every finding, listed or not.
    let total: u64 = report.findings_by_code.iter().map(|c| c.count).sum();
    assert_eq!(total, report.error_count + report.warning_count);
    let counts: Vec<u64> = report.findings_by_code.iter().map(|c| c.count).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    let text = report.to_text();
    let summary = text.split("findings by code:\n").nth(1).expect("a summary");
    let first = &report.findings_by_code[0];
    assert!(
        summary.starts_with(&format!("  {:>9}  {} (", first.count, first.code)),
        "{summary}"
    );
}

#[test]
fn a_dry_run_table_says_would() {
    let Some(db) = TestDb::new(Backend::Sqlite) else {
        return;
    };
    let report: Report = db.import(
        &fixtures().join("jp-profile-v1.2.1"),
        rosterhub::import::ImportOptions {
            dry_run: true,
            ..opts()
        },
    );
    let text = report.to_text();
    assert!(text.contains("would insert"), "{text}");
    assert!(!text.contains(" inserted "), "{text}");
    let applied = db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    assert!(applied.to_text().contains(" inserted "));
}

#[test]
fn a_file_finding_does_not_repeat_the_file_name() {
    let report = import::validate(&fixtures().join("encodings/sjis.zip"), &opts(), &());
    let sjis: Vec<&import::Finding> = report
        .findings
        .iter()
        .filter(|f| f.code == "encoding_shift_jis")
        .collect();
    assert!(!sjis.is_empty(), "{}", report.to_text());
    for f in sjis {
        let file = f.file.as_deref().unwrap();
        assert!(!f.message.contains(&format!("{file}:")), "{}", f.message);
    }
    assert!(!report.to_text().contains(".csv: orgs.csv:"));
}
