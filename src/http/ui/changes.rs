//! The "what would change" section of a dry run's or a held import's page: per entity, the
//! records it would insert, change (field: old → new) and tombstone, from the sample kept with
//! the report (`import::changes`), with how many more the counts hold than the sample shows.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::import::changes::EntityChanges;

pub struct Named {
    pub sourced_id: String,
    pub label: String,
}

pub struct FieldLine {
    pub field: String,
    pub old: String,
    pub new: String,
}

pub struct ChangedLine {
    pub sourced_id: String,
    pub label: String,
    pub fields: Vec<FieldLine>,
}

/// One entity's part of the section.
pub struct ChangeBlock {
    /// The catalogue key of the entity's name.
    pub label: String,
    pub name: String,
    pub inserted: Vec<Named>,
    pub changed: Vec<ChangedLine>,
    pub tombstoned: Vec<Named>,
    /// Records counted but not in the sample, per kind.
    pub inserted_more: u64,
    pub changed_more: u64,
    pub tombstoned_more: u64,
}

fn named(v: Vec<crate::import::changes::Sampled>) -> Vec<Named> {
    v.into_iter()
        .map(|s| Named {
            sourced_id: s.sourced_id,
            label: s.label,
        })
        .collect()
}

/// The section's blocks from a job's report, tombstones first-listed entities first (users
/// before enrollments): in the report's entity order.
pub fn blocks(report: Option<&Value>) -> Vec<ChangeBlock> {
    let Some(report) = report else {
        return Vec::new();
    };
    let Some(mut sample) = report
        .get("changes")
        .and_then(|c| serde_json::from_value::<BTreeMap<String, EntityChanges>>(c.clone()).ok())
    else {
        return Vec::new();
    };
    let order: Vec<String> = report
        .get("entities")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for name in order {
        let Some(e) = sample.remove(&name) else {
            continue;
        };
        let count = |k: &str| {
            report["entities"][&name]
                .get(k)
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        out.push(ChangeBlock {
            label: format!("entity.{name}"),
            inserted_more: count("inserted").saturating_sub(e.inserted.len() as u64),
            changed_more: count("updated").saturating_sub(e.changed.len() as u64),
            tombstoned_more: count("tombstoned").saturating_sub(e.tombstoned.len() as u64),
            name,
            inserted: named(e.inserted),
            changed: e
                .changed
                .into_iter()
                .map(|c| ChangedLine {
                    sourced_id: c.sourced_id,
                    label: c.label,
                    fields: c
                        .fields
                        .into_iter()
                        .map(|f| FieldLine {
                            field: f.field,
                            old: f.old.unwrap_or_default(),
                            new: f.new.unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect(),
            tombstoned: named(e.tombstoned),
        });
    }
    out
}
