//! The read side: records for the OneRoster API, with selections (schools, students, the
//! relationship endpoints), filters, sorting and paging, on both backends.

use rusqlite::types::Value as SqliteValue;
use sqlx::Row as _;

use super::sql::{Dialect, content_columns};
use super::{Store, StoreError};
use crate::domain::Entity;

/// A bound value of a dynamic query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// One stored record as the API reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub sourced_id: String,
    pub status: String,
    /// Epoch milliseconds: the import that last changed it.
    pub modified: i64,
    /// One per [`Entity::columns`]; `None` = no value.
    pub values: Vec<Option<String>>,
    pub metadata: Option<String>,
}

impl Record {
    /// The value of a content column by its database name.
    pub fn get(&self, entity: Entity, db: &str) -> Option<&str> {
        entity
            .columns()
            .iter()
            .position(|c| c.db == db)
            .and_then(|i| self.values[i].as_deref())
    }
}

/// A query being built: SQL text with dialect placeholders and its parameters.
#[derive(Debug, Clone)]
pub struct Query {
    pub dialect: Dialect,
    pub sql: String,
    pub params: Vec<Param>,
}

impl Query {
    pub fn new(dialect: Dialect) -> Query {
        Query {
            dialect,
            sql: String::new(),
            params: Vec::new(),
        }
    }

    /// Appends a placeholder bound to `p`.
    pub fn bind(&mut self, p: Param) -> &mut Query {
        self.params.push(p);
        let ph = self.dialect.param(self.params.len());
        self.sql.push_str(&ph);
        self
    }

    pub fn push(&mut self, sql: &str) -> &mut Query {
        self.sql.push_str(sql);
        self
    }

    /// The next placeholder number.
    pub fn next_param(&self) -> usize {
        self.params.len() + 1
    }
}

/// The columns every record query selects, in [`Record`] order, for table alias `m`; then the
/// tenant, which encrypted values are bound to (see [`crate::pii`]).
pub fn record_columns(entity: Entity) -> String {
    let cols: Vec<String> = content_columns(entity)
        .iter()
        .map(|c| format!("m.{c}"))
        .collect();
    format!(
        "m.sourced_id, m.status, m.date_last_modified, {}, m.metadata, m.tenant_id",
        cols.join(", ")
    )
}

fn sqlite_params(params: &[Param]) -> Vec<SqliteValue> {
    params
        .iter()
        .map(|p| match p {
            Param::Text(s) => SqliteValue::Text(s.clone()),
            Param::Int(i) => SqliteValue::Integer(*i),
        })
        .collect()
}

fn pg_query<'q>(
    sql: &'q str,
    params: &'q [Param],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s.as_str()),
            Param::Int(i) => q.bind(*i),
        };
    }
    q
}

/// Runs `f` with the query's statement on a pooled SQLite reader, on a blocking thread.
async fn sqlite_read<T: Send + 'static>(
    s: &super::sqlite::SqliteStore,
    q: Query,
    f: impl FnOnce(&mut rusqlite::CachedStatement<'_>, Vec<SqliteValue>) -> rusqlite::Result<T>
    + Send
    + 'static,
) -> Result<T, StoreError> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || {
        s.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&q.sql)?;
            Ok(f(&mut stmt, sqlite_params(&q.params))?)
        })
    })
    .await
    .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
}

impl Store {
    /// Runs a query selecting [`record_columns`] of `entity`. Encrypted values come back
    /// decrypted: the API and exports see plaintext.
    pub async fn records(&self, entity: Entity, q: Query) -> Result<Vec<Record>, StoreError> {
        let n = entity.columns().len();
        // The tenant is read only where values may need decrypting.
        let pii = self
            .pii()
            .filter(|_| crate::pii::ENTITIES.contains(&entity))
            .cloned();
        let with_tenant = pii.is_some();
        let rows: Vec<(Record, Option<String>)> = match self {
            Store::Sqlite(s) => {
                sqlite_read(s, q, move |stmt, params| {
                    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                        let record = Record {
                            sourced_id: r.get(0)?,
                            status: r.get(1)?,
                            modified: r.get(2)?,
                            values: (0..n).map(|i| r.get(3 + i)).collect::<Result<_, _>>()?,
                            metadata: r.get(3 + n)?,
                        };
                        let tenant = if with_tenant { r.get(4 + n)? } else { None };
                        Ok((record, tenant))
                    })?;
                    rows.collect::<Result<Vec<_>, _>>()
                })
                .await?
            }
            Store::Postgres(p) => {
                let rows = pg_query(&q.sql, &q.params).fetch_all(p.pool()).await?;
                rows.iter()
                    .map(|r| {
                        let record = Record {
                            sourced_id: r.get(0),
                            status: r.get(1),
                            modified: r.get(2),
                            values: (0..n).map(|i| r.get(3 + i)).collect(),
                            metadata: r.get(3 + n),
                        };
                        (record, with_tenant.then(|| r.get(4 + n)))
                    })
                    .collect()
            }
        };
        let Some(pii) = pii else {
            return Ok(rows.into_iter().map(|(r, _)| r).collect());
        };
        rows.into_iter()
            .map(|(mut record, tenant)| {
                let tenant = tenant.unwrap_or_default();
                pii.open_record(entity, &tenant, &record.sourced_id, &mut record.values)?;
                Ok(record)
            })
            .collect()
    }

    /// Runs a query returning one integer (a count).
    pub async fn count(&self, q: Query) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => {
                sqlite_read(s, q, |stmt, params| {
                    stmt.query_row(rusqlite::params_from_iter(params), |r| r.get::<_, i64>(0))
                        .map(|n| n as u64)
                })
                .await
            }
            Store::Postgres(p) => {
                let n: i64 = pg_query(&q.sql, &q.params)
                    .fetch_one(p.pool())
                    .await?
                    .get(0);
                Ok(n as u64)
            }
        }
    }

    /// Runs a query returning rows of text cells.
    pub async fn text_rows(&self, q: Query) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        match self {
            Store::Sqlite(s) => {
                sqlite_read(s, q, |stmt, params| {
                    let n = stmt.column_count();
                    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                        (0..n).map(|i| r.get(i)).collect::<Result<Vec<_>, _>>()
                    })?;
                    rows.collect::<Result<Vec<_>, _>>()
                })
                .await
            }
            Store::Postgres(p) => {
                let rows = pg_query(&q.sql, &q.params).fetch_all(p.pool()).await?;
                Ok(rows
                    .iter()
                    .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
                    .collect())
            }
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Store::Sqlite(_) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
        }
    }
}
