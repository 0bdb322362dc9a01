//! Reads decrypt transparently: the API and exports show what an unencrypted database shows;
//! `filter=email='…'` finds users through the blind index.

use rosterhub::domain::Entity;
use rosterhub::filter::{Resource, parse_filter};
use rosterhub::import::ImportOptions;
use rosterhub::pii::Key;
use rosterhub::storage::sql_filter::FilterSqlError;
use serde_json::Value;

use super::{S1, TEACHER, app, config, get, import_into, list, raw_column, request, use_keys};
use crate::helpers::{Backend, TempBundle, TestDb, counts};
use crate::on_both_backends;

/// `dateLastModified` is the time of each tenant's import: blanked to compare two tenants.
fn without_times(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                *x = if k == "dateLastModified" {
                    Value::Null
                } else {
                    without_times(x.take())
                };
            }
        }
        Value::Array(items) => {
            for x in items.iter_mut() {
                *x = without_times(x.take());
            }
        }
        _ => {}
    }
    v
}

fn api_and_export_show_plaintext_as_without_encryption(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    // Tenant `plain` is imported before encryption is turned on, `enc` after: same bundle.
    import_into(&db, "plain");
    use_keys(&mut db, Some(config(&Key::generate())));
    import_into(&db, "enc");
    let stored = db.rows(
        "SELECT tenant_id, email FROM users WHERE email IS NOT NULL ORDER BY tenant_id, sourced_id",
    );
    assert!(stored.iter().any(|r| r[0].as_deref() == Some("enc")));
    for r in &stored {
        let (tenant, email) = (r[0].as_deref().unwrap(), r[1].as_deref().unwrap());
        assert_eq!(
            email.starts_with("pii1:"),
            tenant == "enc",
            "{tenant}: {email}"
        );
    }
    let (app_plain, token_plain) = app(&db, "plain");
    let (app_enc, token_enc) = app(&db, "enc");
    for path in [
        "/users?limit=100".to_owned(),
        "/students?limit=100".into(),
        "/teachers".into(),
        "/demographics?limit=100".into(),
        format!("/users/{TEACHER}"),
        format!("/demographics/{S1}"),
        format!("/students/{S1}"),
    ] {
        let (s1, t1, plain) = get(&db, &app_plain, &token_plain, &path);
        let (s2, t2, enc) = get(&db, &app_enc, &token_enc, &path);
        assert_eq!((s1, t1), (s2, t2), "{path}");
        assert_eq!(s1, 200, "{path}: {plain}");
        assert_eq!(without_times(enc), without_times(plain), "{path}");
    }
    let (_, _, teacher) = get(&db, &app_enc, &token_enc, &format!("/users/{TEACHER}"));
    assert_eq!(teacher["user"]["email"], "t00@example.jp");
    let (_, _, demo) = get(&db, &app_enc, &token_enc, &format!("/demographics/{S1}"));
    assert_eq!(demo["demographics"]["birthDate"], "2018-04-01");
    // Exports: byte for byte the same files.
    let plain = db.bulk_export("plain");
    let enc = db.bulk_export("enc");
    assert!(enc["users.csv"].contains(",t00@example.jp,"));
    assert!(enc["demographics.csv"].contains(",2018-04-01,"));
    assert_eq!(enc, plain);
}

/// The users of `tenant` a filter selects, through the store's filter translation.
fn filtered(
    db: &TestDb,
    entity: Entity,
    tenant: &str,
    filter: &str,
) -> Result<Vec<String>, FilterSqlError> {
    let resource = match entity {
        Entity::Demographics => Resource::Demographics,
        _ => Resource::Users,
    };
    let expr = parse_filter(resource, filter).unwrap();
    Ok(list(&db.store, db, tenant, entity, Some(&expr))?
        .into_iter()
        .map(|r| r.sourced_id)
        .collect())
}

fn email_filters_use_the_blind_index(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    import_into(&db, "plain");
    use_keys(&mut db, Some(config(&Key::generate())));
    import_into(&db, "enc");
    let users = |tenant: &str, f: &str| filtered(&db, Entity::Users, tenant, f).unwrap();
    let all = users("enc", "status='active'");
    assert_eq!(all.len(), 36);
    for tenant in ["enc", "plain"] {
        // Encrypted values through the blind index, plaintext ones (stored before encryption
        // was turned on) by value.
        assert_eq!(
            users(tenant, "email='t00@example.jp'"),
            [TEACHER],
            "{tenant}"
        );
        assert_eq!(
            users(tenant, "email!='t00@example.jp'").len(),
            35,
            "{tenant}"
        );
        assert_eq!(
            users(tenant, "email=''").len(),
            36 - 4,
            "students have none"
        );
        assert_eq!(
            users(tenant, "email='nobody@example.jp'"),
            Vec::<String>::new()
        );
    }
    assert_eq!(
        users("enc", "email='T00@Example.JP'"),
        [TEACHER],
        "e-mail ignores case"
    );
    assert_eq!(
        users("enc", "email='t00@example.jp' OR email='t01@example.jp'").len(),
        2
    );
    let demo = |f: &str| filtered(&db, Entity::Demographics, "enc", f);
    // Two students of the fixture were born that day.
    let born: Vec<String> = std::fs::read_to_string(super::bundle().join("demographics.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(",2018-04-01,"))
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(born.len(), 2);
    assert_eq!(demo("birthDate='2018-04-01'").unwrap(), born);
    assert_eq!(demo("birthDate!='2018-04-01'").unwrap().len(), 30);
    // Anything but = and != on an encrypted field is refused with a clear message.
    for (entity, f, field) in [
        (Entity::Users, "email~'example'", "email"),
        (Entity::Users, "email>'a'", "email"),
        (Entity::Users, "username='s1@example.jp'", "username"),
        (Entity::Demographics, "birthDate>'2018-01-01'", "birthDate"),
    ] {
        let err = filtered(&db, entity, "enc", f).unwrap_err();
        assert!(
            matches!(&err, FilterSqlError::Encrypted { field: x, .. } if x == field),
            "{f}: {err}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("field {field} is encrypted at rest"))
        );
    }
    // Sorting on an encrypted field is refused too; on others it is not.
    let sort = |f: &str| {
        let field = rosterhub::filter::parse_sort(Resource::Users, f)
            .unwrap()
            .unwrap();
        db.store
            .list_query(&request("enc", Entity::Users, None, Some(field)))
            .map(|q| q.sort_column().expect("a sort was asked for"))
    };
    assert_eq!(sort("familyName").unwrap(), "family_name");
    assert_eq!(
        sort("email").unwrap_err().to_string(),
        "field email is encrypted at rest: it cannot be sorted on"
    );
    // Blind indexes exist for the encrypted tenant's four e-mails only.
    assert_eq!(raw_column(&db, "users", "email_bidx").len(), 4);
    // A changed e-mail is re-encrypted with a new blind index: the old address finds nobody.
    let changed = TempBundle::from_fixture("jp-profile-v1.2.1");
    changed.replace("users.csv", ",,,t00@example.jp,", ",,,t00.new@example.jp,");
    let report = db.import(
        changed.path(),
        ImportOptions {
            tenant: "enc".into(),
            ..ImportOptions::default()
        },
    );
    assert_eq!(counts(&report, "users"), (0, 1, 35, 0));
    assert_eq!(users("enc", "email='t00@example.jp'"), Vec::<String>::new());
    assert_eq!(users("enc", "email='t00.new@example.jp'"), [TEACHER]);
    let teacher = &super::records(&db.store, &db, "enc")["users"]
        .iter()
        .find(|r| r.sourced_id == TEACHER)
        .unwrap()
        .clone();
    assert_eq!(
        teacher.get(Entity::Users, "email"),
        Some("t00.new@example.jp")
    );
    assert_eq!(
        teacher.get(Entity::Users, "username"),
        Some("t00@example.jp")
    );
}

fn email_filters_work_through_the_api(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    use_keys(&mut db, Some(config(&Key::generate())));
    import_into(&db, "enc");
    // The one user, with the exact JSON of a single read.
    let (app, token) = app(&db, "enc");
    let (status, total, body) = get(&db, &app, &token, "/users?filter=email='t00@example.jp'");
    assert_eq!((status, total), (200, Some(1)), "{body}");
    let (_, _, one) = get(&db, &app, &token, &format!("/users/{TEACHER}"));
    assert_eq!(body["users"][0], one["user"]);
    let (status, _, body) = get(&db, &app, &token, "/users?filter=email~'example'");
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"],
        "invalid_filter_field"
    );
    assert_eq!(
        body["imsx_description"],
        "field email is encrypted at rest: only = and != can filter it (exact value; \
         e-mail ignores case)"
    );
    let (status, _, body) = get(&db, &app, &token, "/users?sort=email");
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["imsx_description"],
        "field email is encrypted at rest: it cannot be sorted on"
    );
    let (status, total, body) = get(
        &db,
        &app,
        &token,
        "/demographics?filter=birthDate='2018-04-01'",
    );
    assert_eq!((status, total), (200, Some(2)), "{body}");
}

on_both_backends!(
    api_and_export_show_plaintext_as_without_encryption,
    email_filters_use_the_blind_index,
    email_filters_work_through_the_api,
);
