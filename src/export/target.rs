//! Making an export meet a national model (`export --target`): the model's profile and manifest
//! version, half-width katakana in the model's name and title columns converted to full-width
//! (counted), and every record that still falls short of a required column listed — written,
//! not dropped, so the bundle stays complete and the report says what to fix at the source.

use serde::Serialize;

use crate::csv::target::{Target, has_half_width_kana, kana_to_full_width};
use crate::domain::Entity;
use crate::storage::read::Record;

use super::ExportProfile;

/// Records listed by name in the report; past this only the count grows.
pub const LISTED: usize = 1000;

/// A record that does not meet the model after conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortfall {
    pub file: String,
    #[serde(rename = "sourcedId")]
    pub sourced_id: String,
    /// The required columns it leaves empty.
    pub missing: Vec<String>,
}

/// What conforming the export did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    pub target: String,
    /// Cells whose half-width katakana were converted to full-width.
    pub converted_cells: u64,
    /// Records that still fall short of the model (all of them, listed or not).
    pub shortfall_count: u64,
    /// The first [`LISTED`] of them.
    pub shortfalls: Vec<Shortfall>,
}

impl TargetReport {
    pub fn new(target: Target) -> TargetReport {
        TargetReport {
            target: target.name().to_owned(),
            ..TargetReport::default()
        }
    }
}

/// The export profile a model is written in.
pub fn profile_of(target: Target) -> ExportProfile {
    match target {
        Target::Interop6 => ExportProfile::JpK12,
        _ => ExportProfile::Jp121,
    }
}

/// Converts the record's half-width katakana where the model wants full-width and notes the
/// required columns it leaves empty.
pub fn conform(entity: Entity, rec: &mut Record, target: Target, report: &mut TargetReport) {
    let file = entity.name();
    let full_width = target.full_width(file);
    let required = target.required(file);
    let mut meta: Option<serde_json::Map<String, serde_json::Value>> = rec
        .metadata
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok());
    let mut meta_changed = false;
    for (c, v) in entity.columns().iter().zip(rec.values.iter_mut()) {
        if let Some(s) = v
            .as_mut()
            .filter(|s| full_width.contains(&c.csv) && has_half_width_kana(s))
        {
            *s = kana_to_full_width(s);
            report.converted_cells += 1;
        }
    }
    if let Some(map) = meta.as_mut() {
        for key in full_width
            .iter()
            .filter_map(|k| k.strip_prefix("metadata."))
        {
            if let Some(serde_json::Value::String(s)) = map.get_mut(key)
                && has_half_width_kana(s)
            {
                *s = kana_to_full_width(s);
                report.converted_cells += 1;
                meta_changed = true;
            }
        }
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|col| match col.strip_prefix("metadata.") {
            Some(key) => meta
                .as_ref()
                .and_then(|m| m.get(key))
                .is_none_or(|v| v.as_str().is_some_and(str::is_empty)),
            None => entity
                .columns()
                .iter()
                .position(|c| c.csv == **col)
                .is_none_or(|i| rec.values[i].as_deref().is_none_or(str::is_empty)),
        })
        .map(|c| (*c).to_owned())
        .collect();
    if !missing.is_empty() {
        report.shortfall_count += 1;
        if report.shortfalls.len() < LISTED {
            report.shortfalls.push(Shortfall {
                file: entity.file_name().to_owned(),
                sourced_id: rec.sourced_id.clone(),
                missing,
            });
        }
    }
    if meta_changed && let Some(map) = meta {
        rec.metadata = serde_json::to_string(&map).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(given: &str, kana_given: Option<&str>) -> Record {
        let cols = Entity::Users.columns();
        let mut values = vec![None; cols.len()];
        let set = |values: &mut Vec<Option<String>>, csv: &str, v: &str| {
            let i = cols.iter().position(|c| c.csv == csv).unwrap();
            values[i] = Some(v.to_owned());
        };
        set(&mut values, "givenName", given);
        set(&mut values, "familyName", "高橋");
        set(&mut values, "preferredGivenName", given);
        set(&mut values, "preferredFamilyName", "高橋");
        set(&mut values, "userMasterIdentifier", "m-1");
        let mut meta = serde_json::json!({"jp.kanaFamilyName": "ﾀｶﾊｼ"});
        if let Some(k) = kana_given {
            meta["jp.kanaGivenName"] = k.into();
        }
        Record {
            sourced_id: "u1".into(),
            status: "active".into(),
            modified: 0,
            values,
            metadata: Some(meta.to_string()),
        }
    }

    #[test]
    fn half_width_kana_is_converted_and_counted() {
        let mut report = TargetReport::new(Target::Eportal4);
        let mut rec = user("ｼｮｳﾀ", Some("ｼｮｳﾀ"));
        conform(Entity::Users, &mut rec, Target::Eportal4, &mut report);
        assert_eq!(rec.get(Entity::Users, "given_name"), Some("ショウタ"));
        let meta: serde_json::Value =
            serde_json::from_str(rec.metadata.as_deref().unwrap()).unwrap();
        assert_eq!(meta["jp.kanaGivenName"], "ショウタ");
        assert_eq!(meta["jp.kanaFamilyName"], "タカハシ");
        // givenName, preferredGivenName and the two kana.
        assert_eq!(report.converted_cells, 4);
        assert_eq!(report.shortfall_count, 0);
    }

    #[test]
    fn a_record_without_kana_is_listed_not_dropped() {
        let mut report = TargetReport::new(Target::Eportal4);
        let mut rec = user("翔太", None);
        conform(Entity::Users, &mut rec, Target::Eportal4, &mut report);
        assert_eq!(report.shortfall_count, 1);
        assert_eq!(
            report.shortfalls,
            vec![Shortfall {
                file: "users.csv".into(),
                sourced_id: "u1".into(),
                missing: vec!["metadata.jp.kanaGivenName".into()],
            }]
        );
    }
}
