//! OneRoster query parameters — `filter`, `sort`, `fields` — parsed into typed values.
//! Pure: no SQL (the SQL translation lives in `storage::sql_filter`).
//!
//! A filter becomes an [`Expr`] whose leaves name a [`Field`] resolved from a static table per
//! [`Resource`] (ONEROSTER.md §3.4, §3.5), so a filter can never name an arbitrary column.

mod fields;
mod params;
mod parse;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;

pub use fields::{ColumnRef, Field, ValueKind};
pub use params::{FieldsError, SortError, SortField, parse_fields, parse_sort, sortable_fields};
pub use parse::{MAX_DEPTH, MAX_PREDICATES, parse_filter};

/// The REST resource kinds a filter applies to. Schools are `Orgs`, terms and grading periods
/// are `AcademicSessions`, students and teachers are `Users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Orgs,
    AcademicSessions,
    Courses,
    Classes,
    Users,
    Enrollments,
    Demographics,
}

impl Resource {
    pub const ALL: [Resource; 7] = [
        Resource::Orgs,
        Resource::AcademicSessions,
        Resource::Courses,
        Resource::Classes,
        Resource::Users,
        Resource::Enrollments,
        Resource::Demographics,
    ];
}

/// A filter expression. `And`/`Or` always hold at least two operands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Pred(Predicate),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// `field op 'value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicate {
    pub field: Field,
    pub op: Op,
    /// The text between the quotes, with `''` already turned into `'`.
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `~`: substring, case-insensitive.
    Contains,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Contains => "~",
        }
    }

    /// `>`, `>=`, `<`, `<=`.
    pub fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a filter was rejected; every variant maps to HTTP 400 `invalid_filter_field`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("unknown filter field {0:?}")]
    UnknownField(String),
    #[error("invalid value {value:?} for filter field {field}: {reason}")]
    InvalidValue {
        field: String,
        value: String,
        reason: &'static str,
    },
    #[error("operator {op} is not supported on filter field {field}")]
    UnsupportedOperator { field: String, op: Op },
    /// `position` counts characters from 1.
    #[error("malformed filter at position {position}: {message}")]
    Syntax { position: usize, message: String },
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}'", self.field, self.op)?;
        for part in self.value.split('\'').enumerate() {
            if part.0 > 0 {
                f.write_str("''")?;
            }
            f.write_str(part.1)?;
        }
        f.write_str("'")
    }
}

/// Canonical filter text: `field op 'value'` joined by ` AND ` / ` OR `, nested groups in
/// parentheses. [`parse_filter`] reads it back to the same expression.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (items, sep) = match self {
            Expr::Pred(p) => return p.fmt(f),
            Expr::And(items) => (items, " AND "),
            Expr::Or(items) => (items, " OR "),
        };
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(sep)?;
            }
            match item {
                Expr::Pred(p) => p.fmt(f)?,
                group => write!(f, "({group})")?,
            }
        }
        Ok(())
    }
}
