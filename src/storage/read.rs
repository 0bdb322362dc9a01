//! The read side's runners: a [`Query`] (SQL text in the backend's dialect and its bound
//! [`Value`]s) run for [`Record`]s, a count or [`Row`]s, on both backends. Private to storage:
//! callers outside it ask for records through typed functions (`list`, `select`,
//! [`Store::export_page`]), so no SQL crosses the module's boundary.
//!
//! Rows are decoded with checked getters: a NULL where a value is required, or a cell of another
//! type, is a [`StoreError`], never a panic or a default.

use sqlx::Row as _;

use super::sql::{Dialect, content_columns};
use super::value::{Row, Value, blocking, pg_fetch, pg_query, sqlite_params, sqlite_rows};
use super::{Store, StoreError};
use crate::domain::Entity;

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
pub(super) struct Query {
    pub dialect: Dialect,
    pub sql: String,
    pub params: Vec<Value>,
}

impl Query {
    pub fn new(dialect: Dialect) -> Query {
        Query {
            dialect,
            sql: String::new(),
            params: Vec::new(),
        }
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: impl Into<Value>) -> &mut Query {
        self.params.push(v.into());
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

    /// A record query of `entity` so far: [`record_select`], conditions to follow.
    pub fn select_records(dialect: Dialect, entity: Entity) -> Query {
        let mut q = Query::new(dialect);
        q.push(&record_select(entity));
        q
    }
}

/// `SELECT <columns> FROM <table> m WHERE `: the start of every record query. The columns are
/// those of [`Record`], in its order, then the tenant, which encrypted values are bound to
/// (see [`crate::pii`]).
pub(super) fn record_select(entity: Entity) -> String {
    let cols: Vec<String> = content_columns(entity)
        .iter()
        .map(|c| format!("m.{c}"))
        .collect();
    format!(
        "SELECT m.sourced_id, m.status, m.date_last_modified, {}, m.metadata, m.tenant_id \
         FROM {} m WHERE ",
        cols.join(", "),
        entity.table()
    )
}

/// Runs `f` with the query's statement and parameters on a pooled SQLite reader, on a blocking
/// thread (a panic in it is resumed in the caller).
async fn sqlite_read<T: Send + 'static>(
    s: &super::sqlite::SqliteStore,
    q: Query,
    f: impl FnOnce(&mut rusqlite::Statement<'_>, &[Value]) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let s = s.clone();
    blocking(move || {
        s.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&q.sql)?;
            f(&mut stmt, &q.params)
        })
    })
    .await
}

/// A record and, when its values may need decrypting, its tenant.
type Read = (Record, Option<String>);

/// A [`Read`] from a row of either backend, `$get` being that backend's fallible getter.
macro_rules! read_record {
    ($r:ident.$get:ident, $n:expr, $with_tenant:expr) => {{
        let record = Record {
            sourced_id: $r.$get(0)?,
            status: $r.$get(1)?,
            modified: $r.$get(2)?,
            values: (0..$n).map(|i| $r.$get(3 + i)).collect::<Result<_, _>>()?,
            metadata: $r.$get(3 + $n)?,
        };
        let tenant = if $with_tenant {
            Some($r.$get(4 + $n)?)
        } else {
            None
        };
        Ok((record, tenant))
    }};
}

fn sqlite_record(r: &rusqlite::Row<'_>, n: usize, with_tenant: bool) -> rusqlite::Result<Read> {
    read_record!(r.get, n, with_tenant)
}

fn pg_record(r: &sqlx::postgres::PgRow, n: usize, with_tenant: bool) -> sqlx::Result<Read> {
    read_record!(r.try_get, n, with_tenant)
}

impl Store {
    pub(super) fn dialect(&self) -> Dialect {
        match self {
            Store::Sqlite(_) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a query begun by [`Query::select_records`]. Encrypted values come back decrypted:
    /// the API and exports see plaintext.
    pub(super) async fn records(
        &self,
        entity: Entity,
        q: Query,
    ) -> Result<Vec<Record>, StoreError> {
        let n = entity.columns().len();
        // The tenant is read only where values may need decrypting.
        let pii = self
            .pii()
            .filter(|_| crate::pii::ENTITIES.contains(&entity))
            .cloned();
        let with_tenant = pii.is_some();
        let rows: Vec<Read> = match self {
            Store::Sqlite(s) => {
                sqlite_read(s, q, move |stmt, params| {
                    let rows = stmt
                        .query_map(rusqlite::params_from_iter(sqlite_params(params)), |r| {
                            sqlite_record(r, n, with_tenant)
                        })?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .await?
            }
            Store::Postgres(p) => pg_query(&q.sql, q.params)
                .fetch_all(p.pool())
                .await?
                .iter()
                .map(|r| pg_record(r, n, with_tenant))
                .collect::<Result<_, _>>()?,
        };
        let Some(pii) = pii else {
            return Ok(rows.into_iter().map(|(r, _)| r).collect());
        };
        rows.into_iter()
            .map(|(mut record, tenant)| {
                let tenant = tenant.ok_or_else(|| StoreError::Decode {
                    column: "tenant_id".into(),
                    expected: "the record's tenant",
                    found: "NULL".into(),
                })?;
                pii.open_record(entity, &tenant, &record.sourced_id, &mut record.values)?;
                Ok(record)
            })
            .collect()
    }

    /// Runs a query returning one integer (a count).
    pub(super) async fn count(&self, q: Query) -> Result<u64, StoreError> {
        let rows = self.rows(q).await?;
        let row = rows.first().ok_or_else(|| StoreError::Decode {
            column: "0".into(),
            expected: "a count",
            found: "no row".into(),
        })?;
        Ok(row.int(0)? as u64)
    }

    /// Runs a query returning rows of cells, read with [`Row`]'s checked getters.
    pub(super) async fn rows(&self, q: Query) -> Result<Vec<Row>, StoreError> {
        match self {
            Store::Sqlite(s) => sqlite_read(s, q, sqlite_rows).await,
            Store::Postgres(p) => pg_fetch(p.pool(), &q.sql, q.params).await,
        }
    }

    /// One keyset page of a tenant's records for an export, in sourcedId order after `after`:
    /// with `changed_since` (epoch ms) every record changed after it, tombstones included (a
    /// delta export); without, the active records (a bulk export).
    pub async fn export_page(
        &self,
        tenant: &str,
        entity: Entity,
        changed_since: Option<i64>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Record>, StoreError> {
        let mut q = Query::select_records(self.dialect(), entity);
        q.push("m.tenant_id = ").bind(tenant);
        match changed_since {
            Some(since) => {
                q.push(" AND m.date_last_modified > ").bind(since);
            }
            None => {
                q.push(" AND m.status = 'active'");
            }
        }
        if let Some(after) = after {
            q.push(" AND m.sourced_id > ").bind(after);
        }
        q.push(&format!(" ORDER BY m.sourced_id LIMIT {limit}"));
        self.records(entity, q).await
    }
}
