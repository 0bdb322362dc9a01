//! Hostile and odd files: a record too long for memory, control characters, two ZIP entries
//! with one name, damaged UTF-8. Each is a finding with file and line, on both backends alike,
//! and nothing is written.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use rosterhub::import::{self, Report};

use crate::helpers::{Backend, TempBundle, TestDb, errors, fixtures, opts};
use crate::on_both_backends;

fn validate(path: &Path) -> Report {
    import::validate(path, &opts(), &())
}

/// The (code, file, line, column) of every finding.
fn coded(report: &Report) -> Vec<(&'static str, String, u64, String)> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.code,
                f.file.clone().unwrap_or_default(),
                f.line.unwrap_or(0),
                f.column.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// `validate` of the 1 MB ZIP whose orgs.csv is a header and one 1 GiB line: one finding at
/// line 2, and the process's peak memory stays under 100 MB (measured by GNU time, which
/// `.ci/run` installs; without it the memory half is skipped, saying so).
#[test]
fn a_gigabyte_line_is_a_finding_and_memory_stays_flat() {
    let zip = fixtures().join("hostile/long-line.zip");
    let report = validate(&zip);
    assert_eq!(
        coded(&report),
        [("record_too_long", "orgs.csv".into(), 2, String::new())],
        "{report:#?}"
    );
    if !Path::new("/usr/bin/time").exists() {
        println!("SKIPPED: peak memory of validate (no /usr/bin/time; apt-get install time)");
        return;
    }
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_rosterhub"))
        .args(["validate", zip.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "rejected");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let peak_kb: u64 = stderr.lines().last().unwrap().trim().parse().unwrap();
    assert!(peak_kb < 100 * 1024, "peak RSS {peak_kb} KB");
}

#[test]
fn a_cell_past_the_limit_and_a_header_with_too_many_columns_are_findings() {
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    let big = "x".repeat(70 * 1024);
    let users = b.read("users.csv");
    let second = users.lines().nth(1).unwrap().to_owned();
    // The familyName cell of the first user (a plain, unquoted cell) becomes 70 KiB.
    let cells: Vec<&str> = second.split(',').collect();
    let family = cells
        .iter()
        .position(|c| *c == "高橋")
        .expect("a family name");
    let mut long = cells.clone();
    long[family] = &big;
    b.replace("users.csv", &second, &long.join(","));
    let header = b.read("orgs.csv").lines().next().unwrap().to_owned();
    let wide: String = (0..1001).map(|i| format!(",metadata.x{i}")).collect();
    b.replace("orgs.csv", &header, &format!("{header}{wide}"));
    let report = validate(b.path());
    let got = coded(&report);
    assert!(
        got.contains(&("cell_too_long", "users.csv".into(), 2, "familyName".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&("too_many_columns", "orgs.csv".into(), 1, String::new())),
        "{got:?}"
    );
}

/// A NUL byte and another control character in cells: findings with file, line and column on
/// both backends, the import rejected and nothing written.
fn control_characters_are_findings_and_nothing_is_written(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.replace("users.csv", "高橋", "高\u{0}橋");
    b.replace("academicSessions.csv", "2025年度", "2025\u{7}年度");
    let report = db.import(b.path(), opts());
    let mut got: Vec<(String, u64, &str)> = errors(&report)
        .into_iter()
        .filter(|e| e.2 == "control_character")
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("academicSessions.csv".into(), 2, "control_character"),
            ("users.csv".into(), 2, "control_character"),
        ]
    );
    let nul = report
        .findings
        .iter()
        .find(|f| f.code == "control_character" && f.file.as_deref() == Some("users.csv"))
        .unwrap();
    assert_eq!(nul.column.as_deref(), Some("familyName"));
    assert!(nul.message.contains("U+0000"), "{}", nul.message);
    assert!(!nul.value.as_deref().unwrap_or("").contains('\u{0}'));
    assert_eq!(db.count("users", "default"), 0, "nothing written");
}

#[test]
fn a_zip_with_two_entries_of_one_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.zip");
    let src = fixtures().join("jp-profile-v1.2.1");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(&std::fs::read(entry.path()).unwrap())
            .unwrap();
    }
    // A second users.csv: the zip writer refuses duplicates, so write it under another name
    // of the same length and rename it in the central directory afterwards.
    zip.start_file("users.csX", options).unwrap();
    zip.write_all(b"sourcedId\n").unwrap();
    zip.finish().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let from = b"users.csX";
    let mut at = 0;
    while let Some(i) = bytes[at..].windows(from.len()).position(|w| w == from) {
        bytes[at + i + from.len() - 1] = b'v';
        at += i + from.len();
    }
    std::fs::write(&path, &bytes).unwrap();
    let report = validate(&path);
    let got = coded(&report);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "duplicate_entries");
    let message = &report.findings[0].message;
    assert!(message.contains("same name"), "{message}");
}

#[test]
fn damaged_utf8_is_located_and_not_called_shift_jis() {
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    let mut bytes = std::fs::read(b.path().join("courses.csv")).unwrap();
    let second_line = bytes.iter().position(|&c| c == b'\n').unwrap() + 1;
    bytes.splice(second_line..second_line, [0xC3, 0x28]);
    std::fs::write(b.path().join("courses.csv"), &bytes).unwrap();
    let report = validate(b.path());
    let f = report
        .findings
        .iter()
        .find(|f| f.file.as_deref() == Some("courses.csv"))
        .expect("a finding on courses.csv");
    assert_eq!(f.code, "encoding_invalid", "{f:?}");
    assert!(
        f.message
            .contains(&format!("line 2, byte offset {second_line} (bytes C3 28")),
        "{}",
        f.message
    );
    assert!(!f.message.contains("cp932"), "{}", f.message);
}

on_both_backends!(control_characters_are_findings_and_nothing_is_written);
