//! The CSV import: decode → validate → plan → apply → report. Used by the CLI and by HTTP
//! jobs.

mod ahead;
pub mod changes;
mod checks;
pub mod context;
pub mod history;
mod hold;
pub mod layout;
pub mod pipeline;
#[cfg(test)]
mod proptests;
pub mod reader;
pub mod report;
pub mod resolve;
pub mod rollover;
pub mod rows;
mod stager;
mod target;
pub mod undo;

pub use pipeline::{Channel, ImportError, ImportOptions, Progress, import, validate};
pub use report::{Finding, Outcome, Report, Severity};
pub use target::tenant_default;
