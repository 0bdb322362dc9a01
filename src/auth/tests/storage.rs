//! `crate::storage::clients` on both backends.

use super::TestStore;
use crate::auth::Scopes;
use crate::storage::{Store, StoreError};

async fn clients_are_created_listed_found_and_revoked(store: &Store) {
    let a = store
        .create_client("t1", "SIS export", Scopes::ALL)
        .await
        .unwrap();
    let b = store
        .create_client("t2", "LMS", Scopes::ROSTER)
        .await
        .unwrap();
    let id = &a.record.client_id;
    assert_eq!(id.len(), 20);
    assert!(id.bytes().all(|c| c.is_ascii_alphanumeric()), "{id}");
    assert_ne!(id, &b.record.client_id);
    assert_eq!(a.client_secret.len(), 43, "32 bytes, base64url");
    assert_ne!(a.client_secret, b.client_secret);

    // Only a keyed hash is stored, and the pepper verifies it.
    let found = store.find_client(id).await.unwrap().unwrap();
    assert_eq!(found, a.record);
    assert_eq!(found.secret_hash.len(), 64);
    assert!(!found.secret_hash.contains(&a.client_secret));
    let pepper = store.client_pepper().await.unwrap();
    assert!(pepper.verify(&a.client_secret, &found.secret_hash));
    assert!(!pepper.verify(&b.client_secret, &found.secret_hash));
    assert!(
        !format!("{found:?}").contains(&found.secret_hash),
        "Debug hides the hash"
    );

    assert_eq!(store.list_clients(None).await.unwrap().len(), 2);
    let t2 = store.list_clients(Some("t2")).await.unwrap();
    assert_eq!(t2, vec![b.record.clone()]);
    assert!(store.list_clients(Some("nobody")).await.unwrap().is_empty());

    assert!(store.find_client("unknown").await.unwrap().is_none());
    assert!(!store.revoke_client("unknown").await.unwrap());
    assert!(store.revoke_client(id).await.unwrap());
    let revoked = store.find_client(id).await.unwrap().unwrap();
    let at = revoked.revoked_at.expect("revoked");
    assert!(!revoked.is_active());
    assert!(
        store.revoke_client(id).await.unwrap(),
        "revoking twice is fine"
    );
    let again = store.find_client(id).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(at), "and keeps the first time");
    assert!(
        store
            .find_client(&b.record.client_id)
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );

    match store.create_client("nobody", "x", Scopes::ALL).await {
        Err(StoreError::UnknownTenant(t)) => assert_eq!(t, "nobody"),
        other => panic!("expected UnknownTenant, got {:?}", other.map(|c| c.record)),
    }
}

async fn the_signing_key_is_made_once_and_shared(store: &Store) {
    let keys = concurrent_signing_keys(store).await;
    let first = &keys[0];
    assert_eq!(first.secret.len(), 32);
    for k in &keys {
        assert_eq!(k.kid, first.kid, "concurrent first uses agree");
        assert_eq!(k.secret, first.secret);
    }
    assert!(
        !format!("{first:?}").contains("secret: ["),
        "Debug hides the key"
    );
    let pepper = store.client_pepper().await.unwrap();
    assert_eq!(
        pepper.hash("x"),
        store.client_pepper().await.unwrap().hash("x"),
        "the pepper is stable"
    );
}

/// Four concurrent first calls of `signing_key`.
async fn concurrent_signing_keys(store: &Store) -> Vec<crate::storage::clients::SigningKey> {
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.signing_key().await.unwrap() })
        })
        .collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap());
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_clients() {
    let db = TestStore::sqlite().await;
    clients_are_created_listed_found_and_revoked(&db.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_signing_key() {
    let db = TestStore::sqlite().await;
    the_signing_key_is_made_once_and_shared(&db.store).await;
    // Reopening the same file (a restart) finds the same key.
    let crate::storage::Store::Sqlite(s) = &db.store else {
        unreachable!()
    };
    let url = format!("sqlite://{}", s.path().display());
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(
        reopened.signing_key().await.unwrap().kid,
        db.store.signing_key().await.unwrap().kid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_clients() {
    let Some(db) = TestStore::postgres().await else {
        return;
    };
    clients_are_created_listed_found_and_revoked(&db.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_signing_key() {
    let Some(db) = TestStore::postgres().await else {
        return;
    };
    the_signing_key_is_made_once_and_shared(&db.store).await;
}
