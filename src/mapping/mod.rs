//! Field mappings: a school's own name lists → OneRoster records (docs/mappings.md).
//! `text`, `dates`, `grades`: the pure transforms; `profile`: the profile format and built-in
//! layouts; `source`, `engine`: lists → bundle rows with provenance; `bundle`, `run`: the bundle
//! written and passed to the import pipeline; `preview`: what a check shows (CLI and API);
//! `stored`: profiles kept per tenant under a name.

pub mod bundle;
pub mod dates;
pub mod engine;
pub mod grades;
pub mod preview;
pub mod profile;
pub mod run;
pub mod source;
pub mod stored;
pub mod table;
pub mod text;
