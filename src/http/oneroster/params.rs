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
    /// The pairs of `filter`, `sort`, `orderBy` and `fields` as received (still encoded), to
    /// rebuild `Link` URLs. Other parameters change nothing in the answer, so the links leave
    /// them out (however long they are).
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

/// The largest `limit` and `offset`: the REST binding declares both as int32, and clients
/// built from its OpenAPI document cannot send more.
pub const MAX_PAGING_VALUE: u64 = i32::MAX as u64;

/// The longest `filter`, `sort` and `fields` (decoded, in bytes; repeated `fields` counted
/// together). Generous for any real request; it keeps the query text and the `Link` header
/// that repeats it small (a 60 KB header breaks curl and most proxies).
pub const MAX_TEXT_PARAM_BYTES: usize = 4096;

/// `filter`, `sort` or `fields` within [`MAX_TEXT_PARAM_BYTES`].
fn bounded(name: &str, value: &str) -> Result<(), ApiError> {
    if value.len() <= MAX_TEXT_PARAM_BYTES {
        return Ok(());
    }
    Err(ApiError::InvalidData(format!(
        "`{name}` is {} bytes long; at most {MAX_TEXT_PARAM_BYTES} are accepted: shorten it \
         (a long filter or fields list can be split over several requests)",
        value.len()
    )))
}

/// `limit` or `offset`: a whole number from `min` to [`MAX_PAGING_VALUE`]. Anything else —
/// text, a sign, a value past int32 or past u64 — gets one message naming the range.
fn number(name: &str, value: &str, min: u64) -> Result<u64, ApiError> {
    match value.parse::<u64>() {
        Ok(n) if (min..=MAX_PAGING_VALUE).contains(&n) => Ok(n),
        _ => Err(ApiError::InvalidData(format!(
            "`{name}` must be a whole number from {min} to {MAX_PAGING_VALUE}; `{}` is not",
            shortened(value)
        ))),
    }
}

/// A value quoted in an error message, cut to its first 64 characters.
fn shortened(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_owned(),
    }
}

/// Parses a raw query string (split on `&`, then on the first `=` only).
pub fn parse(query: Option<&str>, max_limit: u64) -> Result<Params, ApiError> {
    let mut p = Params::default();
    let mut fields: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in pairs(query.unwrap_or("")) {
        let key = decoded(k)?;
        let value = decoded(v)?;
        if ["sort", "orderBy", "filter", "fields"].contains(&key.as_str()) {
            p.raw.push((k.to_owned(), v.to_owned()));
        }
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
            "sort" => {
                bounded("sort", &value)?;
                p.sort = Some(value);
            }
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
            "filter" => {
                bounded("filter", &value)?;
                p.filter = Some(value);
            }
            "fields" => fields.push(value),
            _ => {}
        }
    }
    if !fields.is_empty() {
        let joined = fields.join(",");
        bounded("fields", &joined)?;
        p.fields = Some(joined);
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
            "limit=2147483648",
            "limit=60625940799447",
            "offset=2147483648",
            "offset=18446744073709551616",
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
    fn paging_values_past_int32_name_the_range() {
        let p = parse(Some("limit=2147483647&offset=2147483647"), u64::MAX).unwrap();
        assert_eq!(
            (p.limit, p.offset),
            (Some(2_147_483_647), Some(2_147_483_647))
        );
        for (q, want) in [
            (
                "offset=2147483648",
                "`offset` must be a whole number from 0 to 2147483647; `2147483648` is not",
            ),
            (
                "limit=99999999999999999999999",
                "`limit` must be a whole number from 1 to 2147483647; \
                 `99999999999999999999999` is not",
            ),
            (
                "limit=0",
                "`limit` must be a whole number from 1 to 2147483647; `0` is not",
            ),
        ] {
            let e = parse(Some(q), 10_000).unwrap_err();
            assert_eq!(e.code_minor(), "invaliddata", "{q}");
            assert_eq!(e.to_string(), want, "{q}");
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
