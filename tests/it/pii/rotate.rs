//! `keys rotate`: every record stays readable, nothing uses the old key afterwards, plaintext
//! left from before encryption is encrypted, and a rerun does nothing.

use rosterhub::pii::{Key, PiiError};
use rosterhub::storage::pii_rotate::KeyUse;
use rosterhub::storage::{Store, StoreError};

use super::{config, import_into, raw_column, records, use_keys};
use crate::helpers::{Backend, TestDb};
use crate::on_both_backends;

/// Every encrypted cell of the database: (key id, count).
fn cells_by_key(db: &TestDb) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for (t, c) in [
        ("users", "email"),
        ("users", "username"),
        ("users", "password"),
        ("demographics", "birth_date"),
    ] {
        for v in raw_column(db, t, c) {
            if let Some(rest) = v.strip_prefix("pii1:") {
                *out.entry(rest[..8].to_owned()).or_default() += 1;
            }
        }
    }
    out
}

fn rotation_keeps_every_record_readable(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    let (old, new) = (Key::generate(), Key::generate());
    import_into(&db, "before");
    use_keys(&mut db, Some(config(&old)));
    import_into(&db, "t1");
    import_into(&db, "t2");
    let expected: Vec<_> = ["before", "t1", "t2"]
        .map(|t| records(&db.store, &db, t))
        .into();
    let old_cells = cells_by_key(&db);
    let encrypted_before = old_cells[old.id()];
    assert_eq!(old_cells.len(), 1);
    let bidx_before = raw_column(&db, "users", "email_bidx");

    // The new key as current, the old one as previous: the rotation.
    use_keys(&mut db, Some(config(&new).with_previous(old.clone())));
    let report = db.block_on(db.store.rotate_pii(7)).unwrap();
    assert_eq!(report.current_key, new.id());
    assert_eq!(report.tenants, 4, "default, before, t1, t2");
    assert_eq!(report.reencrypted as usize, encrypted_before);
    // Tenant `before` was stored in clear: its e-mails, usernames, birth dates now encrypted.
    assert_eq!(report.encrypted as usize, encrypted_before / 2);
    assert_eq!(report.remaining, 0);
    assert_eq!(report.retired, [old.id().to_owned()]);
    assert_eq!(
        cells_by_key(&db),
        [(new.id().to_owned(), encrypted_before * 3 / 2)].into()
    );
    // The blind indexes did not change (their key does not rotate); `before` gained its own.
    let bidx_after = raw_column(&db, "users", "email_bidx");
    assert_eq!(bidx_after.len(), bidx_before.len() * 3 / 2);
    assert!(bidx_before.iter().all(|h| bidx_after.contains(h)));

    let status = db.block_on(db.store.pii_status()).unwrap();
    let keys: Vec<(String, bool, u64)> = status
        .keys
        .iter()
        .map(|k: &KeyUse| (k.id.clone(), k.retired_at.is_some(), k.values))
        .collect();
    assert_eq!(
        keys,
        [
            (old.id().to_owned(), true, 0),
            (
                new.id().to_owned(),
                false,
                (encrypted_before * 3 / 2) as u64
            )
        ]
    );
    assert_eq!(status.plaintext_values, Some(0));

    // The new key alone reads every record exactly as before; the old one alone is refused.
    use_keys(&mut db, Some(config(&new)));
    let after: Vec<_> = ["before", "t1", "t2"]
        .map(|t| records(&db.store, &db, t))
        .into();
    assert_eq!(after, expected);
    let err = db
        .block_on(Store::open_with_pii(&db.url, Some(config(&old))))
        .err()
        .unwrap();
    assert!(matches!(
        err,
        StoreError::Pii(PiiError::KeyNotConfigured { ref needed, .. }) if needed == new.id()
    ));
    // A rerun changes nothing.
    let again = db.block_on(db.store.rotate_pii(1000)).unwrap();
    assert_eq!(
        (
            again.rows_updated,
            again.reencrypted,
            again.encrypted,
            again.indexed
        ),
        (0, 0, 0, 0)
    );
    assert!(again.rows > 0 && again.retired.is_empty());
}

fn exec(db: &TestDb, sql: &str) {
    match &db.store {
        Store::Sqlite(s) => {
            s.connect().unwrap().execute(sql, []).unwrap();
        }
        Store::Postgres(p) => {
            db.block_on(sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p.pool()))
                .unwrap();
        }
    }
}

fn an_interrupted_rotation_is_finished_by_a_rerun(backend: Backend) {
    let Some(mut db) = TestDb::new(backend) else {
        return;
    };
    let (old, new) = (Key::generate(), Key::generate());
    use_keys(&mut db, Some(config(&old)));
    import_into(&db, "t1");
    import_into(&db, "t2");
    let expected = records(&db.store, &db, "t2");
    // A process started before the rotation, still configured with the old key only.
    let stale = db.store.clone();
    use_keys(&mut db, Some(config(&new).with_previous(old.clone())));

    // A value that cannot be decrypted (t1's copied into t2) stops the rotation part-way.
    let teacher = super::TEACHER;
    let cell = |tenant: &str| {
        db.scalar(&format!(
            "SELECT email FROM users WHERE tenant_id = '{tenant}' AND sourced_id = '{teacher}'"
        ))
    };
    let original = cell("t2");
    exec(
        &db,
        &format!(
            "UPDATE users SET email = '{}' WHERE tenant_id = 't2' AND sourced_id = '{teacher}'",
            cell("t1")
        ),
    );
    let err = db.block_on(db.store.rotate_pii(5)).unwrap_err();
    assert!(
        matches!(err, StoreError::Pii(PiiError::Authentication { .. })),
        "{err}"
    );
    let partial = cells_by_key(&db);
    assert!(
        partial[new.id()] > 0 && partial[old.id()] > 0,
        "{partial:?}"
    );
    assert!(
        db.block_on(db.store.pii_keys())
            .unwrap()
            .iter()
            .all(|k| k.retired_at.is_none())
    );
    // Repaired, the rerun finishes the job.
    exec(
        &db,
        &format!(
            "UPDATE users SET email = '{original}' WHERE tenant_id = 't2' AND sourced_id = '{teacher}'"
        ),
    );
    let report = db.block_on(db.store.rotate_pii(5)).unwrap();
    assert_eq!((report.remaining, report.retired.len()), (0, 1));
    assert_eq!(cells_by_key(&db).keys().collect::<Vec<_>>(), [new.id()]);

    // The stale process writes under the old key after it was retired: the next rotation
    // (with the old key as previous again) finds those values and moves them.
    db.tenant("t3");
    let bundle = super::bundle();
    let late = db.block_on(async move {
        tokio::task::spawn_blocking(move || {
            let opts = rosterhub::import::ImportOptions {
                tenant: "t3".into(),
                ..Default::default()
            };
            rosterhub::import::import(&stale, &bundle, &opts, &())
        })
        .await
        .unwrap()
        .unwrap()
    });
    assert_eq!(late.status, rosterhub::import::Outcome::Applied);
    assert!(cells_by_key(&db).contains_key(old.id()));
    let report = db.block_on(db.store.rotate_pii(5)).unwrap();
    assert!(report.reencrypted > 0);
    assert_eq!(report.remaining, 0);
    assert_eq!(cells_by_key(&db).keys().collect::<Vec<_>>(), [new.id()]);
    use_keys(&mut db, Some(config(&new)));
    assert_eq!(records(&db.store, &db, "t2"), expected);
    assert_eq!(records(&db.store, &db, "t3")["users"].len(), 36);
}

on_both_backends!(
    rotation_keeps_every_record_readable,
    an_interrupted_rotation_is_finished_by_a_rerun,
);
