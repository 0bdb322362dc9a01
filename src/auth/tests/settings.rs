//! Client restrictions and secret rotation in `crate::storage::clients`, on both backends.

use super::TestStore;
use crate::auth::Scopes;
use crate::domain::datetime::now_ms;
use crate::domain::restrict::parse_allowed_ips;
use crate::storage::Store;
use crate::storage::clients::{ClientSettings, ClientUpdate};
use crate::storage::test_db::expire_previous_secret;

async fn settings_are_stored_and_changed_field_by_field(store: &Store) {
    let settings = ClientSettings {
        allowed_ips: Some(parse_allowed_ips("10.0.0.0/8 2001:db8::/32").unwrap()),
        rate_limit_per_min: Some(120),
        org_scope: Some(vec!["org-1".into(), "org-2".into()]),
        target: Some("eportal-4".into()),
    };
    let a = store
        .create_client_with("t1", "LMS", Scopes::ROSTER, settings.clone())
        .await
        .unwrap();
    let found = store
        .find_client(&a.record.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, a.record);
    assert_eq!(found.allowed_ips, settings.allowed_ips);
    assert_eq!(found.rate_limit_per_min, Some(120));
    assert_eq!(found.org_scope, settings.org_scope);
    assert_eq!(found.target.as_deref(), Some("eportal-4"));
    let id = found.client_id.clone();

    // The tenant is part of every lookup and change.
    assert!(
        store
            .find_client_of(Some("t2"), &id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.find_client_of(Some("t1"), &id).await.unwrap(),
        Some(found.clone())
    );
    let rename = ClientUpdate {
        name: Some("other tenant".into()),
        ..ClientUpdate::default()
    };
    assert!(
        store
            .update_client(Some("t2"), &id, &rename)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.revoke_client_of(Some("t2"), &id).await.unwrap());
    assert_eq!(
        store.find_client(&id).await.unwrap().unwrap(),
        found,
        "unchanged"
    );

    // Only the fields named change; `Some(None)` removes a restriction.
    let change = ClientUpdate {
        scopes: Some(Scopes::ALL.union(Scopes::ADMIN)),
        allowed_ips: Some(None),
        rate_limit_per_min: Some(Some(5)),
        ..ClientUpdate::default()
    };
    let changed = store
        .update_client(Some("t1"), &id, &change)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.name, "LMS");
    assert_eq!(changed.scopes, Scopes::ALL.union(Scopes::ADMIN));
    assert_eq!(changed.allowed_ips, None);
    assert_eq!(changed.rate_limit_per_min, Some(5));
    assert_eq!(changed.org_scope, settings.org_scope, "untouched");
    assert_eq!(changed.target.as_deref(), Some("eportal-4"), "untouched");
    let change = ClientUpdate {
        name: Some("LMS 2".into()),
        rate_limit_per_min: Some(None),
        org_scope: Some(None),
        target: Some(None),
        allowed_ips: Some(Some(parse_allowed_ips("::1").unwrap())),
        ..ClientUpdate::default()
    };
    let changed = store
        .update_client(None, &id, &change)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.name, "LMS 2");
    assert_eq!(changed.rate_limit_per_min, None);
    assert_eq!(changed.org_scope, None);
    assert_eq!(changed.target, None);
    assert_eq!(
        changed.allowed_ips,
        Some(parse_allowed_ips("::1/128").unwrap())
    );
    assert_eq!(
        changed.secret_hash, found.secret_hash,
        "the secret is not touched"
    );
    assert!(
        store
            .update_client(None, "nobody", &change)
            .await
            .unwrap()
            .is_none()
    );

    // A plain create is unrestricted.
    let b = store
        .create_client("t1", "plain", Scopes::CORE)
        .await
        .unwrap();
    assert_eq!(
        (
            b.record.allowed_ips,
            b.record.rate_limit_per_min,
            b.record.org_scope
        ),
        (None, None, None)
    );
}

async fn a_rotated_secret_overlaps_then_expires(db: &TestStore) {
    let store = &db.store;
    let pepper = store.client_pepper().await.unwrap();
    let a = store.create_client("t1", "LMS", Scopes::ALL).await.unwrap();
    let id = a.record.client_id.clone();
    let old = a.client_secret.clone();
    let now = now_ms();
    assert!(a.record.secret_matches(&pepper, &old, now));
    assert_eq!(a.record.previous_secret_valid_until(now), None);

    assert!(
        store
            .rotate_client_secret(Some("t2"), &id, 1000)
            .await
            .unwrap()
            .is_none(),
        "other tenant"
    );
    let r = store
        .rotate_client_secret(Some("t1"), &id, 3_600_000)
        .await
        .unwrap()
        .unwrap();
    let new = r.client_secret.clone();
    assert_ne!(new, old);
    assert_eq!(new.len(), 43);
    let c = store.find_client(&id).await.unwrap().unwrap();
    assert_eq!(c, r.record);
    let now = now_ms();
    assert!(c.secret_matches(&pepper, &new, now), "the new secret");
    assert!(
        c.secret_matches(&pepper, &old, now),
        "the old one, inside the overlap"
    );
    assert!(!c.secret_matches(&pepper, "guess", now));
    let until = c.previous_secret_valid_until(now).unwrap();
    assert!((until - now - 3_600_000).abs() < 5_000, "{until} vs {now}");
    assert!(!format!("{c:?}").contains(c.previous_secret_hash.as_deref().unwrap()));
    // After the window, only the new one.
    assert!(!c.secret_matches(&pepper, &old, until));
    assert!(c.secret_matches(&pepper, &new, until));
    expire_previous_secret(store, &id, now - 1).await;
    let c = store.find_client(&id).await.unwrap().unwrap();
    assert!(!c.secret_matches(&pepper, &old, now_ms()));
    assert_eq!(c.previous_secret_valid_until(now_ms()), None);

    // No overlap: the old secret stops at once.
    let r2 = store
        .rotate_client_secret(None, &id, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r2.record.previous_secret_hash, None);
    assert!(!r2.record.secret_matches(&pepper, &new, now_ms()));
    assert!(
        r2.record
            .secret_matches(&pepper, &r2.client_secret, now_ms())
    );

    // A revoked client's secret is not rotated.
    assert!(store.revoke_client(&id).await.unwrap());
    assert!(
        store
            .rotate_client_secret(None, &id, 1000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .rotate_client_secret(None, "nobody", 1000)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_settings() {
    let db = TestStore::sqlite().await;
    settings_are_stored_and_changed_field_by_field(&db.store).await;
    a_rotated_secret_overlaps_then_expires(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_settings() {
    let Some(db) = TestStore::postgres().await else {
        return;
    };
    settings_are_stored_and_changed_field_by_field(&db.store).await;
    a_rotated_secret_overlaps_then_expires(&db).await;
}
