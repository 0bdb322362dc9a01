//! National models (`--target`, docs/national-models.md): each rule broken once gives exactly
//! that finding; a conforming bundle gives none; `export --target` writes a bundle that meets the
//! model, counting its conversions and listing the records that fall short.

use serde_json::Value;

use crate::helpers::cli::{import_json, rosterhub};
use crate::helpers::{TempBundle, read_zip};

/// The Japan Profile fixture made to meet 学習eポータル標準モデル Ver.4.00: manifest 1.2.1, every
/// user with a master identifier and preferred names.
fn eportal4_bundle() -> TempBundle {
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.replace(
        "manifest.csv",
        "oneroster.version,1.2\n",
        "oneroster.version,1.2.1\n",
    );
    b.edit_rows("users.csv", |i, row| {
        row.insert("userMasterIdentifier".into(), format!("master-{i:03}"));
        let given = row["givenName"].clone();
        let family = row["familyName"].clone();
        row.insert("preferredGivenName".into(), given);
        row.insert("preferredFamilyName".into(), family);
    });
    b
}

/// A target finding: (code, file, line, column).
type TargetFinding = (String, String, Option<u64>, String);

/// `validate --format json` of `b` with `args`: (exit code, the target's findings as
/// `(code, file, line, column)`).
fn target_findings(b: &std::path::Path, args: &[&str]) -> (i32, Vec<TargetFinding>) {
    let mut all = vec!["validate", b.to_str().unwrap(), "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = rosterhub(&all).run();
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    let found = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("target_"))
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_owned(),
                f["file"].as_str().unwrap_or("").to_owned(),
                f["line"].as_u64(),
                f["column"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    (code, found)
}

fn one(code: &str, file: &str, line: Option<u64>, column: &str) -> Vec<TargetFinding> {
    vec![(code.into(), file.into(), line, column.into())]
}

#[test]
fn a_conforming_bundle_has_no_target_finding() {
    let b = eportal4_bundle();
    for t in ["eportal-4", "interop-5"] {
        let (code, found) = target_findings(b.path(), &["--target", t]);
        assert_eq!((code, found), (0, vec![]), "{t}");
    }
    // Ver.3.00 expects manifest 1.2, Ver.6.00 the K-12 profile: one finding each, nothing else.
    assert_eq!(
        target_findings(b.path(), &["--target", "eportal-3"]),
        (
            1,
            one("target_version", "manifest.csv", None, "oneroster.version")
        )
    );
    let (code, found) = target_findings(b.path(), &["--target", "interop-6"]);
    assert_eq!(code, 1);
    let codes: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(codes, ["target_version", "target_profile"]);
}

#[test]
fn each_rule_broken_once_gives_exactly_that_finding() {
    let t = ["--target", "eportal-4"];
    // A required cell left empty (users.csv line 4 = the third user).
    let b = eportal4_bundle();
    b.edit_rows("users.csv", |i, row| {
        if i == 2 {
            row.insert("userMasterIdentifier".into(), String::new());
        }
    });
    assert_eq!(
        target_findings(b.path(), &t),
        (
            1,
            one(
                "target_required",
                "users.csv",
                Some(4),
                "userMasterIdentifier"
            )
        )
    );

    // Kana required.
    let b = eportal4_bundle();
    b.edit_rows("users.csv", |i, row| {
        if i == 0 {
            row.insert("metadata.jp.kanaFamilyName".into(), String::new());
        }
    });
    assert_eq!(
        target_findings(b.path(), &t),
        (
            1,
            one(
                "target_required",
                "users.csv",
                Some(2),
                "metadata.jp.kanaFamilyName"
            )
        )
    );

    // Half-width katakana in a class title (JP Profile itself only warns about it).
    let b = eportal4_bundle();
    b.replace("classes.csv", ",1年1組,", ",1年1組ｱ,");
    assert_eq!(
        target_findings(b.path(), &t),
        (
            1,
            one("target_half_width_kana", "classes.csv", Some(2), "title")
        )
    );

    // Half-width katakana in a preferred name's kana: a Ver.4.00 rule, not a Ver.3.00 one.
    let b = eportal4_bundle();
    b.edit_rows("users.csv", |i, row| {
        if i == 1 {
            row.insert("metadata.jp.kanaPreferredGivenName".into(), "ｼｮｳﾀ".into());
        }
    });
    assert_eq!(
        target_findings(b.path(), &t),
        (
            1,
            one(
                "target_half_width_kana",
                "users.csv",
                Some(3),
                "metadata.jp.kanaPreferredGivenName"
            )
        )
    );
    b.replace(
        "manifest.csv",
        "oneroster.version,1.2.1\n",
        "oneroster.version,1.2\n",
    );
    assert_eq!(
        target_findings(b.path(), &["--target", "eportal-3"]),
        (0, vec![])
    );

    // enrollments.primary required.
    let b = eportal4_bundle();
    b.edit_rows("enrollments.csv", |i, row| {
        if i == 5 {
            row.insert("primary".into(), String::new());
        }
    });
    let (_, found) = target_findings(b.path(), &t);
    assert_eq!(
        found,
        one("target_required", "enrollments.csv", Some(7), "primary")
    );

    // A required column missing from the header: one finding for the file, not one per row.
    let b = eportal4_bundle();
    b.drop_column("users.csv", "metadata.jp.kanaGivenName");
    assert_eq!(
        target_findings(b.path(), &t),
        (
            1,
            one(
                "target_column_missing",
                "users.csv",
                Some(1),
                "metadata.jp.kanaGivenName"
            )
        )
    );

    // homeClass only when asked for: the fixture's teachers have none.
    let b = eportal4_bundle();
    let (code, found) =
        target_findings(b.path(), &["--target", "eportal-4", "--require-home-class"]);
    assert_eq!(code, 1);
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|f| f.0 == "target_required" && f.3 == "metadata.jp.homeClass"),
        "{found:?}"
    );

    // --target-warn reports the same breaches as warnings and accepts the bundle.
    let b = eportal4_bundle();
    b.replace("classes.csv", ",1年1組,", ",1年1組ｱ,");
    let (code, found) = target_findings(b.path(), &["--target", "eportal-4", "--target-warn"]);
    assert_eq!((code, found.len()), (0, 1));
}

#[test]
fn an_import_with_a_target_is_refused_when_the_bundle_falls_short() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    let (code, out, _) = rosterhub(&[
        "import",
        b.path().to_str().unwrap(),
        "--database-url",
        &url,
        "--format",
        "json",
        "--target",
        "eportal-4",
    ])
    .run();
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["findings_by_code"][0]["code"], "target_required");
    // Nothing was written: the same bundle without the target applies all 36 users.
    let (code, out, _) = import_json(b.path(), &url).run();
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["entities"]["users"]["inserted"], 36);
}

#[test]
fn an_export_for_a_target_meets_it_and_counts_its_conversions() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    // Data with half-width kana for two users, and one user without kana at all.
    let b = eportal4_bundle();
    b.edit_rows("users.csv", |i, row| match i {
        0 => {
            row.insert("metadata.jp.kanaGivenName".into(), "ﾚﾝ".into());
            row.insert("metadata.jp.kanaFamilyName".into(), "ﾀｶﾊｼ".into());
        }
        1 => {
            row.insert("preferredGivenName".into(), "ｼｮｳﾀ".into());
        }
        2 => {
            row.insert("metadata.jp.kanaGivenName".into(), String::new());
        }
        _ => {}
    });
    let (code, out, err) = import_json(b.path(), &url).run();
    assert_eq!(code, 0, "{out} {err}");
    let zip = dir.path().join("eportal4.zip");
    let (code, _, err) = rosterhub(&[
        "export",
        zip.to_str().unwrap(),
        "--database-url",
        &url,
        "--target",
        "eportal-4",
    ])
    .run();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "target eportal-4: 3 cells converted from half-width katakana; 1 records fall short"
        ),
        "{err}"
    );
    let third = b.read("users.csv").lines().nth(3).unwrap()[..36].to_owned();
    assert!(
        err.contains(&format!(
            "users.csv          {third}  missing: metadata.jp.kanaGivenName"
        )),
        "{err}"
    );
    let files = read_zip(&zip);
    assert!(files["manifest.csv"].contains("oneroster.version,1.2.1\n"));
    assert!(files["users.csv"].contains(",レン,タカハシ,"));
    assert!(!files["users.csv"].contains("ｼｮｳﾀ"));

    // Round trip: the export validates under the target but for the one user without kana.
    let (code, found) = target_findings(&zip, &["--target", "eportal-4"]);
    assert_eq!(code, 1);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].0.as_str(), found[0].3.as_str()),
        ("target_required", "metadata.jp.kanaGivenName")
    );
}

#[test]
fn a_tenants_default_target_holds_its_imports() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--database-url", &url]);
        rosterhub(&all).run()
    };
    assert_eq!(run(&["migrate"]).0, 0);
    let (code, _, err) = run(&["tenant", "set-target", "default", "eportal-9"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown --target \"eportal-9\""), "{err}");
    let (code, _, err) = run(&["tenant", "set-target", "nowhere", "eportal-4"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(run(&["tenant", "set-target", "default", "eportal-4"]).0, 0);
    let (_, out, _) = run(&["tenant", "list"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        list[0],
        serde_json::json!({"id": "default", "name": "Default tenant", "target": "eportal-4"})
    );

    // The fixture does not meet Ver.4.00: refused without naming a target.
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    let (code, out, _) = import_json(b.path(), &url).run();
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["findings_by_code"][0]["code"], "target_required");
    // One that does is applied.
    let (code, out, _) = import_json(eportal4_bundle().path(), &url).run();
    assert_eq!(code, 0, "{out}");

    assert_eq!(run(&["tenant", "set-target", "default", "none"]).0, 0);
    let (code, _, _) = import_json(b.path(), &url).run();
    assert_eq!(code, 0);
}

/// A client bound to a model reads full-width names; the data and other clients are unchanged
/// (and the two never share a cached answer).
fn a_bound_client_reads_the_models_names(backend: crate::helpers::Backend) {
    let Some(db) = crate::helpers::TestDb::new(backend) else {
        return;
    };
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    b.edit_rows("users.csv", |i, row| {
        if i == 1 {
            row.insert("metadata.jp.kanaGivenName".into(), "ｼｮｳﾀ".into());
        }
    });
    db.import(b.path(), crate::helpers::opts());
    let server = crate::server::Server::start(&db, "default", crate::server::test_config());
    let s1 = "de274027-6f10-4912-9777-f62c295f0e8f";
    db.block_on(async {
        let bound = crate::helpers::tokens::client_with(
            &server.state,
            "default",
            rosterhub::auth::Scopes::ROSTER,
            rosterhub::storage::clients::ClientSettings {
                target: Some("eportal-4".into()),
                ..Default::default()
            },
        )
        .await;
        let plain_token = server
            .token_for("default", rosterhub::auth::Scopes::ROSTER)
            .await;
        let kana = |v: &Value| {
            v["metadata"]["jp.kanaGivenName"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let path =
            "/ims/oneroster/rostering/v1p2/users?filter=familyName%3D%27%E9%AB%98%E6%A9%8B%27";
        let find = |v: &Value| -> Value {
            v["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["sourcedId"] == s1)
                .cloned()
                .unwrap()
        };
        let plain: Value = server
            .get_with(path, Some(&plain_token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(kana(&find(&plain)), "ｼｮｳﾀ");
        let converted: Value = server
            .get_with(path, Some(&bound.token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(kana(&find(&converted)), "ショウタ");
        let one: Value = server
            .get_with(
                &format!("/ims/oneroster/rostering/v1p2/users/{s1}"),
                Some(&bound.token),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(kana(&one["user"]), "ショウタ");
        // An unknown model is refused by the clients API and creates nothing.
        let (status, err) = server
            .post_json(
                "/api/v1/clients",
                &serde_json::json!({"name": "x", "target": "eportal-9"}),
            )
            .await;
        assert_eq!(status, 400, "{err}");
        assert!(err.to_string().contains("eportal-4"), "{err}");
        let listed = server.get_json("/api/v1/clients").await.1;
        assert!(
            listed["clients"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["name"] != "x")
        );
        let again: Value = server
            .get_with(path, Some(&plain_token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(kana(&find(&again)), "ｼｮｳﾀ", "the stored data is unchanged");
    });
}

/// The dashboard's count of what would fail the models, stored by each apply: exactly the
/// records `export --target` would list, and what a fresh count of the tables gives.
fn the_dashboard_counts_what_would_fail_the_models(backend: crate::helpers::Backend) {
    use rosterhub::storage::dashboard::Shortfall;
    let Some(db) = crate::helpers::TestDb::new(backend) else {
        return;
    };
    let stored = || {
        let (_, _, stored) = db.block_on(db.store.dashboard_counts("default")).unwrap();
        let fresh = db.block_on(db.store.fresh_shortfall("default")).unwrap();
        assert_eq!(stored, fresh, "stored and fresh shortfall");
        stored
    };
    assert_eq!(stored(), Shortfall::default());

    // Two users without kana (one of them a master identifier too), one enrollment without
    // `primary`; the users without a homeClass count only when it is required.
    let b = eportal4_bundle();
    let mut without_home_class = 0;
    b.edit_rows("users.csv", |i, row| {
        if i == 1 || i == 2 {
            row.insert("metadata.jp.kanaGivenName".into(), String::new());
        }
        if i == 2 {
            row.insert("userMasterIdentifier".into(), String::new());
        }
        if row["metadata.jp.homeClass"].is_empty() && i != 1 && i != 2 {
            without_home_class += 1;
        }
    });
    b.edit_rows("enrollments.csv", |i, row| {
        if i == 3 {
            row.insert("primary".into(), String::new());
        }
    });
    assert!(
        without_home_class > 0,
        "the fixture's teachers have no homeClass"
    );
    let broken = Shortfall {
        users: 2,
        users_home_class: 2 + without_home_class,
        enrollments: 1,
    };
    db.import(b.path(), crate::helpers::opts());
    assert_eq!(stored(), broken);

    // Fixed at the source and imported again: nothing falls short but the homeClass rule.
    let fixed = Shortfall {
        users: 0,
        users_home_class: without_home_class,
        enrollments: 0,
    };
    db.import(eportal4_bundle().path(), crate::helpers::opts());
    assert_eq!(stored(), fixed);

    // Broken again by an update (the counters follow the change log both ways), then fixed.
    db.import(b.path(), crate::helpers::opts());
    assert_eq!(stored(), broken);
    db.import(eportal4_bundle().path(), crate::helpers::opts());
    assert_eq!(stored(), fixed);
}

mod bound {
    crate::on_both_backends!(
        a_bound_client_reads_the_models_names,
        the_dashboard_counts_what_would_fail_the_models
    );
    use super::{
        a_bound_client_reads_the_models_names, the_dashboard_counts_what_would_fail_the_models,
    };
}
