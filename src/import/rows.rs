//! Reading one CSV file of the bundle row by row: every cell checked against its column's
//! rules, findings with file, line and column, and each good row handed to the staging sink.

use std::io::Read;

use xxhash_rust::xxh3::Xxh3;

use crate::csv::limits::{RecordTooLong, control_character};
use crate::domain::vocab::Status;
use crate::domain::{Entity, Kind};
use crate::storage::{FileMode, ImportTx, StageRow, StoreError};

use super::checks::{
    check_bool, check_cell, check_modified, check_ref, check_row_rules, check_sourced_id_cell,
    check_status, has_halfwidth_katakana,
};
use super::context::Context;
use super::layout::MetaKind;
use super::reader::{FileReader, Row, finding, push};
use super::report::{Finding, Findings, Severity};
use super::stager::{Stager, stage_file};

/// The position of `parentSourcedId` among the orgs columns.
const ORG_PARENT: usize = 3;

/// Receives progress while rows are read.
pub trait RowProgress {
    fn rows(&self, file: &str, rows: u64, bytes: u64);
}

impl RowProgress for () {
    fn rows(&self, _: &str, _: u64, _: u64) {}
}

/// The finding for a file the CSV reader cannot go on reading: a record past the size limit,
/// bytes that are not UTF-8, or broken CSV.
fn unreadable(file: &str, e: &csv::Error) -> Finding {
    let line = e.position().map_or(0, |p| p.line());
    if let Some(long) = RecordTooLong::in_csv(e) {
        return finding(
            Severity::Error,
            "record_too_long",
            file,
            long.line,
            None,
            None,
            long.to_string(),
        );
    }
    let message = match e.kind() {
        // The file's first 64 KiB were UTF-8 (or it was converted), so this is damage, not an
        // encoding choice: no advice to convert.
        csv::ErrorKind::Utf8 { pos, err } => format!(
            "line {line} is not valid UTF-8 (field {}, after byte {} of the field); the file \
             must be UTF-8 throughout: the bytes there are damaged",
            err.field() + 1,
            err.valid_up_to(),
            line = pos.as_ref().map_or(line, |p| p.line()),
        ),
        _ => format!("the CSV cannot be read past line {line}: {e}"),
    };
    finding(
        Severity::Error,
        "csv_unreadable",
        file,
        line,
        None,
        None,
        message,
    )
}

/// A cell past the size limit, or holding a control character (NUL …), is an error on every
/// backend alike: such bytes are never roster data.
fn check_cell_bytes(
    fr: &FileReader<'_>,
    row: &Row<'_>,
    column: &str,
    cell: &str,
    findings: &mut Findings,
) {
    if cell.len() > fr.limits.max_cell_bytes {
        findings.push(finding(
            Severity::Error,
            "cell_too_long",
            fr.file,
            row.line,
            Some(column),
            None,
            format!(
                "the cell has {} bytes; at most {} are allowed",
                cell.len(),
                fr.limits.max_cell_bytes
            ),
        ));
    } else if let Some((at, c)) = control_character(cell) {
        findings.push(finding(
            Severity::Error,
            "control_character",
            fr.file,
            row.line,
            Some(column),
            Some(&cell.replace(|c: char| c.is_control(), "\u{FFFD}")),
            format!(
                "the cell has the control character U+{:04X} at character {at}; remove it (only \
                 tab and line breaks may appear in text)",
                c as u32
            ),
        ));
    }
}

/// Checks, normalises and stages the rows of one file. Returns the number of data rows.
///
/// With a store, the rows are staged on a second thread while this one reads on (see
/// [`super::stager`]); the store's error, if any, is returned once the reading stopped.
pub fn read_rows(
    fr: &FileReader<'_>,
    input: impl Read,
    ctx: &mut Context,
    findings: &mut Findings,
    sink: Option<&mut (dyn ImportTx + Send + '_)>,
    progress: &dyn RowProgress,
) -> Result<u64, StoreError> {
    let Some(tx) = sink else {
        return Ok(parse_rows(fr, input, ctx, findings, None, progress));
    };
    // The staging thread notes each row's change; the reading thread has the rest of `ctx`.
    let mut changes = std::mem::take(&mut ctx.changes);
    let entity = fr.entity;
    let stage = |row: &StageRow<'_>| {
        let change = tx.stage(entity, row)?;
        changes.note(entity, change, row);
        Ok(())
    };
    let rows = stage_file(stage, |stager| {
        parse_rows(fr, input, ctx, findings, Some(stager), progress)
    });
    ctx.changes = changes;
    rows
}

/// Reads, checks and normalises every row, handing each good one to `stager` until the
/// bundle has an error.
fn parse_rows(
    fr: &FileReader<'_>,
    input: impl Read,
    ctx: &mut Context,
    findings: &mut Findings,
    mut stager: Option<&mut Stager>,
    progress: &dyn RowProgress,
) -> u64 {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(input);
    let mut record = csv::StringRecord::new();
    let columns = fr.entity.columns();
    let mut values: Vec<String> = vec![String::new(); columns.len()];
    let mut metadata = String::new();
    let mut rows = 0u64;
    let mut first = true;
    let japan = ctx.profile.is_japan();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                findings.push(unreadable(fr.file, &e));
                ctx.unreadable.push(fr.entity);
                break;
            }
        }
        if first {
            // The header was checked by the caller, but for the target's columns.
            first = false;
            if let Some(c) = &fr.target {
                super::target::check_header(fr, c, findings);
            }
            continue;
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        let line = record.position().map_or(0, |p| p.line());
        if rows.is_multiple_of(8192) {
            progress.rows(fr.file, rows, record.position().map_or(0, |p| p.byte()));
        }
        let row = Row {
            line,
            record: &record,
        };
        if record.len() != fr.layout.width {
            findings.push(finding(
                Severity::Error,
                "column_count",
                fr.file,
                line,
                None,
                None,
                format!(
                    "the row has {} fields but the header has {}",
                    record.len(),
                    fr.layout.width
                ),
            ));
        }
        if fr.converted && record.iter().any(|c| c.contains('\u{FFFD}')) {
            findings.push(finding(
                Severity::Error,
                "encoding_invalid",
                fr.file,
                line,
                None,
                None,
                "the row has bytes that are not valid Shift_JIS (CP932)".into(),
            ));
        }
        for (i, cell) in record.iter().enumerate() {
            let column = fr.layout.header.get(i).map_or("", String::as_str);
            check_cell_bytes(fr, &row, column, cell, findings);
        }
        let sourced_id = record.get(0).unwrap_or("");
        let status = check_status(fr, &row, findings);
        let source_modified = check_modified(fr, &row, findings);
        let deleting = status == Status::ToBeDeleted;
        check_sourced_id_cell(fr, ctx, &row, sourced_id, (japan, deleting), findings);
        for (i, col) in columns.iter().enumerate() {
            let value = &mut values[i];
            value.clear();
            let Some(idx) = fr.layout.fields[i] else {
                continue;
            };
            let cell = record.get(idx).unwrap_or("");
            let cell = if cell == "NULL" && matches!(col.kind, Kind::Ref(_)) && !col.required {
                ""
            } else {
                cell
            };
            value.push_str(cell);
            if deleting {
                // A tombstone row only needs its id; its other cells are not applied.
                continue;
            }
            check_cell(fr, ctx, &row, col, cell, japan, findings);
        }
        if !deleting {
            check_row_rules(fr, ctx, &row, &values, japan, findings);
            if let Some(c) = &fr.target {
                super::target::check_row(fr, &row, c, findings);
            }
        }
        let has_meta = build_metadata(fr, ctx, &row, &mut metadata, deleting, findings);
        if sourced_id.is_empty() {
            continue;
        }
        if let Some(first_line) = ctx.ids[fr.entity.index()].insert(sourced_id, line) {
            findings.push(finding(
                Severity::Error,
                "duplicate_sourced_id",
                fr.file,
                line,
                Some("sourcedId"),
                Some(sourced_id),
                format!("sourcedId `{sourced_id}` already appears on line {first_line}"),
            ));
        }
        if fr.entity == Entity::Orgs && !deleting {
            ctx.org_types
                .insert(sourced_id.to_owned(), values[1].clone());
            let parent = &values[ORG_PARENT];
            if !parent.is_empty() && parent != "NULL" {
                ctx.org_parents
                    .insert(sourced_id.to_owned(), (parent.clone(), line));
            }
        }
        if deleting && fr.mode == FileMode::Delta {
            ctx.tombstoned[fr.entity.index()].insert(sourced_id, line);
            ctx.tombstones
                .push((fr.entity, sourced_id.to_owned(), line));
        }
        if fr.entity == Entity::AcademicSessions && !deleting {
            ctx.session_types
                .insert(sourced_id.to_owned(), values[1].clone());
        }
        // Once the bundle has an error nothing will be applied: stop staging, keep checking.
        if let Some(st) = stager.as_deref_mut().filter(|_| !findings.has_errors()) {
            let meta = has_meta.then_some(metadata.as_str());
            let hash = content_hash(&values, meta);
            let row = StageRow {
                sourced_id,
                status,
                source_modified,
                values: &values,
                metadata: meta,
                hash,
            };
            if !st.push(&row) {
                // The store failed; its error is what the caller gets.
                break;
            }
        }
    }
    progress.rows(fr.file, rows, 0);
    rows
}

/// The hash of a record's content: every value (length-prefixed, so `a,bc` ≠ `ab,c`) and the
/// metadata. Status and dateLastModified are not content.
pub fn content_hash(values: &[String], metadata: Option<&str>) -> [u8; 16] {
    let mut h = Xxh3::new();
    for v in values {
        h.update(&(v.len() as u32).to_le_bytes());
        h.update(v.as_bytes());
    }
    if let Some(m) = metadata {
        h.update(&[1]);
        h.update(m.as_bytes());
    }
    h.digest128().to_le_bytes()
}

/// Builds the row's `metadata` JSON object into `out`; returns whether it has any value.
fn build_metadata(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    out: &mut String,
    deleting: bool,
    findings: &mut Findings,
) -> bool {
    out.clear();
    let mut map = serde_json::Map::new();
    for m in &fr.layout.metadata {
        let cell = row.record.get(m.index).unwrap_or("");
        let cell = if cell == "NULL" && matches!(m.kind, MetaKind::Ref(_)) {
            ""
        } else {
            cell
        };
        if cell.is_empty() {
            continue;
        }
        if !deleting {
            match m.kind {
                MetaKind::Text => {}
                MetaKind::Kana => {
                    if has_halfwidth_katakana(cell) {
                        push(fr, row, findings, Severity::Warning, "jp_halfwidth_kana", &m.header, cell,
                            "half-width katakana: the 学習eポータル models reject it; prefer full-width".into());
                    }
                }
                MetaKind::Bool => check_bool(fr, row, &m.header, cell, findings),
                MetaKind::Integer => {
                    if cell.parse::<u32>().is_err() {
                        push(
                            fr,
                            row,
                            findings,
                            Severity::Error,
                            "invalid_integer",
                            &m.header,
                            cell,
                            format!("`{cell}` is not a whole number"),
                        );
                    }
                }
                MetaKind::Ref(target) => {
                    // The only reference among the known metadata columns.
                    let column: &'static str = if m.header == "metadata.jp.homeClass" {
                        "metadata.jp.homeClass"
                    } else {
                        "metadata"
                    };
                    check_ref(fr, ctx, row, target, column, cell, findings);
                }
            }
        }
        map.insert(m.key.clone(), serde_json::Value::String(cell.to_owned()));
    }
    if map.is_empty() {
        return false;
    }
    out.push_str(&serde_json::Value::Object(map).to_string());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_parent_position_is_the_parent_column() {
        assert_eq!(Entity::Orgs.columns()[ORG_PARENT].db, "parent_sourced_id");
    }

    #[test]
    fn the_content_hash_separates_cells() {
        let a = content_hash(&["a".into(), "bc".into()], None);
        let b = content_hash(&["ab".into(), "c".into()], None);
        assert_ne!(a, b);
        assert_ne!(
            content_hash(&["a".into()], None),
            content_hash(&["a".into()], Some("{}"))
        );
    }
}
