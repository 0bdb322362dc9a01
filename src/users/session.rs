//! Session and CSRF tokens: 256 random bits each, base64url. The session token travels only in
//! the `rosterhub_session` cookie; the database keeps its SHA-256 (a stolen table opens no
//! session). The CSRF token is stored as is: it opens nothing without the cookie.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The name of the session cookie.
pub const COOKIE: &str = "rosterhub_session";

fn random_b64() -> String {
    let mut buf = [0u8; 32];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A session token (the cookie's value). `Debug` never shows it.
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> SessionToken {
        SessionToken(random_b64())
    }

    /// A token read from a cookie: 43 base64url characters, else `None`.
    pub fn from_cookie(value: &str) -> Option<SessionToken> {
        (value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| SessionToken(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What `admin_sessions.id` holds: hex(SHA-256(token)).
    pub fn id(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// A new CSRF token.
pub fn csrf_token() -> String {
    random_b64()
}

/// Whether two tokens are equal, compared in constant time (for equal lengths).
pub fn tokens_match(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session cookie's value among a request's `Cookie` headers.
pub fn cookie_value<'a>(cookie_headers: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    cookie_headers
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let t = SessionToken::generate();
        assert_eq!(t.expose().len(), 43);
        assert_ne!(t.expose(), SessionToken::generate().expose());
        assert_eq!(t.id().len(), 64);
        assert!(!t.id().contains(t.expose()));
        assert_eq!(
            SessionToken::from_cookie(t.expose()).unwrap().id(),
            t.id(),
            "the same token, the same id"
        );
        assert!(SessionToken::from_cookie("short").is_none());
        assert!(SessionToken::from_cookie(&"a;".repeat(21)).is_none());
        assert_eq!(format!("{t:?}"), "SessionToken(..)");
    }

    #[test]
    fn cookies_are_found_and_tokens_compared() {
        let headers = ["theme=dark; rosterhub_session=abc", "other=1"];
        assert_eq!(cookie_value(headers.into_iter()), Some("abc"));
        assert_eq!(cookie_value(["rosterhub_sessionx=1"].into_iter()), None);
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(!tokens_match("ab", "abc"));
        assert!(!tokens_match("", ""));
    }
}
