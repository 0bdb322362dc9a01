//! The CSV import: decode → validate → plan → apply → report. Used by the CLI and, later, by
//! HTTP jobs.

mod checks;
pub mod context;
pub mod layout;
pub mod pipeline;
pub mod reader;
pub mod report;
pub mod resolve;
pub mod rows;

pub use pipeline::{ImportError, ImportOptions, Progress, import, validate};
pub use report::{Finding, Outcome, Report, Severity};
