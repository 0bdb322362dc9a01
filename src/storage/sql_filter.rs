//! Filter expressions (`crate::filter`) → parameterised SQL `WHERE` fragments, in both dialects.
//!
//! Translated by recursion over the AST. Column names come only from the static field tables of
//! `crate::filter`; every value, metadata key included, is a bound parameter. Text compares
//! byte-wise on both backends (PostgreSQL columns are `COLLATE "C"`), and `~` folds ASCII case
//! only on both (`lower` under the C collation), so a filter selects the same rows everywhere.
//!
//! Columns encrypted at rest (`crate::pii`) compare through their blind index: `=` and `!=`
//! only (e-mail case-insensitively), anything else is refused, and so is sorting on them.

use crate::domain::Entity;
use crate::domain::datetime::parse_datetime;
use crate::filter::{ColumnRef, Expr, Field, FilterError, Op, Predicate, SortField, ValueKind};
use crate::pii::{Pii, bidx_column};

use super::Store;
use super::sql::Dialect;
use super::value::Value;

#[cfg(test)]
mod pg_tests;
#[cfg(test)]
mod tests;

/// A boolean SQL expression and its parameters, numbered consecutively from the `first_param`
/// given to [`filter_sql`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct SqlFragment {
    pub sql: String,
    pub params: Vec<Value>,
}

/// The alias of the `roles` rows in the subquery of `roles.*` filters.
const ROLE_ALIAS: &str = "flt_role";

/// Why a filter or sort cannot be translated; every variant maps to HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterSqlError {
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The field is encrypted at rest (`--pii-columns`).
    #[error("field {field} is encrypted at rest: {reason}")]
    Encrypted { field: String, reason: &'static str },
}

/// The encrypted columns a filter must respect: the store's keys, the resource's table, and
/// the tenant (blind indexes are per tenant).
#[derive(Debug, Clone, Copy)]
pub(super) struct Encrypted<'a> {
    pub pii: &'a Pii,
    pub entity: Entity,
    pub tenant: &'a str,
}

impl Store {
    /// [`filter_sql`] for a store that may encrypt PII: the request's `entity` (the table
    /// aliased `alias`) and `tenant` decide the blind index of encrypted fields.
    pub(super) fn filter_sql(
        &self,
        expr: &Expr,
        entity: Entity,
        tenant: &str,
        alias: &str,
        first_param: usize,
    ) -> Result<SqlFragment, FilterSqlError> {
        let enc = self.pii().map(|pii| Encrypted {
            pii,
            entity,
            tenant,
        });
        filter_sql_encrypted(expr, self.dialect(), alias, first_param, enc)
    }

    /// [`sort_column`], refusing a field encrypted at rest (its order would be the ciphertext's).
    pub(super) fn sort_column(
        &self,
        entity: Entity,
        field: &SortField,
    ) -> Result<&'static str, FilterSqlError> {
        if self
            .pii()
            .is_some_and(|p| p.columns().contains_db(entity, field.column()))
        {
            return Err(FilterSqlError::Encrypted {
                field: field.name().to_owned(),
                reason: "it cannot be sorted on",
            });
        }
        Ok(sort_column(field))
    }
}

/// Translates `expr` for the table aliased `alias` (which has `tenant_id` and `sourced_id`).
/// Parameters are numbered from `first_param`: the caller binds its own ones before.
/// Knows nothing of encryption: a store that may encrypt uses [`Store::filter_sql`]; this form
/// is the tests' (the SQL alone, in either dialect).
#[cfg(test)]
pub(super) fn filter_sql(
    expr: &Expr,
    dialect: Dialect,
    alias: &str,
    first_param: usize,
) -> Result<SqlFragment, FilterError> {
    filter_sql_encrypted(expr, dialect, alias, first_param, None).map_err(|e| match e {
        FilterSqlError::Filter(e) => e,
        FilterSqlError::Encrypted { .. } => unreachable!("nothing is encrypted without keys"),
    })
}

/// [`filter_sql`] with the encrypted columns of `enc` compared through their blind index.
pub(super) fn filter_sql_encrypted(
    expr: &Expr,
    dialect: Dialect,
    alias: &str,
    first_param: usize,
    enc: Option<Encrypted<'_>>,
) -> Result<SqlFragment, FilterSqlError> {
    // The alias comes from the caller's code, never from a request.
    assert!(
        !alias.is_empty()
            && alias
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !alias.as_bytes()[0].is_ascii_digit(),
        "table alias {alias:?} is not a plain identifier"
    );
    let mut b = Builder {
        d: dialect,
        alias,
        next: first_param,
        params: Vec::new(),
        enc,
    };
    let sql = b.expr(expr)?;
    Ok(SqlFragment {
        sql,
        params: b.params,
    })
}

/// The column of the resource's table to `ORDER BY`.
pub(super) fn sort_column(field: &SortField) -> &'static str {
    field.column()
}

struct Builder<'a> {
    d: Dialect,
    alias: &'a str,
    next: usize,
    params: Vec<Value>,
    enc: Option<Encrypted<'a>>,
}

impl Builder<'_> {
    fn bind(&mut self, value: Value) -> String {
        let p = self.d.param(self.next);
        self.next += 1;
        self.params.push(value);
        p
    }

    fn expr(&mut self, e: &Expr) -> Result<String, FilterSqlError> {
        let (items, sep) = match e {
            Expr::Pred(p) => return self.predicate(p),
            Expr::And(items) => (items, " AND "),
            Expr::Or(items) => (items, " OR "),
        };
        let parts = items
            .iter()
            .map(|i| self.expr(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", parts.join(sep)))
    }

    fn predicate(&mut self, p: &Predicate) -> Result<String, FilterSqlError> {
        p.validate()?;
        let unsupported = || FilterError::UnsupportedOperator {
            field: p.field.name(),
            op: p.op,
        };
        match &p.field {
            Field::Scalar(c) if c.kind() == ValueKind::DateTime => {
                let ms = parse_datetime(&p.value)
                    .ok_or_else(|| FilterError::InvalidValue {
                        field: p.field.name(),
                        value: p.value.clone(),
                        reason: "expected a datetime such as 2024-04-01T00:00:00.000Z",
                    })?
                    .ms;
                let col = format!("{}.{}", self.alias, c.column());
                let v = self.bind(Value::Int(ms));
                match p.op {
                    Op::Contains => Err(unsupported().into()),
                    Op::Ne => Ok(self.distinct(&col, &v)),
                    op => Ok(format!("{col} {} {v}", sql_op(op))),
                }
            }
            Field::Scalar(c) => {
                if let Some(enc) = self
                    .enc
                    .filter(|e| e.pii.columns().contains_db(e.entity, c.column()))
                {
                    return self.encrypted(enc, c, p);
                }
                let col = format!("{}.{}", self.alias, c.column());
                Ok(self.text(&col, p.op, &p.value))
            }
            Field::List(c) => {
                let col = format!("{}.{}", self.alias, c.column());
                match p.op {
                    Op::Eq | Op::Ne if !p.value.is_empty() => {
                        let v = self.bind(Value::Text(p.value.clone()));
                        let hit = self.element_position(&col, &v);
                        Ok(if p.op == Op::Eq {
                            format!("{hit} > 0")
                        } else {
                            format!("({col} IS NULL OR {hit} = 0)")
                        })
                    }
                    Op::Eq | Op::Ne | Op::Contains => Ok(self.text(&col, p.op, &p.value)),
                    _ => Err(unsupported().into()),
                }
            }
            Field::Role(c) => {
                // `!=` is the negation of `=` ("no active role has it"), as for lists.
                let (op, not) = match p.op {
                    Op::Ne => (Op::Eq, "NOT "),
                    op => (op, ""),
                };
                let cond = self.text(&format!("{ROLE_ALIAS}.{}", c.column()), op, &p.value);
                let (a, r) = (self.alias, ROLE_ALIAS);
                Ok(format!(
                    "{not}EXISTS (SELECT 1 FROM roles {r} WHERE {r}.tenant_id = {a}.tenant_id \
                     AND {r}.user_sourced_id = {a}.sourced_id AND {r}.status = 'active' AND {cond})"
                ))
            }
            Field::Metadata(key) => {
                let a = self.alias;
                let value = match self.d {
                    Dialect::Sqlite => {
                        // The key is quoted as one path step: metadata keys contain dots.
                        let path = self.bind(Value::Text(format!("$.\"{key}\"")));
                        format!("json_extract({a}.metadata, {path})")
                    }
                    Dialect::Postgres => {
                        let k = self.bind(Value::Text(key.clone()));
                        format!("(({a}.metadata::json ->> {k}::text) COLLATE \"C\")")
                    }
                };
                Ok(self.text(&value, p.op, &p.value))
            }
        }
    }

    /// A predicate on a column encrypted at rest: `=`/`!=` through the blind index (or the
    /// plaintext itself, for values stored before encryption was turned on: a ciphertext never
    /// equals a filter value), emptiness on the column itself (empty cells stay NULL).
    fn encrypted(
        &mut self,
        enc: Encrypted<'_>,
        c: &ColumnRef,
        p: &Predicate,
    ) -> Result<String, FilterSqlError> {
        let col = format!("{}.{}", self.alias, c.column());
        let refuse = |reason| FilterSqlError::Encrypted {
            field: p.field.name(),
            reason,
        };
        if matches!(p.op, Op::Eq | Op::Ne) && p.value.is_empty() {
            return Ok(self.text(&col, p.op, &p.value));
        }
        let index = bidx_column(enc.entity, c.column())
            .ok_or_else(|| refuse("it has no blind index, so it can only be compared with ''"))?;
        if !matches!(p.op, Op::Eq | Op::Ne) {
            return Err(refuse(
                "only = and != can filter it (exact value; e-mail ignores case)",
            ));
        }
        let idx = format!("{}.{index}", self.alias);
        let hash = enc
            .pii
            .blind_index(enc.entity.table(), c.column(), enc.tenant, &p.value);
        let h = self.bind(Value::Text(hash));
        let v = self.bind(Value::Text(p.value.clone()));
        Ok(if p.op == Op::Eq {
            format!("({idx} = {h} OR {col} = {v})")
        } else {
            format!(
                "({} AND {})",
                self.distinct(&idx, &h),
                self.distinct(&col, &v)
            )
        })
    }

    /// A comparison of a text expression. With an empty value, `=`/`!=` read NULL as empty
    /// (storage keeps "no value" as NULL; JSON shows required-but-empty fields as "").
    fn text(&mut self, col: &str, op: Op, value: &str) -> String {
        let v = self.bind(Value::Text(value.to_owned()));
        match op {
            Op::Eq | Op::Ne if value.is_empty() => {
                format!("coalesce({col}, '') {} {v}", sql_op(op))
            }
            Op::Eq => format!("{col} = {v}"),
            Op::Ne => self.distinct(col, &v),
            Op::Contains => match self.d {
                Dialect::Sqlite => format!("instr(lower({col}), lower({v})) > 0"),
                Dialect::Postgres => {
                    format!("position(lower(({v}::text) COLLATE \"C\") in lower({col})) > 0")
                }
            },
            op => format!("{col} {} {v}", sql_op(op)),
        }
    }

    /// `a` differs from `b`, NULL being a value of its own.
    fn distinct(&self, a: &str, b: &str) -> String {
        match self.d {
            Dialect::Sqlite => format!("{a} IS NOT {b}"),
            Dialect::Postgres => format!("{a} IS DISTINCT FROM {b}"),
        }
    }

    /// Where `,v,` occurs in `,list,` (0 = nowhere, NULL when the list is).
    fn element_position(&self, col: &str, v: &str) -> String {
        match self.d {
            Dialect::Sqlite => format!("instr(',' || {col} || ',', ',' || {v} || ',')"),
            Dialect::Postgres => format!("position(',' || {v} || ',' in ',' || {col} || ',')"),
        }
    }
}

fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Contains => unreachable!("`~` is translated by the callers"),
    }
}
