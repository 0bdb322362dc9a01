//! The OneRoster domain: entities and their columns, vocabularies, identifiers, dates; and the
//! value types of API clients that both `crate::auth` and `crate::storage` use — scopes,
//! restrictions (allow-lists, rate limits, org scopes), the keyed hash of client secrets — kept
//! here so that storage never imports `auth`.
//! Pure: no I/O, no axum, no SQL.

pub mod datetime;
pub mod entity;
pub mod ids;
pub mod restrict;
pub mod scopes;
pub mod secret;
pub mod vocab;

pub use entity::{Column, Entity, Kind, Vocab};
