//! The import pipeline against real databases: the same tests on SQLite and PostgreSQL.

use rosterhub::csv::EncodingChoice;
use rosterhub::domain::Entity;
use rosterhub::import::{ImportOptions, Outcome};

use crate::helpers::{Backend, TempBundle, TestDb, counts, errors, fixtures, opts};
use crate::on_both_backends;

const S1: &str = "de274027-6f10-4912-9777-f62c295f0e8f"; // 翔太 高橋, 1年1組
const S2: &str = "8b317a29-3002-475c-85e9-97033759db35"; // 𠮷田 中村
const CLASS_1_1: &str = "63df3d0e-1fa9-4601-b56a-a91ad2346995";

fn bulk_import_of_the_fixture_inserts_every_record_exactly(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let indexes = db.index_count();
    let r = db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    assert_eq!(r.profile.as_deref(), Some("jp-1.2.1"));
    assert_eq!(
        db.index_count(),
        indexes,
        "indexes dropped for a first load are rebuilt"
    );
    let expected = [
        ("orgs", 2),
        ("academicSessions", 1),
        ("courses", 2),
        ("classes", 4),
        ("users", 36),
        ("roles", 36),
        ("enrollments", 36),
        ("demographics", 32),
    ];
    for (name, n) in expected {
        assert_eq!(counts(&r, name), (n, 0, 0, 0), "{name}");
        let e = Entity::from_name(name).unwrap();
        assert_eq!(
            db.count(e.table(), "default"),
            n,
            "{name} rows in the database"
        );
    }
    let row = &db.rows(&format!(
        "SELECT given_name, family_name, grades, enabled_user, metadata, status, primary_org_sourced_id, \
         CAST(date_last_modified AS TEXT), import_id FROM users WHERE sourced_id = '{S2}'"
    ))[0];
    assert_eq!(
        row[0].as_deref(),
        Some("𠮷田"),
        "characters outside the BMP survive"
    );
    assert_eq!(row[1].as_deref(), Some("中村"));
    assert_eq!(row[2].as_deref(), Some("P1"));
    assert_eq!(row[3].as_deref(), Some("true"));
    assert_eq!(
        row[4].as_deref(),
        Some(
            r#"{"jp.kanaGivenName":"ヨシダ","jp.kanaFamilyName":"ナカムラ","jp.homeClass":"63df3d0e-1fa9-4601-b56a-a91ad2346995"}"#
        )
    );
    assert_eq!(row[5].as_deref(), Some("active"));
    assert_eq!(
        row[6].as_deref(),
        Some("90547f17-4e22-48f2-9c47-bff459705477")
    );
    assert_eq!(
        row[8].as_deref(),
        r.import_id.as_deref(),
        "stamped with the import"
    );
    // The import's own record.
    let rec = &db.rows("SELECT status, profile FROM imports")[0];
    assert_eq!(rec[0].as_deref(), Some("applied"));
    assert_eq!(rec[1].as_deref(), Some("jp-1.2.1"));
}

fn reimporting_the_same_bundle_changes_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let bundle = fixtures().join("jp-profile-v1.2.1");
    db.import(&bundle, opts());
    let before = db.full_state();
    let r = db.import(&bundle, opts());
    assert_eq!(r.status, Outcome::Applied);
    for e in Entity::ALL.iter().filter(|e| **e != Entity::UserProfiles) {
        let (i, u, _, t) = counts(&r, e.name());
        assert_eq!((i, u, t), (0, 0, 0), "{e} must be all unchanged");
    }
    assert_eq!(counts(&r, "users").2, 36);
    let after = db.full_state();
    // Same records, same dateLastModified and updated_at; only the import log grew by one.
    assert_eq!(before[..before.len() - 1], after[..after.len() - 1]);
}

fn a_second_bulk_tombstones_absent_records_and_reactivates_returning_ones(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let full = fixtures().join("jp-profile-v1.2.1");
    let first = db.import(&full, opts());
    let first_time = db.scalar(&format!(
        "SELECT CAST(date_last_modified AS TEXT) FROM users WHERE sourced_id = '{S1}'"
    ));

    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.remove_user(S1);
    b.remove_user(S2);
    b.replace("users.csv", ",蓮,高橋,", ",蓮,髙橋,");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let second = db.import(b.path(), opts());
    assert_eq!(second.status, Outcome::Applied, "{}", second.to_text());
    assert_eq!(counts(&second, "users"), (0, 1, 33, 2));
    assert_eq!(counts(&second, "enrollments"), (0, 0, 34, 2));
    assert_eq!(counts(&second, "demographics"), (0, 0, 30, 2));
    let row = &db.rows(&format!(
        "SELECT status, CAST(date_last_modified AS TEXT), import_id FROM users WHERE sourced_id = '{S1}'"
    ))[0];
    assert_eq!(
        row[0].as_deref(),
        Some("tobedeleted"),
        "absent from a bulk file: a tombstone, not a deletion"
    );
    assert_ne!(
        row[1].as_deref(),
        Some(first_time.as_str()),
        "stamped with the second import's time"
    );
    assert_eq!(row[2].as_deref(), second.import_id.as_deref());
    assert_eq!(db.count("users", "default"), 36, "tombstones are kept");
    assert_ne!(first.import_id, second.import_id);

    let third = db.import(&full, opts());
    assert_eq!(
        counts(&third, "users"),
        (0, 3, 33, 0),
        "two reactivated, one renamed back"
    );
    assert_eq!(
        db.scalar(&format!(
            "SELECT status FROM users WHERE sourced_id = '{S1}'"
        )),
        "active"
    );
}

fn delta_import_upserts_and_tombstones_against_stored_data(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    for f in [
        "orgs",
        "academicSessions",
        "courses",
        "users",
        "roles",
        "demographics",
    ] {
        b.set_mode(f, "absent");
        b.remove(&format!("{f}.csv"));
    }
    b.set_mode("classes", "delta");
    b.set_mode("enrollments", "delta");
    let classes = b.read("classes.csv");
    let class_row = classes.lines().nth(1).unwrap();
    let renamed = class_row.replacen(
        ",,,1年1組,",
        ",active,2025-06-01T09:00:00+09:00,1年1組（さくら）,",
        1,
    );
    b.write(
        "classes.csv",
        &format!("{}\n{renamed}\n", classes.lines().next().unwrap()),
    );
    let enrollments = b.read("enrollments.csv");
    let mut lines = enrollments.lines();
    let header = lines.next().unwrap();
    let withdraw = lines.find(|l| l.contains(S1)).unwrap().replacen(
        ",,,",
        ",tobedeleted,2025-06-01T00:00:00.000Z,",
        1,
    );
    // A new enrollment of a stored user in a stored class: references resolve against the store.
    let new = format!(
        "0f0e0d0c-0b0a-4909-8807-060504030201,active,2025-06-01T00:00:00.000Z,{CLASS_1_1},90547f17-4e22-48f2-9c47-bff459705477,{S2},student,false,,,40,true"
    );
    b.write("enrollments.csv", &format!("{header}\n{withdraw}\n{new}\n"));
    let r = db.import(b.path(), opts());
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    assert_eq!(counts(&r, "classes"), (0, 1, 0, 0));
    assert_eq!(counts(&r, "enrollments"), (1, 0, 0, 1));
    assert_eq!(
        db.scalar(&format!(
            "SELECT title FROM classes WHERE sourced_id = '{CLASS_1_1}'"
        )),
        "1年1組（さくら）"
    );
    let src = db.scalar(&format!("SELECT CAST(source_date_last_modified AS TEXT) FROM classes WHERE sourced_id = '{CLASS_1_1}'"));
    assert_eq!(
        src, "1748736000000",
        "the source's own time is kept, normalised to UTC"
    );
    assert_eq!(
        db.scalar(&format!(
            "SELECT status FROM enrollments WHERE user_sourced_id = '{S1}'"
        )),
        "tobedeleted"
    );
    assert_eq!(db.count("enrollments", "default"), 37);
    // Untouched entities keep their records and times.
    assert_eq!(db.count("users", "default"), 36);

    // A delta that references a user nobody has: rejected, nothing written.
    let before = db.full_state();
    let bad = new
        .replace(S2, "99999999-9999-4999-8999-999999999999")
        .replace("0f0e0d0c", "1f0e0d0c");
    b.write("enrollments.csv", &format!("{header}\n{bad}\n"));
    b.set_mode("classes", "absent");
    b.remove("classes.csv");
    let r = db.import(b.path(), opts());
    assert_eq!(r.status, Outcome::Rejected);
    assert_eq!(
        errors(&r),
        [("enrollments.csv".to_owned(), 2, "unresolved_reference")]
    );
    let after = db.full_state();
    assert_eq!(before[..before.len() - 1], after[..after.len() - 1]);
}

fn a_dry_run_plans_but_writes_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let r = db.import(
        &fixtures().join("jp-profile-v1.2.1"),
        ImportOptions {
            dry_run: true,
            ..opts()
        },
    );
    assert_eq!(r.status, Outcome::DryRun);
    assert_eq!(counts(&r, "users"), (36, 0, 0, 0));
    for e in Entity::ALL {
        assert_eq!(db.count(e.table(), "default"), 0, "{e}");
    }
    assert_eq!(
        db.scalar("SELECT status FROM imports"),
        "dry_run",
        "the plan is kept as history"
    );
}

fn the_threshold_holds_an_import_that_would_tombstone_too_many(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let before = db.full_state();
    // Keep only the teachers and the first 4 students of 1年1組: 31 of 36 users would go.
    let b = TempBundle::shrinking();
    let r = db.import(b.path(), opts());
    assert_eq!(r.status, Outcome::Held, "{}", r.to_text());
    assert_eq!(r.status.exit_code(), 3);
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "threshold_exceeded" && f.message.contains("31 of 36 active users"))
    );
    let after = db.full_state();
    assert_eq!(
        before[..before.len() - 1],
        after[..after.len() - 1],
        "held: nothing written"
    );
    // A dry run of the same bundle is never held: it says the import would be.
    let dry = db.import(
        b.path(),
        ImportOptions {
            dry_run: true,
            ..opts()
        },
    );
    assert_eq!(dry.status, Outcome::DryRun, "{}", dry.to_text());
    assert!(dry.findings.iter().any(|f| {
        f.code == "threshold_exceeded"
            && f.message
                .starts_with("would be held: this import would tombstone 31 of 36 active users")
    }));

    let forced = db.import(
        b.path(),
        ImportOptions {
            force: true,
            ..opts()
        },
    );
    assert_eq!(forced.status, Outcome::Applied);
    assert_eq!(counts(&forced, "users").3, 31);
}

fn a_failure_in_the_middle_of_apply_leaves_no_trace(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let full = fixtures().join("jp-profile-v1.2.1");
    // Into an empty database…
    let indexes = db.index_count();
    let err = db.try_import(
        &full,
        ImportOptions {
            fail_after: Some(Entity::Users),
            ..opts()
        },
    );
    assert!(err.is_err());
    assert_eq!(db.index_count(), indexes);
    for e in Entity::ALL {
        assert_eq!(db.count(e.table(), "default"), 0, "{e}");
    }
    // …and into one with data.
    db.import(&full, opts());
    let before = db.full_state();
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.remove_user(S1);
    b.replace("users.csv", ",蓮,高橋,", ",蓮,髙橋,");
    let err = db.try_import(
        b.path(),
        ImportOptions {
            fail_after: Some(Entity::Enrollments),
            ..opts()
        },
    );
    assert!(err.is_err());
    assert_eq!(db.full_state(), before);
}

fn the_many_defect_bundle_reports_each_defect_and_writes_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let r = db.import(&fixtures().join("invalid/many-defects-v1.2"), opts());
    assert_eq!(r.status, Outcome::Rejected);
    let errs = errors(&r);
    let has = |file: &str, line: u64, code: &str| {
        errs.iter()
            .any(|(f, l, c)| f == file && *l == line && *c == code)
    };
    for (file, line, code) in [
        ("manifest.csv", 21, "manifest_invalid_mode"),
        ("roles.csv", 1, "header_mismatch"),
        ("roles.csv", 1, "header_empty_column"),
        ("users.csv", 1, "header_mismatch"),
        ("users.csv", 2, "invalid_boolean"),
        ("classes.csv", 2, "invalid_vocabulary"),
        ("orgs.csv", 2, "unresolved_reference"),
        ("roles.csv", 2, "column_count"),
        ("userprofiles.csv", 0, "unexpected_file"),
    ] {
        assert!(
            has(file, line, code),
            "missing {file}:{line} {code} in {errs:#?}"
        );
    }
    let warns: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "bulk_status_ignored" && f.value.as_deref() == Some("inactive"))
        .collect();
    assert_eq!(warns.len(), 1, "the legacy `inactive` status is named");
    assert_eq!(warns[0].line, Some(4));
    for e in Entity::ALL {
        assert_eq!(db.count(e.table(), "default"), 0, "{e}");
    }
}

fn encoding_variants_import_like_the_plain_bundle(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let enc = fixtures().join("encodings");
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let plain = db.dump("default");
    assert!(!plain.is_empty());
    for variant in ["bom.zip", "crlf.zip", "nested_dir.zip"] {
        let tenant = variant.trim_end_matches(".zip");
        db.tenant(tenant);
        let r = db.import(
            &enc.join(variant),
            ImportOptions {
                tenant: tenant.into(),
                ..opts()
            },
        );
        assert_eq!(r.status, Outcome::Applied, "{variant}: {}", r.to_text());
        assert_eq!(
            db.dump(tenant),
            plain,
            "{variant} must store exactly what the plain bundle stores"
        );
    }

    // Shift_JIS: refused by default with the file named, converted on request.
    db.tenant("sjis");
    let r = db.import(
        &enc.join("sjis.zip"),
        ImportOptions {
            tenant: "sjis".into(),
            ..opts()
        },
    );
    assert_eq!(r.status, Outcome::Rejected);
    let first = r
        .findings
        .iter()
        .find(|f| f.code == "encoding_shift_jis")
        .unwrap();
    assert_eq!(first.file.as_deref(), Some("orgs.csv"));
    assert!(first.message.contains("Shift_JIS") && first.message.contains("--encoding cp932"));
    assert_eq!(db.count("users", "sjis"), 0);
    let r = db.import(
        &enc.join("sjis.zip"),
        ImportOptions {
            tenant: "sjis".into(),
            encoding: EncodingChoice::Cp932,
            ..opts()
        },
    );
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "encoding_converted" && f.file.as_deref() == Some("users.csv"))
    );
    // CP932 has no 𠮷: the file carries 吉, and that is the only difference.
    let expected: Vec<String> = plain.iter().map(|l| l.replace('𠮷', "吉")).collect();
    assert_eq!(db.dump("sjis"), expected);

    db.tenant("mixed");
    let r = db.import(
        &enc.join("users_only_sjis_crlf.zip"),
        ImportOptions {
            tenant: "mixed".into(),
            encoding: EncodingChoice::Auto,
            ..opts()
        },
    );
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    assert_eq!(db.dump("mixed"), expected);
}

fn other_profiles_and_versions(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let r = db.import(&fixtures().join("jp-k12-1.2_JP"), opts());
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    assert_eq!(r.profile.as_deref(), Some("jp-k12-1.2_JP"));
    assert_eq!(r.warning_count, 0, "{}", r.to_text());
    assert_eq!(
        counts(&r, "enrollments"),
        (36, 0, 0, 0),
        "lower-camel shussekiNo/publicFlg headers are accepted"
    );

    db.tenant("halfwidth");
    let r = db.import(
        &fixtures().join("encodings/halfwidth_kana.zip"),
        ImportOptions {
            tenant: "halfwidth".into(),
            ..opts()
        },
    );
    assert_eq!(
        r.status,
        Outcome::Applied,
        "half-width kana is legal in the Japan Profile"
    );
    assert!(r.findings.iter().any(|f| f.code == "jp_halfwidth_kana"));

    db.tenant("old");
    let r = db.import(
        &fixtures().join("oneroster-1.1-small"),
        ImportOptions {
            tenant: "old".into(),
            ..opts()
        },
    );
    assert_eq!(r.status, Outcome::Rejected);
    let f = &r.findings[0];
    assert_eq!(f.code, "unsupported_version");
    assert!(f.message.contains("OneRoster 1.1"));
}

fn an_unknown_tenant_is_an_error_not_a_new_tenant(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let err = db.try_import(
        &fixtures().join("jp-profile-v1.2.1"),
        ImportOptions {
            tenant: "nobody".into(),
            ..opts()
        },
    );
    assert!(err.unwrap_err().to_string().contains("unknown tenant"));
}

on_both_backends!(
    bulk_import_of_the_fixture_inserts_every_record_exactly,
    reimporting_the_same_bundle_changes_nothing,
    a_second_bulk_tombstones_absent_records_and_reactivates_returning_ones,
    delta_import_upserts_and_tombstones_against_stored_data,
    a_dry_run_plans_but_writes_nothing,
    the_threshold_holds_an_import_that_would_tombstone_too_many,
    a_failure_in_the_middle_of_apply_leaves_no_trace,
    the_many_defect_bundle_reports_each_defect_and_writes_nothing,
    encoding_variants_import_like_the_plain_bundle,
    other_profiles_and_versions,
    an_unknown_tenant_is_an_error_not_a_new_tenant,
);
