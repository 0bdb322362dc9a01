//! What a request says about its caller, as the outer layers found it: the one parser of
//! `Authorization: Bearer`, the principal the guard verified and the address it decided on.
//!
//! Apart from the guard so that the guard, the OneRoster handlers, the admin extractors and
//! the audit layer all depend on this file and not on one another.

use std::net::IpAddr;

use axum::http::{Extensions, HeaderMap, header};

use super::metrics::security::{self, AuthFailure};
use crate::auth::{Auth, Principal};

/// The address the guard decided a request comes from (in request and response extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The bearer token's principal as the guard verified it, in the request's and the response's
/// extensions: the handlers and the audit layer need not verify the token again.
#[derive(Debug, Clone)]
pub struct VerifiedPrincipal(pub Principal);

/// The token of an `Authorization` value `Bearer <token>`: the scheme in any case (RFC 7235
/// §2.1), spaces around the token ignored. `None` for another scheme or an empty token.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// The principal of the request's bearer token, verified; else why there is none (the
/// message of a 401).
pub fn verify_bearer(headers: &HeaderMap, auth: &Auth) -> Result<Principal, String> {
    let verified = (|| {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or("a Bearer token is required")?;
        let token = bearer(value).ok_or("the Authorization header must be `Bearer <token>`")?;
        auth.verify(token)
            .map_err(|e| format!("the token is not valid: {e}"))
    })();
    if verified.is_err() {
        security::auth_failure(AuthFailure::Bearer);
    }
    verified
}

/// The principal the guard verified, else the bearer token's (verified here: a route outside
/// the guard's areas, or a test without the guard).
pub fn principal(
    extensions: &Extensions,
    headers: &HeaderMap,
    auth: &Auth,
) -> Result<Principal, String> {
    match extensions.get::<VerifiedPrincipal>() {
        Some(v) => Ok(v.0.clone()),
        None => verify_bearer(headers, auth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moved with the parser from the guard.
    #[test]
    fn bearer_tokens_are_found_in_any_case_of_the_scheme() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer  abc ".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn the_scheme_is_matched_in_any_case() {
        for value in ["Bearer t", "bearer t", "BEARER t", "bEaReR t"] {
            assert_eq!(bearer(value), Some("t"), "{value}");
        }
        for value in ["Basic t", "Bearerx t", "Bear t", "Token t"] {
            assert_eq!(bearer(value), None, "{value}");
        }
    }

    #[test]
    fn spaces_around_the_token_are_ignored_and_the_scheme_needs_one() {
        for value in ["Bearer t.k-n", "  Bearer   t.k-n  ", "Bearer t.k-n\t"] {
            assert_eq!(bearer(value), Some("t.k-n"), "{value:?}");
        }
        for value in ["Bearert", "Bearer\tt", "Bearer"] {
            assert_eq!(bearer(value), None, "{value:?}");
        }
    }

    #[test]
    fn an_empty_token_is_no_token() {
        for value in ["Bearer ", "Bearer    ", "bearer \t", "", " "] {
            assert_eq!(bearer(value), None, "{value:?}");
        }
    }
}
