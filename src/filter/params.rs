//! The `sort` and `fields` query parameters (ONEROSTER.md §3.5).

use super::{ColumnRef, Field, Resource};

/// A field a collection can be ordered by: a scalar column of the resource's own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortField(ColumnRef);

impl SortField {
    /// The JSON name (`familyName`, `school.sourcedId`).
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The column of the resource's table.
    pub fn column(&self) -> &'static str {
        self.0.column()
    }
}

/// Reads `sort`. `None` for an unknown or unsortable field (lists, roles, metadata): the caller
/// falls back to its default order, as Ed-Fi does (§3.5). Of a comma list (an Ed-Fi extension)
/// only the first entry is used.
pub fn parse_sort(resource: Resource, s: &str) -> Option<SortField> {
    let first = s.split(',').map(trim).find(|p| !p.is_empty())?;
    match Field::resolve(resource, first)? {
        Field::Scalar(c) => Some(SortField(c)),
        Field::List(_) | Field::Role(_) | Field::Metadata(_) => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    /// `fields=` or `fields=a,,b`: 400 `invalid_selection_field`.
    #[error("the fields list has a blank entry")]
    Blank,
}

/// Reads `fields` (repeated parameters joined with commas by the caller). Names come back as
/// given, trimmed, without repeats; whether they exist is for the caller to decide.
pub fn parse_fields(s: &str) -> Result<Vec<String>, FieldsError> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(',').map(trim) {
        if part.is_empty() {
            return Err(FieldsError::Blank);
        }
        if !out.iter().any(|f| f == part) {
            out.push(part.to_owned());
        }
    }
    Ok(out)
}

/// Spaces, including a `+` the caller left form-encoded.
fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '+')
}
