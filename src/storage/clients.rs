//! API clients (OAuth 2.0 client credentials), token signing keys and the secret pepper.
//!
//! Client secrets are stored only as `hex(HMAC-SHA256(pepper, secret))`: fast and constant-time
//! to check on every token request (argon2 there would be a denial-of-service lever; the secrets
//! are 256 random bits, so slow hashing buys nothing against guessing). The pepper comes from
//! `ROSTERHUB_SECRET_PEPPER` when set — then a stolen database alone cannot even verify a guess —
//! else from a random per-database pepper kept in `client_secret_pepper`. Changing the pepper
//! invalidates every existing client secret.
//!
//! The signing keys live in the database so that every replica signs and verifies alike (so
//! whoever reads the database can mint tokens: it is as sensitive as the rosters it holds).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;
use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::SqliteStore;
use super::{Store, StoreError};
use crate::auth::Scopes;
pub use crate::auth::secret::Pepper;
use crate::domain::datetime::{EpochMs, now_ms};

/// The environment variable holding the server-wide pepper of client secrets.
pub const PEPPER_ENV: &str = "ROSTERHUB_SECRET_PEPPER";

/// Any constant: the advisory lock that serialises the creation of the first signing key.
const SIGNING_KEY_LOCK: i64 = 0x5369_676e_4b65;

/// A row of `api_clients`. `Debug` leaves out the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub tenant: String,
    pub name: String,
    pub secret_hash: String,
    /// The scopes the client may be granted.
    pub scopes: Scopes,
    pub created_at: EpochMs,
    pub revoked_at: Option<EpochMs>,
}

impl ClientRecord {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

impl fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRecord")
            .field("client_id", &self.client_id)
            .field("tenant", &self.tenant)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A client just created: the only time its secret is known.
pub struct NewClient {
    pub record: ClientRecord,
    pub client_secret: String,
}

/// The key that signs access tokens (HS256). `Debug` shows the kid only.
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

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// 20 alphanumeric characters (~119 bits): URL-safe, and never mistaken for a CLI flag.
fn new_client_id() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{what} is not base64url"),
    ))
}

fn decode_key(text: &str, what: &str) -> Result<Vec<u8>, StoreError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| corrupt(what))
}

type ClientRow = (String, String, String, String, String, i64, Option<i64>);

fn to_record(row: ClientRow) -> ClientRecord {
    let (client_id, tenant, name, secret_hash, scopes, created_at, revoked_at) = row;
    ClientRecord {
        client_id,
        tenant,
        name,
        secret_hash,
        scopes: Scopes::parse_list(&scopes),
        created_at,
        revoked_at,
    }
}

const CLIENT_COLUMNS: &str =
    "client_id, tenant_id, name, secret_hash, scopes, created_at, revoked_at";

fn sqlite_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

/// Runs `f` on a fresh SQLite connection on a blocking thread.
async fn blocking<T, F>(store: &SqliteStore, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(&mut store.connect()?)).await {
        Ok(result) => result,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => Err(StoreError::Io(std::io::Error::other(e))),
        },
    }
}

impl Store {
    /// The pepper of client secret hashes: `ROSTERHUB_SECRET_PEPPER` if set, else the
    /// database's own (created on first use, the same for every replica).
    pub async fn client_pepper(&self) -> Result<Pepper, StoreError> {
        if let Some(env) = std::env::var_os(PEPPER_ENV).filter(|v| !v.is_empty()) {
            return Ok(Pepper::new(env.as_encoded_bytes()));
        }
        let candidate = random_b64(32);
        let now = now_ms();
        // Insert-if-absent, then read: concurrent first uses all end up with the same row.
        let text = match self {
            Store::Sqlite(s) => {
                blocking(s, move |conn| {
                    conn.execute(
                        "INSERT INTO client_secret_pepper (id, pepper, created_at) \
                         VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
                        params![candidate, now],
                    )?;
                    Ok(conn.query_row(
                        "SELECT pepper FROM client_secret_pepper WHERE id = 1",
                        [],
                        |r| r.get::<_, String>(0),
                    )?)
                })
                .await?
            }
            Store::Postgres(p) => {
                sqlx::query(
                    "INSERT INTO client_secret_pepper (id, pepper, created_at) \
                     VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(candidate)
                .bind(now)
                .execute(p.pool())
                .await?;
                sqlx::query_scalar("SELECT pepper FROM client_secret_pepper WHERE id = 1")
                    .fetch_one(p.pool())
                    .await?
            }
        };
        Ok(Pepper::new(&decode_key(
            &text,
            "client_secret_pepper.pepper",
        )?))
    }

    /// Creates an API client of `tenant` allowed `scopes`; the secret is returned only here.
    pub async fn create_client(
        &self,
        tenant: &str,
        name: &str,
        scopes: Scopes,
    ) -> Result<NewClient, StoreError> {
        if !self.tenant_exists(tenant).await? {
            return Err(StoreError::UnknownTenant(tenant.to_owned()));
        }
        let pepper = self.client_pepper().await?;
        let client_secret = random_b64(32);
        let record = ClientRecord {
            client_id: new_client_id(),
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            secret_hash: pepper.hash(&client_secret),
            scopes,
            created_at: now_ms(),
            revoked_at: None,
        };
        match self {
            Store::Sqlite(s) => {
                let r = record.clone();
                blocking(s, move |conn| {
                    conn.execute(
                        "INSERT INTO api_clients (client_id, tenant_id, name, secret_hash, \
                         scopes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            r.client_id,
                            r.tenant,
                            r.name,
                            r.secret_hash,
                            r.scopes.to_list_string(),
                            r.created_at
                        ],
                    )?;
                    Ok(())
                })
                .await?;
            }
            Store::Postgres(p) => {
                sqlx::query(
                    "INSERT INTO api_clients (client_id, tenant_id, name, secret_hash, \
                     scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(record.client_id.clone())
                .bind(record.tenant.clone())
                .bind(record.name.clone())
                .bind(record.secret_hash.clone())
                .bind(record.scopes.to_list_string())
                .bind(record.created_at)
                .execute(p.pool())
                .await?;
            }
        }
        Ok(NewClient {
            record,
            client_secret,
        })
    }

    /// The clients (revoked ones too) of one tenant or of all, oldest first.
    pub async fn list_clients(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        let tenant = tenant.map(str::to_owned);
        let rows: Vec<ClientRow> = match self {
            Store::Sqlite(s) => {
                blocking(s, move |conn| {
                    let sql = format!(
                        "SELECT {CLIENT_COLUMNS} FROM api_clients \
                         WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY created_at, client_id"
                    );
                    let mut stmt = conn.prepare(&sql)?;
                    let rows = stmt
                        .query_map([tenant], sqlite_row)?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(rows)
                })
                .await?
            }
            Store::Postgres(p) => {
                sqlx::query_as(
                    "SELECT client_id, tenant_id, name, secret_hash, scopes, created_at, \
                     revoked_at FROM api_clients WHERE $1::text IS NULL OR tenant_id = $1 \
                     ORDER BY created_at, client_id",
                )
                .bind(tenant)
                .fetch_all(p.pool())
                .await?
            }
        };
        Ok(rows.into_iter().map(to_record).collect())
    }

    /// The client with this id, revoked or not.
    pub async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let client_id = client_id.to_owned();
        let row: Option<ClientRow> = match self {
            Store::Sqlite(s) => {
                blocking(s, move |conn| {
                    let sql =
                        format!("SELECT {CLIENT_COLUMNS} FROM api_clients WHERE client_id = ?1");
                    Ok(conn.query_row(&sql, [client_id], sqlite_row).optional()?)
                })
                .await?
            }
            Store::Postgres(p) => {
                sqlx::query_as(
                    "SELECT client_id, tenant_id, name, secret_hash, scopes, created_at, \
                     revoked_at FROM api_clients WHERE client_id = $1",
                )
                .bind(client_id)
                .fetch_optional(p.pool())
                .await?
            }
        };
        Ok(row.map(to_record))
    }

    /// Revokes a client: it can get no new tokens (tokens already issued live out their
    /// lifetime). `false` if there is no such client; revoking twice keeps the first time.
    pub async fn revoke_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let client_id = client_id.to_owned();
        let now = now_ms();
        let changed = match self {
            Store::Sqlite(s) => {
                blocking(s, move |conn| {
                    Ok(conn.execute(
                        "UPDATE api_clients SET revoked_at = COALESCE(revoked_at, ?1) \
                         WHERE client_id = ?2",
                        params![now, client_id],
                    )? as u64)
                })
                .await?
            }
            Store::Postgres(p) => sqlx::query(
                "UPDATE api_clients SET revoked_at = COALESCE(revoked_at, $1) WHERE client_id = $2",
            )
            .bind(now)
            .bind(client_id)
            .execute(p.pool())
            .await?
            .rows_affected(),
        };
        Ok(changed > 0)
    }

    /// The newest signing key; the first call on a new database creates one (32 random
    /// bytes). Serialised so that replicas starting together agree on one key.
    pub async fn signing_key(&self) -> Result<SigningKey, StoreError> {
        let kid = random_b64(12);
        let secret = random_b64(32);
        let now = now_ms();
        let (kid, secret) = match self {
            Store::Sqlite(s) => {
                blocking(s, move |conn| {
                    let tx =
                        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let newest = "SELECT kid, secret FROM signing_keys \
                                  ORDER BY created_at DESC, kid DESC LIMIT 1";
                    let found = tx
                        .query_row(newest, [], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    let key = match found {
                        Some(key) => key,
                        None => {
                            tx.execute(
                                "INSERT INTO signing_keys (kid, secret, created_at) \
                                 VALUES (?1, ?2, ?3)",
                                params![kid, secret, now],
                            )?;
                            (kid, secret)
                        }
                    };
                    tx.commit()?;
                    Ok(key)
                })
                .await?
            }
            Store::Postgres(p) => {
                let mut tx = p.pool().begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(SIGNING_KEY_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let found: Option<(String, String)> = sqlx::query_as(
                    "SELECT kid, secret FROM signing_keys ORDER BY created_at DESC, kid DESC LIMIT 1",
                )
                .fetch_optional(&mut *tx)
                .await?;
                let key = match found {
                    Some(key) => key,
                    None => {
                        sqlx::query(
                            "INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)",
                        )
                        .bind(kid.clone())
                        .bind(secret.clone())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        (kid, secret)
                    }
                };
                tx.commit().await?;
                key
            }
        };
        let secret = decode_key(&secret, "signing_keys.secret")?;
        Ok(SigningKey { kid, secret })
    }
}

// Tests: `crate::auth::tests::storage` (both backends).
