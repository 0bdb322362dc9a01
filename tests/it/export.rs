//! CSV export against real databases: bulk round trip, the binding's rules, delta.

use rosterhub::domain::datetime::{now_ms, parse_datetime};
use rosterhub::domain::entity::FILE_NAMES;
use rosterhub::export::ExportOptions;
use rosterhub::import::{self, ImportOptions, Outcome};

use crate::helpers::{Backend, TempBundle, TestDb, bulk, fixtures, opts, read_zip};
use crate::on_both_backends;

const S1: &str = "de274027-6f10-4912-9777-f62c295f0e8f";

/// The `file.*` rows of a manifest: (name, mode) in order.
fn manifest_files(manifest: &str) -> Vec<(String, String)> {
    manifest
        .lines()
        .filter_map(|l| l.strip_prefix("file."))
        .map(|l| {
            let (n, m) = l.split_once(',').unwrap();
            (n.to_owned(), m.to_owned())
        })
        .collect()
}

/// The first two cells of a data row (sourcedId is never quoted in these bundles).
fn leading(row: &str) -> (&str, &str, &str) {
    let mut it = row.splitn(4, ',');
    (
        it.next().unwrap(),
        it.next().unwrap(),
        it.next().unwrap_or(""),
    )
}

fn bulk_export_round_trips_into_another_tenant(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let first = db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    assert_eq!(first.status, Outcome::Applied, "{}", first.to_text());
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("out.zip");
    let summary = db.export(&zip, &bulk("default"));
    assert_eq!(
        summary.files.iter().find(|(f, _)| f == "users.csv"),
        Some(&("users.csv".to_owned(), 36))
    );
    db.tenant("copy");
    let r = db.import(
        &zip,
        ImportOptions {
            tenant: "copy".into(),
            ..opts()
        },
    );
    assert_eq!(r.status, Outcome::Applied, "{}", r.to_text());
    assert_eq!(r.warning_count, 0, "{}", r.to_text());
    assert_eq!(r.error_count, 0, "{}", r.to_text());
    assert_eq!(db.dump("copy"), db.dump("default"));
}

fn the_export_follows_the_csv_binding(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("out.zip");
    db.export(&zip, &bulk("default"));
    let files = read_zip(&zip);
    let manifest = &files["manifest.csv"];
    assert!(manifest.starts_with(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.academicSessions,bulk\n"
    ));
    assert!(manifest.ends_with("file.users,bulk\nsource.systemName,RosterHub\n"));
    let modes = manifest_files(manifest);
    let names: Vec<&str> = modes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, FILE_NAMES);
    let fixture_manifest =
        std::fs::read_to_string(fixtures().join("jp-profile-v1.2.1/manifest.csv")).unwrap();
    assert_eq!(
        modes,
        manifest_files(&fixture_manifest),
        "the same files as the fixture"
    );
    for (name, text) in &files {
        assert!(!text.starts_with('\u{feff}'), "{name}: no BOM");
        assert!(!text.contains('\r'), "{name}: LF line endings");
        if name == "manifest.csv" {
            continue;
        }
        let stem = name.strip_suffix(".csv").unwrap();
        assert!(
            modes.iter().any(|(n, m)| n == stem && m == "bulk"),
            "{name} is declared bulk"
        );
        let mut lines = text.lines();
        let fixture =
            std::fs::read_to_string(fixtures().join("jp-profile-v1.2.1").join(name)).unwrap();
        assert_eq!(lines.next(), fixture.lines().next(), "{name} header");
        let rows: Vec<&str> = lines.collect();
        assert!(!rows.is_empty(), "{name} has rows");
        for row in rows {
            let (id, status, modified) = leading(row);
            assert!(!id.is_empty(), "{name}: {row}");
            assert_eq!((status, modified), ("", ""), "{name}: {row}");
        }
    }
    let report = import::validate(&zip, &opts(), &());
    assert_eq!(report.error_count, 0, "{}", report.to_text());
    assert_eq!(report.warning_count, 0, "{}", report.to_text());
    assert_eq!(report.profile.as_deref(), Some("jp-1.2.1"));
}

fn delta_export_holds_only_the_changes_since(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    std::thread::sleep(std::time::Duration::from_millis(5));
    let since = now_ms();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    let changed = [
        "users.csv",
        "roles.csv",
        "enrollments.csv",
        "demographics.csv",
    ];
    for f in changed {
        b.drop_rows(f, |l| l.contains(S1));
    }
    let second = db.import(b.path(), opts());
    assert_eq!(second.status, Outcome::Applied, "{}", second.to_text());

    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("delta.zip");
    db.export(
        &zip,
        &ExportOptions {
            since: Some(since),
            ..bulk("default")
        },
    );
    let files = read_zip(&zip);
    for (name, mode) in manifest_files(&files["manifest.csv"]) {
        let file = format!("{name}.csv");
        let expected = if changed.contains(&file.as_str()) {
            "delta"
        } else {
            "absent"
        };
        assert_eq!(mode, expected, "file.{name}");
        assert_eq!(files.contains_key(&file), expected == "delta", "{file}");
    }
    for file in changed {
        let rows: Vec<&str> = files[file].lines().skip(1).collect();
        assert!(!rows.is_empty(), "{file}");
        for row in rows {
            let (id, status, modified) = leading(row);
            assert_eq!(status, "tobedeleted", "{file}: {row}");
            let ms = parse_datetime(modified).unwrap().ms;
            assert!(ms > since, "{file}: {row}");
            assert_eq!(
                rosterhub::domain::datetime::format_ms(ms),
                modified,
                "YYYY-MM-DDTHH:MM:SS.sssZ"
            );
            assert!(
                id == S1 || row.contains(S1),
                "{file}: only the removed student's rows: {row}"
            );
        }
    }
    assert_eq!(files["users.csv"].lines().count(), 2);

    let bulk_zip = dir.path().join("bulk.zip");
    let summary = db.export(&bulk_zip, &bulk("default"));
    assert_eq!(
        summary.files.iter().find(|(f, _)| f == "users.csv"),
        Some(&("users.csv".to_owned(), 35)),
        "bulk leaves tombstones out"
    );
}

on_both_backends!(
    bulk_export_round_trips_into_another_tenant,
    the_export_follows_the_csv_binding,
    delta_export_holds_only_the_changes_since,
);
