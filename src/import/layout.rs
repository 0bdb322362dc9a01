//! A file's header checked against the binding's column order, and the resulting map from
//! spec columns to CSV field positions.

use crate::csv::Profile;
use crate::domain::entity::LEADING;
use crate::domain::{Entity, Kind};

use super::report::{Finding, Severity};

/// What a known `metadata.*` column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKind {
    Text,
    /// Kana readings: text, checked for half-width katakana.
    Kana,
    Bool,
    /// A non-negative integer (出席番号).
    Integer,
    Ref(Entity),
}

/// The Japan Profile metadata columns (ONEROSTER.md §2.2) and what they hold.
pub fn known_metadata(entity: Entity, header: &str) -> MetaKind {
    match (entity, header) {
        (Entity::Users, "metadata.jp.homeClass") => MetaKind::Ref(Entity::Classes),
        (Entity::Users, h) if h.starts_with("metadata.jp.kana") => MetaKind::Kana,
        (Entity::Classes, "metadata.jp.specialNeeds") => MetaKind::Bool,
        (Entity::Enrollments, "metadata.jp.ShussekiNo" | "metadata.jp.shussekiNo") => {
            MetaKind::Integer
        }
        (Entity::Enrollments, "metadata.jp.PublicFlg" | "metadata.jp.publicFlg") => MetaKind::Bool,
        _ => MetaKind::Text,
    }
}

#[derive(Debug, Clone)]
pub struct MetaColumn {
    pub index: usize,
    pub header: String,
    /// The JSON key: the header without `metadata.`.
    pub key: String,
    pub kind: MetaKind,
}

#[derive(Debug, Clone)]
pub struct Layout {
    /// For each spec column ([`Entity::columns`]), its CSV field index; `None` when this file's
    /// shape lacks it (users.csv 1.2.1 has no `resourceSourcedIds`).
    pub fields: Vec<Option<usize>>,
    pub metadata: Vec<MetaColumn>,
    /// How many header cells there are.
    pub width: usize,
    /// The header cells as the file has them (findings name columns by them).
    pub header: Vec<String>,
    /// False when the header is so far off that rows cannot be read by position.
    pub usable: bool,
    /// users.csv is in the OneRoster 1.2 shape (with `resourceSourcedIds`).
    pub users_1_2_shape: bool,
}

/// Whether a users.csv header is the 1.2 shape (has `resourceSourcedIds` after
/// `userMasterIdentifier`).
pub fn users_header_is_1_2(header: &[String]) -> bool {
    header.get(17).is_some_and(|h| h == "resourceSourcedIds")
}

/// Checks `header` and builds the layout, reporting every header defect.
pub fn layout(
    entity: Entity,
    header: &[String],
    _profile: Profile,
    file: &str,
    out: &mut Vec<Finding>,
) -> Layout {
    let users_1_2 = entity == Entity::Users && users_header_is_1_2(header);
    let mut expected: Vec<&str> = LEADING.to_vec();
    let mut fields = Vec::new();
    for c in entity.columns() {
        if c.only_in_1_2 && !users_1_2 {
            fields.push(None);
        } else {
            fields.push(Some(expected.len()));
            expected.push(c.csv);
        }
    }
    let finding = |code: &'static str, col: usize, value: &str, message: String| Finding {
        severity: Severity::Error,
        code,
        file: Some(file.to_owned()),
        line: Some(1),
        column: Some(format!("{}", col + 1)),
        value: Some(value.to_owned()),
        message,
    };
    let mut usable = true;
    for (i, want) in expected.iter().enumerate() {
        let Some(got) = header.get(i) else {
            out.push(finding(
                "header_missing_column",
                i,
                "",
                format!("the header ends before column {} `{want}`", i + 1),
            ));
            continue;
        };
        if got == want {
            continue;
        }
        let shifted = header.get(i + 1).is_some_and(|h| h == want)
            || (i + 1 < expected.len() && got == expected[i + 1]);
        let message = if got.eq_ignore_ascii_case(want) {
            format!(
                "column {} is `{got}`; headers are case-sensitive, it must be `{want}`",
                i + 1
            )
        } else if got.is_empty() {
            format!("column {} has an empty header; it must be `{want}`", i + 1)
        } else {
            format!(
                "column {} is `{got}`; the binding requires `{want}` here",
                i + 1
            )
        };
        out.push(finding("header_mismatch", i, got, message));
        if shifted {
            usable = false;
        }
    }
    if !usable {
        out.push(finding(
            "header_misaligned",
            0,
            "",
            format!("the columns of {file} are out of order, so its rows were not checked"),
        ));
    }
    let mut metadata = Vec::new();
    for (i, h) in header.iter().enumerate().skip(expected.len()) {
        if h.is_empty() {
            out.push(finding(
                "header_empty_column",
                i,
                h,
                format!("column {} has an empty header", i + 1),
            ));
        } else if let Some(key) = h.strip_prefix("metadata.") {
            if header[..i].contains(h) {
                out.push(finding(
                    "header_duplicate",
                    i,
                    h,
                    format!("column `{h}` appears twice"),
                ));
                continue;
            }
            metadata.push(MetaColumn {
                index: i,
                header: h.clone(),
                key: key.to_owned(),
                kind: known_metadata(entity, h),
            });
        } else {
            out.push(finding(
                "header_extra_column",
                i,
                h,
                format!("column {} `{h}` is not in the binding; extension columns must start with `metadata.`", i + 1),
            ));
        }
    }
    Layout {
        fields,
        metadata,
        width: header.len(),
        header: header.to_vec(),
        usable,
        users_1_2_shape: users_1_2,
    }
}

/// Whether any column of the entity references `target`.
pub fn references(entity: Entity, target: Entity) -> bool {
    entity
        .columns()
        .iter()
        .any(|c| matches!(c.kind, Kind::Ref(t) | Kind::RefList(t) if t == target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn misspelled_headers_are_reported_but_rows_stay_readable() {
        let mut out = Vec::new();
        let l = layout(
            Entity::Roles,
            &h(
                "sourcedId,status,dataLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,,",
            ),
            Profile::OneRoster12,
            "roles.csv",
            &mut out,
        );
        let codes: Vec<_> = out.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            ["header_mismatch", "header_mismatch", "header_empty_column"]
        );
        assert!(out[0].message.contains("dataLastModified"));
        assert!(l.usable);
    }

    #[test]
    fn a_missing_column_makes_the_rows_unreadable() {
        let mut out = Vec::new();
        let l = layout(
            Entity::Orgs,
            &h("sourcedId,status,dateLastModified,type,identifier,parentSourcedId"),
            Profile::OneRoster12,
            "orgs.csv",
            &mut out,
        );
        assert!(!l.usable);
        assert!(out.iter().any(|f| f.code == "header_misaligned"));
    }

    #[test]
    fn users_shapes_and_metadata_columns() {
        let mut out = Vec::new();
        let hdr = "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns,metadata.jp.kanaGivenName,metadata.jp.homeClass";
        let l = layout(
            Entity::Users,
            &h(hdr),
            Profile::Jp121,
            "users.csv",
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        assert!(!l.users_1_2_shape);
        assert_eq!(l.fields[14], None); // resourceSourcedIds
        assert_eq!(l.fields[15], Some(17)); // preferredGivenName
        assert_eq!(l.metadata[1].kind, MetaKind::Ref(Entity::Classes));
        assert_eq!(l.metadata[0].key, "jp.kanaGivenName");
    }
}
