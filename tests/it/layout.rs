//! The source tree keeps the boundaries ARCHITECTURE.md promises, checked on the files
//! themselves: SQL only under `src/storage/`, storage's query types never named outside it, no
//! import cycle between top-level modules, and small files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Largest source file allowed under `src/` (bytes).
const MAX_FILE_BYTES: u64 = 25 * 1024;

/// Names that belong to storage's SQL building and must not appear outside it.
const STORAGE_ONLY_NAMES: &[&str] = &[
    "Query",
    "Param",
    "where_clause",
    "SqlFragment",
    "SqlValue",
    "record_columns",
];

fn src_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out.sort();
    out
}

/// The path below `src/`, with `/` separators.
fn rel(path: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    path.strip_prefix(&src)
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn rust_sources() -> Vec<(String, String)> {
    src_files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| (rel(&p), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `line` with word boundaries on both sides.
fn has_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

/// `SELECT`, `INSERT INTO`, `UPDATE <table> SET` or `DELETE FROM` as whole words.
fn has_sql(line: &str) -> bool {
    if has_word(line, "SELECT") || has_word(line, "INSERT INTO") || has_word(line, "DELETE FROM") {
        return true;
    }
    line.match_indices("UPDATE ").any(|(i, _)| {
        let before = line[..i].chars().next_back();
        if before.is_some_and(is_word_char) {
            return false;
        }
        let rest = &line[i + "UPDATE ".len()..];
        let table: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        !table.is_empty() && rest[table.len()..].starts_with(" SET")
    })
}

#[test]
fn sql_statements_live_only_in_storage() {
    let mut found = Vec::new();
    for (path, text) in rust_sources() {
        if path.starts_with("storage/") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if has_sql(line) {
                found.push(format!("src/{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside src/storage/:\n{}",
        found.join("\n")
    );
}

#[test]
fn storage_query_types_are_not_named_outside_storage() {
    let mut found = Vec::new();
    for (path, text) in rust_sources() {
        if path.starts_with("storage/") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            for name in STORAGE_ONLY_NAMES {
                if has_word(line, name) {
                    found.push(format!("src/{path}:{}: {name}", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "storage's query types named outside src/storage/:\n{}",
        found.join("\n")
    );
}

/// Top-level module → the top-level modules it names (`crate::x`, `use crate::{x, …}`).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let sources = rust_sources();
    let modules: BTreeSet<String> = sources
        .iter()
        .map(|(p, _)| top_level(p))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in &sources {
        let from = top_level(path);
        if !modules.contains(&from) {
            continue;
        }
        let deps = graph.entry(from.clone()).or_default();
        // Code only: a path named in a comment is not an import.
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for name in crate_references(&code) {
            if name != from && modules.contains(&name) {
                deps.insert(name);
            }
        }
    }
    graph
}

fn top_level(path: &str) -> String {
    let first = path.split('/').next().unwrap();
    first.strip_suffix(".rs").unwrap_or(first).to_owned()
}

/// Every module name that follows `crate::`, including each name of a `crate::{a, b::c}` group.
fn crate_references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        if text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| is_word_char(c) || c == '$')
        {
            continue; // `$crate::` is a macro path, `foo_crate::` another name
        }
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: the first segment of each comma-separated item
            // at nesting depth 0, up to the brace that closes the group.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| is_word_char(*c))
                            .collect();
                        if !name.is_empty() {
                            out.push(name);
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| is_word_char(*c))
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        } else {
            let name: String = rest.chars().take_while(|c| is_word_char(*c)).collect();
            out.push(name);
        }
    }
    out
}

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = module_graph();
    let mut cycles = Vec::new();
    for (from, deps) in &graph {
        for to in deps {
            // A dependency from → to closes a cycle when `from` is reachable from `to`.
            let mut seen = BTreeSet::new();
            let mut stack = vec![to.clone()];
            while let Some(m) = stack.pop() {
                for next in graph.get(&m).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        stack.push(next.clone());
                    }
                }
            }
            if seen.contains(from) {
                cycles.push(format!("{from} → {to} → … → {from}"));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules:\n{}\n\ngraph: {graph:#?}",
        cycles.join("\n")
    );
}

#[test]
fn no_source_file_is_over_25_kb() {
    let big: Vec<String> = src_files()
        .into_iter()
        .filter_map(|p| {
            let size = std::fs::metadata(&p).unwrap().len();
            (size > MAX_FILE_BYTES).then(|| format!("src/{} ({size} bytes)", rel(&p)))
        })
        .collect();
    assert!(big.is_empty(), "files over 25 KB: {big:?}");
}

#[test]
fn the_checks_see_what_they_look_for() {
    assert!(has_sql("let q = \"SELECT id FROM jobs\";"));
    assert!(has_sql("\"UPDATE jobs SET state = $1\""));
    assert!(has_sql("DELETE FROM blobs WHERE id = $1"));
    assert!(!has_sql("// the SELECTed rows; UPDATED_AT, DELETE_FROM_X"));
    assert!(has_word("use crate::storage::read::Query;", "Query"));
    assert!(!has_word("RawQuery and QueryRejection", "Query"));
    assert_eq!(
        crate_references("use crate::{storage::{Store, x}, domain::Entity};\ncrate::http::x"),
        ["storage", "domain", "http"]
    );
    assert_eq!(
        crate_references("$crate::storage::value::Value"),
        Vec::<String>::new()
    );
}
