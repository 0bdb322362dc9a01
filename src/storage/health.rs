//! What `rosterhub doctor` asks the database, read-only: how far its schema is migrated (read
//! without migrating it), the database server's clock, the newest time an import stamped, and
//! whether a PII key decrypts a stored value. Nothing here writes.

use std::path::PathBuf;
use std::time::Duration;

use super::read::Query;
use super::{BackendKind, Store, StoreError};
use crate::pii::{ENTITIES, Pii, Place, encryptable_columns};

/// How long reaching a PostgreSQL server may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How far one schema (a SQLite file, or the PostgreSQL database) is migrated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// `database` or, on SQLite, `operational file`.
    pub part: &'static str,
    pub current: i64,
    /// The newest migration this program has.
    pub latest: i64,
}

/// Where a database is, and how far it is migrated, without opening it as a [`Store`] (which
/// would create and migrate it).
#[derive(Debug)]
pub enum Reach {
    /// The SQLite file does not exist.
    Missing(PathBuf),
    Found(Vec<SchemaState>),
}

fn latest(list: &[(i64, &str, &str)]) -> i64 {
    list.last().map_or(0, |m| m.0)
}

/// Reaches the database at `url` and reads its schema versions.
pub async fn reach(url: &str) -> Result<Reach, StoreError> {
    match BackendKind::from_url(url)? {
        BackendKind::Sqlite => {
            let main = super::sqlite::path_from_url(url);
            if !main.exists() {
                return Ok(Reach::Missing(main));
            }
            let ops = super::ops::sqlite_ops_path(&main);
            let ops_version = if ops.exists() {
                super::backup::sqlite_schema_version(&ops)?
            } else {
                0
            };
            Ok(Reach::Found(vec![
                SchemaState {
                    part: "database",
                    current: super::backup::sqlite_schema_version(&main)?,
                    latest: latest(super::migrate::SQLITE),
                },
                SchemaState {
                    part: "operational file",
                    current: ops_version,
                    latest: latest(super::migrate::SQLITE_OPS),
                },
            ]))
        }
        BackendKind::Postgres => {
            use sqlx::Connection as _;
            let options = url.parse::<sqlx::postgres::PgConnectOptions>()?;
            let mut conn =
                tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(&options))
                    .await
                    .map_err(|_| {
                        StoreError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                        ))
                    })??;
            let exists: Option<String> =
                sqlx::query_scalar("SELECT CAST(to_regclass('schema_migrations') AS TEXT)")
                    .fetch_one(&mut conn)
                    .await?;
            let current: i64 = match exists {
                Some(_) => {
                    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                        .fetch_one(&mut conn)
                        .await?
                }
                None => 0,
            };
            conn.close().await?;
            Ok(Reach::Found(vec![SchemaState {
                part: "database",
                current,
                latest: latest(super::migrate::POSTGRES),
            }]))
        }
    }
}

impl Store {
    /// The database server's clock (epoch ms); `None` on SQLite, whose clock is this machine's.
    pub async fn database_now_ms(&self) -> Result<Option<i64>, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(p) => Ok(Some(
                sqlx::query_scalar(
                    "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
                )
                .fetch_one(p.pool())
                .await?,
            )),
        }
    }

    /// The newest time an import run ended, by the clock of the process that ran it.
    pub async fn newest_import_ms(&self) -> Result<Option<i64>, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push("SELECT MAX(finished_at) FROM imports");
        match self.rows(q).await?.first() {
            Some(row) => row.opt_int(0),
            None => Ok(None),
        }
    }

    /// Decrypts one stored encrypted value with `pii` (the first found, column by column):
    /// `Some("users.email")` naming where it was, `None` when no value is encrypted. A value
    /// that does not decrypt is the error.
    pub async fn decrypt_sample(&self, pii: &Pii) -> Result<Option<String>, StoreError> {
        for entity in ENTITIES {
            for (_, col) in encryptable_columns(entity) {
                let (t, c) = (entity.table(), col.db);
                let mut q = Query::new(self.dialect());
                q.push(&format!(
                    "SELECT tenant_id, sourced_id, {c} FROM {t} WHERE substr({c}, 1, 5) = "
                ))
                .bind(crate::pii::PREFIX);
                q.push(" LIMIT 1");
                let Some(row) = self.rows(q).await?.into_iter().next() else {
                    continue;
                };
                let (tenant, id, cell) = (row.text(0)?, row.text(1)?, row.text(2)?);
                let place = Place {
                    table: t,
                    column: c,
                    tenant: &tenant,
                    sourced_id: &id,
                };
                pii.decrypt(&place, &cell)?;
                return Ok(Some(format!("{}.{}", entity.name(), col.csv)));
            }
        }
        Ok(None)
    }
}
