//! The query string of a collection request: `limit`, `offset`, `sort`, `orderBy`, `filter`,
//! `fields` (ONEROSTER.md §3.5). Malformed values are a 400, never a 500.

use crate::http::error::ApiError;
use crate::web::form::{DecodeError, pairs, percent_decode};

/// The default and the largest page size. Clients send 5000 and 10000.
pub const DEFAULT_LIMIT: u64 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params {
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub sort: Option<String>,
    pub desc: bool,
    /// The decoded filter text (`+` kept: the filter parser treats it as space outside quotes).
    pub filter: Option<String>,
    /// `fields`, joined with commas when repeated.
    pub fields: Option<String>,
    /// Every pair as received (still encoded), to rebuild `Link` URLs.
    pub raw: Vec<(String, String)>,
}

/// Percent-decodes without turning `+` into a space: `+` is literal in e-mail filters.
fn decoded(s: &str) -> Result<String, ApiError> {
    percent_decode(s).map_err(|e| {
        ApiError::InvalidData(
            match e {
                DecodeError::MalformedEscape => "malformed percent-encoding in the query string",
                DecodeError::NotUtf8 => "the query string is not UTF-8",
            }
            .into(),
        )
    })
}

fn number(name: &str, value: &str, min: u64) -> Result<u64, ApiError> {
    match value.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(ApiError::InvalidData(format!(
            "`{name}` must be a whole number ≥ {min}; `{value}` is not"
        ))),
    }
}

/// Parses a raw query string (split on `&`, then on the first `=` only).
pub fn parse(query: Option<&str>, max_limit: u64) -> Result<Params, ApiError> {
    let mut p = Params::default();
    let mut fields: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in pairs(query.unwrap_or("")) {
        p.raw.push((k.to_owned(), v.to_owned()));
        let key = decoded(k)?;
        let value = decoded(v)?;
        if key != "fields" {
            if seen.contains(&key)
                && ["limit", "offset", "sort", "orderBy", "filter"].contains(&key.as_str())
            {
                return Err(ApiError::InvalidData(format!(
                    "`{key}` is given more than once"
                )));
            }
            seen.push(key.clone());
        }
        match key.as_str() {
            "limit" => {
                let n = number("limit", &value, 1)?;
                p.limit = Some(n.min(max_limit));
            }
            "offset" => p.offset = Some(number("offset", &value, 0)?),
            "sort" => p.sort = Some(value),
            "orderBy" => {
                p.desc = match value.as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => {
                        return Err(ApiError::InvalidData(format!(
                            "`orderBy` must be asc or desc, not `{value}`"
                        )));
                    }
                }
            }
            "filter" => p.filter = Some(value),
            "fields" => fields.push(value),
            _ => {}
        }
    }
    if !fields.is_empty() {
        p.fields = Some(fields.join(","));
    }
    Ok(p)
}

/// The selected fields: `None` = all. A blank entry is a 400; an unknown name means "all"
/// (REST binding §3.4).
pub fn selected_fields(
    fields: Option<&str>,
    known: &[&str],
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(f) = fields else { return Ok(None) };
    let names: Vec<&str> = f.split(',').collect();
    if names.iter().any(|n| n.trim().is_empty()) {
        return Err(ApiError::InvalidSelection(
            "`fields` has a blank entry".into(),
        ));
    }
    if names.iter().any(|n| !known.contains(n)) {
        return Ok(None);
    }
    Ok(Some(names.into_iter().map(str::to_owned).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_paging_values_are_400() {
        for q in [
            "limit=0",
            "limit=-1",
            "limit=abc",
            "limit=1e3",
            "limit=99999999999999999999999",
            "offset=-5",
            "limit=1&limit=2",
            "orderBy=up",
            "filter=%zz",
        ] {
            let e = parse(Some(q), 10_000).unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{q}");
        }
    }

    #[test]
    fn values_are_decoded_once_and_plus_stays_plus() {
        let p = parse(
            Some(
                "filter=email%3D%27a+b%40x.jp%27&limit=5000&offset=10&sort=familyName&orderBy=desc",
            ),
            10_000,
        )
        .unwrap();
        assert_eq!(p.filter.as_deref(), Some("email='a+b@x.jp'"));
        assert_eq!((p.limit, p.offset, p.desc), (Some(5000), Some(10), true));
        let raw = parse(Some("filter=email='a+b@x.jp'"), 10_000).unwrap();
        assert_eq!(raw.filter.as_deref(), Some("email='a+b@x.jp'"));
        assert_eq!(
            parse(Some("limit=20000"), 10_000).unwrap().limit,
            Some(10_000)
        );
    }

    #[test]
    fn fields_blank_is_400_and_unknown_means_all() {
        let known = ["sourcedId", "givenName"];
        assert!(selected_fields(Some(""), &known).is_err());
        assert!(selected_fields(Some("sourcedId,,givenName"), &known).is_err());
        assert_eq!(
            selected_fields(Some("sourcedId,nope"), &known).unwrap(),
            None
        );
        assert_eq!(
            selected_fields(Some("givenName"), &known).unwrap(),
            Some(vec!["givenName".to_owned()])
        );
        let p = parse(Some("fields=a&fields=b"), 100).unwrap();
        assert_eq!(p.fields.as_deref(), Some("a,b"));
    }
}
