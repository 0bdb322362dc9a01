//! The OneRoster domain: entities and their columns, vocabularies, identifiers, dates.
//! Pure: no I/O, no axum, no SQL.

pub mod datetime;
pub mod entity;
pub mod ids;
pub mod vocab;

pub use entity::{Column, Entity, Kind, Vocab};
