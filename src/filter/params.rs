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

/// Why a `sort` was refused: the HTTP layer answers 400 (`invaliddata`: the 1.2 codeMinor
/// vocabulary has no `invalid_sort_field`, and strict clients validate that enumeration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SortError {
    /// The name is no field of the resource, or one that cannot order it (a list, a role,
    /// metadata). `sortable` lists the fields that can.
    #[error(
        "cannot sort by `{field}` (invalid_sort_field): {reason}; sortable fields: {}",
        sortable.join(", ")
    )]
    InvalidField {
        field: String,
        reason: &'static str,
        sortable: Vec<&'static str>,
    },
}

/// Reads `sort`: `Ok(None)` when it names nothing (`sort=`), the caller's default order then.
/// Of a comma list (an Ed-Fi extension) the first entry orders; every entry must be sortable,
/// so that no name is silently ignored.
pub fn parse_sort(resource: Resource, s: &str) -> Result<Option<SortField>, SortError> {
    let mut first = None;
    for name in s.split(',').map(trim).filter(|p| !p.is_empty()) {
        let field = sort_field(resource, name)?;
        first.get_or_insert(field);
    }
    Ok(first)
}

fn sort_field(resource: Resource, name: &str) -> Result<SortField, SortError> {
    let reason = match Field::resolve(resource, name) {
        Some(Field::Scalar(c)) => return Ok(SortField(c)),
        Some(Field::List(_) | Field::Role(_) | Field::Metadata(_)) => {
            "lists, roles and metadata cannot order a collection"
        }
        None => "this collection has no such field",
    };
    Err(SortError::InvalidField {
        // The name as given, cut short: it is quoted back to the caller.
        field: name.chars().take(64).collect(),
        reason,
        sortable: sortable_fields(resource),
    })
}

/// The names `sort` accepts for `resource`.
pub fn sortable_fields(resource: Resource) -> Vec<&'static str> {
    Field::all(resource)
        .into_iter()
        .filter_map(|f| match f {
            Field::Scalar(c) => Some(c.name()),
            _ => None,
        })
        .collect()
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
