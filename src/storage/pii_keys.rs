//! The `pii_keys` table: the keys a database's PII is encrypted under, each with the database's
//! blind-index key wrapped under it — which is also the key check that refuses a wrong key.
//!
//! Every store is opened through [`Store::with_pii`]: a database that has a key in use refuses
//! to open without it (or with another key), and the current key is registered the first time
//! it is used. Rotation and status are in `pii_rotate`.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension as _, params};
use sqlx::Row as _;

use super::{Store, StoreError};
use crate::domain::datetime::now_ms;
use crate::pii::{Pii, PiiConfig, PiiError, new_index_key, unwrap_index_key, wrap_index_key};

/// Serialises key registration across PostgreSQL replicas (any constant).
const PII_KEYS_LOCK: i64 = 0x5069_694b_6579;

/// One row of `pii_keys`.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    /// The blind-index key, encrypted under this key.
    pub wrapped: String,
    pub created_at: i64,
    /// Set by `keys rotate` once no value uses the key any more.
    pub retired_at: Option<i64>,
}

/// What opening with a configuration must write.
#[derive(Debug)]
enum Write {
    /// Register the current key.
    Insert(String),
    /// The current key was retired once and is current again.
    Unretire,
}

/// The database's blind-index key, and what registering the current key must write.
type Decision = ([u8; 32], Option<Write>);

/// Checks the configured keys against the table: `None` when encryption is off (and allowed
/// to be), else the blind-index key and what to write.
fn decide(rows: &[KeyRow], config: Option<&PiiConfig>) -> Result<Option<Decision>, PiiError> {
    let active: Vec<&KeyRow> = rows.iter().filter(|r| r.retired_at.is_none()).collect();
    let Some(config) = config else {
        return if active.is_empty() {
            Ok(None)
        } else {
            Err(PiiError::KeyRequired)
        };
    };
    let configured: Vec<&crate::pii::Key> = std::iter::once(&config.current)
        .chain(config.previous.as_ref())
        .collect();
    if let Some(missing) = active
        .iter()
        .find(|r| !configured.iter().any(|k| k.id() == r.id))
    {
        return Err(PiiError::KeyNotConfigured {
            needed: missing.id.clone(),
            configured: configured
                .iter()
                .map(|k| k.id())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    // Every configured key the table knows must pass its check; active rows come first.
    let mut index_key = None;
    for row in active
        .iter()
        .copied()
        .chain(rows.iter().filter(|r| r.retired_at.is_some()))
    {
        let Some(key) = configured.iter().find(|k| k.id() == row.id) else {
            continue;
        };
        let unwrapped = unwrap_index_key(key, &row.wrapped)
            .ok_or_else(|| PiiError::KeyCheckFailed(row.id.clone()))?;
        index_key.get_or_insert(unwrapped);
    }
    let index_key = index_key.unwrap_or_else(new_index_key);
    let write = match rows.iter().find(|r| r.id == config.current.id()) {
        None => Some(Write::Insert(wrap_index_key(&config.current, &index_key))),
        Some(r) if r.retired_at.is_some() => Some(Write::Unretire),
        Some(_) => None,
    };
    Ok(Some((index_key, write)))
}

const SELECT_ROWS: &str =
    "SELECT key_id, index_key, created_at, retired_at FROM pii_keys ORDER BY created_at, key_id";

fn sqlite_rows(conn: &Connection) -> Result<Vec<KeyRow>, StoreError> {
    let mut stmt = conn.prepare(SELECT_ROWS)?;
    let rows = stmt.query_map([], |r| {
        Ok(KeyRow {
            id: r.get(0)?,
            wrapped: r.get(1)?,
            created_at: r.get(2)?,
            retired_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn sqlite_write(conn: &Connection, config: &PiiConfig, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::Insert(wrapped) => conn.execute(
            "INSERT INTO pii_keys (key_id, index_key, created_at) VALUES (?1, ?2, ?3)",
            params![config.current.id(), wrapped, now_ms()],
        )?,
        Write::Unretire => conn.execute(
            "UPDATE pii_keys SET retired_at = NULL WHERE key_id = ?1",
            [config.current.id()],
        )?,
    };
    Ok(())
}

fn sqlite_register(
    s: &super::sqlite::SqliteStore,
    config: Option<&PiiConfig>,
) -> Result<Option<[u8; 32]>, StoreError> {
    let mut conn = s.connect()?;
    match decide(&sqlite_rows(&conn)?, config)? {
        None => return Ok(None),
        Some((key, None)) => return Ok(Some(key)),
        Some((_, Some(_))) => {}
    }
    // Something to write: decide again under the write lock, so two processes opening a new
    // database at once agree on one blind-index key.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let decided = decide(&sqlite_rows(&tx)?, config)?;
    if let (Some((_, Some(write))), Some(config)) = (&decided, config) {
        sqlite_write(&tx, config, write)?;
    }
    tx.commit()?;
    Ok(decided.map(|(k, _)| k))
}

async fn pg_rows<'e>(exec: impl sqlx::PgExecutor<'e>) -> Result<Vec<KeyRow>, StoreError> {
    let rows = sqlx::query(SELECT_ROWS).fetch_all(exec).await?;
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                id: r.try_get(0)?,
                wrapped: r.try_get(1)?,
                created_at: r.try_get(2)?,
                retired_at: r.try_get(3)?,
            })
        })
        .collect()
}

async fn pg_register(
    p: &super::postgres::PgStore,
    config: Option<&PiiConfig>,
) -> Result<Option<[u8; 32]>, StoreError> {
    match decide(&pg_rows(p.pool()).await?, config)? {
        None => return Ok(None),
        Some((key, None)) => return Ok(Some(key)),
        Some((_, Some(_))) => {}
    }
    let mut tx = p.pool().begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PII_KEYS_LOCK)
        .execute(&mut *tx)
        .await?;
    let decided = decide(&pg_rows(&mut *tx).await?, config)?;
    if let (Some((_, Some(write))), Some(config)) = (&decided, config) {
        match write {
            Write::Insert(wrapped) => {
                sqlx::query(
                    "INSERT INTO pii_keys (key_id, index_key, created_at) VALUES ($1, $2, $3)",
                )
                .bind(config.current.id())
                .bind(wrapped)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
            Write::Unretire => {
                sqlx::query("UPDATE pii_keys SET retired_at = NULL WHERE key_id = $1")
                    .bind(config.current.id())
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(decided.map(|(k, _)| k))
}

impl Store {
    /// This store with PII encryption as configured (`None`: off). Refuses a database that holds
    /// encrypted PII when no key, or not every key in use, is configured, and a key that fails
    /// the database's key check; registers the current key on first use.
    pub async fn with_pii(mut self, config: Option<PiiConfig>) -> Result<Store, StoreError> {
        let index_key = match &self {
            Store::Sqlite(s) => sqlite_register(s, config.as_ref())?,
            Store::Postgres(p) => pg_register(p, config.as_ref()).await?,
        };
        let pii = match (config, index_key) {
            (Some(config), Some(key)) => Some(Arc::new(Pii::new(config, key))),
            _ => None,
        };
        match &mut self {
            Store::Sqlite(s) => s.pii = pii,
            Store::Postgres(p) => p.pii = pii,
        }
        Ok(self)
    }

    /// What [`Store::with_pii`] would decide for `config`, without writing anything (a key not
    /// registered yet is not registered): the keys as they would open this database, `None`
    /// when encryption is off, or why the database refuses them.
    pub async fn pii_check(&self, config: Option<PiiConfig>) -> Result<Option<Pii>, StoreError> {
        let rows = self.pii_keys().await?;
        Ok(match (decide(&rows, config.as_ref())?, config) {
            (Some((index_key, _)), Some(config)) => Some(Pii::new(config, index_key)),
            _ => None,
        })
    }

    /// The keys and columns of PII encryption, when it is on.
    pub fn pii(&self) -> Option<&Arc<Pii>> {
        match self {
            Store::Sqlite(s) => s.pii.as_ref(),
            Store::Postgres(p) => p.pii.as_ref(),
        }
    }

    /// Every row of `pii_keys`, oldest first.
    pub async fn pii_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        match self {
            Store::Sqlite(s) => sqlite_rows(&s.connect()?),
            Store::Postgres(p) => pg_rows(p.pool()).await,
        }
    }

    /// Marks every key but `current` retired (no value uses them any more): the database then
    /// opens without them. Returns the ids retired now.
    pub(super) async fn retire_pii_keys_except(
        &self,
        current: &str,
    ) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        match self {
            Store::Sqlite(s) => {
                let mut conn = s.connect()?;
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let ids: Vec<String> = tx
                    .prepare(
                        "SELECT key_id FROM pii_keys WHERE key_id <> ?1 AND retired_at IS NULL \
                         ORDER BY key_id",
                    )?
                    .query_map([current], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                tx.execute(
                    "UPDATE pii_keys SET retired_at = ?2 WHERE key_id <> ?1 AND retired_at IS NULL",
                    params![current, now],
                )?;
                let still: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM pii_keys WHERE key_id = ?1 AND retired_at IS NULL",
                        [current],
                        |r| r.get(0),
                    )
                    .optional()?;
                if still.is_none() {
                    return Err(StoreError::Conflict(format!(
                        "PII key {current} is not registered"
                    )));
                }
                tx.commit()?;
                Ok(ids)
            }
            Store::Postgres(p) => {
                let mut tx = p.pool().begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PII_KEYS_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let ids: Vec<String> = sqlx::query_scalar(
                    "UPDATE pii_keys SET retired_at = $2 WHERE key_id <> $1 AND retired_at IS NULL \
                     RETURNING key_id",
                )
                .bind(current)
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut ids = ids;
                ids.sort();
                Ok(ids)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::Key;

    fn row(key: &Key, index_key: &[u8; 32], retired: bool) -> KeyRow {
        KeyRow {
            id: key.id().to_owned(),
            wrapped: wrap_index_key(key, index_key),
            created_at: 1,
            retired_at: retired.then_some(2),
        }
    }

    #[test]
    fn a_database_with_a_key_in_use_refuses_no_key_and_other_keys() {
        let (a, b) = (Key::generate(), Key::generate());
        let ik = new_index_key();
        let rows = vec![row(&a, &ik, false)];
        assert_eq!(decide(&rows, None).unwrap_err(), PiiError::KeyRequired);
        let err = decide(&rows, Some(&PiiConfig::new(b.clone()))).unwrap_err();
        assert!(matches!(err, PiiError::KeyNotConfigured { ref needed, .. } if needed == a.id()));
        // The new key as current with the old as previous: registered with the same index key.
        let (key, write) = decide(
            &rows,
            Some(&PiiConfig::new(b.clone()).with_previous(a.clone())),
        )
        .unwrap()
        .unwrap();
        assert_eq!(key, ik);
        let Some(Write::Insert(wrapped)) = write else {
            panic!("the new key is registered")
        };
        assert_eq!(unwrap_index_key(&b, &wrapped), Some(ik));
        // The same key: nothing to write.
        let (key, write) = decide(&rows, Some(&PiiConfig::new(a.clone())))
            .unwrap()
            .unwrap();
        assert_eq!(key, ik);
        assert!(write.is_none());
    }

    #[test]
    fn a_key_failing_its_check_is_refused_and_retired_keys_are_not_needed() {
        let (a, b) = (Key::generate(), Key::generate());
        let ik = new_index_key();
        // A row claiming a's id but wrapped by b: a fails the check.
        let forged = KeyRow {
            id: a.id().to_owned(),
            wrapped: wrap_index_key(&b, &ik),
            created_at: 1,
            retired_at: None,
        };
        assert_eq!(
            decide(&[forged], Some(&PiiConfig::new(a.clone()))).unwrap_err(),
            PiiError::KeyCheckFailed(a.id().to_owned())
        );
        let rows = vec![row(&a, &ik, true), row(&b, &ik, false)];
        assert!(decide(&rows, None).is_err());
        let (key, write) = decide(&rows, Some(&PiiConfig::new(b))).unwrap().unwrap();
        assert_eq!(key, ik);
        assert!(write.is_none());
        assert!(decide(&[row(&a, &ik, true)], None).unwrap().is_none());
    }
}
