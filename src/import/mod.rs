//! The CSV import: decode → validate → plan → apply → report. Used by the CLI and by HTTP
//! jobs.

mod checks;
pub mod context;
pub mod layout;
pub mod pipeline;
#[cfg(test)]
mod proptests;
pub mod reader;
pub mod report;
pub mod resolve;
pub mod rows;

pub use pipeline::{Channel, ImportError, ImportOptions, Progress, import, validate};
pub use report::{Finding, Outcome, Report, Severity};
