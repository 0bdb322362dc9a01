//! The signing keys an [`Auth`](super::Auth) holds, and how it learns of a rotation.
//!
//! Every replica reads the keys from the database: at start, then whenever it is asked to
//! verify a token whose `kid` it does not know (at most once per [`MISS_RELOAD_INTERVAL`], so
//! tokens with made-up kids cannot make it hammer the database), and before serving a request
//! when its copy is older than [`REFRESH_INTERVAL`]. A replica therefore signs with a retired
//! key for at most that long after a rotation; such a token still verifies everywhere until
//! the retired key expires (one token lifetime after the rotation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::storage::clients::{SigningKey, StoredKey};
use crate::storage::{Store, StoreError};

/// How old a replica's copy of the keys may get before a request reloads it.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// The least time between two reloads caused by unknown kids.
pub const MISS_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// A key that verifies tokens naming its kid, until `until_secs` (`None`: it is not retired).
pub(super) struct Verifier {
    pub decoding: DecodingKey,
    pub until_secs: Option<u64>,
}

/// The keys at one moment: the one that signs, and every one that verifies.
pub(super) struct KeySet {
    pub signing_kid: String,
    pub encoding: EncodingKey,
    pub verifying: HashMap<String, Verifier>,
}

impl KeySet {
    /// One key that signs and verifies.
    pub fn single(key: &SigningKey) -> KeySet {
        let verifier = Verifier {
            decoding: DecodingKey::from_secret(&key.secret),
            until_secs: None,
        };
        KeySet {
            signing_kid: key.kid.clone(),
            encoding: EncodingKey::from_secret(&key.secret),
            verifying: HashMap::from([(key.kid.clone(), verifier)]),
        }
    }

    /// The set of the stored keys: the newest one not retired signs. `None` if every key is
    /// retired.
    pub fn from_stored(keys: &[StoredKey], lifetime_secs: u64) -> Option<KeySet> {
        let signing = keys
            .iter()
            .filter(|k| k.retired_at.is_none())
            .max_by(|a, b| (a.created_at, &a.key.kid).cmp(&(b.created_at, &b.key.kid)))?;
        let verifying = keys
            .iter()
            .map(|k| {
                let until_secs = k
                    .retired_at
                    .map(|r| (r.max(0) as u64) / 1000 + lifetime_secs);
                let verifier = Verifier {
                    decoding: DecodingKey::from_secret(&k.key.secret),
                    until_secs,
                };
                (k.key.kid.clone(), verifier)
            })
            .collect();
        Some(KeySet {
            signing_kid: signing.key.kid.clone(),
            encoding: EncodingKey::from_secret(&signing.key.secret),
            verifying,
        })
    }

    /// The key that verifies tokens naming `kid` at `now_secs`.
    pub fn verifier(&self, kid: &str, now_secs: u64) -> Option<&DecodingKey> {
        self.verifying
            .get(kid)
            .filter(|v| v.until_secs.is_none_or(|until| now_secs < until))
            .map(|v| &v.decoding)
    }
}

/// The current key set, and where to reload it from.
pub(super) struct Keyring {
    current: RwLock<Arc<KeySet>>,
    store: Option<Store>,
    lifetime_secs: u64,
    refresh_every: Duration,
    last_reload: Mutex<Instant>,
    /// When an unknown kid last caused a reload.
    last_miss: Mutex<Option<Instant>>,
    /// Held while reloading: concurrent callers wait for the one reload instead of each
    /// starting their own.
    reloading: tokio::sync::Mutex<()>,
}

impl Keyring {
    pub fn fixed(keys: KeySet, lifetime_secs: u64) -> Keyring {
        Keyring {
            current: RwLock::new(Arc::new(keys)),
            store: None,
            lifetime_secs,
            refresh_every: REFRESH_INTERVAL,
            last_reload: Mutex::new(Instant::now()),
            last_miss: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The keys stored in `store`, reloaded from it from now on.
    pub async fn load(store: &Store, lifetime_secs: u64) -> Result<Keyring, StoreError> {
        let keys = read(store, lifetime_secs).await?;
        Ok(Keyring {
            store: Some(store.clone()),
            ..Keyring::fixed(keys, lifetime_secs)
        })
    }

    pub fn set_refresh_interval(&mut self, every: Duration) {
        self.refresh_every = every;
    }

    pub fn keys(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn since_reload(&self) -> Duration {
        self.last_reload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .elapsed()
    }

    /// Reads the keys from the database now. A failure keeps the keys it had.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        let keys = read(store, self.lifetime_secs).await?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        Ok(())
    }

    /// Reloads when the copy is older than the refresh interval (once, however many requests
    /// ask at the same time); also clears keys that expired meanwhile from the database.
    pub async fn refresh_if_stale(&self) {
        if self.store.is_none() || self.since_reload() < self.refresh_every {
            return;
        }
        let _one = self.reloading.lock().await;
        if self.since_reload() < self.refresh_every {
            return;
        }
        match self.reload().await {
            Ok(()) => {
                if let Some(store) = self.store.clone() {
                    let lifetime_ms = (self.lifetime_secs * 1000) as i64;
                    tokio::spawn(async move {
                        if let Err(e) = store.delete_expired_signing_keys(lifetime_ms).await {
                            tracing::warn!(error = %e, "cannot delete expired signing keys");
                        }
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot reload the signing keys"),
        }
    }

    /// After a token named an unknown kid: reloads, unless an unknown kid already caused a
    /// reload less than [`MISS_RELOAD_INTERVAL`] ago.
    pub async fn reload_after_miss(&self) {
        if self.store.is_none() {
            return;
        }
        let _one = self.reloading.lock().await;
        {
            let mut last = self.last_miss.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < MISS_RELOAD_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "cannot reload the signing keys");
        }
    }
}

async fn read(store: &Store, lifetime_secs: u64) -> Result<KeySet, StoreError> {
    let stored = store.signing_keys((lifetime_secs * 1000) as i64).await?;
    KeySet::from_stored(&stored, lifetime_secs)
        .ok_or_else(|| StoreError::Conflict("signing_keys holds no key that signs".into()))
}
