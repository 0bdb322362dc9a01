//! The one decoder of percent-encoded text (RFC 3986 §2.1) and of
//! `application/x-www-form-urlencoded` (WHATWG URL §5), for query strings, form bodies and
//! Basic credentials.
//!
//! A component is read in one of three ways, by what its caller must do with a bad one:
//! - [`percent_decode`]: `%XX` is a byte and `+` stays `+` (OneRoster query strings: `+` is
//!   literal in e-mail filters). A malformed escape, or a result that is not UTF-8, is an error.
//! - [`form_decode`]: the same, but `+` is a space (token requests, Basic credentials).
//! - [`form_decode_lossy`]: `+` is a space and nothing fails, as in browsers and axum's query
//!   extractor: a malformed escape stays as written, bytes that are not UTF-8 become U+FFFD
//!   (the admin API's query strings, the login form).
//!
//! [`pairs`] splits a query string or a form into its `key=value` pairs, still encoded.

use std::fmt;

/// Why a component could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` not followed by two hex digits.
    MalformedEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::MalformedEscape => "malformed percent-encoding",
            DecodeError::NotUtf8 => "not UTF-8",
        })
    }
}

impl std::error::Error for DecodeError {}

/// Percent-decodes without turning `+` into a space.
pub fn percent_decode(raw: impl AsRef<[u8]>) -> Result<String, DecodeError> {
    strict(decode(raw.as_ref(), false))
}

/// Decodes one form-urlencoded component: `+` is a space, `%XX` a byte; must be UTF-8.
pub fn form_decode(raw: impl AsRef<[u8]>) -> Result<String, DecodeError> {
    strict(decode(raw.as_ref(), true))
}

/// Decodes one form-urlencoded component and never fails: a malformed escape is kept as
/// written, bytes that are not UTF-8 become U+FFFD.
pub fn form_decode_lossy(raw: impl AsRef<[u8]>) -> String {
    let (bytes, _) = decode(raw.as_ref(), true);
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The `key=value` pairs of a query string or form, still encoded: split on `&` (empty pieces
/// skipped), then on the first `=` (none: the value is empty).
pub fn pairs(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Every pair of a query string or form, decoded by [`form_decode_lossy`].
pub fn pairs_lossy(raw: &str) -> impl Iterator<Item = (String, String)> {
    pairs(raw).map(|(k, v)| (form_decode_lossy(k), form_decode_lossy(v)))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn strict((bytes, well_formed): (Vec<u8>, bool)) -> Result<String, DecodeError> {
    if !well_formed {
        return Err(DecodeError::MalformedEscape);
    }
    String::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)
}

/// The decoded bytes, a malformed escape kept as written; and whether every escape was
/// well-formed.
fn decode(raw: &[u8], plus_is_space: bool) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(raw.len());
    let mut well_formed = true;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let digit = |at: usize| raw.get(at).copied().and_then(hex);
                if let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                well_formed = false;
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    (out, well_formed)
}

#[cfg(test)]
mod tests {
    use super::*;

    use DecodeError::{MalformedEscape, NotUtf8};

    #[test]
    fn plus_is_literal_in_percent_decoding_and_a_space_in_forms() {
        assert_eq!(percent_decode("a+b%2Bc%20d").as_deref(), Ok("a+b+c d"));
        assert_eq!(form_decode("a+b%2Bc%20d").as_deref(), Ok("a b+c d"));
        assert_eq!(form_decode_lossy("a+b%2Bc%20d"), "a b+c d");
        assert_eq!(
            percent_decode("%2b%2B").as_deref(),
            Ok("++"),
            "either case of hex"
        );
    }

    /// Moved with the decoder from `auth::endpoint` (the token endpoint's forms).
    #[test]
    fn form_components_decode_plus_and_percent() {
        assert_eq!(form_decode(b"a+b%20c%2Bd").as_deref(), Ok("a b c+d"));
        assert_eq!(form_decode(b"%E3%81%82").as_deref(), Ok("\u{3042}"));
        assert_eq!(form_decode(b"%zz"), Err(MalformedEscape));
        assert_eq!(form_decode(b"%4"), Err(MalformedEscape));
        assert_eq!(form_decode(b"%FF"), Err(NotUtf8), "not UTF-8");
    }

    #[test]
    fn malformed_escapes_fail_or_stay_as_written() {
        for bad in ["%", "%4", "%zz", "%4g", "%+1", "%-1", "a%"] {
            assert_eq!(percent_decode(bad), Err(MalformedEscape), "{bad}");
            assert_eq!(form_decode(bad), Err(MalformedEscape), "{bad}");
            assert_eq!(form_decode_lossy(bad), bad.replace('+', " "), "{bad}");
        }
        assert_eq!(form_decode_lossy("%zz%41%4"), "%zzA%4");
    }

    #[test]
    fn utf8_is_required_or_replaced() {
        assert_eq!(percent_decode("%E3%81%82").as_deref(), Ok("\u{3042}"));
        assert_eq!(form_decode("%E5%B1%B1%E7%94%B0").as_deref(), Ok("山田"));
        assert_eq!(
            percent_decode("山田").as_deref(),
            Ok("山田"),
            "raw UTF-8 passes"
        );
        for bad in ["%FF", "%E3%81", "%C3%28"] {
            assert_eq!(percent_decode(bad), Err(NotUtf8), "{bad}");
            assert_eq!(form_decode(bad), Err(NotUtf8), "{bad}");
        }
        assert_eq!(form_decode(b"\xff"), Err(NotUtf8), "raw bytes");
        assert_eq!(form_decode_lossy("a%FFb"), "a\u{fffd}b");
        assert_eq!(percent_decode("").as_deref(), Ok(""));
    }

    #[test]
    fn pairs_split_on_ampersands_and_the_first_equals_sign() {
        let got: Vec<_> = pairs("a=1&&b=x=y&flag&=v&").collect();
        assert_eq!(got, [("a", "1"), ("b", "x=y"), ("flag", ""), ("", "v")]);
        assert_eq!(pairs("").count(), 0);
        let decoded: Vec<_> = pairs_lossy("k%20ey=a+b&bad=%zz").collect();
        assert_eq!(
            decoded,
            [
                ("k ey".to_owned(), "a b".to_owned()),
                ("bad".to_owned(), "%zz".to_owned())
            ]
        );
    }
}
