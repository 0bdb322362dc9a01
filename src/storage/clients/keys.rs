//! Token signing keys (HS256), shared by every replica through the database (so whoever reads
//! the database can mint tokens: it is as sensitive as the rosters it holds).
//!
//! The newest key that is not retired signs; every key verifies the tokens that name its `kid`
//! until it has been retired for one token lifetime (by then every token it signed has
//! expired), after which it is deleted. A rotation adds a key and retires the others in one
//! transaction; replicas learn of it by reloading (`crate::auth::token`).

use std::fmt;

use super::{decode_key, random_b64, sql};
use crate::domain::datetime::{EpochMs, now_ms};
use crate::storage::value::params;
use crate::storage::{Store, StoreError};

/// Any constant: the advisory lock that serialises key creation and rotation on PostgreSQL.
const SIGNING_KEY_LOCK: i64 = 0x5369_676e_4b65;

/// A key that signs or verifies access tokens. `Debug` shows the kid only.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub secret: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A row of `signing_keys`.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub key: SigningKey,
    pub created_at: EpochMs,
    /// When a rotation replaced it; `None`: it signs (the newest such key does).
    pub retired_at: Option<EpochMs>,
}

/// What `signing-key list` shows of a key: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: EpochMs,
    pub retired_at: Option<EpochMs>,
}

/// The outcome of a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// The new signing key.
    pub kid: String,
    /// Keys retired now (they verify for one more token lifetime).
    pub retired: u64,
    /// Retired keys deleted now (retired longer than a token lifetime ago).
    pub deleted: u64,
}

/// The key that signs: the newest one not retired.
const NEWEST_SIGNING_KEY: &str = "SELECT kid, secret FROM signing_keys WHERE retired_at IS NULL \
                                  ORDER BY created_at DESC, kid DESC LIMIT 1";

impl Store {
    /// The key that signs, if there is one; never creates one (`doctor` reads it).
    pub async fn current_signing_key(&self) -> Result<Option<SigningKey>, StoreError> {
        let rows = sql::fetch(self, NEWEST_SIGNING_KEY, vec![]).await?;
        rows.first()
            .map(|row| {
                Ok(SigningKey {
                    kid: row.text(0)?,
                    secret: decode_key(&row.text(1)?, "signing_keys.secret")?,
                })
            })
            .transpose()
    }

    /// The newest key that is not retired; the first call on a new database creates one (32
    /// random bytes). Creation is serialised so that replicas starting together agree.
    pub async fn signing_key(&self) -> Result<SigningKey, StoreError> {
        // Read first: the usual case needs no write (on SQLite a write would wait for an
        // import's lock).
        if let Some(key) = self.current_signing_key().await? {
            return Ok(key);
        }
        sql::atomic(
            self,
            SIGNING_KEY_LOCK,
            vec![(
                "INSERT INTO signing_keys (kid, secret, created_at) SELECT $1, $2, $3 \
                 WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)",
                params![random_b64(12), random_b64(32), now_ms()],
            )],
        )
        .await?;
        self.current_signing_key()
            .await?
            .ok_or_else(|| StoreError::Conflict("signing_keys: the new key is not there".into()))
    }

    /// Every key that may still verify a token (not retired, or retired less than
    /// `lifetime_ms` ago), newest first; creates the first key when there is none that signs.
    pub async fn signing_keys(&self, lifetime_ms: i64) -> Result<Vec<StoredKey>, StoreError> {
        const SQL: &str = "SELECT kid, secret, created_at, retired_at FROM signing_keys \
                           WHERE retired_at IS NULL OR retired_at > $1 \
                           ORDER BY created_at DESC, kid DESC";
        let since = now_ms() - lifetime_ms;
        let mut rows = sql::fetch(self, SQL, params![since]).await?;
        let mut one_signs = false;
        for r in &rows {
            one_signs |= r.opt_int(3)?.is_none();
        }
        if !one_signs {
            self.signing_key().await?;
            rows = sql::fetch(self, SQL, params![since]).await?;
        }
        rows.iter()
            .map(|r| {
                Ok(StoredKey {
                    key: SigningKey {
                        kid: r.text(0)?,
                        secret: decode_key(&r.text(1)?, "signing_keys.secret")?,
                    },
                    created_at: r.int(2)?,
                    retired_at: r.opt_int(3)?,
                })
            })
            .collect()
    }

    /// Every stored key, newest first, without secrets.
    pub async fn list_signing_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        let rows = sql::fetch(
            self,
            "SELECT kid, created_at, retired_at FROM signing_keys \
             ORDER BY created_at DESC, kid DESC",
            vec![],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyInfo {
                    kid: r.text(0)?,
                    created_at: r.int(1)?,
                    retired_at: r.opt_int(2)?,
                })
            })
            .collect()
    }

    /// Adds a new signing key and retires the others, in one transaction; deletes keys
    /// retired more than `lifetime_ms` ago.
    pub async fn rotate_signing_key(&self, lifetime_ms: i64) -> Result<KeyRotation, StoreError> {
        let kid = random_b64(12);
        let now = now_ms();
        let counts = sql::atomic(
            self,
            SIGNING_KEY_LOCK,
            vec![
                (
                    "INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)",
                    params![kid.clone(), random_b64(32), now],
                ),
                (
                    "UPDATE signing_keys SET retired_at = $1 \
                     WHERE retired_at IS NULL AND kid <> $2",
                    params![now, kid.clone()],
                ),
                (
                    "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= $1",
                    params![now - lifetime_ms],
                ),
            ],
        )
        .await?;
        Ok(KeyRotation {
            kid,
            retired: counts[1],
            deleted: counts[2],
        })
    }

    /// Deletes the keys retired more than `lifetime_ms` ago (they verify nothing any more).
    /// Looks first, so that the usual call writes nothing.
    pub async fn delete_expired_signing_keys(&self, lifetime_ms: i64) -> Result<u64, StoreError> {
        let before = now_ms() - lifetime_ms;
        let expired = sql::fetch(
            self,
            "SELECT kid FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= $1",
            params![before],
        )
        .await?;
        if expired.is_empty() {
            return Ok(0);
        }
        sql::exec(
            self,
            "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= $1",
            params![before],
        )
        .await
    }
}
