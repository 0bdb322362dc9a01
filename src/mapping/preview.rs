//! What a check of mapped lists shows — `rosterhub map check` and `POST /api/v1/mappings/…/
//! preview` alike: per source file the layout and encoding found, the first records of each
//! OneRoster file with the source line each came from, and the report with every finding in
//! the source's terms.

use serde_json::{Map, Value, json};

use super::engine::Mapped;
use crate::domain::Entity;
use crate::import::Report;

/// The most records shown per OneRoster file.
pub const MAX_ROWS: usize = 20;

/// The first records of one OneRoster file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub entity: Entity,
    /// Records of this kind the lists gave.
    pub total: usize,
    pub rows: Vec<SampleRow>,
}

/// One record and the source line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRow {
    pub file: String,
    pub line: u64,
    /// The record's non-empty fields, in the order of the OneRoster CSV header.
    pub fields: Vec<(String, String)>,
}

/// The first `n` (at most [`MAX_ROWS`]) records of every file the mapping made, in dependency
/// order.
pub fn sample(mapped: &Mapped, n: usize) -> Vec<Sample> {
    let n = n.min(MAX_ROWS);
    mapped
        .tables
        .iter()
        .map(|(entity, table)| {
            let rows = table
                .rows
                .iter()
                .zip(&table.origins)
                .take(n)
                .map(|(row, origin)| SampleRow {
                    file: mapped.files[origin.file].clone(),
                    line: origin.line,
                    fields: table
                        .columns
                        .iter()
                        .zip(row)
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(c, v)| (c.clone(), v.to_owned()))
                        .collect(),
                })
                .collect();
            Sample {
                entity: *entity,
                total: table.rows.len(),
                rows,
            }
        })
        .collect()
}

/// Per source file: its name, the layout chosen (`null` when none matched) and its encoding.
pub fn sources(mapped: &Mapped) -> Value {
    mapped
        .files
        .iter()
        .zip(&mapped.detected)
        .map(|(f, (layout, encoding))| {
            json!({
                "file": f,
                "layout": (!layout.is_empty()).then_some(layout),
                "encoding": (!encoding.is_empty()).then_some(encoding),
            })
        })
        .collect()
}

/// The check as JSON: the report (status, counts, findings), `sources` and `records` (per
/// OneRoster file `{"total", "rows": [{"file", "line", "record"}]}`).
pub fn to_json(mapped: &Mapped, report: &Report, n: usize) -> Value {
    let mut json = serde_json::to_value(report).unwrap_or_default();
    json["sources"] = sources(mapped);
    let mut records = Map::new();
    for s in sample(mapped, n) {
        let rows: Vec<Value> = s
            .rows
            .into_iter()
            .map(|r| {
                let record: Map<String, Value> = r
                    .fields
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                json!({"file": r.file, "line": r.line, "record": record})
            })
            .collect();
        records.insert(
            s.entity.name().to_owned(),
            json!({"total": s.total, "rows": rows}),
        );
    }
    json["records"] = Value::Object(records);
    json
}

/// The same for a person at a terminal: one line per source file, then per OneRoster file its
/// count and first records (`field=value …`), then the report.
pub fn to_text(mapped: &Mapped, report: &Report, n: usize) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (f, (layout, encoding)) in mapped.files.iter().zip(&mapped.detected) {
        let layout = if layout.is_empty() {
            "(no layout)"
        } else {
            layout
        };
        let _ = writeln!(out, "{f}: {layout}, {encoding}");
    }
    for s in sample(mapped, n) {
        let _ = writeln!(out, "{} ({} records)", s.entity.name(), s.total);
        for r in s.rows {
            let cells: Vec<String> = r.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(out, "  {}:{}  {}", r.file, r.line, cells.join(" "));
        }
    }
    out.push_str(&report.to_text());
    out
}
