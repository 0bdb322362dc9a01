//! Findings and the import report (the CLI's `--format json` object).

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::Entity;
use crate::storage::Counts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a bundle. `code` is stable; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
}

/// How many findings of one code in one file are listed; the rest are counted.
pub const DEFAULT_FINDINGS_PER_CODE: usize = 1000;

/// Collects findings, keeping at most `per_code` of each (file, code) but counting them all.
#[derive(Debug)]
pub struct Findings {
    list: Vec<Finding>,
    per_code: usize,
    seen: HashMap<(Option<String>, &'static str), (usize, Severity)>,
    errors: u64,
    warnings: u64,
}

impl Findings {
    pub fn new(per_code: usize) -> Findings {
        Findings {
            list: Vec::new(),
            per_code,
            seen: HashMap::new(),
            errors: 0,
            warnings: 0,
        }
    }

    pub fn push(&mut self, f: Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        let n = self
            .seen
            .entry((f.file.clone(), f.code))
            .or_insert((0, f.severity));
        n.0 += 1;
        if n.0 <= self.per_code {
            self.list.push(f);
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors
    }

    pub fn warning_count(&self) -> u64 {
        self.warnings
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The listed findings, each file's in line order, with a note for each truncated code.
    pub fn into_vec(mut self) -> Vec<Finding> {
        let mut notes: Vec<Finding> = self
            .seen
            .iter()
            .filter(|(_, (n, _))| *n > self.per_code)
            .map(|((file, code), (n, severity))| Finding {
                severity: *severity,
                code: "findings_truncated",
                file: file.clone(),
                line: None,
                column: None,
                value: Some((*code).to_owned()),
                message: format!(
                    "{} more findings with code `{code}` are not listed ({n} in all)",
                    n - self.per_code
                ),
            })
            .collect();
        notes.sort_by(|a, b| (&a.file, &a.value).cmp(&(&b.file, &b.value)));
        // Bundle-wide findings first, then the manifest, then each file in dependency order
        // (the order they are read in), each by line: the order a person fixes them in.
        self.list
            .sort_by_key(|f| (file_rank(f.file.as_deref()), f.file.clone(), f.line));
        self.list.append(&mut notes);
        self.list
    }

    /// How many findings of each code there were (listed or not), most frequent first.
    pub fn by_code(&self) -> Vec<CodeCount> {
        let mut totals: Vec<CodeCount> = Vec::new();
        for ((_, code), (n, severity)) in &self.seen {
            match totals.iter_mut().find(|c| c.code == *code) {
                Some(c) => c.count += *n as u64,
                None => totals.push(CodeCount {
                    code,
                    severity: *severity,
                    count: *n as u64,
                }),
            }
        }
        totals.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(b.code)));
        totals
    }
}

/// Where a file's findings go in the report: bundle-wide (no file), the manifest, the
/// rostering files in dependency order, anything else.
fn file_rank(file: Option<&str>) -> usize {
    match file {
        None => 0,
        Some("manifest.csv") => 1,
        Some(name) => Entity::ALL
            .iter()
            .position(|e| e.file_name() == name)
            .map_or(Entity::ALL.len() + 2, |i| i + 2),
    }
}

/// The number of findings with one code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeCount {
    pub code: &'static str,
    pub severity: Severity,
    pub count: u64,
}

/// The outcome of an import run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written to the database.
    Applied,
    /// Validated and planned; nothing written.
    DryRun,
    /// Errors in the bundle; nothing written.
    Rejected,
    /// The plan crossed the safety threshold; nothing written until forced or approved.
    Held,
    /// `validate` only: no errors.
    Valid,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::DryRun => "dry_run",
            Outcome::Rejected => "rejected",
            Outcome::Held => "held",
            Outcome::Valid => "valid",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Applied,
            Outcome::DryRun,
            Outcome::Rejected,
            Outcome::Held,
            Outcome::Valid,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    /// The CLI exit code: 0 fine, 1 rejected, 3 held.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Applied | Outcome::DryRun | Outcome::Valid => 0,
            Outcome::Rejected => 1,
            Outcome::Held => 3,
        }
    }
}

/// The report printed by `--format json` and stored with the import.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    pub status: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Keyed by CSV file name (`orgs`, `academicSessions`, …), in dependency order.
    pub entities: serde_json::Map<String, serde_json::Value>,
    /// Data rows read per file.
    pub rows: serde_json::Map<String, serde_json::Value>,
    pub error_count: u64,
    pub warning_count: u64,
    pub findings: Vec<Finding>,
    /// Every finding counted by code (listed or not), most frequent first: one missing school
    /// causing 300 errors shows as one line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings_by_code: Vec<CodeCount>,
    /// Dry runs and held imports: per entity, a sample of the records that would be inserted,
    /// changed (field by field) and tombstoned (`import::changes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<std::collections::BTreeMap<String, super::changes::EntityChanges>>,
    /// Milliseconds per file: `read` (decode, validate, stage) and `apply`.
    pub timings_ms: serde_json::Map<String, serde_json::Value>,
    pub duration_ms: u64,
    /// An undo (`import::undo`): the import it undid and the records it left as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<UndoInfo>,
}

/// What an undo reverted, and what it skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndoInfo {
    /// The import undone.
    pub undo_of: String,
    /// Records a later import changed, left as they are (a forced undo; the first 1,000).
    pub skipped: Vec<Skipped>,
    pub skipped_total: u64,
}

/// A record an undo did not revert, and the later import that changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub entity: String,
    #[serde(rename = "sourcedId")]
    pub sourced_id: String,
    pub later_import_id: String,
}

impl Report {
    pub fn set_counts(&mut self, entity: Entity, counts: Counts) {
        self.entities.insert(
            entity.name().to_owned(),
            serde_json::to_value(counts).unwrap_or(serde_json::Value::Null),
        );
    }

    pub fn add_timing(&mut self, entity: Entity, phase: &str, ms: u64) {
        let entry = self
            .timings_ms
            .entry(entity.name().to_owned())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let serde_json::Value::Object(m) = entry {
            m.insert(phase.to_owned(), ms.into());
        }
    }

    pub fn counts(&self, entity: Entity) -> Option<Counts> {
        self.entities
            .get(entity.name())
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// A plain-text rendering for people at a terminal.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "status: {}  profile: {}  errors: {}  warnings: {}  ({} ms)",
            self.status.as_str(),
            self.profile.as_deref().unwrap_or("-"),
            self.error_count,
            self.warning_count,
            self.duration_ms
        );
        if let Some(u) = &self.undo {
            let _ = writeln!(
                s,
                "undo of {}: records put back as they were (updated) or deleted again \
                 (tombstoned); {} skipped",
                u.undo_of, u.skipped_total
            );
        }
        // Nothing was written unless the import was applied: say what would have been.
        let verbs = if self.status == Outcome::Applied {
            ["inserted", "updated", "unchanged", "tombstoned"]
        } else {
            [
                "would insert",
                "would update",
                "unchanged",
                "would tombstone",
            ]
        };
        for (name, c) in &self.entities {
            let get = |k: &str| c.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            let _ = writeln!(
                s,
                "  {name:<17} {} {:>9}  {} {:>9}  {} {:>9}  {} {:>9}",
                verbs[0],
                get("inserted"),
                verbs[1],
                get("updated"),
                verbs[2],
                get("unchanged"),
                verbs[3],
                get("tombstoned")
            );
        }
        for f in &self.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut place = f.file.clone().unwrap_or_default();
            if let Some(l) = f.line {
                let _ = write!(place, ":{l}");
            }
            if let Some(c) = &f.column {
                let _ = write!(place, " [{c}]");
            }
            if place.is_empty() {
                let _ = writeln!(s, "{sev:<7} {} ({})", f.message, f.code);
            } else {
                let _ = writeln!(s, "{sev:<7} {place}: {} ({})", f.message, f.code);
            }
        }
        if !self.findings_by_code.is_empty() {
            let _ = writeln!(s, "findings by code:");
            for c in &self.findings_by_code {
                let sev = match c.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                let _ = writeln!(s, "  {:>9}  {} ({sev})", c.count, c.code);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(code: &'static str) -> Finding {
        Finding {
            severity: Severity::Warning,
            code,
            file: Some("users.csv".into()),
            line: Some(2),
            column: None,
            value: None,
            message: "m".into(),
        }
    }

    #[test]
    fn findings_beyond_the_cap_are_counted_and_noted() {
        let mut fs = Findings::new(2);
        for _ in 0..5 {
            fs.push(f("a"));
        }
        fs.push(f("b"));
        assert_eq!(fs.warning_count(), 6);
        let v = fs.into_vec();
        assert_eq!(v.len(), 4);
        assert_eq!(v[3].code, "findings_truncated");
        assert!(v[3].message.starts_with("3 more"));
    }

    #[test]
    fn exit_codes_follow_the_cli_contract() {
        assert_eq!(Outcome::Applied.exit_code(), 0);
        assert_eq!(Outcome::DryRun.exit_code(), 0);
        assert_eq!(Outcome::Rejected.exit_code(), 1);
        assert_eq!(Outcome::Held.exit_code(), 3);
        assert_eq!(
            serde_json::to_string(&Outcome::DryRun).unwrap(),
            "\"dry_run\""
        );
    }
}
