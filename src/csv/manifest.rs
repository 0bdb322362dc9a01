//! `manifest.csv` (CSV binding §1.5): `propertyName,value` rows, one `file.<name>` row per file.

use std::collections::BTreeMap;

use crate::domain::entity::FILE_NAMES;

/// A manifest row's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Absent,
    Bulk,
    Delta,
}

/// One problem in the manifest, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestProblem {
    pub line: u64,
    pub code: &'static str,
    pub column: &'static str,
    pub value: String,
    pub message: String,
    pub is_error: bool,
}

#[derive(Debug, Default)]
pub struct Manifest {
    pub manifest_version: Option<String>,
    pub oneroster_version: Option<String>,
    /// `file.<name>` → mode, for every row that parsed.
    pub files: BTreeMap<String, Mode>,
    pub problems: Vec<ManifestProblem>,
}

impl Manifest {
    pub fn mode(&self, name: &str) -> Mode {
        self.files.get(name).copied().unwrap_or(Mode::Absent)
    }

    /// Parses the manifest text (already decoded to UTF-8).
    pub fn parse(text: &str) -> Manifest {
        let mut m = Manifest::default();
        // The csv crate miscounts lines on CRLF input (see `decode::CrlfToLf`).
        let text = text.replace("\r\n", "\n");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        let mut first = true;
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    m.problem(
                        0,
                        "manifest_unreadable",
                        "",
                        String::new(),
                        e.to_string(),
                        true,
                    );
                    break;
                }
            }
            let line = record.position().map_or(0, |p| p.line());
            if first {
                first = false;
                let header: Vec<&str> = record.iter().collect();
                if header != ["propertyName", "value"] {
                    m.problem(
                        line,
                        "manifest_header",
                        "",
                        header.join(","),
                        "the manifest header must be exactly `propertyName,value`".into(),
                        true,
                    );
                }
                continue;
            }
            if record.iter().all(str::is_empty) {
                continue;
            }
            let name = record.get(0).unwrap_or("");
            let value = record.get(1).unwrap_or("");
            match name {
                "manifest.version" => m.manifest_version = Some(value.to_owned()),
                "oneroster.version" => m.oneroster_version = Some(value.to_owned()),
                _ => {
                    if let Some(file) = name.strip_prefix("file.") {
                        let mode = match value {
                            "absent" => Mode::Absent,
                            "bulk" => Mode::Bulk,
                            "delta" => Mode::Delta,
                            _ => {
                                let message = if value.is_empty() {
                                    format!(
                                        "`{name}` has no value; it must be absent, bulk or delta"
                                    )
                                } else {
                                    format!(
                                        "`{name}` is `{value}`; it must be absent, bulk or delta"
                                    )
                                };
                                m.problem(
                                    line,
                                    "manifest_invalid_mode",
                                    "value",
                                    value.into(),
                                    message,
                                    true,
                                );
                                continue;
                            }
                        };
                        if !FILE_NAMES.contains(&file) {
                            m.problem(
                                line,
                                "manifest_unknown_file",
                                "propertyName",
                                name.into(),
                                format!("`{name}` is not a OneRoster 1.2 file; ignored"),
                                false,
                            );
                        }
                        m.files.insert(file.to_owned(), mode);
                    }
                    // source.* and vendor rows are free text: ignored.
                }
            }
        }
        if m.manifest_version.is_none() {
            m.problem(
                0,
                "manifest_missing_property",
                "propertyName",
                "manifest.version".into(),
                "the manifest has no `manifest.version` row".into(),
                false,
            );
        }
        if m.oneroster_version.is_none() {
            m.problem(
                0,
                "manifest_missing_property",
                "propertyName",
                "oneroster.version".into(),
                "the manifest has no `oneroster.version` row".into(),
                true,
            );
        }
        m
    }

    fn problem(
        &mut self,
        line: u64,
        code: &'static str,
        column: &'static str,
        value: String,
        message: String,
        is_error: bool,
    ) {
        self.problems.push(ManifestProblem {
            line,
            code,
            column,
            value,
            message,
            is_error,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_modes_and_reports_empty_values_with_their_line() {
        let m = Manifest::parse(
            "propertyName,value\r\nmanifest.version,1.0\r\noneroster.version,1.2\r\nfile.users,bulk\r\nfile.roles,delta\r\nfile.scoreScales,\r\nsource.systemName,X\r\n",
        );
        assert_eq!(m.oneroster_version.as_deref(), Some("1.2"));
        assert_eq!(m.mode("users"), Mode::Bulk);
        assert_eq!(m.mode("roles"), Mode::Delta);
        assert_eq!(m.mode("orgs"), Mode::Absent);
        assert_eq!(m.problems.len(), 1);
        assert_eq!(m.problems[0].line, 6);
        assert_eq!(m.problems[0].code, "manifest_invalid_mode");
    }

    #[test]
    fn a_wrong_header_is_an_error() {
        let m = Manifest::parse("name,value\nmanifest.version,1.0\noneroster.version,1.2\n");
        assert!(
            m.problems
                .iter()
                .any(|p| p.code == "manifest_header" && p.is_error)
        );
    }
}
