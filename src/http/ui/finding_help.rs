//! What each finding code means and what to do next in the web UI, in Japanese and English:
//! `assets/i18n/findings.{ja,en}.json`, code → text. The import page shows it beside each code
//! of the findings grouped by code; a finding's own message (which carries its values) stays as
//! the import wrote it. Kept apart from the page catalogues: one entry per code, which the
//! test below checks against every code the import can emit.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::i18n::Lang;

const JA_JSON: &str = include_str!("../../../assets/i18n/findings.ja.json");
const EN_JSON: &str = include_str!("../../../assets/i18n/findings.en.json");
static JA: OnceLock<HashMap<String, String>> = OnceLock::new();
static EN: OnceLock<HashMap<String, String>> = OnceLock::new();

/// The explanation of `code` in `lang`; empty for a code the catalogue lacks (the test keeps
/// none missing), so the page then shows the findings' own messages only.
pub fn explain(lang: Lang, code: &str) -> &'static str {
    let (cell, json) = match lang {
        Lang::Ja => (&JA, JA_JSON),
        Lang::En => (&EN, EN_JSON),
    };
    let map = cell.get_or_init(|| {
        serde_json::from_str(json).expect("the findings catalogue is a JSON object of strings")
    });
    map.get(code).map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::domain::Entity;

    /// Snake-case literals of the sources that emit findings which are not codes: options, and
    /// the error codes of a refused undo (`import::undo::Refusal`, answers rather than findings).
    const NOT_CODES: [&str; 8] = [
        "dry_run",
        "fail_after",
        "snake_case",
        "not_found",
        "not_applied",
        "no_change_log",
        "already_undone",
        "undo_conflict",
    ];

    /// Every finding code the import can emit: the snake-case string literals (outside tests) of
    /// the files that make findings, minus column names and [`NOT_CODES`]. Codes are snake case
    /// with an underscore; a literal right after a severity (`Severity::Error, "…"`) is taken
    /// too, underscore or not.
    fn emitted_codes() -> BTreeSet<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(root.join("src/import"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.push(root.join("src/csv/manifest.rs"));
        let columns: BTreeSet<&str> = Entity::ALL
            .iter()
            .flat_map(|e| e.columns().iter().map(|c| c.db))
            .collect();
        let mut codes = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let text = text.split("#[cfg(test)]").next().unwrap();
            let literals = text.split('"').skip(1).step_by(2);
            for lit in literals {
                let snake = lit.contains('_')
                    && lit.starts_with(|c: char| c.is_ascii_lowercase())
                    && lit
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if snake && !columns.contains(lit) && !NOT_CODES.contains(&lit) {
                    codes.insert(lit.to_owned());
                }
            }
            for sev in ["Severity::Error,", "Severity::Warning,"] {
                for (i, _) in text.match_indices(sev) {
                    let rest = text[i + sev.len()..].trim_start();
                    if let Some(rest) = rest.strip_prefix('"') {
                        codes.insert(rest[..rest.find('"').unwrap()].to_owned());
                    }
                }
            }
        }
        codes
    }

    fn keys(json: &str) -> BTreeSet<String> {
        let map: HashMap<String, String> = serde_json::from_str(json).unwrap();
        assert!(map.values().all(|v| !v.trim().is_empty()), "an empty text");
        map.into_keys().collect()
    }

    #[test]
    fn every_emitted_code_is_explained_in_both_languages_and_nothing_else() {
        let codes = emitted_codes();
        assert!(codes.len() > 70, "the scan found {} codes", codes.len());
        assert!(codes.contains("threshold_exceeded") && codes.contains("manifest_header"));
        for (name, json) in [("ja", JA_JSON), ("en", EN_JSON)] {
            let keys = keys(json);
            let missing: Vec<_> = codes.difference(&keys).collect();
            let stale: Vec<_> = keys.difference(&codes).collect();
            assert!(
                missing.is_empty() && stale.is_empty(),
                "findings.{name}.json: missing {missing:?}; not emitted {stale:?}"
            );
        }
    }

    #[test]
    fn explanations_are_in_the_asked_language_and_name_no_command_line_flag() {
        assert!(explain(Lang::Ja, "encoding_shift_jis").contains("文字コード"));
        assert!(explain(Lang::En, "encoding_shift_jis").contains("Encoding"));
        assert_eq!(explain(Lang::En, "no_such_code"), "");
        for json in [JA_JSON, EN_JSON] {
            assert!(!json.contains("--"), "a CLI flag in the UI's advice");
        }
    }
}
