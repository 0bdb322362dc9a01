//! API clients (OAuth 2.0 client credentials), their restrictions and secret rotation, token
//! signing keys ([`keys`]) and the secret pepper.
//!
//! Client secrets are stored only as `hex(HMAC-SHA256(pepper, secret))`: fast and constant-time
//! to check on every token request (argon2 there would be a denial-of-service lever; the secrets
//! are 256 random bits, so slow hashing buys nothing against guessing). The pepper comes from
//! `ROSTERHUB_SECRET_PEPPER` when set — then a stolen database alone cannot even verify a guess —
//! else from a random per-database pepper kept in `client_secret_pepper`. Changing the pepper
//! invalidates every existing client secret.
//!
//! A rotated secret keeps working beside the new one until `previous_secret_until` (the overlap
//! window), so a deployment can switch without downtime; a second rotation inside the window
//! replaces the previous secret.
//!
//! Operations that name a client take `tenant: Option<&str>`: the admin API always passes the
//! caller's tenant (another tenant's client is then "not found"); only the CLI, run by whoever
//! operates the server, passes `None`.

mod keys;
pub(super) mod sql;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ipnet::IpNet;
use rand::RngExt as _;

use super::value::{Row, Value, params};
use super::{Store, StoreError};
use crate::domain::datetime::{EpochMs, now_ms};
use crate::domain::restrict::{
    allowed_ips_text, org_scope_text, stored_allowed_ips, stored_org_scope,
};
use crate::domain::scopes::Scopes;
use crate::domain::secret::Pepper;
pub use keys::{KeyInfo, KeyRotation, SigningKey, StoredKey};

/// The environment variable holding the server-wide pepper of client secrets.
pub const PEPPER_ENV: &str = "ROSTERHUB_SECRET_PEPPER";

/// A row of `api_clients`. `Debug` leaves out the hashes.
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
    /// The address ranges the client may call from; `None`: any address.
    pub allowed_ips: Option<Vec<IpNet>>,
    /// Requests per minute (its token bucket); `None`: the server's default.
    pub rate_limit_per_min: Option<u32>,
    /// The org sourcedIds the client is limited to; `None`: every org of the tenant.
    pub org_scope: Option<Vec<String>>,
    /// The secret replaced by the last rotation, valid until `previous_secret_until`.
    pub previous_secret_hash: Option<String>,
    pub previous_secret_until: Option<EpochMs>,
    /// The national model (`eportal-4`, …) whose conversions its JSON follows; `None`: none.
    pub target: Option<String>,
}

impl ClientRecord {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// Whether `secret` is the client's secret, or its previous one inside the overlap window
    /// at `now`. Both compared in constant time.
    pub fn secret_matches(&self, pepper: &Pepper, secret: &str, now: EpochMs) -> bool {
        let current = pepper.verify(secret, &self.secret_hash);
        let previous = match (&self.previous_secret_hash, self.previous_secret_until) {
            (Some(hash), Some(until)) if now < until => pepper.verify(secret, hash),
            _ => false,
        };
        current | previous
    }

    /// When the previous secret stops working, if it still works at `now`.
    pub fn previous_secret_valid_until(&self, now: EpochMs) -> Option<EpochMs> {
        match (&self.previous_secret_hash, self.previous_secret_until) {
            (Some(_), Some(until)) if now < until => Some(until),
            _ => None,
        }
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
            .field("allowed_ips", &self.allowed_ips)
            .field("rate_limit_per_min", &self.rate_limit_per_min)
            .field("org_scope", &self.org_scope)
            .field("previous_secret_until", &self.previous_secret_until)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// A client's restrictions as set at creation (each `None`: unrestricted / the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    pub allowed_ips: Option<Vec<IpNet>>,
    pub rate_limit_per_min: Option<u32>,
    pub org_scope: Option<Vec<String>>,
    /// The national model its JSON follows (a name `csv::target::Target` knows).
    pub target: Option<String>,
}

/// A change to a client: each `None` leaves that field as it is; `Some(None)` resets a
/// restriction (any address, the server's default limit, every org).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub scopes: Option<Scopes>,
    pub allowed_ips: Option<Option<Vec<IpNet>>>,
    pub rate_limit_per_min: Option<Option<u32>>,
    pub org_scope: Option<Option<Vec<String>>>,
    pub target: Option<Option<String>>,
}

impl ClientUpdate {
    pub fn is_empty(&self) -> bool {
        *self == ClientUpdate::default()
    }
}

/// A client just created, or whose secret was just rotated: the only time the secret is known.
pub struct NewClient {
    pub record: ClientRecord,
    pub client_secret: String,
}

pub(crate) fn random_b64(bytes: usize) -> String {
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

pub(crate) fn decode_key(text: &str, what: &str) -> Result<Vec<u8>, StoreError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| corrupt(what))
}

fn opt_text(v: Option<String>) -> Value {
    v.map_or(Value::NullText, Value::Text)
}

fn opt_int(v: Option<i64>) -> Value {
    v.map_or(Value::NullInt, Value::Int)
}

fn to_record(r: &Row) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        client_id: r.text(0)?,
        tenant: r.text(1)?,
        name: r.text(2)?,
        secret_hash: r.text(3)?,
        scopes: Scopes::parse_list(&r.text(4)?),
        created_at: r.int(5)?,
        revoked_at: r.opt_int(6)?,
        allowed_ips: r.opt_text(7)?.map(|t| stored_allowed_ips(&t)),
        // A stored 0 or negative (hand-edited) limit means a bucket that never fills: 1/min.
        rate_limit_per_min: r
            .opt_int(8)?
            .map(|n| u32::try_from(n.max(1)).unwrap_or(u32::MAX)),
        org_scope: r.opt_text(9)?.map(|t| stored_org_scope(&t)),
        previous_secret_hash: r.opt_text(10)?,
        previous_secret_until: r.opt_int(11)?,
        target: r.opt_text(12)?,
    })
}

impl Store {
    /// The pepper of client secret hashes: `ROSTERHUB_SECRET_PEPPER` if set, else the
    /// database's own (created on first use, the same for every replica).
    pub async fn client_pepper(&self) -> Result<Pepper, StoreError> {
        if let Some(env) = std::env::var_os(PEPPER_ENV).filter(|v| !v.is_empty()) {
            return Ok(Pepper::new(env.as_encoded_bytes()));
        }
        const READ: &str = "SELECT pepper FROM client_secret_pepper WHERE id = 1";
        let found = sql::fetch(self, READ, vec![]).await?;
        let text = match found.first() {
            Some(row) => row.text(0)?,
            None => {
                // Insert-if-absent, then read: concurrent first uses all end up with one row.
                sql::exec(
                    self,
                    "INSERT INTO client_secret_pepper (id, pepper, created_at) \
                     VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
                    params![random_b64(32), now_ms()],
                )
                .await?;
                let rows = sql::fetch(self, READ, vec![]).await?;
                rows.first()
                    .map(|r| r.text(0))
                    .transpose()?
                    .unwrap_or_default()
            }
        };
        Ok(Pepper::new(&decode_key(
            &text,
            "client_secret_pepper.pepper",
        )?))
    }

    /// Creates an API client of `tenant` allowed `scopes`, unrestricted; the secret is returned
    /// only here.
    pub async fn create_client(
        &self,
        tenant: &str,
        name: &str,
        scopes: Scopes,
    ) -> Result<NewClient, StoreError> {
        self.create_client_with(tenant, name, scopes, ClientSettings::default())
            .await
    }

    /// Creates an API client with restrictions; the secret is returned only here.
    pub async fn create_client_with(
        &self,
        tenant: &str,
        name: &str,
        scopes: Scopes,
        settings: ClientSettings,
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
            allowed_ips: settings.allowed_ips,
            rate_limit_per_min: settings.rate_limit_per_min,
            org_scope: settings.org_scope,
            previous_secret_hash: None,
            previous_secret_until: None,
            target: settings.target,
        };
        let r = &record;
        sql::exec(
            self,
            "INSERT INTO api_clients (client_id, tenant_id, name, secret_hash, scopes, \
             created_at, allowed_ips, rate_limit_per_min, org_scope, target) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                r.client_id.clone().into(),
                r.tenant.clone().into(),
                r.name.clone().into(),
                r.secret_hash.clone().into(),
                r.scopes.to_list_string().into(),
                r.created_at.into(),
                opt_text(r.allowed_ips.as_deref().map(allowed_ips_text)),
                opt_int(r.rate_limit_per_min.map(i64::from)),
                opt_text(r.org_scope.as_deref().map(org_scope_text)),
                opt_text(r.target.clone()),
            ],
        )
        .await?;
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
        const SQL: &str = "SELECT client_id, tenant_id, name, secret_hash, scopes, created_at, revoked_at, \
             allowed_ips, rate_limit_per_min, org_scope, previous_secret_hash, \
             previous_secret_until, target FROM api_clients WHERE CAST($1 AS TEXT) IS NULL \
             OR tenant_id = $1 ORDER BY created_at, client_id";
        let rows = sql::fetch(self, SQL, vec![opt_text(tenant.map(str::to_owned))]).await?;
        rows.iter().map(to_record).collect()
    }

    /// One page of a tenant's clients (revoked ones too), newest first: the web UI's list.
    pub async fn list_clients_page(
        &self,
        tenant: &str,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        const SQL: &str = "SELECT client_id, tenant_id, name, secret_hash, scopes, created_at, revoked_at, \
             allowed_ips, rate_limit_per_min, org_scope, previous_secret_hash, \
             previous_secret_until, target FROM api_clients WHERE tenant_id = $1 \
             ORDER BY created_at DESC, client_id LIMIT $2 OFFSET $3";
        let rows = sql::fetch(
            self,
            SQL,
            vec![
                tenant.into(),
                (limit.min(i64::MAX as u64) as i64).into(),
                (offset.min(i64::MAX as u64) as i64).into(),
            ],
        )
        .await?;
        rows.iter().map(to_record).collect()
    }

    /// The client with this id, revoked or not (whatever its tenant: the token endpoint).
    pub async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.find_client_of(None, client_id).await
    }

    /// The client with this id if it belongs to `tenant` (`None`: any tenant).
    pub async fn find_client_of(
        &self,
        tenant: Option<&str>,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        const SQL: &str = "SELECT client_id, tenant_id, name, secret_hash, scopes, created_at, revoked_at, \
             allowed_ips, rate_limit_per_min, org_scope, previous_secret_hash, \
             previous_secret_until, target FROM api_clients WHERE client_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR tenant_id = $2)";
        let rows = sql::fetch(
            self,
            SQL,
            vec![client_id.into(), opt_text(tenant.map(str::to_owned))],
        )
        .await?;
        rows.first().map(to_record).transpose()
    }

    /// Revokes a client: it gets no new tokens, and its tokens are refused from the next
    /// request on (the handlers check the client per request). `false` if there is no such
    /// client; revoking twice keeps the first time.
    pub async fn revoke_client(&self, client_id: &str) -> Result<bool, StoreError> {
        self.revoke_client_of(None, client_id).await
    }

    /// [`Store::revoke_client`] within `tenant` (`None`: any tenant).
    pub async fn revoke_client_of(
        &self,
        tenant: Option<&str>,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        let changed = sql::exec(
            self,
            "UPDATE api_clients SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE client_id = $2 AND (CAST($3 AS TEXT) IS NULL OR tenant_id = $3)",
            vec![
                now_ms().into(),
                client_id.into(),
                opt_text(tenant.map(str::to_owned)),
            ],
        )
        .await?;
        Ok(changed > 0)
    }

    /// Changes a client's name, scopes or restrictions (the fields `update` sets, in one
    /// statement); the client as it is now, or `None` if there is no such client in `tenant`.
    pub async fn update_client(
        &self,
        tenant: Option<&str>,
        client_id: &str,
        update: &ClientUpdate,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let flag = |set: bool| Value::Int(i64::from(set));
        let u = update;
        sql::exec(
            self,
            "UPDATE api_clients SET name = COALESCE($1, name), scopes = COALESCE($2, scopes), \
             allowed_ips = CASE WHEN $3 = 1 THEN $4 ELSE allowed_ips END, \
             rate_limit_per_min = CASE WHEN $5 = 1 THEN $6 ELSE rate_limit_per_min END, \
             org_scope = CASE WHEN $7 = 1 THEN $8 ELSE org_scope END, \
             target = CASE WHEN $11 = 1 THEN $12 ELSE target END \
             WHERE client_id = $9 AND (CAST($10 AS TEXT) IS NULL OR tenant_id = $10)",
            vec![
                opt_text(u.name.clone()),
                opt_text(u.scopes.map(Scopes::to_list_string)),
                flag(u.allowed_ips.is_some()),
                opt_text(
                    u.allowed_ips
                        .clone()
                        .flatten()
                        .as_deref()
                        .map(allowed_ips_text),
                ),
                flag(u.rate_limit_per_min.is_some()),
                opt_int(u.rate_limit_per_min.flatten().map(i64::from)),
                flag(u.org_scope.is_some()),
                opt_text(u.org_scope.clone().flatten().as_deref().map(org_scope_text)),
                client_id.into(),
                opt_text(tenant.map(str::to_owned)),
                flag(u.target.is_some()),
                opt_text(u.target.clone().flatten()),
            ],
        )
        .await?;
        self.find_client_of(tenant, client_id).await
    }

    /// Gives an active client a new secret; the old one keeps working for `overlap_ms` (0: not
    /// at all). `None` if there is no such active client in `tenant`.
    pub async fn rotate_client_secret(
        &self,
        tenant: Option<&str>,
        client_id: &str,
        overlap_ms: i64,
    ) -> Result<Option<NewClient>, StoreError> {
        let pepper = self.client_pepper().await?;
        let client_secret = random_b64(32);
        let overlap_ms = overlap_ms.max(0);
        let changed = sql::exec(
            self,
            "UPDATE api_clients SET \
             previous_secret_hash = CASE WHEN $1 > 0 THEN secret_hash ELSE NULL END, \
             previous_secret_until = CASE WHEN $1 > 0 THEN $2 ELSE NULL END, \
             secret_hash = $3 \
             WHERE client_id = $4 AND revoked_at IS NULL \
             AND (CAST($5 AS TEXT) IS NULL OR tenant_id = $5)",
            vec![
                overlap_ms.into(),
                now_ms().saturating_add(overlap_ms).into(),
                pepper.hash(&client_secret).into(),
                client_id.into(),
                opt_text(tenant.map(str::to_owned)),
            ],
        )
        .await?;
        if changed == 0 {
            return Ok(None);
        }
        Ok(self
            .find_client_of(tenant, client_id)
            .await?
            .map(|record| NewClient {
                record,
                client_secret,
            }))
    }
}

// Tests: `crate::auth::tests::storage` (both backends).
