//! The one value type of the storage layer's dynamic SQL, and its one binder per backend.
//!
//! Parameters and result cells of every runner (`ops`, `clients`, `read`, `sql_filter`) are a
//! [`Value`]: integers, texts and bytes — booleans are 0/1 and times epoch milliseconds — so
//! one statement text means the same on SQLite and PostgreSQL.

use std::sync::Arc;

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

/// `vec![a.into(), b.into(), …]`: the parameters of a statement (storage only).
macro_rules! params {
    ($($v:expr),* $(,)?) => { vec![$($crate::storage::value::Value::from($v)),*] };
}
pub(in crate::storage) use params;

/// One result row: its values, and the names of its columns (shared by the rows of one result)
/// so that a value that cannot be read is reported by column.
///
/// Every getter is fallible: NULL where a value is required, another type, a number out of
/// range or text outside a vocabulary is [`StoreError::Decode`], never a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    values: Vec<Value>,
    columns: Arc<[String]>,
}

impl Row {
    pub(super) fn new(values: Vec<Value>, columns: Arc<[String]>) -> Row {
        Row { values, columns }
    }

    /// The error for column `i` holding what the reader did not expect.
    pub fn decode_error(&self, i: usize, expected: &'static str, found: String) -> StoreError {
        let column = match self.columns.get(i) {
            Some(name) => format!("{i} ({name})"),
            None => i.to_string(),
        };
        StoreError::Decode {
            column,
            expected,
            found,
        }
    }

    fn mismatch(&self, i: usize, expected: &'static str) -> StoreError {
        self.decode_error(i, expected, describe(self.values.get(i)))
    }

    /// How many columns the row has.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn is_null(&self, i: usize) -> bool {
        matches!(self.values.get(i), Some(Value::NullInt | Value::NullText))
    }

    /// An integer, or `None` for NULL.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.values.get(i) {
            Some(Value::Int(v)) => Ok(Some(*v)),
            _ if self.is_null(i) => Ok(None),
            _ => Err(self.mismatch(i, "an integer")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?
            .ok_or_else(|| self.mismatch(i, "an integer"))
    }

    /// An integer that must fit `T` (a count, an HTTP status, a size), or `None` for NULL.
    pub fn opt_int_as<T: TryFrom<i64>>(
        &self,
        i: usize,
        expected: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.opt_int(i)?
            .map(|v| T::try_from(v).map_err(|_| self.mismatch(i, expected)))
            .transpose()
    }

    pub fn int_as<T: TryFrom<i64>>(
        &self,
        i: usize,
        expected: &'static str,
    ) -> Result<T, StoreError> {
        self.opt_int_as(i, expected)?
            .ok_or_else(|| self.mismatch(i, expected))
    }

    /// A boolean stored as 0 or 1.
    pub fn flag(&self, i: usize) -> Result<bool, StoreError> {
        match self.int(i) {
            Ok(0) => Ok(false),
            Ok(1) => Ok(true),
            _ => Err(self.mismatch(i, "0 or 1")),
        }
    }

    /// A text, or `None` for NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.values.get(i) {
            Some(Value::Text(v)) => Ok(Some(v.clone())),
            _ if self.is_null(i) => Ok(None),
            _ => Err(self.mismatch(i, "a text")),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?.ok_or_else(|| self.mismatch(i, "a text"))
    }

    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self.values.get(i) {
            Some(Value::Bytes(v)) => Ok(v.clone()),
            _ => Err(self.mismatch(i, "bytes")),
        }
    }

    /// A text of a closed vocabulary (a state, a kind, a role), or `None` for NULL; text that
    /// `parse` does not know is an error.
    pub fn opt_parse<T>(
        &self,
        i: usize,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        match self.opt_text(i)? {
            None => Ok(None),
            Some(text) => parse(&text)
                .map(Some)
                .ok_or_else(|| self.mismatch(i, expected)),
        }
    }

    pub fn parse<T>(
        &self,
        i: usize,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, StoreError> {
        self.opt_parse(i, expected, parse)?
            .ok_or_else(|| self.mismatch(i, expected))
    }

    /// A JSON text read as `T`, or `None` for NULL; unreadable JSON is an error.
    pub fn opt_json<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
        expected: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.opt_text(i)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                // The serde message only: the text may be long, or hold what a log must not.
                self.decode_error(i, expected, format!("unreadable JSON ({e})"))
            }),
        }
    }

    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
        expected: &'static str,
    ) -> Result<T, StoreError> {
        self.opt_json(i, expected)?
            .ok_or_else(|| self.mismatch(i, expected))
    }
}

/// What a cell holds, for an error message: texts cut short (a log is no place for a whole
/// stored value).
fn describe(cell: Option<&Value>) -> String {
    match cell {
        None => "no such column".into(),
        Some(Value::Int(v)) => format!("the integer {v}"),
        Some(Value::Text(t)) => {
            let mut cut: String = t.chars().take(40).collect();
            if cut.len() < t.len() {
                cut.push('…');
            }
            format!("the text {cut:?}")
        }
        Some(Value::Bytes(b)) => format!("{} bytes", b.len()),
        Some(Value::NullInt | Value::NullText) => "NULL".into(),
    }
}

/// `$1` → `?1`: SQLite's numbered parameters. Only a `$` before a digit is a parameter: a JSON
/// path such as `'$."jp.kanaGivenName"'` (the dashboard's recounts, which an undo runs through
/// here) stays as it is.
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let parameter = c == '$' && chars.peek().is_some_and(char::is_ascii_digit);
        out.push(if parameter { '?' } else { c });
    }
    out
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
    let columns: Arc<[String]> = st.column_names().map(str::to_owned).collect();
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
        out.push(Row::new(row, columns.clone()));
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

/// The rows of a PostgreSQL result as [`Row`]s.
pub(super) fn pg_rows(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<Row>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    rows.iter()
        .map(|r| Ok(Row::new(pg_values(r)?, columns.clone())))
        .collect()
}

fn pg_values(r: &sqlx::postgres::PgRow) -> Result<Vec<Value>, StoreError> {
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
    Ok(row)
}

/// Runs a query on the pool and reads every row.
pub(super) async fn pg_fetch(
    pool: &sqlx::PgPool,
    sql: &str,
    params: Vec<Value>,
) -> Result<Vec<Row>, StoreError> {
    let rows = pg_query(sql, params).fetch_all(pool).await?;
    pg_rows(&rows)
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

/// Runs one statement, logging how long it took at debug level
/// (`RUST_LOG=rosterhub::storage::timing=debug`): the statement's start only, its values
/// are never logged.
pub(super) fn timed<T>(
    sql: &str,
    run: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let started = std::time::Instant::now();
    let out = run();
    let head: String = sql.chars().take(90).collect();
    tracing::debug!(target: "rosterhub::storage::timing", ms = started.elapsed().as_millis() as u64, statement = %head, "statement");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_sqlite_ones() {
        assert_eq!(
            sqlite_sql("UPDATE jobs SET a = $1 WHERE id = $2 AND b = $1"),
            "UPDATE jobs SET a = ?1 WHERE id = ?2 AND b = ?1"
        );
        assert_eq!(
            sqlite_sql(
                "SELECT json_extract(metadata, '$.\"jp.kanaGivenName\"') FROM users WHERE id = $12"
            ),
            "SELECT json_extract(metadata, '$.\"jp.kanaGivenName\"') FROM users WHERE id = ?12",
            "a JSON path keeps its $"
        );
    }

    fn row(values: Vec<Value>) -> Row {
        let names = ["n", "state", "data"].map(str::to_owned);
        Row::new(values, names.into_iter().collect())
    }

    #[test]
    fn a_null_or_another_type_is_an_error_naming_the_column() {
        let r = row(vec![Value::NullInt, Value::Int(7), Value::Text("x".into())]);
        assert_eq!(r.opt_int(0).unwrap(), None);
        assert_eq!(
            r.opt_text(0).unwrap(),
            None,
            "NULL is NULL whatever its bound type"
        );
        let err = r.int(0).unwrap_err().to_string();
        assert_eq!(err, "column 0 (n): expected an integer, found NULL");
        let err = r.text(1).unwrap_err().to_string();
        assert_eq!(
            err,
            "column 1 (state): expected a text, found the integer 7"
        );
        assert!(
            r.opt_int(2).is_err(),
            "a type mismatch is an error even where NULL is fine"
        );
        assert!(r.bytes(2).is_err(), "text is not bytes");
        assert!(r.flag(1).is_err(), "a flag is 0 or 1");
        let err = r.int(3).unwrap_err().to_string();
        assert_eq!(err, "column 3: expected an integer, found no such column");
    }

    #[test]
    fn vocabularies_numbers_and_json_are_checked() {
        let r = row(vec![
            Value::Int(-1),
            Value::Text("bogus".into()),
            Value::Text("{not json".into()),
        ]);
        let known = |s: &str| (s == "queued").then_some(());
        let err = r.parse(1, "a job state", known).unwrap_err().to_string();
        assert_eq!(
            err,
            "column 1 (state): expected a job state, found the text \"bogus\""
        );
        assert!(
            r.int_as::<u64>(0, "a count").is_err(),
            "negative is no count"
        );
        assert_eq!(r.int_as::<i16>(0, "a small number").unwrap(), -1);
        let err = r.json::<serde_json::Value>(2, "JSON").unwrap_err();
        assert!(matches!(err, StoreError::Decode { .. }), "{err}");
        assert!(
            !err.to_string().contains("{not"),
            "the stored text is not echoed: {err}"
        );
        let long = row(vec![Value::Text("é".repeat(100))]);
        let err = long.int(0).unwrap_err().to_string();
        assert!(err.ends_with("…\""), "{err}");
    }
}
