//! PII encrypted at rest: the columns named in configuration (default: users' email, phone,
//! sms and password, demographics' birthDate) are stored as AES-256-GCM ciphertext, with a
//! keyed blind index beside the filterable ones so `filter=email='…'` still works.
//!
//! * A cell: `pii1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`, a random 96-bit nonce per
//!   value; the associated data binds it to its table, column, tenant and sourcedId, so a value
//!   copied into another row, column or tenant fails to decrypt. Empty cells stay empty (NULL).
//! * Key ids are the first 8 hex characters of SHA-256 of the key. A previous key (during a
//!   rotation) only decrypts; `rosterhub keys rotate` re-encrypts everything under the current
//!   one.
//! * The blind index (`email_bidx`, …) is HMAC-SHA256 under an *index key* of its own: random,
//!   made once per database, stored wrapped (encrypted) under each data key in `pii_keys`. A
//!   rotation re-wraps it and never changes it, so the index stays valid across rotations; the
//!   wrapped copy doubles as the key check that refuses a wrong key.
//! * The content hash that decides whether an import changes a record is computed over the
//!   plaintext before this module is involved: an unchanged re-import rewrites nothing.
//!
//! Pure: no SQL (the `pii_keys` table is in `storage::pii_keys`). Nothing here logs, and no
//! error message carries a value or a key.

mod config;
mod key;
#[cfg(test)]
mod tests;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::domain::Entity;
use crate::domain::entity::{Column, Kind};

pub use config::{DEFAULT_COLUMNS, PiiConfig, PiiSettings};
pub use key::{Key, PREFIX, is_sealed, split_cell};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PiiError {
    /// Configuration: a bad key, key file or column list.
    #[error("{0}")]
    Config(String),
    #[error(
        "this database holds encrypted PII; set ROSTERHUB_PII_KEY (base64 of 32 bytes) or \
         ROSTERHUB_PII_KEY_FILE (--pii-key-file) to its key"
    )]
    KeyRequired,
    #[error(
        "this database holds PII encrypted under key {needed}, which is not configured (the \
         configured keys are {configured}); during a rotation set the old key as \
         ROSTERHUB_PII_KEY_PREVIOUS (or --pii-previous-key-file)"
    )]
    KeyNotConfigured { needed: String, configured: String },
    #[error(
        "the PII key {0} does not match this database's key check: it is not the key the data was encrypted with"
    )]
    KeyCheckFailed(String),
    #[error("a value of {table}.{column} is encrypted under key {key}, which is not configured")]
    UnknownKey {
        table: &'static str,
        column: &'static str,
        key: String,
    },
    #[error(
        "a value of {table}.{column} failed to decrypt: wrong key, altered, or moved from \
         another row, column or tenant"
    )]
    Authentication {
        table: &'static str,
        column: &'static str,
    },
}

/// The entities whose columns may be encrypted. Their values are read only through
/// `Store::records`, which decrypts.
pub const ENTITIES: [Entity; 2] = [Entity::Users, Entity::Demographics];

/// Whether a column may be encrypted: free text, dates and user ids of users and demographics —
/// never references, vocabularies or flags, which selections and joins compare in SQL.
pub fn encryptable(entity: Entity, column: &Column) -> bool {
    ENTITIES.contains(&entity) && matches!(column.kind, Kind::Text | Kind::Date | Kind::UserIds)
}

/// The encryptable columns of an entity: (index in [`Entity::columns`], column).
pub fn encryptable_columns(entity: Entity) -> impl Iterator<Item = (usize, &'static Column)> {
    entity
        .columns()
        .iter()
        .enumerate()
        .filter(move |(_, c)| encryptable(entity, c))
}

/// Columns with a blind index: (entity, column, index column). `=` and `!=` filters on them
/// keep working when they are encrypted.
pub const BLIND_INDEXED: &[(Entity, &str, &str)] = &[
    (Entity::Users, "email", "email_bidx"),
    (Entity::Users, "sms", "sms_bidx"),
    (Entity::Users, "phone", "phone_bidx"),
    (Entity::Demographics, "birth_date", "birth_date_bidx"),
];

/// The most blind-indexed columns of one entity.
pub const MAX_BIDX: usize = 3;

/// The blind-indexed columns of an entity: (column, index column), in [`BLIND_INDEXED`] order.
pub fn bidx_columns(entity: Entity) -> impl Iterator<Item = (&'static str, &'static str)> {
    BLIND_INDEXED
        .iter()
        .filter(move |(e, _, _)| *e == entity)
        .map(|(_, c, i)| (*c, *i))
}

/// The blind index column of a column, if it has one.
pub fn bidx_column(entity: Entity, column: &str) -> Option<&'static str> {
    bidx_columns(entity)
        .find(|(c, _)| *c == column)
        .map(|(_, i)| i)
}

/// Which columns are encrypted: a set of (entity, column index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    /// Per entity (by [`Entity::index`]): bit `i` = column `i` of [`Entity::columns`].
    bits: [u64; 9],
}

impl Columns {
    /// Parses `users.email,demographics.birthDate` (entity and CSV column names).
    pub fn parse(list: &str) -> Result<Columns, PiiError> {
        let mut out = Columns::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = |why: &str| PiiError::Config(format!("--pii-columns: {item:?} {why}"));
            let (entity, column) = item
                .split_once('.')
                .ok_or_else(|| bad("is not entity.column (e.g. users.email)"))?;
            let entity = Entity::from_name(entity).ok_or_else(|| bad("names no entity"))?;
            let (i, col) = entity
                .columns()
                .iter()
                .enumerate()
                .find(|(_, c)| c.csv == column)
                .ok_or_else(|| bad("names no column of that entity"))?;
            if !encryptable(entity, col) {
                return Err(bad(
                    "cannot be encrypted: only text, date and userIds columns of users and \
                     demographics can",
                ));
            }
            out.bits[entity.index()] |= 1 << i;
        }
        Ok(out)
    }

    pub fn contains(&self, entity: Entity, index: usize) -> bool {
        self.bits[entity.index()] & (1 << index) != 0
    }

    /// Whether the column with this database name is encrypted.
    pub fn contains_db(&self, entity: Entity, db: &str) -> bool {
        entity
            .columns()
            .iter()
            .position(|c| c.db == db)
            .is_some_and(|i| self.contains(entity, i))
    }

    pub fn any(&self, entity: Entity) -> bool {
        self.bits[entity.index()] != 0
    }

    /// `entity.csvColumn` names, comma-separated, in entity and column order.
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in Entity::ALL {
            for (i, c) in e.columns().iter().enumerate() {
                if self.contains(e, i) {
                    out.push(format!("{}.{}", e.name(), c.csv));
                }
            }
        }
        out
    }
}

/// Where a value lives: what its associated data binds it to.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub table: &'static str,
    pub column: &'static str,
    pub tenant: &'a str,
    pub sourced_id: &'a str,
}

/// Length-prefixed parts after a label: unambiguous whatever bytes the parts hold.
fn framed(label: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(label.len() + parts.iter().map(|p| p.len() + 4).sum::<usize>());
    out.extend_from_slice(label);
    for p in parts {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn value_aad(place: &Place<'_>) -> Vec<u8> {
    framed(
        b"rosterhub pii v1",
        &[
            place.table.as_bytes(),
            place.column.as_bytes(),
            place.tenant.as_bytes(),
            place.sourced_id.as_bytes(),
        ],
    )
}

const INDEX_KEY_AAD: &[u8] = b"rosterhub pii index key v1";

/// The blind-index key encrypted under `key` (stored in `pii_keys`).
pub fn wrap_index_key(key: &Key, index_key: &[u8; 32]) -> String {
    key.seal(&framed(INDEX_KEY_AAD, &[key.id().as_bytes()]), index_key)
}

/// The blind-index key from its wrapped form; `None` if `key` did not wrap it.
pub fn unwrap_index_key(key: &Key, wrapped: &str) -> Option<[u8; 32]> {
    let (id, body) = split_cell(wrapped)?;
    if id != key.id() {
        return None;
    }
    key.open(&framed(INDEX_KEY_AAD, &[key.id().as_bytes()]), body)?
        .try_into()
        .ok()
}

/// A new random blind-index key.
pub fn new_index_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::fill(&mut k[..]);
    k
}

/// The values of a row as they are written: encrypted cells, and the blind indexes.
#[derive(Debug, Default)]
pub struct Sealed {
    /// `None`: the values are written as given (nothing of this entity is encrypted).
    pub values: Option<Vec<String>>,
    bidx: [Option<String>; MAX_BIDX],
    bidx_len: usize,
}

impl Sealed {
    /// No encryption: the values as given and an empty blind index per indexed column.
    pub fn plain(entity: Entity) -> Sealed {
        Sealed {
            values: None,
            bidx: Default::default(),
            bidx_len: bidx_columns(entity).count(),
        }
    }

    /// One value per [`bidx_columns`] of the entity (`None`: not encrypted, or empty).
    pub fn bidx(&self) -> &[Option<String>] {
        &self.bidx[..self.bidx_len]
    }
}

/// The keys and columns of a store that encrypts PII.
pub struct Pii {
    current: Key,
    previous: Option<Key>,
    columns: Columns,
    index_key: [u8; 32],
}

impl std::fmt::Debug for Pii {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pii")
            .field("current", &self.current)
            .field("previous", &self.previous)
            .field("columns", &self.columns.names())
            .finish_non_exhaustive()
    }
}

impl Pii {
    /// Keys from configuration and the database's blind-index key (see `storage::pii_keys`).
    pub fn new(config: PiiConfig, index_key: [u8; 32]) -> Pii {
        Pii {
            current: config.current,
            previous: config.previous,
            columns: config.columns,
            index_key,
        }
    }

    /// The key new values are encrypted under.
    pub fn current(&self) -> &Key {
        &self.current
    }

    /// The key of a rotation in progress (decrypt only).
    pub fn previous(&self) -> Option<&Key> {
        self.previous.as_ref()
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The configured key with this id.
    pub fn key(&self, id: &str) -> Option<&Key> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id() == id)
    }

    pub fn encrypt(&self, place: &Place<'_>, plain: &str) -> String {
        self.current.seal(&value_aad(place), plain.as_bytes())
    }

    /// The plaintext of an encrypted cell (a cell that is not encrypted comes back as it is).
    pub fn decrypt(&self, place: &Place<'_>, cell: &str) -> Result<String, PiiError> {
        let Some((id, body)) = split_cell(cell) else {
            return Ok(cell.to_owned());
        };
        let key = self.key(id).ok_or_else(|| PiiError::UnknownKey {
            table: place.table,
            column: place.column,
            key: id.to_owned(),
        })?;
        let auth = || PiiError::Authentication {
            table: place.table,
            column: place.column,
        };
        let plain = key.open(&value_aad(place), body).ok_or_else(auth)?;
        String::from_utf8(plain).map_err(|_| auth())
    }

    /// The blind index of a value: hex of HMAC-SHA256 under the index key over the table,
    /// column, tenant and normalised value (trimmed; e-mail also lower-cased), first 128 bits.
    pub fn blind_index(&self, table: &str, column: &str, tenant: &str, value: &str) -> String {
        let trimmed = value.trim();
        let normalised = if column == "email" {
            trimmed.to_lowercase()
        } else {
            trimmed.to_owned()
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.index_key).expect("HMAC takes keys of any size");
        mac.update(&framed(
            b"rosterhub blind index v1",
            &[
                table.as_bytes(),
                column.as_bytes(),
                tenant.as_bytes(),
                normalised.as_bytes(),
            ],
        ));
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// A row's values (one per [`Entity::columns`]) as they are to be written.
    pub fn seal_row(
        &self,
        entity: Entity,
        tenant: &str,
        sourced_id: &str,
        values: &[String],
    ) -> Sealed {
        let mut sealed = Sealed::plain(entity);
        if !self.columns.any(entity) {
            return sealed;
        }
        let cols = entity.columns();
        let mut out = values.to_vec();
        for (i, v) in out.iter_mut().enumerate() {
            if v.is_empty() || !self.columns.contains(entity, i) {
                continue;
            }
            let place = Place {
                table: entity.table(),
                column: cols[i].db,
                tenant,
                sourced_id,
            };
            if let Some(slot) = bidx_columns(entity).position(|(c, _)| c == cols[i].db) {
                sealed.bidx[slot] = Some(self.blind_index(place.table, place.column, tenant, v));
            }
            *v = self.encrypt(&place, v);
        }
        sealed.values = Some(out);
        sealed
    }

    /// Decrypts in place the encrypted cells of a record read from `entity`'s table.
    pub fn open_record(
        &self,
        entity: Entity,
        tenant: &str,
        sourced_id: &str,
        values: &mut [Option<String>],
    ) -> Result<(), PiiError> {
        for (i, col) in encryptable_columns(entity) {
            let Some(cell) = values.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if is_sealed(cell) {
                let place = Place {
                    table: entity.table(),
                    column: col.db,
                    tenant,
                    sourced_id,
                };
                *cell = self.decrypt(&place, cell)?;
            }
        }
        Ok(())
    }
}

/// A row's values as they are to be written, by a store with or without PII keys.
pub fn seal_row(
    pii: Option<&Pii>,
    entity: Entity,
    tenant: &str,
    sourced_id: &str,
    values: &[String],
) -> Sealed {
    match pii {
        Some(p) => p.seal_row(entity, tenant, sourced_id, values),
        None => Sealed::plain(entity),
    }
}
