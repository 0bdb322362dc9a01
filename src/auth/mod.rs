//! OAuth 2.0 client credentials: API clients, token issue and verification.
//!
//! - [`scopes`]: the rostering scopes as a set.
//! - [`secret`]: the keyed hash of client secrets.
//! - [`restrict`]: a client's IP allow-list, rate limit and org scope as typed values.
//! - [`token`]: [`Auth`] issues and verifies HS256 access tokens ([`Principal`]).
//! - [`keyring`]: the signing keys an `Auth` holds, reloaded after a rotation.
//! - [`endpoint`]: `POST /oauth/token`.
//!
//! API clients, their hashed secrets and the signing keys are stored by
//! `crate::storage::clients`.

pub mod endpoint;
pub mod keyring;
pub mod restrict;
pub mod scopes;
pub mod secret;
pub mod token;

pub use endpoint::token_endpoint;
pub use scopes::Scopes;
pub use token::{Auth, AuthError, IssuedToken, Principal};

#[cfg(test)]
mod tests;
