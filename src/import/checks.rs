//! The rules for cells and rows: types, vocabularies, references, and the Japan Profile rules
//! of ONEROSTER.md §2.3 (errors where the rule is real, warnings where it is a convention).

use crate::domain::datetime::{parse_date, parse_datetime};
use crate::domain::entity::Vocab;
use crate::domain::ids::{
    GradeCode, SchoolCode, SchoolCodeError, check_sourced_id, has_only_spec_guid_chars,
    is_local_government_code, is_uuid_v4_lower,
};
use crate::domain::vocab::{self, Status, VocabError};
use crate::domain::{Column, Entity, Kind};
use crate::storage::FileMode;

use super::context::{Context, Deferred, IdSet};
use super::reader::{FileReader, Row, push};
use super::report::{Findings, Severity};

pub(super) fn check_status(fr: &FileReader<'_>, row: &Row<'_>, findings: &mut Findings) -> Status {
    let cell = row.record.get(1).unwrap_or("");
    match fr.mode {
        FileMode::Bulk => {
            if !cell.is_empty() {
                let note = match cell {
                    "active" | "tobedeleted" => String::new(),
                    "inactive" => {
                        " (`inactive` is the OneRoster 1.0 spelling of `tobedeleted`)".into()
                    }
                    _ => " (and it is not a status: active or tobedeleted)".into(),
                };
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "bulk_status_ignored",
                    "status",
                    cell,
                    format!("a bulk file must leave status empty; `{cell}` is ignored{note}"),
                );
            }
            Status::Active
        }
        FileMode::Delta => match cell {
            "active" => Status::Active,
            "tobedeleted" => Status::ToBeDeleted,
            "inactive" => {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "status_inactive",
                    "status",
                    cell,
                    "`inactive` (OneRoster 1.0) is read as `tobedeleted`".into(),
                );
                Status::ToBeDeleted
            }
            "" => {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Error,
                    "delta_status_missing",
                    "status",
                    cell,
                    "a delta row must have a status: active or tobedeleted".into(),
                );
                Status::Active
            }
            _ => {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Error,
                    "invalid_status",
                    "status",
                    cell,
                    format!("`{cell}` is not a status; use active or tobedeleted"),
                );
                Status::Active
            }
        },
    }
}

pub(super) fn check_modified(
    fr: &FileReader<'_>,
    row: &Row<'_>,
    findings: &mut Findings,
) -> Option<i64> {
    let cell = row.record.get(2).unwrap_or("");
    let parsed = parse_datetime(cell);
    match fr.mode {
        FileMode::Bulk => {
            if !cell.is_empty() {
                let note = if parsed.is_none() {
                    " (and it is not an ISO 8601 datetime)"
                } else {
                    ""
                };
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "bulk_modified_ignored",
                    "dateLastModified",
                    cell,
                    format!(
                        "a bulk file must leave dateLastModified empty; `{cell}` is ignored{note}"
                    ),
                );
            }
            None
        }
        FileMode::Delta => match parsed {
            _ if cell.is_empty() => {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Error,
                    "delta_modified_missing",
                    "dateLastModified",
                    cell,
                    "a delta row must have a dateLastModified (YYYY-MM-DDTHH:MM:SS.sssZ)".into(),
                );
                None
            }
            None => {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Error,
                    "invalid_datetime",
                    "dateLastModified",
                    cell,
                    format!(
                        "`{cell}` is not an ISO 8601 datetime such as 2025-04-01T09:00:00.000Z"
                    ),
                );
                None
            }
            Some(p) => {
                if p.assumed_utc {
                    push(
                        fr,
                        row,
                        findings,
                        Severity::Warning,
                        "datetime_without_zone",
                        "dateLastModified",
                        cell,
                        format!("`{cell}` has no time zone; read as UTC"),
                    );
                }
                Some(p.ms)
            }
        },
    }
}

/// `deleting`: the row is a tombstone, whose references are not checked (a delta withdrawing a
/// user tombstones her demographics too).
pub(super) fn check_sourced_id_cell(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    id: &str,
    (japan, deleting): (bool, bool),
    findings: &mut Findings,
) {
    if let Err(e) = check_sourced_id(id) {
        push(
            fr,
            row,
            findings,
            Severity::Error,
            "invalid_sourced_id",
            "sourcedId",
            id,
            format!("the sourcedId {e}"),
        );
        return;
    }
    if !has_only_spec_guid_chars(id) {
        push(
            fr,
            row,
            findings,
            Severity::Warning,
            "sourced_id_characters",
            "sourcedId",
            id,
            "the sourcedId has characters outside letters, digits and . - _ / @".into(),
        );
    }
    if fr.entity == Entity::Demographics {
        if deleting {
            return;
        }
        // demographics.sourcedId is the sourcedId of the user described.
        defer_or_resolve(
            fr,
            ctx,
            row,
            Entity::Users,
            id,
            "sourcedId",
            false,
            findings,
        );
    } else if japan && !is_uuid_v4_lower(id) {
        push(
            fr,
            row,
            findings,
            Severity::Warning,
            "jp_sourced_id_not_uuid",
            "sourcedId",
            id,
            "the Japan Profile uses lower-case UUID v4 sourcedIds".into(),
        );
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn defer_or_resolve(
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
        if ctx.tombstoned[target.index()].contains(id) {
            push(
                fr,
                row,
                findings,
                Severity::Error,
                "reference_to_tombstone",
                column,
                id,
                tombstone_message(target, id),
            );
        } else if must_be_school {
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

/// An active record refers to one this bundle (or the store) has as `tobedeleted`.
pub(super) fn tombstone_message(target: Entity, id: &str) -> String {
    format!(
        "`{id}` is a tombstone (tobedeleted) in {}; an active record cannot reference it: \
         reactivate it, or tombstone or change this row",
        target.name()
    )
}

fn check_school(
    fr: &FileReader<'_>,
    ctx: &Context,
    row: &Row<'_>,
    id: &str,
    column: &str,
    findings: &mut Findings,
) {
    if let Some(t) = ctx.org_types.get(id).filter(|t| t.as_str() != "school") {
        push(
            fr,
            row,
            findings,
            Severity::Error,
            "reference_not_school",
            column,
            id,
            format!("`{id}` is an org of type `{t}`; {column} must reference a school"),
        );
    }
}

pub(super) fn check_cell(
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
            push(
                fr,
                row,
                findings,
                Severity::Error,
                "required_missing",
                name,
                cell,
                format!("{name} is required"),
            );
        }
        return;
    }
    match col.kind {
        Kind::Text => {
            if japan && has_halfwidth_katakana(cell) {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "jp_halfwidth_kana",
                    name,
                    cell,
                    "half-width katakana: the 学習eポータル models reject it; prefer full-width"
                        .into(),
                );
            }
        }
        Kind::Date => {
            if parse_date(cell).is_none() {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Error,
                    "invalid_date",
                    name,
                    cell,
                    format!("`{cell}` is not a date in the form YYYY-MM-DD"),
                );
            }
        }
        Kind::Year => {
            if !crate::domain::datetime::is_year(cell) {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Error,
                    "invalid_year",
                    name,
                    cell,
                    format!("`{cell}` is not a year (YYYY)"),
                );
            }
        }
        Kind::Bool => check_bool(fr, row, name, cell, findings),
        Kind::Enum(v) => check_enum(fr, row, v, name, cell, japan, findings),
        Kind::Ref(target) => check_ref(fr, ctx, row, target, name, cell, findings),
        Kind::RefList(target) => {
            for part in cell.split(',') {
                if part.is_empty() {
                    push(
                        fr,
                        row,
                        findings,
                        Severity::Error,
                        "invalid_list",
                        name,
                        cell,
                        "the list has an empty element".into(),
                    );
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
                        push(
                            fr,
                            row,
                            findings,
                            Severity::Error,
                            "jp_invalid_grade",
                            name,
                            g,
                            format!("`{g}` is not a MEXT grade code (P1–P6, J1–J3, H1–H4, E1–E3)"),
                        );
                    }
                }
            }
        }
        Kind::UserIds => {
            for part in crate::domain::ids::split_user_ids(cell) {
                let ok = part.len() > 2
                    && part.starts_with('{')
                    && part.ends_with('}')
                    && part[1..part.len() - 1]
                        .split_once(':')
                        .is_some_and(|(t, i)| !t.is_empty() && !i.is_empty());
                if !ok {
                    push(
                        fr,
                        row,
                        findings,
                        Severity::Error,
                        "invalid_user_ids",
                        name,
                        part,
                        format!("`{part}` is not a {{type:identifier}} element"),
                    );
                }
            }
        }
    }
}

pub(super) fn check_bool(
    fr: &FileReader<'_>,
    row: &Row<'_>,
    name: &str,
    cell: &str,
    findings: &mut Findings,
) {
    if cell != "true" && cell != "false" {
        let hint = if cell.eq_ignore_ascii_case("true") || cell.eq_ignore_ascii_case("false") {
            format!("; booleans are lower-case: `{}`", cell.to_ascii_lowercase())
        } else {
            String::new()
        };
        push(
            fr,
            row,
            findings,
            Severity::Error,
            "invalid_boolean",
            name,
            cell,
            format!("`{cell}` is not true or false{hint}"),
        );
    }
}

fn check_list(fr: &FileReader<'_>, row: &Row<'_>, name: &str, cell: &str, findings: &mut Findings) {
    if cell.split(',').any(|p| p.is_empty()) {
        push(
            fr,
            row,
            findings,
            Severity::Error,
            "invalid_list",
            name,
            cell,
            "the list has an empty element".into(),
        );
    } else if cell.split(',').any(|p| p.trim() != p) {
        push(
            fr,
            row,
            findings,
            Severity::Warning,
            "list_whitespace",
            name,
            cell,
            "list elements have spaces around them; the binding lists them without spaces".into(),
        );
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
            push(
                fr,
                row,
                findings,
                Severity::Error,
                "invalid_vocabulary",
                name,
                cell,
                format!("{name} cannot be extended with `ext:` values"),
            );
        }
        Err(VocabError::Unknown { suggestion }) => {
            let toks = vocab::tokens(v).join(", ");
            let hint = suggestion
                .map(|s| format!(" Did you mean `{s}`? Values are case-sensitive."))
                .unwrap_or_default();
            push(
                fr,
                row,
                findings,
                Severity::Error,
                "invalid_vocabulary",
                name,
                cell,
                format!("`{cell}` is not one of: {toks} (or an ext: value).{hint}"),
            );
        }
    }
}

fn check_japan_enum(
    fr: &FileReader<'_>,
    row: &Row<'_>,
    v: Vocab,
    name: &str,
    cell: &str,
    findings: &mut Findings,
) {
    let (ok, rule): (bool, &str) = match v {
        Vocab::SessionType => (
            cell == "schoolYear",
            "the Japan Profile uses only schoolYear sessions",
        ),
        Vocab::OrgType => (
            matches!(cell, "district" | "school"),
            "the Japan Profile uses only district and school orgs",
        ),
        Vocab::ClassType | Vocab::Sex => (
            !vocab::is_extension(cell),
            "the Japan Profile does not allow ext: values here",
        ),
        Vocab::EnrollmentRole => {
            if cell == "proctor" {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "jp_enrollment_role",
                    name,
                    cell,
                    "the Japan Profile does not use the proctor enrollment role".into(),
                );
            }
            (true, "")
        }
        _ => (true, ""),
    };
    if !ok {
        push(
            fr,
            row,
            findings,
            Severity::Error,
            "jp_vocabulary",
            name,
            cell,
            format!("`{cell}`: {rule}"),
        );
    }
}

pub(super) fn check_ref(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    target: Entity,
    name: &'static str,
    id: &str,
    findings: &mut Findings,
) {
    if let Err(e) = check_sourced_id(id) {
        push(
            fr,
            row,
            findings,
            Severity::Error,
            "invalid_reference",
            name,
            id,
            format!("the reference {e}"),
        );
        return;
    }
    let must_be_school = matches!(
        (fr.entity, name),
        (Entity::Classes | Entity::Enrollments, "schoolSourcedId")
    );
    defer_or_resolve(fr, ctx, row, target, id, name, must_be_school, findings);
}

/// Rules that look at several cells of a row.
pub(super) fn check_row_rules(
    fr: &FileReader<'_>,
    ctx: &mut Context,
    row: &Row<'_>,
    values: &[String],
    japan: bool,
    findings: &mut Findings,
) {
    let v = |db: &str| -> &str {
        fr.entity
            .columns()
            .iter()
            .position(|c| c.db == db)
            .map_or("", |i| values[i].as_str())
    };
    match fr.entity {
        Entity::AcademicSessions if japan => {
            let (title, start, end, year) =
                (v("title"), v("start_date"), v("end_date"), v("school_year"));
            let title_ok = title
                .strip_suffix("年度")
                .is_some_and(|y| !y.is_empty() && y.bytes().all(|b| b.is_ascii_digit()));
            if !title.is_empty() && !title_ok {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "jp_session_title",
                    "title",
                    title,
                    "a Japan Profile school year is titled like `2025年度`".into(),
                );
            }
            if !year.is_empty()
                && (!start.starts_with(year)
                    || !start.ends_with("-04-01")
                    || !end.ends_with("-03-31"))
            {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "jp_session_dates",
                    "startDate",
                    start,
                    format!(
                        "a Japan Profile 年度 {year} runs from {year}-04-01 to the next year's 03-31"
                    ),
                );
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
                    push(
                        fr,
                        row,
                        findings,
                        Severity::Warning,
                        "jp_district_code",
                        "identifier",
                        identifier,
                        "a district identifier is usually a 6-digit 地方公共団体コード".into(),
                    );
                }
                if !parent.is_empty() {
                    push(
                        fr,
                        row,
                        findings,
                        Severity::Error,
                        "jp_district_parent",
                        "parentSourcedId",
                        parent,
                        "a Japan Profile district has no parent org".into(),
                    );
                }
            }
        }
        Entity::Courses if japan && !v("course_code").is_empty() => {
            push(
                fr,
                row,
                findings,
                Severity::Warning,
                "jp_course_code",
                "courseCode",
                v("course_code"),
                "the Japan Profile leaves courseCode empty".into(),
            );
        }
        Entity::Classes => {
            let (subjects, codes) = (v("subjects"), v("subject_codes"));
            if !subjects.is_empty()
                && !codes.is_empty()
                && subjects.split(',').count() != codes.split(',').count()
            {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "subjects_length",
                    "subjectCodes",
                    codes,
                    "subjects and subjectCodes should have the same number of elements".into(),
                );
            }
        }
        Entity::Enrollments if japan && v("role") == "student" && v("is_primary") == "true" => {
            push(
                fr,
                row,
                findings,
                Severity::Error,
                "jp_student_primary",
                "primary",
                "true",
                "a student enrollment cannot be primary".into(),
            );
        }
        Entity::Users if japan => {
            let enabled = v("enabled_user");
            if enabled == "false" {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Warning,
                    "jp_enabled_user",
                    "enabledUser",
                    enabled,
                    "the Japan Profile expects enabledUser to be true".into(),
                );
            }
            let master = v("user_master_identifier");
            if !master.is_empty() && !ctx.user_master_ids.insert(IdSet::hash(master)) {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Error,
                    "jp_duplicate_user_master_identifier",
                    "userMasterIdentifier",
                    master,
                    format!("userMasterIdentifier `{master}` is also on an earlier row"),
                );
            }
        }
        Entity::Roles if v("role_type") == "primary" => {
            let key = format!("{}\u{1f}{}", v("user_sourced_id"), v("org_sourced_id"));
            if !ctx.primary_roles.insert(IdSet::hash(&key)) {
                push(
                    fr,
                    row,
                    findings,
                    Severity::Error,
                    "duplicate_primary_role",
                    "roleType",
                    "primary",
                    "this user already has a primary role at this org on an earlier row; only one is allowed"
                        .into(),
                );
            }
        }
        _ => {}
    }
}

pub(super) fn has_halfwidth_katakana(s: &str) -> bool {
    s.chars().any(|c| ('\u{FF61}'..='\u{FF9F}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halfwidth_katakana_is_detected() {
        assert!(has_halfwidth_katakana("ｶﾀｶﾅ"));
        assert!(!has_halfwidth_katakana("カタカナ"));
    }
}
