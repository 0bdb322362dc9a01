//! Field mappings: school lists (Shift_JIS / UTF-8, Japanese headers) imported through the
//! ordinary pipeline and read back over the REST API on both backends; findings in the
//! source's terms; `map convert` output valid and round-tripping; stored profiles over the
//! admin API (`api`).

pub(crate) mod api;
pub(crate) mod lists;

use rosterhub::auth::Scopes;
use rosterhub::import::{Outcome, Report};
use rosterhub::mapping::engine::{namespace, stable_id};
use rosterhub::mapping::run;
use serde_json::{Value, json};

use crate::helpers::cli::rosterhub;
use crate::helpers::{Backend, TestDb, counts, opts};
use crate::on_both_backends;
use crate::server::start_with;

const BASE: &str = "/ims/oneroster/rostering/v1p2";

/// One import of the lists through the test profile.
fn map_import(db: &TestDb, students: &str) -> Report {
    let store = db.store.clone();
    let students = students.to_owned();
    let task = db.rt.spawn_blocking(move || {
        run::import(
            &store,
            &lists::profile(),
            &lists::sources(&students),
            &lists::options(),
            &opts(),
            &(),
        )
        .unwrap()
    });
    db.rt.block_on(task).unwrap()
}

/// A collection read over HTTP with a roster-reading token.
fn get_all(db: &TestDb, collection: &str) -> Vec<Value> {
    let server = start_with(db, |_| {});
    db.block_on(async {
        let token = server
            .token_for(
                "default",
                Scopes::CORE
                    .union(Scopes::ROSTER)
                    .union(Scopes::DEMOGRAPHICS),
            )
            .await;
        let r = server
            .get_with(&format!("{BASE}/{collection}?limit=1000"), Some(&token))
            .await;
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.unwrap();
        body.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    })
}

/// A record without its `href`s (they name the test server's port) and `dateLastModified`.
fn without_links(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| *k != "href" && *k != "dateLastModified")
                .map(|(k, v)| (k.clone(), without_links(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_links).collect()),
        other => other.clone(),
    }
}

fn by<'a>(records: &'a [Value], key: &str, value: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no record with {key} = {value}"))
}

/// 佐藤 花子 (S0002, `ｻﾄｳ ﾊﾅｺ` in the list) as the OneRoster API serves her after the week-1
/// lists were imported through the test profile, without links and `dateLastModified`.
fn hanako() -> Value {
    let ns = namespace(&lists::profile(), "default");
    let org = stable_id(&ns, "org:B113210000019");
    let org_ref = json!({"sourcedId": org, "type": "org"});
    json!({
            "sourcedId": stable_id(&ns, "student:B113210000019:S0002"),
            "status": "active",
            "metadata": {
                "jp.kanaGivenName": "ハナコ",
                "jp.kanaFamilyName": "サトウ",
                "jp.homeClass": stable_id(&ns, "class:B113210000019:2025:P1:1"),
            },
            "username": "S0002",
            "enabledUser": "true",
            "givenName": "花子",
            "familyName": "佐藤",
            "roles": [{"roleType": "primary", "role": "student", "org": org_ref}],
            "primaryOrg": org_ref,
            "identifier": "S0002",
            "grades": ["P1"],
    })
}

fn lists_import_as_exact_records(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let report = map_import(&db, lists::STUDENTS);
    assert_eq!(report.status, Outcome::Applied, "{}", report.to_text());
    let users = get_all(&db, "users");
    assert_eq!(users.len(), 8);
    let hanako = by(&users, "identifier", "S0002");
    // Half-width kana in the list, full-width katakana in the record.
    assert_eq!(without_links(hanako), self::hanako());
    let ichiro = by(&users, "identifier", "S0003");
    assert_eq!(ichiro["metadata"]["jp.kanaGivenName"], "イチロウ");
    let principal = by(&users, "identifier", "T003");
    assert_eq!(principal["roles"][0]["role"], "principal");

    let classes = get_all(&db, "classes");
    let mut titles: Vec<&str> = classes
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, ["1年1組", "1年2組", "2年1組"]);
    let courses = get_all(&db, "courses");
    assert_eq!(courses.len(), 2);

    // 田中 is 担任 of 1年1組 and 1年2組: two teacher enrollments from one row.
    let tanaka = by(&users, "identifier", "T001")["sourcedId"].clone();
    let enrollments = get_all(&db, "enrollments");
    let mut taught: Vec<&str> = enrollments
        .iter()
        .filter(|e| e["user"]["sourcedId"] == tanaka)
        .map(|e| {
            let id = &e["class"]["sourcedId"];
            by(&classes, "sourcedId", id.as_str().unwrap())["title"]
                .as_str()
                .unwrap()
        })
        .collect();
    taught.sort();
    assert_eq!(taught, ["1年1組", "1年2組"]);
    assert_eq!(enrollments.len(), 5 + 3);

    let demographics = get_all(&db, "demographics");
    let taro = by(&users, "identifier", "S0001")["sourcedId"].clone();
    let d = by(&demographics, "sourcedId", taro.as_str().unwrap());
    assert_eq!(d["birthDate"], "2018-04-02");
    assert_eq!(d["sex"], "male");
    let hanako_d = by(
        &demographics,
        "sourcedId",
        hanako["sourcedId"].as_str().unwrap(),
    );
    assert_eq!(hanako_d["birthDate"], "2018-05-10");
    assert_eq!(hanako_d["sex"], "female");
    let orgs = get_all(&db, "orgs");
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["name"], "さくら市立さくら小学校");
    assert_eq!(orgs[0]["identifier"], "B113210000019");
    let sessions = get_all(&db, "academicSessions");
    assert_eq!(sessions[0]["title"], "2025年度");
    assert_eq!(sessions[0]["startDate"], "2025-04-01");
}

fn week_two_with_two_changes_is_two_updates(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    assert_eq!(map_import(&db, lists::STUDENTS).status, Outcome::Applied);
    let again = map_import(&db, lists::STUDENTS);
    let total = |r: &Report, i: usize| -> u64 {
        r.entities
            .keys()
            .map(|e| {
                let c = counts(r, e);
                [c.0, c.1, c.2, c.3][i]
            })
            .sum()
    };
    assert_eq!(
        (total(&again, 0), total(&again, 1), total(&again, 3)),
        (0, 0, 0)
    );
    let week2 = map_import(&db, &lists::students_week2());
    assert_eq!(week2.status, Outcome::Applied, "{}", week2.to_text());
    assert_eq!(counts(&week2, "users").1, 1);
    assert_eq!(counts(&week2, "demographics").1, 1);
    assert_eq!(
        (total(&week2, 0), total(&week2, 1), total(&week2, 3)),
        (0, 2, 0)
    );
    let users = get_all(&db, "users");
    assert_eq!(by(&users, "identifier", "S0002")["givenName"], "華子");

    // 高橋 moves from 1年2組 to 1年1組: her homeroom enrollment ends, a new one starts.
    let moved = lists::students_week2().replace(
        "S0004,高橋　美咲,タカハシ　ミサキ,小１,２組",
        "S0004,高橋　美咲,タカハシ　ミサキ,小１,１組",
    );
    let week3 = map_import(&db, &moved);
    assert_eq!(counts(&week3, "users"), (0, 1, 7, 0));
    assert_eq!(counts(&week3, "enrollments"), (1, 0, 7, 1));
    // 伊藤 transfers to another school: gone from the list, tombstoned.
    let left: String = moved
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("S0005"))
        .collect();
    let week4 = map_import(&db, &left);
    assert_eq!(week4.status, Outcome::Applied, "{}", week4.to_text());
    assert_eq!(counts(&week4, "users"), (0, 0, 7, 1));
    assert_eq!(counts(&week4, "enrollments"), (0, 0, 7, 1));
    assert_eq!(counts(&week4, "demographics"), (0, 0, 4, 1));
}

on_both_backends!(
    lists_import_as_exact_records,
    week_two_with_two_changes_is_two_updates,
    a_zip_of_lists_uploaded_with_mapping_auto_is_imported
);

fn check(students: &str) -> Report {
    let files = lists::sources(students);
    run::check(&lists::profile(), &files, &lists::options(), &opts())
        .unwrap()
        .1
}

#[test]
fn a_list_missing_a_column_is_refused_with_what_it_lacks() {
    let without_class = lists::STUDENTS.replace("クラス", "備考");
    let report = check(&without_class);
    assert_eq!(report.status, Outcome::Rejected);
    let f = &report.findings[0];
    assert_eq!(f.code, "mapping_layout_unknown");
    assert_eq!(f.file.as_deref(), Some("児童名簿.csv"));
    assert!(f.message.contains("組 / クラス / 学級"), "{}", f.message);
}

#[test]
fn an_unmapped_value_is_named_with_its_source_line_and_column() {
    let report = check(&lists::STUDENTS.replace("２,女,2018-07-15", "２,不明,2018-07-15"));
    assert_eq!(report.status, Outcome::Rejected);
    let f = &report.findings[0];
    assert_eq!(
        (
            f.code,
            f.file.as_deref(),
            f.line,
            f.column.as_deref(),
            f.value.as_deref()
        ),
        (
            "mapping_value_unmapped",
            Some("児童名簿.csv"),
            Some(5),
            Some("性別"),
            Some("不明")
        )
    );
    assert!(f.message.contains("\"sex\""), "{}", f.message);
}

#[test]
fn a_repeated_student_number_names_both_lines() {
    let report = check(&lists::STUDENTS.replace("S0003", "S0001"));
    assert_eq!(report.status, Outcome::Rejected);
    let f = &report.findings[0];
    assert_eq!(
        (f.code, f.file.as_deref(), f.line, f.column.as_deref()),
        (
            "mapping_duplicate_id",
            Some("児童名簿.csv"),
            Some(4),
            Some("児童生徒番号")
        )
    );
    assert!(f.message.contains("line 2"), "{}", f.message);
}

#[test]
fn pipeline_findings_name_the_source_line_not_the_bundle() {
    // A 学校コード column with a wrong check digit: the pipeline checks orgs.csv, the finding
    // points at the list's first row and its 学校コード column.
    let students = lists::STUDENTS
        .replace("児童生徒番号,", "学校コード,児童生徒番号,")
        .replace("\r\nS", "\r\nB113210000010,S");
    let report = check(&students);
    assert_eq!(report.status, Outcome::Rejected, "{}", report.to_text());
    let f = report
        .findings
        .iter()
        .find(|f| f.code == "jp_school_code")
        .unwrap();
    assert_eq!(
        (f.file.as_deref(), f.line, f.column.as_deref()),
        (Some("児童名簿.csv"), Some(2), Some("学校コード"))
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.file.as_deref() != Some("orgs.csv")),
        "{}",
        report.to_text()
    );
}

#[test]
fn converted_bundle_validates_and_round_trips() {
    let Some(db) = TestDb::new(Backend::Sqlite) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (profile, files) = lists::write(dir.path(), lists::STUDENTS);
    let zip = dir.path().join("bundle.zip");
    let mut args = vec!["map", "convert", profile.to_str().unwrap()];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.push(zip.to_str().unwrap());
    args.extend(["--school-year", "2025"]);
    let (code, out, err) = rosterhub(&args).run();
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = rosterhub(&["validate", zip.to_str().unwrap()]).run();
    assert_eq!(code, 0, "{out}");
    let (code, out, err) = rosterhub(&["import", zip.to_str().unwrap()]).db(&db).run();
    assert_eq!(code, 0, "{out}{err}");
    let bundle_state = db.dump("default");
    // The same lists imported directly: nothing changes.
    let mut args = vec![
        "import",
        "--mapping",
        profile.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let (code, out, err) = rosterhub(&args).db(&db).run();
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    for (entity, c) in report["entities"].as_object().unwrap() {
        assert_eq!(
            (c["inserted"].as_u64(), c["updated"].as_u64()),
            (Some(0), Some(0)),
            "{entity}"
        );
    }
    assert_eq!(db.dump("default"), bundle_state);
}

#[test]
fn map_check_shows_the_layout_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, files) = lists::write(dir.path(), lists::STUDENTS);
    let mut args = vec![
        "map",
        "check",
        "auto",
        "--school",
        "B113210000019:さくら小学校",
    ];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let (code, out, _) = rosterhub(&args).run();
    // Without a school type the bare 学年 "２" of S0005 is not a grade: the finding says where.
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("児童名簿.csv: 児童生徒名簿, Shift_JIS"),
        "{out}"
    );
    assert!(
        out.contains("教職員名簿.csv: 教職員名簿, UTF-8 (BOM)"),
        "{out}"
    );
    assert!(out.contains("児童名簿.csv:6"), "{out}");
}

#[test]
fn profile_errors_give_the_line() {
    use rosterhub::mapping::profile::MappingProfile;
    let syntax =
        MappingProfile::parse("{\n  \"version\": 1,\n  \"school\": {\"code\": }\n}").unwrap_err();
    assert_eq!(syntax.line, Some(3), "{syntax}");
    let field = MappingProfile::parse(
        "{\n  \"version\": 1,\n  \"layouts\": {\n    \"x\": {\n      \"kind\": \"students\",\n      \"columns\": {\"studentid\": \"番号\"}\n    }\n  }\n}",
    )
    .unwrap_err();
    assert_eq!(field.line, Some(6), "{field}");
    assert!(
        field
            .to_string()
            .starts_with("line 6: layout \"x\": unknown field \"studentid\""),
        "{field}"
    );
    let version = MappingProfile::parse("{\"version\": 2}").unwrap_err();
    assert_eq!(
        version.to_string(),
        "line 1: version 2 is not supported: this RosterHub reads version 1"
    );
}

#[test]
fn a_profile_layout_adds_spellings_templates_and_constants() {
    use rosterhub::mapping::profile::MappingProfile;
    let profile = MappingProfile::parse(
        r#"{"version": 1,
            "school": {"code": "B113210000019", "type": "elementary"},
            "schoolYear": 2025,
            "layouts": {"さくら": {"kind": "students", "extends": "児童生徒名簿",
                                   "columns": {"student_id": ["個人番号"], "name": "{姓}　{名}",
                                               "class": "=1"}}},
            "templates": {"class_title": "{学年}年{組}組（さくら）"}}"#,
    )
    .unwrap();
    let list = "個人番号,学年,姓,名\nK1,1,山田,太郎\n";
    let files = [rosterhub::mapping::engine::SourceFile {
        name: "list.csv".into(),
        bytes: list.as_bytes().to_vec(),
    }];
    let (mapped, report) = run::check(&profile, &files, &lists::options(), &opts()).unwrap();
    assert_eq!(report.status, Outcome::Valid, "{}", report.to_text());
    assert_eq!(mapped.detected[0].0, "さくら");
    let users = &mapped.tables[&rosterhub::domain::Entity::Users];
    assert_eq!(
        (users.get(0, "familyName"), users.get(0, "givenName")),
        (Some("山田"), Some("太郎"))
    );
    let classes = &mapped.tables[&rosterhub::domain::Entity::Classes];
    assert_eq!(classes.get(0, "title"), Some("1年1組（さくら）"));
}

fn a_zip_of_lists_uploaded_with_mapping_auto_is_imported(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = crate::server::Server::start(&db, "default", crate::server::test_config());
    // The built-in layouts know no school type: the grades say 小.
    let students = lists::STUDENTS.replace(
        "S0005,伊藤　健太,イトウ　ケンタ,２",
        "S0005,伊藤　健太,イトウ　ケンタ,小２",
    );
    let staff = lists::STAFF
        .replace(",1,1・2", ",小1,1・2")
        .replace(",2,1", ",小2,1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("児童名簿.csv"), lists::sjis(&students)).unwrap();
    std::fs::write(dir.path().join("教職員名簿.csv"), staff).unwrap();
    let zip = crate::server::zip_dir(dir.path());
    db.rt.block_on(async {
        let (status, body, headers) = server
            .upload("?mapping=auto&school=B113210000019&school_year=2025", zip)
            .await;
        assert_eq!(status, 202, "{body}");
        let job = server.wait(headers["location"].to_str().unwrap()).await;
        assert_eq!(job["report"]["status"], "applied", "{job}");
        assert_eq!(job["report"]["entities"]["users"]["inserted"], 8, "{job}");
        let (status, body, _) = server.upload("?mapping=school.json", vec![b'a']).await;
        assert_eq!(status, 400, "{body}");
    });
    assert_eq!(db.count("users", "default"), 8);
}
