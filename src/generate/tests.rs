use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};

use super::*;
use crate::domain::ids::{GradeCode, SchoolCode, is_local_government_code, is_uuid_v4_lower};

fn opts(students: u64, seed: u64, profile: GenProfile) -> GenerateOptions {
    GenerateOptions {
        students,
        seed,
        profile,
        delta: false,
    }
}

fn zip_bytes(o: &GenerateOptions) -> (Vec<u8>, GenerateSummary) {
    let mut cur = Cursor::new(Vec::new());
    let summary = generate_zip(&mut cur, o).unwrap();
    (cur.into_inner(), summary)
}

/// file name → contents, in archive order.
fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            (f.name().unwrap().into_owned(), s)
        })
        .collect()
}

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn parse(text: &str) -> Table {
        let mut r = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let header = r.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
            .collect();
        Table { header, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let i = self.col(name);
        self.rows.iter().map(move |r| r[i].as_str())
    }
}

fn tables(bytes: &[u8]) -> HashMap<String, Table> {
    unzip(bytes)
        .into_iter()
        .map(|(n, s)| (n, Table::parse(&s)))
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, _) = zip_bytes(&opts(1000, 42, GenProfile::JpV121));
    let (b, _) = zip_bytes(&opts(1000, 42, GenProfile::JpV121));
    let (c, _) = zip_bytes(&opts(1000, 43, GenProfile::JpV121));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn summary_matches_the_files() {
    let (bytes, summary) = zip_bytes(&opts(2500, 7, GenProfile::JpV121));
    assert_eq!(summary.bytes, bytes.len() as u64);
    let files = unzip(&bytes);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest.csv",
            "academicSessions.csv",
            "classes.csv",
            "courses.csv",
            "demographics.csv",
            "enrollments.csv",
            "orgs.csv",
            "roles.csv",
            "users.csv"
        ]
    );
    assert_eq!(summary.files.len(), files.len());
    for ((name, text), (sname, rows)) in files.iter().zip(&summary.files) {
        assert_eq!(name, sname);
        assert!(!text.starts_with('\u{feff}') && !text.contains('\r') && text.ends_with('\n'));
        assert_eq!(text.lines().count() as u64 - 1, *rows, "{name}");
        assert!(*rows > 0, "{name}");
    }
    let demographics = summary
        .files
        .iter()
        .find(|(n, _)| n == "demographics.csv")
        .unwrap();
    assert_eq!(demographics.1, 2500);
}

#[test]
fn manifest_lists_every_file() {
    for (profile, version) in [(GenProfile::JpV121, "1.2"), (GenProfile::JpK12, "1.2_JP")] {
        let (bytes, _) = zip_bytes(&opts(10, 1, profile));
        let t = tables(&bytes);
        let m = &t["manifest.csv"];
        assert_eq!(m.header, ["propertyName", "value"]);
        let props: Vec<(&str, &str)> = m
            .rows
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect();
        assert_eq!(props[0], ("manifest.version", "1.0"));
        assert_eq!(props[1], ("oneroster.version", version));
        let files: Vec<&str> = props[2..23]
            .iter()
            .map(|p| p.0.strip_prefix("file.").unwrap())
            .collect();
        assert_eq!(files, FILE_NAMES);
        for (name, mode) in &props[2..23] {
            let present = t.contains_key(&format!("{}.csv", &name[5..]));
            assert_eq!(*mode, if present { "bulk" } else { "absent" }, "{name}");
        }
        assert_eq!(props[23], ("source.systemName", "RosterHub generator"));
        assert_eq!(props[24], ("source.systemCode", "rosterhub-generate"));
        assert_eq!(props.len(), 25);
    }
}

#[test]
fn headers_equal_the_fixtures() {
    for (profile, dir) in [
        (GenProfile::JpV121, "jp-profile-v1.2.1"),
        (GenProfile::JpK12, "jp-k12-1.2_JP"),
    ] {
        let (bytes, _) = zip_bytes(&opts(1000, 3, profile));
        for (name, text) in unzip(&bytes) {
            let path = format!("{}/tests/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
            let fixture = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(text.lines().next(), fixture.lines().next(), "{dir}/{name}");
        }
    }
}

/// Columns that hold one or more sourcedIds (or UUIDs).
fn is_id_column(name: &str) -> bool {
    name == "sourcedId"
        || name.ends_with("SourcedId")
        || name.ends_with("SourcedIds")
        || name == "userMasterIdentifier"
        || name == "metadata.jp.homeClass"
}

#[test]
fn ids_are_uuid_v4_unique_and_resolve() {
    let (bytes, _) = zip_bytes(&opts(3000, 11, GenProfile::JpK12));
    let t = tables(&bytes);
    let mut ids: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (name, table) in &t {
        if name == "manifest.csv" {
            continue;
        }
        for h in table.header.iter().filter(|h| is_id_column(h)) {
            for v in table.values(h).filter(|v| !v.is_empty()) {
                for id in v.split(',') {
                    assert!(is_uuid_v4_lower(id), "{name}.{h}: {id}");
                }
            }
        }
        let own: HashSet<&str> = table.values("sourcedId").collect();
        assert_eq!(own.len(), table.rows.len(), "{name}: duplicate sourcedIds");
        ids.insert(name.as_str(), own);
    }
    let refs = [
        ("orgs.csv", "parentSourcedId", "orgs.csv"),
        ("courses.csv", "schoolYearSourcedId", "academicSessions.csv"),
        ("courses.csv", "orgSourcedId", "orgs.csv"),
        ("classes.csv", "courseSourcedId", "courses.csv"),
        ("classes.csv", "schoolSourcedId", "orgs.csv"),
        ("classes.csv", "termSourcedIds", "academicSessions.csv"),
        ("users.csv", "primaryOrgSourcedId", "orgs.csv"),
        ("users.csv", "metadata.jp.homeClass", "classes.csv"),
        ("roles.csv", "userSourcedId", "users.csv"),
        ("roles.csv", "orgSourcedId", "orgs.csv"),
        ("enrollments.csv", "classSourcedId", "classes.csv"),
        ("enrollments.csv", "schoolSourcedId", "orgs.csv"),
        ("enrollments.csv", "userSourcedId", "users.csv"),
        ("demographics.csv", "sourcedId", "users.csv"),
    ];
    for (file, col, target) in refs {
        for v in t[file].values(col).filter(|v| !v.is_empty()) {
            assert!(ids[target].contains(v), "{file}.{col} {v} not in {target}");
        }
    }
    let users = &t["users.csv"];
    let masters: HashSet<&str> = users.values("userMasterIdentifier").collect();
    let usernames: HashSet<&str> = users.values("username").collect();
    assert_eq!(masters.len(), users.rows.len());
    assert_eq!(usernames.len(), users.rows.len());
}

#[test]
fn orgs_sessions_courses_follow_the_japan_profile() {
    let (bytes, _) = zip_bytes(&opts(5000, 5, GenProfile::JpV121));
    let t = tables(&bytes);
    let orgs = &t["orgs.csv"];
    let (mut elementary, mut junior) = (0, 0);
    for r in &orgs.rows {
        match r[orgs.col("type")].as_str() {
            "district" => {
                assert!(is_local_government_code(&r[orgs.col("identifier")]));
                assert_eq!(r[orgs.col("parentSourcedId")], "");
                assert_eq!(r[orgs.col("name")], "サンプル市教育委員会");
            }
            "school" => {
                let code = &r[orgs.col("identifier")];
                assert!(SchoolCode::parse(code).is_ok(), "{code}");
                if code.starts_with("B1") {
                    elementary += 1;
                    assert!(r[orgs.col("name")].ends_with("小学校"));
                } else {
                    assert!(code.starts_with("C1"));
                    junior += 1;
                    assert!(r[orgs.col("name")].ends_with("中学校"));
                }
            }
            other => panic!("org type {other}"),
        }
    }
    assert_eq!(orgs.rows.len(), 1 + 13);
    assert!(elementary > junior && junior > 0);
    assert!(orgs.values("name").any(|n| n == "サンプル市立第三小学校"));

    let s = &t["academicSessions.csv"];
    assert_eq!(s.rows.len(), 1);
    assert_eq!(
        s.rows[0][3..],
        [
            "2025年度",
            "schoolYear",
            "2025-04-01",
            "2026-03-31",
            "",
            "2025"
        ]
    );

    let courses = &t["courses.csv"];
    for r in &courses.rows {
        assert!(r[courses.col("title")].starts_with("2025年度"));
        assert_eq!(r[courses.col("courseCode")], "");
        for g in r[courses.col("grades")].split(',') {
            assert!(GradeCode::parse(g).is_some(), "{g}");
        }
    }
    // The special-needs course spans several grades: a quoted list in the raw file.
    let raw = unzip(&bytes)
        .into_iter()
        .find(|(n, _)| n == "courses.csv")
        .unwrap()
        .1;
    assert!(raw.contains(",\"P1,P2,P3,P4,P5,P6\","));
}

#[test]
fn classes_users_roles_enrollments_hang_together() {
    let students = 4321;
    let (bytes, _) = zip_bytes(&opts(students, 9, GenProfile::JpV121));
    let t = tables(&bytes);
    let (classes, users, roles, enr, demo) = (
        &t["classes.csv"],
        &t["users.csv"],
        &t["roles.csv"],
        &t["enrollments.csv"],
        &t["demographics.csv"],
    );
    assert_eq!(users.header.len(), 29);

    let class_school: HashMap<&str, &str> = classes
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[classes.col("schoolSourcedId")].as_str()))
        .collect();
    for r in &classes.rows {
        assert_eq!(r[classes.col("classType")], "homeroom");
        let sn = &r[classes.col("metadata.jp.specialNeeds")];
        assert!(sn == "false" || sn == "true");
        if sn == "false" {
            let title = &r[classes.col("title")];
            assert!(title.ends_with('組') && title.contains('年'), "{title}");
        }
    }

    // Exactly one primary role per user, at the school of the user's homeroom.
    let mut role_of: HashMap<&str, &str> = HashMap::new();
    for r in &roles.rows {
        assert_eq!(r[roles.col("roleType")], "primary");
        assert!(
            role_of
                .insert(&r[roles.col("userSourcedId")], &r[roles.col("role")])
                .is_none()
        );
    }
    assert_eq!(role_of.len(), users.rows.len());
    let teachers = role_of.values().filter(|r| **r == "teacher").count() as u64;
    assert_eq!(teachers, classes.rows.len() as u64);
    assert_eq!(enr.rows.len() as u64, students + teachers);
    assert_eq!(demo.rows.len() as u64, students);

    let mut grade_of: HashMap<&str, &str> = HashMap::new();
    for r in &users.rows {
        let id = r[0].as_str();
        assert_eq!(r[users.col("enabledUser")], "true");
        let home = &r[users.col("metadata.jp.homeClass")];
        assert_eq!(
            class_school[home.as_str()],
            r[users.col("primaryOrgSourcedId")]
        );
        let grades = &r[users.col("grades")];
        let kana = &r[users.col("metadata.jp.kanaFamilyName")];
        assert!(
            kana.chars().all(|c| ('\u{30a1}'..='\u{30fc}').contains(&c)),
            "{kana}"
        );
        assert!(!r[users.col("givenName")].is_empty());
        let username = &r[users.col("username")];
        assert_eq!(username, &r[users.col("email")]);
        assert!(username.ends_with("@sample-city.example.ed.jp"));
        let identifier = &r[users.col("identifier")];
        assert_eq!(r[users.col("userIds")], format!("{{Koumu:{identifier}}}"));
        if role_of[id] == "student" {
            assert!(GradeCode::parse(grades).is_some());
            grade_of.insert(id, grades);
        } else {
            assert_eq!(grades, "");
        }
    }

    // 出席番号 1..N per class; teachers primary, students not.
    let mut seats: HashMap<&str, Vec<u64>> = HashMap::new();
    for r in &enr.rows {
        let user = r[enr.col("userSourcedId")].as_str();
        let role = &r[enr.col("role")];
        assert_eq!(role, role_of[user]);
        assert_eq!(
            class_school[r[enr.col("classSourcedId")].as_str()],
            r[enr.col("schoolSourcedId")]
        );
        if role == "student" {
            assert_eq!(r[enr.col("primary")], "false");
            assert_eq!(r[enr.col("metadata.jp.PublicFlg")], "true");
            let n = r[enr.col("metadata.jp.ShussekiNo")].parse().unwrap();
            seats
                .entry(&r[enr.col("classSourcedId")])
                .or_default()
                .push(n);
        } else {
            assert_eq!(r[enr.col("primary")], "true");
            assert_eq!(r[enr.col("metadata.jp.ShussekiNo")], "");
        }
    }
    for (class, mut s) in seats {
        s.sort_unstable();
        assert!(s.iter().copied().eq(1..=s.len() as u64), "{class}");
        assert!(s.len() <= 35);
    }

    // Birth dates fit the grade for 2025年度 (P1: 2018-04-02 … 2019-04-01).
    for r in &demo.rows {
        let grade = grade_of[r[0].as_str()];
        let age = match grade.as_bytes() {
            [b'P', d] => i32::from(d - b'1'),
            [b'J', d] => 6 + i32::from(d - b'1'),
            _ => panic!("{grade}"),
        };
        let born = crate::domain::datetime::parse_date(&r[demo.col("birthDate")]).unwrap();
        let from = time::Date::from_calendar_date(2018 - age, time::Month::April, 2).unwrap();
        let to = time::Date::from_calendar_date(2019 - age, time::Month::April, 1).unwrap();
        assert!(from <= born && born <= to, "{grade} {born}");
        assert!(matches!(r[demo.col("sex")].as_str(), "male" | "female"));
    }
}

#[test]
fn rare_characters_appear() {
    let (bytes, _) = zip_bytes(&opts(20_000, 1, GenProfile::JpV121));
    let users = unzip(&bytes)
        .into_iter()
        .find(|(n, _)| n == "users.csv")
        .unwrap()
        .1;
    for c in ['𠮷', '髙', '齋'] {
        assert!(users.contains(c), "{c}");
    }
}

#[test]
fn folder_output_equals_zip_entries() {
    let o = opts(800, 99, GenProfile::JpK12);
    let (bytes, zsum) = zip_bytes(&o);
    let dir = tempfile::tempdir().unwrap();
    let dsum = generate_dir(dir.path(), &o).unwrap();
    assert_eq!(zsum.files, dsum.files);
    let mut total = 0;
    for (name, text) in unzip(&bytes) {
        let on_disk = std::fs::read_to_string(dir.path().join(&name)).unwrap();
        assert_eq!(on_disk, text, "{name}");
        total += on_disk.len() as u64;
    }
    assert_eq!(dsum.bytes, total);
}

#[test]
fn small_and_zero_sizes() {
    let (bytes, summary) = zip_bytes(&opts(1, 0, GenProfile::JpV121));
    assert!(summary.files.iter().all(|(_, rows)| *rows > 0));
    assert_eq!(tables(&bytes)["enrollments.csv"].rows.len(), 2);
    assert!(generate_zip(Cursor::new(Vec::new()), &opts(0, 0, GenProfile::JpV121)).is_err());
}

#[test]
fn profile_names_round_trip() {
    for p in [GenProfile::JpV121, GenProfile::JpK12] {
        assert_eq!(GenProfile::parse(p.name()), Some(p));
    }
    assert_eq!(GenProfile::parse("jp-1.2.1"), Some(GenProfile::JpV121));
    assert_eq!(GenProfile::parse("jp-k12"), Some(GenProfile::JpK12));
    assert_eq!(GenProfile::parse("1.2"), None);
}

#[test]
fn kanji_numbers() {
    use super::names::kanji_number;
    let cases = [
        (1, "一"),
        (3, "三"),
        (10, "十"),
        (12, "十二"),
        (20, "二十"),
        (105, "百五"),
        (1010, "千十"),
    ];
    for (n, s) in cases {
        assert_eq!(kanji_number(n), s);
    }
    assert_eq!(kanji_number(12_345), "一万二千三百四十五");
}

/// `cargo test --release --lib generate::tests::speed -- --ignored --nocapture`
#[test]
#[ignore]
fn speed_100k_students() {
    let file = tempfile::tempfile().unwrap();
    let start = std::time::Instant::now();
    let summary = generate_zip(
        std::io::BufWriter::new(file),
        &opts(100_000, 1, GenProfile::JpV121),
    )
    .unwrap();
    eprintln!(
        "100,000 students: {:?}, {} bytes, {:?}",
        start.elapsed(),
        summary.bytes,
        summary.files
    );
}

/// The delta of a district: per file, sourcedId → (status, the columns that differ from the
/// bulk row of the same id).
#[test]
fn a_delta_changes_one_in_a_hundred_and_withdraws_one_in_a_thousand() {
    let bulk = tables(&zip_bytes(&opts(5000, 3, GenProfile::JpV121)).0);
    let delta_opts = GenerateOptions {
        delta: true,
        ..opts(5000, 3, GenProfile::JpV121)
    };
    let (bytes, _) = zip_bytes(&delta_opts);
    let delta = tables(&bytes);
    let manifest = &delta["manifest.csv"];
    let modes: HashMap<&str, &str> = manifest
        .rows
        .iter()
        .filter_map(|r| Some((r[0].strip_prefix("file.")?, r[1].as_str())))
        .collect();
    for (file, mode) in &modes {
        let expected = match *file {
            "users" | "roles" | "enrollments" | "demographics" => "delta",
            _ => "absent",
        };
        assert_eq!(*mode, expected, "{file}");
    }
    let differing = |file: &str| -> Vec<(String, Vec<String>)> {
        let (b, d) = (&bulk[file], &delta[file]);
        assert_eq!(b.header, d.header, "{file}");
        let by_id: HashMap<&str, &Vec<String>> =
            b.rows.iter().map(|r| (r[0].as_str(), r)).collect();
        d.rows
            .iter()
            .map(|row| {
                let before = by_id[row[0].as_str()];
                let cols = (3..row.len())
                    .filter(|&i| row[i] != before[i])
                    .map(|i| d.header[i].clone())
                    .collect();
                assert_eq!(row[2], "2025-04-02T00:00:00.000Z");
                (row[1].clone(), cols)
            })
            .collect()
    };
    let count = |rows: &[(String, Vec<String>)], status: &str, cols: &[&str]| {
        rows.iter()
            .filter(|(s, c)| s == status && c.iter().map(String::as_str).eq(cols.iter().copied()))
            .count()
    };
    let users = differing("users.csv");
    let family = [
        "familyName",
        "preferredFamilyName",
        "metadata.jp.kanaFamilyName",
        "metadata.jp.kanaPreferredFamilyName",
    ];
    assert_eq!(count(&users, "active", &family), 50, "{users:?}");
    assert_eq!(count(&users, "tobedeleted", &[]), 5);
    assert_eq!(users.len(), 55);
    let roles = differing("roles.csv");
    assert_eq!(
        (
            count(&roles, "active", &["beginDate"]),
            count(&roles, "tobedeleted", &[])
        ),
        (50, 5)
    );
    let enrollments = differing("enrollments.csv");
    assert_eq!(
        (
            count(&enrollments, "active", &["metadata.jp.PublicFlg"]),
            count(&enrollments, "tobedeleted", &[])
        ),
        (50, 5)
    );
    let demographics = differing("demographics.csv");
    assert_eq!(
        (demographics.len(), count(&demographics, "tobedeleted", &[])),
        (5, 5)
    );
}
