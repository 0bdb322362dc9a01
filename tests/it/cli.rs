//! The CLI contract: exit codes and the JSON report shape.

use crate::helpers::cli::{import_json, rosterhub};
use crate::helpers::fixtures;

#[test]
fn validate_exits_0_for_a_valid_bundle_and_1_for_a_broken_one() {
    let ok = fixtures().join("jp-profile-v1.2.1");
    let (code, out, _) = rosterhub(&["validate", ok.to_str().unwrap(), "--format", "json"]).run();
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "valid");
    assert_eq!(v["profile"], "jp-1.2.1");
    assert_eq!(v["rows"]["users"], 36);

    let bad = fixtures().join("invalid/many-defects-v1.2");
    let (code, out, _) = rosterhub(&["validate", bad.to_str().unwrap(), "--format", "json"]).run();
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "rejected");
    let f = &v["findings"][0];
    for key in [
        "severity", "code", "file", "line", "column", "value", "message",
    ] {
        assert!(f.get(key).is_some(), "finding has {key}: {f}");
    }
}

#[test]
fn import_prints_the_json_contract_and_exits_3_when_held() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let ok = fixtures().join("jp-profile-v1.2.1");
    let (code, out, err) = import_json(&ok, &url).run();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "applied");
    assert_eq!(
        v["entities"]["users"],
        serde_json::json!({"inserted": 36, "updated": 0, "unchanged": 0, "tombstoned": 0})
    );
    let keys: Vec<&String> = v["entities"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "orgs",
            "academicSessions",
            "courses",
            "classes",
            "users",
            "roles",
            "enrollments",
            "demographics"
        ]
    );
    assert!(v["duration_ms"].is_u64());

    // A bundle holding only the district's orgs would tombstone every school record: held.
    let b = crate::helpers::TempBundle::from_fixture("jp-profile-v1.2.1");
    let keep = "570aa3c8-cd28-498c-b2b3-dab02cc3bddf";
    for f in ["users.csv", "roles.csv", "enrollments.csv"] {
        b.drop_rows(f, |l| !l.contains(keep));
    }
    b.set_mode("demographics", "absent");
    b.remove("demographics.csv");
    let (code, out, _) = import_json(b.path(), &url).run();
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"],
        "held"
    );
    let (code, _, _) = rosterhub(&[
        "import",
        b.path().to_str().unwrap(),
        "--database-url",
        &url,
        "--dry-run",
        "--force",
    ])
    .run();
    assert_eq!(code, 0);
}

#[test]
fn generated_bundles_are_valid_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.zip");
    let b = dir.path().join("b.zip");
    for p in [&a, &b] {
        let (code, _, err) = rosterhub(&[
            "generate",
            p.to_str().unwrap(),
            "--students",
            "500",
            "--seed",
            "7",
        ])
        .run();
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let (code, out, _) = rosterhub(&["validate", a.to_str().unwrap(), "--format", "json"]).run();
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["warning_count"], 0, "{out}");
    assert_eq!(v["rows"]["demographics"], 500);
}

#[test]
fn tenants_are_created_once_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    for _ in 0..2 {
        let (code, _, err) = rosterhub(&[
            "tenant",
            "create",
            "kyoto",
            "--name",
            "京都市",
            "--database-url",
            &url,
        ])
        .run();
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, _) = rosterhub(&["tenant", "list", "--database-url", &url]).run();
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {"id": "default", "name": "Default tenant", "target": null},
            {"id": "kyoto", "name": "京都市", "target": null}
        ])
    );
}
