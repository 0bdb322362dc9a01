//! Signing-key rotation: storage on both backends, and how `Auth` copies (replicas) follow.

use std::time::Duration;

use super::TestStore;
use crate::auth::token::TOKEN_LIFETIME_SECS;
use crate::auth::{Auth, AuthError, Scopes};
use crate::domain::datetime::now_ms;
use crate::storage::Store;
use crate::storage::test_db::retire_signing_key;

const LIFETIME_MS: i64 = (TOKEN_LIFETIME_SECS * 1000) as i64;

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn token(auth: &Auth) -> String {
    auth.issue("t1", "c1", Scopes::ROSTER).unwrap().access_token
}

async fn retire_long_ago(db: &TestStore, kid: &str) {
    retire_signing_key(&db.store, kid, now_ms() - LIFETIME_MS - 1_000).await;
}

async fn old_tokens_verify_until_their_key_expires_and_replicas_follow(db: &TestStore) {
    let store: &Store = &db.store;
    let a = Auth::load(store).await.unwrap();
    let b = Auth::load(store).await.unwrap();
    let kid0 = a.kid();
    assert_eq!(b.kid(), kid0, "one key for every replica");
    let old = token(&a);
    assert_eq!(kid_of(&old), kid0);

    let r = store.rotate_signing_key(LIFETIME_MS).await.unwrap();
    assert_ne!(r.kid, kid0);
    assert_eq!((r.retired, r.deleted), (1, 0));
    let listed = store.list_signing_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].kid.as_str(), listed[0].retired_at),
        (r.kid.as_str(), None)
    );
    assert_eq!(listed[1].kid, kid0);
    let retired_at = listed[1].retired_at.expect("the old key is retired");
    assert!((now_ms() - retired_at).abs() < 5_000);
    assert_eq!(
        store.signing_key().await.unwrap().kid,
        r.kid,
        "the new key signs"
    );

    // The replica that learns of it signs with the new key and still accepts old tokens.
    a.reload_keys().await.unwrap();
    assert_eq!(a.kid(), r.kid);
    let new = token(&a);
    assert_eq!(kid_of(&new), r.kid);
    assert!(
        a.verify(&old).is_ok(),
        "the retired key verifies its tokens"
    );
    assert!(a.verify(&new).is_ok());

    // The other replica does not know the new kid yet: it reloads on the unknown kid.
    assert_eq!(b.verify(&new), Err(AuthError::UnknownKey));
    assert_eq!(b.verify_fresh(&new).await.unwrap().client_id, "c1");
    assert_eq!(b.kid(), r.kid, "and signs with the new key from then on");
    assert!(b.verify(&old).is_ok());

    // One token lifetime after its retirement the old key verifies nothing, and is deleted.
    retire_long_ago(db, &kid0).await;
    a.reload_keys().await.unwrap();
    assert_eq!(a.verify(&old), Err(AuthError::UnknownKey));
    assert!(a.verify(&new).is_ok());
    assert_eq!(
        store
            .delete_expired_signing_keys(LIFETIME_MS)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_expired_signing_keys(LIFETIME_MS)
            .await
            .unwrap(),
        0
    );
    let kids: Vec<String> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, std::slice::from_ref(&r.kid));

    // A rotation deletes keys retired longer than a lifetime ago by itself.
    let r2 = store.rotate_signing_key(LIFETIME_MS).await.unwrap();
    retire_long_ago(db, &r.kid).await;
    let r3 = store.rotate_signing_key(LIFETIME_MS).await.unwrap();
    assert_eq!((r3.retired, r3.deleted), (1, 1));
    let kids: Vec<String> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, [r3.kid, r2.kid]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_key_rotation() {
    let db = TestStore::sqlite().await;
    old_tokens_verify_until_their_key_expires_and_replicas_follow(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_key_rotation() {
    let Some(db) = TestStore::postgres().await else {
        return;
    };
    old_tokens_verify_until_their_key_expires_and_replicas_follow(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kids_reload_at_most_once_a_second() {
    let db = TestStore::sqlite().await;
    let a = Auth::load(&db.store).await.unwrap();
    let b = Auth::load(&db.store).await.unwrap();
    db.store.rotate_signing_key(LIFETIME_MS).await.unwrap();
    a.reload_keys().await.unwrap();
    assert!(
        b.verify_fresh(&token(&a)).await.is_ok(),
        "first miss reloads"
    );
    // A second rotation right after: b reloaded less than a second ago and does not again.
    db.store.rotate_signing_key(LIFETIME_MS).await.unwrap();
    a.reload_keys().await.unwrap();
    let newest = token(&a);
    assert_eq!(b.verify_fresh(&newest).await, Err(AuthError::UnknownKey));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        b.verify_fresh(&newest).await.is_ok(),
        "a second later it does"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_copy_reloads_before_signing() {
    let db = TestStore::sqlite().await;
    let auth = Auth::load_with_refresh(&db.store, Duration::from_millis(300))
        .await
        .unwrap();
    let kid0 = auth.kid();
    let r = db.store.rotate_signing_key(LIFETIME_MS).await.unwrap();
    auth.refresh_keys().await;
    assert_eq!(auth.kid(), kid0, "fresh enough: no reload yet");
    tokio::time::sleep(Duration::from_millis(350)).await;
    auth.refresh_keys().await;
    assert_eq!(auth.kid(), r.kid, "reloaded after the interval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_key_auth_never_reloads() {
    let db = TestStore::sqlite().await;
    let key = db.store.signing_key().await.unwrap();
    let pepper = db.store.client_pepper().await.unwrap();
    let auth = Auth::new(key.clone(), pepper);
    db.store.rotate_signing_key(LIFETIME_MS).await.unwrap();
    auth.reload_keys().await.unwrap();
    auth.refresh_keys().await;
    assert_eq!(auth.kid(), key.kid);
}
