//! The file being read and the row in hand, and how a finding about them is made: what the row
//! loop (`rows`) and the cell and row rules (`checks`) share, apart from both so that neither
//! imports the other.

use crate::csv::limits::ReadLimits;
use crate::csv::target::TargetCheck;
use crate::domain::Entity;
use crate::storage::FileMode;

use super::layout::Layout;
use super::report::{Finding, Findings, Severity};

/// One file being read.
pub struct FileReader<'a> {
    pub entity: Entity,
    pub mode: FileMode,
    pub file: &'a str,
    pub layout: &'a Layout,
    /// The file was converted from CP932: a U+FFFD in a cell marks bytes that were not CP932.
    pub converted: bool,
    pub limits: ReadLimits,
    /// The national model the bundle is held to, if any (`--target`).
    pub target: Option<TargetCheck>,
}

pub(super) struct Row<'r> {
    pub(super) line: u64,
    pub(super) record: &'r csv::StringRecord,
}

pub(super) fn finding(
    severity: Severity,
    code: &'static str,
    file: &str,
    line: u64,
    column: Option<&str>,
    value: Option<&str>,
    message: String,
) -> Finding {
    Finding {
        severity,
        code,
        file: Some(file.to_owned()),
        line: Some(line),
        column: column.map(str::to_owned),
        value: value.map(str::to_owned),
        message,
    }
}

#[expect(clippy::too_many_arguments, reason = "every part of a finding")]
pub(super) fn push(
    fr: &FileReader<'_>,
    row: &Row<'_>,
    findings: &mut Findings,
    severity: Severity,
    code: &'static str,
    column: &str,
    value: &str,
    message: String,
) {
    findings.push(finding(
        severity,
        code,
        fr.file,
        row.line,
        Some(column),
        Some(value),
        message,
    ));
}
