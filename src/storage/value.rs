//! The one value type of the storage layer's dynamic SQL, and its one binder per backend.
//!
//! Parameters and result cells of every runner (`plain`, `clients`, `read`, `sql_filter`) are a
//! [`Value`]: integers, texts and bytes — booleans are 0/1 and times epoch milliseconds — so
//! one statement text means the same on SQLite and PostgreSQL.

use rusqlite::Connection;
use sqlx::{AssertSqlSafe, Column as _, Row as _, TypeInfo as _};

use super::StoreError;

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    /// A NULL bound where an integer goes (PostgreSQL wants the type).
    NullInt,
    /// A NULL bound where a text goes.
    NullText,
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v as i64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(v as i64)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Value {
        v.map_or(Value::NullInt, Value::Int)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Value {
        v.map_or(Value::NullText, Value::Text)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Value {
        v.map_or(Value::NullText, |s| Value::Text(s.to_owned()))
    }
}

/// `vec![a.into(), b.into(), …]`.
#[macro_export]
macro_rules! params {
    ($($v:expr),* $(,)?) => { vec![$($crate::storage::value::Value::from($v)),*] };
}

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

impl Row {
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Some(*v),
            _ => None,
        }
    }
    pub fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }
    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Some(v.clone()),
            _ => None,
        }
    }
    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }
    /// The integer in column `i`; NULL or another type is an error, not a default.
    pub fn try_int(&self, i: usize) -> Result<i64, StoreError> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            other => Err(self.unexpected(i, "an integer", other)),
        }
    }
    /// The text in column `i`; NULL or another type is an error, not a default.
    pub fn try_text(&self, i: usize) -> Result<String, StoreError> {
        self.try_opt_text(i)?
            .ok_or_else(|| self.unexpected(i, "a text", self.0.get(i)))
    }
    /// The text in column `i`, `None` for NULL; another type is an error.
    pub fn try_opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(Some(v.clone())),
            Some(Value::NullText | Value::NullInt) => Ok(None),
            other => Err(self.unexpected(i, "a text or NULL", other)),
        }
    }
    fn unexpected(&self, i: usize, want: &str, got: Option<&Value>) -> StoreError {
        let got = match got {
            None => "no such column",
            Some(Value::Int(_)) => "an integer",
            Some(Value::Text(_)) => "a text",
            Some(Value::Bytes(_)) => "bytes",
            Some(Value::NullInt | Value::NullText) => "NULL",
        };
        StoreError::Decode(format!("column {i}: expected {want}, found {got}"))
    }
    pub fn bytes(&self, i: usize) -> Vec<u8> {
        match self.0.get(i) {
            Some(Value::Bytes(v)) => v.clone(),
            Some(Value::Text(v)) => v.clone().into_bytes(),
            _ => Vec::new(),
        }
    }
}

/// `$1` → `?1`: SQLite's numbered parameters. The operational SQL has no `$` in literals.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

/// The one SQLite binder: values as rusqlite parameters.
pub(super) fn sqlite_params(params: &[Value]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    params
        .iter()
        .map(|p| match p {
            Value::Int(i) => V::Integer(*i),
            Value::Text(s) => V::Text(s.clone()),
            Value::Bytes(b) => V::Blob(b.clone()),
            Value::NullInt | Value::NullText => V::Null,
        })
        .collect()
}

pub(super) fn sqlite_exec(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> Result<u64, StoreError> {
    let mut st = conn.prepare_cached(&sqlite_sql(sql))?;
    let n = st.execute(rusqlite::params_from_iter(sqlite_params(params)))?;
    Ok(n as u64)
}

pub(super) fn sqlite_fetch(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    let mut st = conn.prepare_cached(&sqlite_sql(sql))?;
    sqlite_rows(&mut st, params)
}

/// Runs a prepared statement (in any placeholder form) and reads every row.
pub(super) fn sqlite_rows(
    st: &mut rusqlite::Statement<'_>,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    use rusqlite::types::ValueRef;
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(sqlite_params(params)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(match r.get_ref(i)? {
                ValueRef::Null => Value::NullText,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Int(v as i64),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
            });
        }
        out.push(Row(row));
    }
    Ok(out)
}

pub(super) type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

pub(super) fn pg_query(sql: &str, params: Vec<Value>) -> PgQuery<'static> {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
    for p in params {
        q = match p {
            Value::Int(i) => q.bind(i),
            Value::Text(s) => q.bind(s),
            Value::Bytes(b) => q.bind(b),
            Value::NullInt => q.bind(None::<i64>),
            Value::NullText => q.bind(None::<String>),
        };
    }
    q
}

pub(super) fn pg_row(r: &sqlx::postgres::PgRow) -> Result<Row, StoreError> {
    let mut row = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match col.type_info().name() {
            "INT8" => r.try_get::<Option<i64>, _>(i)?.map(Value::Int),
            "INT4" => r
                .try_get::<Option<i32>, _>(i)?
                .map(|v| Value::Int(v.into())),
            "INT2" => r
                .try_get::<Option<i16>, _>(i)?
                .map(|v| Value::Int(v.into())),
            "BOOL" => r
                .try_get::<Option<bool>, _>(i)?
                .map(|v| Value::Int(v.into())),
            "BYTEA" => r.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
            _ => r.try_get::<Option<String>, _>(i)?.map(Value::Text),
        };
        row.push(v.unwrap_or(Value::NullText));
    }
    Ok(Row(row))
}

/// Runs a query on the pool and reads every row.
pub(super) async fn pg_fetch(
    pool: &sqlx::PgPool,
    sql: &str,
    params: Vec<Value>,
) -> Result<Vec<Row>, StoreError> {
    let rows = pg_query(sql, params).fetch_all(pool).await?;
    rows.iter().map(pg_row).collect()
}

/// Runs `f` on a blocking thread; a panic in it is resumed here.
pub(super) async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => Err(StoreError::Io(std::io::Error::other(e))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_getters_refuse_null_and_other_types() {
        let row = Row(vec![
            Value::Int(3),
            Value::Text("a".into()),
            Value::NullText,
            Value::NullInt,
        ]);
        assert_eq!(row.try_int(0).unwrap(), 3);
        assert_eq!(row.try_text(1).unwrap(), "a");
        assert_eq!(row.try_opt_text(1).unwrap().as_deref(), Some("a"));
        assert_eq!(row.try_opt_text(2).unwrap(), None);
        assert_eq!(row.try_opt_text(3).unwrap(), None);
        for err in [
            row.try_int(1).unwrap_err(),
            row.try_int(2).unwrap_err(),
            row.try_text(0).unwrap_err(),
            row.try_text(2).unwrap_err(),
            row.try_opt_text(0).unwrap_err(),
            row.try_int(4).unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::Decode(_)), "{err:?}");
        }
        assert_eq!(
            row.try_text(2).unwrap_err().to_string(),
            "unexpected stored value: column 2: expected a text, found NULL"
        );
    }

    #[test]
    fn numbered_parameters_become_sqlite_ones() {
        assert_eq!(
            sqlite_sql("UPDATE jobs SET a = $1 WHERE id = $2 AND b = $1"),
            "UPDATE jobs SET a = ?1 WHERE id = ?2 AND b = ?1"
        );
    }
}
