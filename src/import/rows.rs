//! Reading one CSV file of the bundle row by row: every cell checked against its column's
//! rules, findings with file, line and column, and each good row handed to the staging sink.

use std::io::Read;

use xxhash_rust::xxh3::Xxh3;

use crate::domain::datetime::{parse_date, parse_datetime};
use crate::domain::entity::Vocab;
use crate::domain::ids::{
    GradeCode, SchoolCode, SchoolCodeError, check_sourced_id, has_only_spec_guid_chars,
    is_local_government_code, is_uuid_v4_lower,
};
use crate::domain::vocab::{self, Status, VocabError};
use crate::domain::{Column, Entity, Kind};
use crate::storage::{FileMode, ImportTx, StageRow, StoreError};

use super::context::{Context, Deferred};
use super::layout::{Layout, MetaKind};
use super::report::{Finding, Findings, Severity};

/// Receives progress while rows are read.
pub trait RowProgress {
    fn rows(&self, file: &str, rows: u64, bytes: u64);
}

impl RowProgress for () {
    fn rows(&self, _: &str, _: u64, _: u64) {}
}

/// One file being read.
pub struct FileReader<'a> {
    pub entity: Entity,
    pub mode: FileMode,
    pub file: &'a str,
    pub layout: &'a Layout,
    /// The file was converted from CP932: a U+FFFD in a cell marks bytes that were not CP932.
    pub converted: bool,
}

struct Row<'r> {
    line: u64,
    record: &'r csv::StringRecord,
}

/// Checks, normalises and stages the rows of one file. Returns the number of data rows.
pub fn read_rows(
    fr: &FileReader<'_>,
    input: impl Read,
    ctx: &mut Context,
    findings: &mut Findings,
    mut sink: Option<&mut (dyn ImportTx + '_)>,
    progress: &dyn RowProgress,
) -> Result<u64, StoreError> {
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
    ctx.ids.entry(fr.entity).or_default();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => format!(
                        "line {line} is not valid UTF-8; the file must be UTF-8 throughout \
                         (import with --encoding cp932 if it was saved by Excel as Shift_JIS)"
                    ),
                    _ => format!("the CSV cannot be read past line {line}: {e}"),
                };
                findings.push(finding(Severity::Error, "csv_unreadable", fr.file, line, None, None, message));
                break;
            }
        }
        if first {
            // The header was checked by the caller.
            first = false;
            continue;
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        let line = record.position().map_or(0, |p| p.line());
        if rows % 8192 == 0 {
            progress.rows(fr.file, rows, record.position().map_or(0, |p| p.byte()));
        }
        let row = Row { line, record: &record };
        if record.len() != fr.layout.width {
            findings.push(finding(
                Severity::Error,
                "column_count",
                fr.file,
                line,
                None,
                None,
                format!("the row has {} fields but the header has {}", record.len(), fr.layout.width),
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
        let sourced_id = record.get(0).unwrap_or("");
        let status = check_status(fr, &row, findings);
        let source_modified = check_modified(fr, &row, findings);
        check_sourced_id_cell(fr, ctx, &row, sourced_id, japan, findings);
        let deleting = status == Status::ToBeDeleted;
        for (i, col) in columns.iter().enumerate() {
            let value = &mut values[i];
            value.clear();
            let Some(idx) = fr.layout.fields[i] else { continue };
            let cell = record.get(idx).unwrap_or("");
            let cell = if cell == "NULL" && matches!(col.kind, Kind::Ref(_)) && !col.required { "" } else { cell };
            value.push_str(cell);
            if deleting {
                // A tombstone row only needs its id; its other cells are not applied.
                continue;
            }
            check_cell(fr, ctx, &row, col, cell, japan, findings);
        }
        if !deleting {
            check_row_rules(fr, ctx, &row, &values, japan, findings);
        }
        let has_meta = build_metadata(fr, ctx, &row, &mut metadata, deleting, findings);
        if sourced_id.is_empty() {
            continue;
        }
        if let Some(first_line) = ctx.ids.get_mut(&fr.entity).and_then(|s| s.insert(sourced_id, line)) {
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
            ctx.org_types.insert(sourced_id.to_owned(), values[1].clone());
        }
        if fr.entity == Entity::AcademicSessions && !deleting {
            ctx.session_types.insert(sourced_id.to_owned(), values[1].clone());
        }
        // Once the bundle has an error nothing will be applied: stop staging, keep checking.
        if let Some(tx) = sink.as_deref_mut().filter(|_| !findings.has_errors()) {
            let meta = has_meta.then_some(metadata.as_str());
            let hash = content_hash(&values, meta);
            tx.stage(
                fr.entity,
                &StageRow { sourced_id, status, source_modified, values: &values, metadata: meta, hash },
            )?;
        }
    }
    progress.rows(fr.file, rows, 0);
    Ok(rows)
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

fn finding(
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

fn push(
    fr: &FileReader<'_>,
    row: &Row<'_>,
    findings: &mut Findings,
    severity: Severity,
    code: &'static str,
    column: &str,
    value: &str,
    message: String,
) {
    findings.push(finding(severity, code, fr.file, row.line, Some(column), Some(value), message));
}

fn check_status(fr: &FileReader<'_>, row: &Row<'_>, findings: &mut Findings) -> Status {
    let cell = row.record.get(1).unwrap_or("");
    match fr.mode {
        FileMode::Bulk => {
            if !cell.is_empty() {
                let note = match cell {
                    "active" | "tobedeleted" => String::new(),
                    "inactive" => " (`inactive` is the OneRoster 1.0 spelling of `tobedeleted`)".into(),
                    _ => " (and it is not a status: active or tobedeleted)".into(),
                };
                push(fr, row, findings, Severity::Warning, "bulk_status_ignored", "status", cell,
                    format!("a bulk file must leave status empty; `{cell}` is ignored{note}"));
            }
            Status::Active
        }
        FileMode::Delta => match cell {
            "active" => Status::Active,
            "tobedeleted" => Status::ToBeDeleted,
            "inactive" => {
                push(fr, row, findings, Severity::Warning, "status_inactive", "status", cell,
                    "`inactive` (OneRoster 1.0) is read as `tobedeleted`".into());
                Status::ToBeDeleted
            }
            "" => {
                push(fr, row, findings, Severity::Error, "delta_status_missing", "status", cell,
                    "a delta row must have a status: active or tobedeleted".into());
                Status::Active
            }
            _ => {
                push(fr, row, findings, Severity::Error, "invalid_status", "status", cell,
                    format!("`{cell}` is not a status; use active or tobedeleted"));
                Status::Active
            }
        },
    }
}

fn check_modified(fr: &FileReader<'_>, row: &Row<'_>, findings: &mut Findings) -> Option<i64> {
    let cell = row.record.get(2).unwrap_or("");
    let parsed = parse_datetime(cell);
    match fr.mode {
        FileMode::Bulk => {
            if !cell.is_empty() {
                let note = if parsed.is_none() { " (and it is not an ISO 8601 datetime)" } else { "" };
                push(fr, row, findings, Severity::Warning, "bulk_modified_ignored", "dateLastModified", cell,
                    format!("a bulk file must leave dateLastModified empty; `{cell}` is ignored{note}"));
            }
            None
        }
        FileMode::Delta => match parsed {
            _ if cell.is_empty() => {
                push(fr, row, findings, Severity::Error, "delta_modified_missing", "dateLastModified", cell,
                    "a delta row must have a dateLastModified (YYYY-MM-DDTHH:MM:SS.sssZ)".into());
                None
            }
            None => {
                push(fr, row, findings, Severity::Error, "invalid_datetime", "dateLastModified", cell,
                    format!("`{cell}` is not an ISO 8601 datetime such as 2025-04-01T09:00:00.000Z"));
                None
            }
            Some(p) => {
                if p.assumed_utc {
                    push(fr, row, findings, Severity::Warning, "datetime_without_zone", "dateLastModified", cell,
                        format!("`{cell}` has no time zone; read as UTC"));
                }
                Some(p.ms)
            }
        },
    }
}

fn check_sourced_id_cell(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    id: &str,
    japan: bool,
    findings: &mut Findings,
) {
    if let Err(e) = check_sourced_id(id) {
        push(fr, row, findings, Severity::Error, "invalid_sourced_id", "sourcedId", id,
            format!("the sourcedId {e}"));
        return;
    }
    if !has_only_spec_guid_chars(id) {
        push(fr, row, findings, Severity::Warning, "sourced_id_characters", "sourcedId", id,
            "the sourcedId has characters outside letters, digits and . - _ / @".into());
    }
    if fr.entity == Entity::Demographics {
        // demographics.sourcedId is the sourcedId of the user described.
        defer_or_resolve(fr, ctx, row, Entity::Users, id, "sourcedId", false, findings);
    } else if japan && !is_uuid_v4_lower(id) {
        push(fr, row, findings, Severity::Warning, "jp_sourced_id_not_uuid", "sourcedId", id,
            "the Japan Profile uses lower-case UUID v4 sourcedIds".into());
    }
}

#[allow(clippy::too_many_arguments)]
fn defer_or_resolve(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    target: Entity,
    id: &str,
    column: &'static str,
    must_be_school: bool,
    findings: &mut Findings,
) {
    if ctx.in_bundle(target, id) {
        if must_be_school {
            check_school(fr, ctx, row, id, column, findings);
        }
        return;
    }
    ctx.deferred.push(Deferred {
        target,
        id: id.to_owned(),
        file: fr.entity,
        line: row.line,
        column,
        must_be_school,
    });
}

fn check_school(fr: &FileReader<'_>, ctx: &Context, row: &Row<'_>, id: &str, column: &str, findings: &mut Findings) {
    if let Some(t) = ctx.org_types.get(id).filter(|t| t.as_str() != "school") {
        push(fr, row, findings, Severity::Error, "reference_not_school", column, id,
            format!("`{id}` is an org of type `{t}`; {column} must reference a school"));
    }
}

fn check_cell(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    col: &Column,
    cell: &str,
    japan: bool,
    findings: &mut Findings,
) {
    let name = col.csv;
    if cell.is_empty() {
        if col.required {
            push(fr, row, findings, Severity::Error, "required_missing", name, cell,
                format!("{name} is required"));
        }
        return;
    }
    match col.kind {
        Kind::Text => {
            if japan && has_halfwidth_katakana(cell) {
                push(fr, row, findings, Severity::Warning, "jp_halfwidth_kana", name, cell,
                    "half-width katakana: the 学習eポータル models reject it; prefer full-width".into());
            }
        }
        Kind::Date => {
            if parse_date(cell).is_none() {
                push(fr, row, findings, Severity::Error, "invalid_date", name, cell,
                    format!("`{cell}` is not a date in the form YYYY-MM-DD"));
            }
        }
        Kind::Year => {
            if !crate::domain::datetime::is_year(cell) {
                push(fr, row, findings, Severity::Error, "invalid_year", name, cell,
                    format!("`{cell}` is not a year (YYYY)"));
            }
        }
        Kind::Bool => check_bool(fr, row, name, cell, findings),
        Kind::Enum(v) => check_enum(fr, row, v, name, cell, japan, findings),
        Kind::Ref(target) => check_ref(fr, ctx, row, target, name, cell, findings),
        Kind::RefList(target) => {
            for part in cell.split(',') {
                if part.is_empty() {
                    push(fr, row, findings, Severity::Error, "invalid_list", name, cell,
                        "the list has an empty element".into());
                } else {
                    check_ref(fr, ctx, row, target, name, part, findings);
                }
            }
        }
        Kind::List => check_list(fr, row, name, cell, findings),
        Kind::Grades => {
            check_list(fr, row, name, cell, findings);
            if japan {
                for g in cell.split(',') {
                    if GradeCode::parse(g).is_none() {
                        push(fr, row, findings, Severity::Error, "jp_invalid_grade", name, g,
                            format!("`{g}` is not a MEXT grade code (P1–P6, J1–J3, H1–H4, E1–E3)"));
                    }
                }
            }
        }
        Kind::UserIds => {
            for part in split_user_ids(cell) {
                let ok = part.len() > 2
                    && part.starts_with('{')
                    && part.ends_with('}')
                    && part[1..part.len() - 1].split_once(':').is_some_and(|(t, i)| !t.is_empty() && !i.is_empty());
                if !ok {
                    push(fr, row, findings, Severity::Error, "invalid_user_ids", name, part,
                        format!("`{part}` is not a {{type:identifier}} element"));
                }
            }
        }
    }
}

/// `{a:1},{b:2}` → `{a:1}`, `{b:2}`: split on commas outside braces.
fn split_user_ids(cell: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0i32;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in cell.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&cell[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&cell[start..]);
    parts.into_iter()
}

fn check_bool(fr: &FileReader<'_>, row: &Row<'_>, name: &str, cell: &str, findings: &mut Findings) {
    if cell != "true" && cell != "false" {
        let hint = if cell.eq_ignore_ascii_case("true") || cell.eq_ignore_ascii_case("false") {
            format!("; booleans are lower-case: `{}`", cell.to_ascii_lowercase())
        } else {
            String::new()
        };
        push(fr, row, findings, Severity::Error, "invalid_boolean", name, cell,
            format!("`{cell}` is not true or false{hint}"));
    }
}

fn check_list(fr: &FileReader<'_>, row: &Row<'_>, name: &str, cell: &str, findings: &mut Findings) {
    if cell.split(',').any(|p| p.is_empty()) {
        push(fr, row, findings, Severity::Error, "invalid_list", name, cell, "the list has an empty element".into());
    } else if cell.split(',').any(|p| p.trim() != p) {
        push(fr, row, findings, Severity::Warning, "list_whitespace", name, cell,
            "list elements have spaces around them; the binding lists them without spaces".into());
    }
}

fn check_enum(
    fr: &FileReader<'_>,
    row: &Row<'_>,
    v: Vocab,
    name: &str,
    cell: &str,
    japan: bool,
    findings: &mut Findings,
) {
    // The Japan Profile adds `guardian` to enrollment roles (ONEROSTER.md §2.3).
    if japan && v == Vocab::EnrollmentRole && cell == "guardian" {
        return;
    }
    match vocab::check(v, cell) {
        Ok(()) => {
            if japan {
                check_japan_enum(fr, row, v, name, cell, findings);
            }
        }
        Err(VocabError::ExtensionNotAllowed) => {
            push(fr, row, findings, Severity::Error, "invalid_vocabulary", name, cell,
                format!("{name} cannot be extended with `ext:` values"));
        }
        Err(VocabError::Unknown { suggestion }) => {
            let toks = vocab::tokens(v).join(", ");
            let hint = suggestion.map(|s| format!(" Did you mean `{s}`? Values are case-sensitive.")).unwrap_or_default();
            push(fr, row, findings, Severity::Error, "invalid_vocabulary", name, cell,
                format!("`{cell}` is not one of: {toks} (or an ext: value).{hint}"));
        }
    }
}

fn check_japan_enum(fr: &FileReader<'_>, row: &Row<'_>, v: Vocab, name: &str, cell: &str, findings: &mut Findings) {
    let (ok, rule): (bool, &str) = match v {
        Vocab::SessionType => (cell == "schoolYear", "the Japan Profile uses only schoolYear sessions"),
        Vocab::OrgType => (matches!(cell, "district" | "school"), "the Japan Profile uses only district and school orgs"),
        Vocab::ClassType | Vocab::Sex => (!vocab::is_extension(cell), "the Japan Profile does not allow ext: values here"),
        Vocab::EnrollmentRole => {
            if cell == "proctor" {
                push(fr, row, findings, Severity::Warning, "jp_enrollment_role", name, cell,
                    "the Japan Profile does not use the proctor enrollment role".into());
            }
            (true, "")
        }
        _ => (true, ""),
    };
    if !ok {
        push(fr, row, findings, Severity::Error, "jp_vocabulary", name, cell, format!("`{cell}`: {rule}"));
    }
}

fn check_ref(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    target: Entity,
    name: &'static str,
    id: &str,
    findings: &mut Findings,
) {
    if let Err(e) = check_sourced_id(id) {
        push(fr, row, findings, Severity::Error, "invalid_reference", name, id, format!("the reference {e}"));
        return;
    }
    let must_be_school = matches!((fr.entity, name), (Entity::Classes | Entity::Enrollments, "schoolSourcedId"));
    defer_or_resolve(fr, ctx, row, target, id, name, must_be_school, findings);
}

/// Rules that look at several cells of a row.
fn check_row_rules(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    values: &[String],
    japan: bool,
    findings: &mut Findings,
) {
    let v = |db: &str| -> &str {
        fr.entity.columns().iter().position(|c| c.db == db).map_or("", |i| values[i].as_str())
    };
    match fr.entity {
        Entity::AcademicSessions if japan => {
            let (title, start, end, year) = (v("title"), v("start_date"), v("end_date"), v("school_year"));
            let title_ok = title.strip_suffix("年度").is_some_and(|y| !y.is_empty() && y.bytes().all(|b| b.is_ascii_digit()));
            if !title.is_empty() && !title_ok {
                push(fr, row, findings, Severity::Warning, "jp_session_title", "title", title,
                    "a Japan Profile school year is titled like `2025年度`".into());
            }
            if !year.is_empty() && (!start.starts_with(year) || !start.ends_with("-04-01") || !end.ends_with("-03-31")) {
                push(fr, row, findings, Severity::Warning, "jp_session_dates", "startDate", start,
                    format!("a Japan Profile 年度 {year} runs from {year}-04-01 to the next year's 03-31"));
            }
        }
        Entity::Orgs => {
            let (kind, identifier, parent) = (v("type"), v("identifier"), v("parent_sourced_id"));
            if japan && kind == "school" && !identifier.is_empty() {
                match SchoolCode::parse(identifier) {
                    Ok(_) => {}
                    Err(SchoolCodeError::Format) => push(fr, row, findings, Severity::Error, "jp_school_code", "identifier", identifier,
                        "a school identifier must be a 13-character MEXT 学校コード (A–H and 12 digits)".into()),
                    Err(SchoolCodeError::CheckDigit { expected }) => push(fr, row, findings, Severity::Error, "jp_school_code", "identifier", identifier,
                        format!("the MEXT 学校コード check digit is wrong: expected {expected}")),
                }
            }
            if japan && kind == "district" {
                if !identifier.is_empty() && !is_local_government_code(identifier) {
                    push(fr, row, findings, Severity::Warning, "jp_district_code", "identifier", identifier,
                        "a district identifier is usually a 6-digit 地方公共団体コード".into());
                }
                if !parent.is_empty() {
                    push(fr, row, findings, Severity::Error, "jp_district_parent", "parentSourcedId", parent,
                        "a Japan Profile district has no parent org".into());
                }
            }
        }
        Entity::Courses if japan && !v("course_code").is_empty() => {
            push(fr, row, findings, Severity::Warning, "jp_course_code", "courseCode", v("course_code"),
                "the Japan Profile leaves courseCode empty".into());
        }
        Entity::Classes => {
            let (subjects, codes) = (v("subjects"), v("subject_codes"));
            if !subjects.is_empty() && !codes.is_empty() && subjects.split(',').count() != codes.split(',').count() {
                push(fr, row, findings, Severity::Warning, "subjects_length", "subjectCodes", codes,
                    "subjects and subjectCodes should have the same number of elements".into());
            }
        }
        Entity::Enrollments if japan && v("role") == "student" && v("is_primary") == "true" => {
            push(fr, row, findings, Severity::Error, "jp_student_primary", "primary", "true",
                "a student enrollment cannot be primary".into());
        }
        Entity::Users if japan => {
            let enabled = v("enabled_user");
            if enabled == "false" {
                push(fr, row, findings, Severity::Warning, "jp_enabled_user", "enabledUser", enabled,
                    "the Japan Profile expects enabledUser to be true".into());
            }
            let master = v("user_master_identifier");
            if !master.is_empty() {
                if let Some(first) = ctx.user_master_ids.insert(master, row.line) {
                    push(fr, row, findings, Severity::Error, "jp_duplicate_user_master_identifier", "userMasterIdentifier", master,
                        format!("userMasterIdentifier `{master}` is also on line {first}"));
                }
            }
        }
        Entity::Roles if v("role_type") == "primary" => {
            let key = format!("{}\u{1f}{}", v("user_sourced_id"), v("org_sourced_id"));
            if let Some(first) = ctx.primary_roles.insert(&key, row.line) {
                push(fr, row, findings, Severity::Error, "duplicate_primary_role", "roleType", "primary",
                    format!("this user already has a primary role at this org (line {first}); only one is allowed"));
            }
        }
        _ => {}
    }
}

fn has_halfwidth_katakana(s: &str) -> bool {
    s.chars().any(|c| ('\u{FF61}'..='\u{FF9F}').contains(&c))
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
        let cell = if cell == "NULL" && matches!(m.kind, MetaKind::Ref(_)) { "" } else { cell };
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
                        push(fr, row, findings, Severity::Error, "invalid_integer", &m.header, cell,
                            format!("`{cell}` is not a whole number"));
                    }
                }
                MetaKind::Ref(target) => {
                    if check_sourced_id(cell).is_ok() {
                        let column: &'static str = if m.header == "metadata.jp.homeClass" { "metadata.jp.homeClass" } else { "metadata" };
                        defer_or_resolve(fr, ctx, row, target, cell, column, false, findings);
                    } else {
                        push(fr, row, findings, Severity::Error, "invalid_reference", &m.header, cell,
                            "the reference is not a valid sourcedId".into());
                    }
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

/// Resolves, after the whole bundle was read, the references that were not found when their row
/// was: first in the bundle (forward references), then — for entities the bundle does not
/// replace in bulk — in the tenant's stored data. Without a store (`validate`), those become
/// warnings that say what the import will check.
pub fn resolve_deferred(
    ctx: &mut Context,
    findings: &mut Findings,
    mut store: Option<&mut (dyn ImportTx + '_)>,
) -> Result<(), StoreError> {
    let deferred = std::mem::take(&mut ctx.deferred);
    let mut to_store: Vec<&super::context::Deferred> = Vec::new();
    for d in deferred.iter().filter(|d| !ctx.unreadable.contains(&d.target)) {
        if ctx.in_bundle(d.target, &d.id) {
            if d.must_be_school {
                if let Some(t) = ctx.org_types.get(&d.id).filter(|t| t.as_str() != "school") {
                    findings.push(deferred_finding(d, Severity::Error, "reference_not_school",
                        format!("`{}` is an org of type `{t}`; {} must reference a school", d.id, d.column)));
                }
            }
        } else if ctx.is_bulk(d.target) {
            findings.push(deferred_finding(d, Severity::Error, "unresolved_reference", format!(
                "`{}` is not in {}.csv, which this bundle replaces in bulk",
                d.id, d.target.name()
            )));
        } else {
            to_store.push(d);
        }
    }
    let Some(tx) = store.as_deref_mut() else {
        for d in to_store {
            findings.push(deferred_finding(d, Severity::Warning, "reference_not_checked", format!(
                "`{}` is not in this bundle; the import checks that it is stored already",
                d.id
            )));
        }
        return Ok(());
    };
    for target in Entity::ALL {
        let group: Vec<&&super::context::Deferred> = to_store.iter().filter(|d| d.target == target).collect();
        for chunk in group.chunks(10_000) {
            let ids: Vec<&str> = chunk.iter().map(|d| d.id.as_str()).collect();
            let missing: std::collections::HashSet<String> = tx.missing_ids(target, &ids)?.into_iter().collect();
            let schools: Vec<&str> = chunk.iter().filter(|d| d.must_be_school && !missing.contains(&d.id)).map(|d| d.id.as_str()).collect();
            let types = if schools.is_empty() { Default::default() } else { tx.stored_org_types(&schools)? };
            for d in chunk {
                if missing.contains(&d.id) {
                    let message = if d.target == Entity::Users && d.column == "sourcedId" {
                        format!("demographics `{}` has no user with that sourcedId", d.id)
                    } else {
                        format!("`{}` is neither in this bundle nor stored in {}", d.id, d.target.name())
                    };
                    findings.push(deferred_finding(d, Severity::Error, "unresolved_reference", message));
                } else if let Some(t) = types.get(&d.id).filter(|t| t.as_str() != "school") {
                    findings.push(deferred_finding(d, Severity::Error, "reference_not_school",
                        format!("`{}` is an org of type `{t}`; {} must reference a school", d.id, d.column)));
                }
            }
        }
    }
    Ok(())
}

fn deferred_finding(d: &super::context::Deferred, severity: Severity, code: &'static str, message: String) -> Finding {
    Finding {
        severity,
        code,
        file: Some(d.file.file_name().to_owned()),
        line: Some(d.line),
        column: Some(d.column.to_owned()),
        value: Some(d.id.clone()),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_split_outside_braces() {
        let parts: Vec<&str> = split_user_ids("{LDAP:12},{LTI:15}").collect();
        assert_eq!(parts, ["{LDAP:12}", "{LTI:15}"]);
    }

    #[test]
    fn the_content_hash_separates_cells() {
        let a = content_hash(&["a".into(), "bc".into()], None);
        let b = content_hash(&["ab".into(), "c".into()], None);
        assert_ne!(a, b);
        assert_ne!(content_hash(&["a".into()], None), content_hash(&["a".into()], Some("{}")));
    }

    #[test]
    fn halfwidth_katakana_is_detected() {
        assert!(has_halfwidth_katakana("ｶﾀｶﾅ"));
        assert!(!has_halfwidth_katakana("カタカナ"));
    }
}
