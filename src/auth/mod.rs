//! OAuth 2.0 client credentials: API clients, token issue and verification.
//!
//! - [`token`]: [`Auth`] issues and verifies HS256 access tokens ([`Principal`]).
//! - [`keyring`]: the signing keys an `Auth` holds, reloaded after a rotation.
//! - [`endpoint`]: `POST /oauth/token`.
//! - [`throttle`]: the limits on failed credentials (logins and token requests), counted in
//!   the database.
//!
//! The value types of a client — its scopes ([`Scopes`]), its restrictions
//! (`crate::domain::restrict`) and the keyed hash of its secret (`crate::domain::secret`) —
//! live in `crate::domain`, so that `crate::storage::clients`, which stores the clients, their
//! hashed secrets and the signing keys, never imports this module.

pub mod endpoint;
pub mod keyring;
pub mod throttle;
pub mod token;

pub use crate::domain::scopes::Scopes;
pub use endpoint::token_endpoint;
pub use token::{Auth, AuthError, IssuedToken, Principal};

#[cfg(test)]
mod tests;
