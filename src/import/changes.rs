//! "What would change": for a dry run or a held import, a bounded sample per entity of the
//! records it would insert, change (field by field, old → new) and tombstone, kept with its
//! report, so that whoever approves sees *who* would be withdrawn, not just how many.
//!
//! The backends say what each staged row does ([`Change`]); the first [`SAMPLE`] of each kind
//! keep their new values here while the bundle is read. Once the data transaction is rolled
//! back the stored records are the state before the import again, and [`resolve`] reads the old
//! side of each change from them (through `Store::record`, which decrypts). The report never
//! holds a password, nor a value of a column the server encrypts (`--pii-columns`): those show
//! as changed without their values.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::domain::Entity;
use crate::storage::read::Record;
use crate::storage::select::Selection;
use crate::storage::{Change, StageRow, Store, StoreError};

/// Records kept per entity and kind.
pub const SAMPLE: usize = 20;

/// A record in the sample: its id and what a person recognises it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampled {
    #[serde(rename = "sourcedId")]
    pub sourced_id: String,
    pub label: String,
}

/// One field of a changed record. `None` values: empty, or not shown (an encrypted column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    #[serde(rename = "sourcedId")]
    pub sourced_id: String,
    pub label: String,
    pub fields: Vec<FieldChange>,
}

/// The sample of one entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityChanges {
    pub inserted: Vec<Sampled>,
    pub changed: Vec<Changed>,
    pub tombstoned: Vec<Sampled>,
}

/// A staged row kept for the sample: its new values (in [`Entity::columns`] order).
#[derive(Debug)]
struct Kept {
    id: String,
    values: Vec<String>,
    metadata: Option<String>,
}

#[derive(Debug, Default)]
struct Pending {
    inserted: Vec<Kept>,
    updated: Vec<Kept>,
    tombstoned: Vec<String>,
}

/// What the row loop notes while the bundle is staged.
#[derive(Debug, Default)]
pub struct Collector {
    pending: HashMap<Entity, Pending>,
}

impl Collector {
    pub fn note(&mut self, entity: Entity, change: Change, row: &StageRow<'_>) {
        let p = self.pending.entry(entity).or_default();
        let keep = || Kept {
            id: row.sourced_id.to_owned(),
            values: row.values.to_vec(),
            metadata: row.metadata.map(str::to_owned),
        };
        match change {
            Change::Inserted if p.inserted.len() < SAMPLE => p.inserted.push(keep()),
            Change::Updated if p.updated.len() < SAMPLE => p.updated.push(keep()),
            Change::Tombstoned if p.tombstoned.len() < SAMPLE => {
                p.tombstoned.push(row.sourced_id.to_owned())
            }
            _ => {}
        }
    }

    /// Ids a bulk file's absence made tombstones (after the file's own rows).
    pub fn tombstoned(&mut self, entity: Entity, ids: Vec<String>) {
        let p = self.pending.entry(entity).or_default();
        let room = SAMPLE.saturating_sub(p.tombstoned.len());
        p.tombstoned.extend(ids.into_iter().take(room));
    }
}

/// The database columns whose values never appear in a sample.
fn hidden(store: &Store, entity: Entity, db: &str) -> bool {
    db == "password"
        || store
            .pii()
            .is_some_and(|p| p.columns().contains_db(entity, db))
}

/// The columns a record is recognised by, joined with spaces.
fn label_columns(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Users => &["family_name", "given_name"],
        Entity::Orgs => &["name"],
        Entity::Courses | Entity::Classes | Entity::AcademicSessions => &["title"],
        Entity::Enrollments => &["role", "user_sourced_id", "class_sourced_id"],
        Entity::Roles => &["role", "user_sourced_id", "org_sourced_id"],
        _ => &[],
    }
}

/// A label from a record's values (`value(db)`) and metadata: `高橋 翔太（タカハシ ショウタ）`.
fn label<'a>(
    store: &Store,
    entity: Entity,
    value: impl Fn(&str) -> Option<&'a str>,
    metadata: Option<&str>,
) -> String {
    let mut parts: Vec<&str> = label_columns(entity)
        .iter()
        .filter(|db| !hidden(store, entity, db))
        .filter_map(|db| value(db))
        .filter(|v| !v.is_empty())
        .collect();
    let mut out = parts.join(" ");
    if entity == Entity::Users {
        let meta: serde_json::Map<String, serde_json::Value> = metadata
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        parts = ["jp.kanaFamilyName", "jp.kanaGivenName"]
            .iter()
            .filter_map(|k| meta.get(*k).and_then(|v| v.as_str()))
            .filter(|v| !v.is_empty())
            .collect();
        if !parts.is_empty() {
            out.push_str(&format!("（{}）", parts.join(" ")));
        }
    }
    out
}

fn column_value<'a>(entity: Entity, values: &'a [String], db: &str) -> Option<&'a str> {
    entity
        .columns()
        .iter()
        .position(|c| c.db == db)
        .map(|i| values[i].as_str())
}

fn kept_label(store: &Store, entity: Entity, k: &Kept) -> String {
    label(
        store,
        entity,
        |db| column_value(entity, &k.values, db),
        k.metadata.as_deref(),
    )
}

fn record_label(store: &Store, entity: Entity, r: &Record) -> String {
    label(store, entity, |db| r.get(entity, db), r.metadata.as_deref())
}

/// The fields that differ between the stored record and the staged row.
fn diff(store: &Store, entity: Entity, old: &Record, new: &Kept) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for (i, c) in entity.columns().iter().enumerate() {
        let before = old.values.get(i).cloned().flatten().unwrap_or_default();
        let after = &new.values[i];
        if before == *after {
            continue;
        }
        let shown = !hidden(store, entity, c.db);
        let some = |v: &str| (shown && !v.is_empty()).then(|| v.to_owned());
        out.push(FieldChange {
            field: c.csv.to_owned(),
            old: some(&before),
            new: some(after),
        });
    }
    let parse = |m: Option<&str>| -> BTreeMap<String, serde_json::Value> {
        m.and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default()
    };
    let (before, after) = (
        parse(old.metadata.as_deref()),
        parse(new.metadata.as_deref()),
    );
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let text = |m: &BTreeMap<String, serde_json::Value>| match m.get(key) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(serde_json::Value::Null | serde_json::Value::String(_)) | None => None,
            Some(v) => Some(v.to_string()),
        };
        let (o, n) = (text(&before), text(&after));
        if o != n {
            out.push(FieldChange {
                field: format!("metadata.{key}"),
                old: o,
                new: n,
            });
        }
    }
    out
}

/// A record an undo puts back: `now` is the stored record, `then` what it gets back.
pub fn restored(store: &Store, entity: Entity, now: &Record, then: &Record) -> Changed {
    let kept = Kept {
        id: then.sourced_id.clone(),
        values: then
            .values
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect(),
        metadata: then.metadata.clone(),
    };
    let mut fields = Vec::new();
    if now.status != then.status {
        fields.push(FieldChange {
            field: "status".into(),
            old: Some(now.status.clone()),
            new: Some(then.status.clone()),
        });
    }
    fields.extend(diff(store, entity, now, &kept));
    Changed {
        sourced_id: now.sourced_id.clone(),
        label: record_label(store, entity, now),
        fields,
    }
}

/// A stored record in a sample, with its label.
pub fn sampled(store: &Store, entity: Entity, r: &Record) -> Sampled {
    Sampled {
        sourced_id: r.sourced_id.clone(),
        label: record_label(store, entity, r),
    }
}

/// Completes the sample from the stored records, which must be the state before the import
/// (the data transaction rolled back).
pub async fn resolve(
    store: &Store,
    tenant: &str,
    collector: Collector,
) -> Result<BTreeMap<String, EntityChanges>, StoreError> {
    let mut out = BTreeMap::new();
    for (entity, p) in collector.pending {
        let mut e = EntityChanges {
            inserted: p
                .inserted
                .iter()
                .map(|k| Sampled {
                    sourced_id: k.id.clone(),
                    label: kept_label(store, entity, k),
                })
                .collect(),
            ..EntityChanges::default()
        };
        for k in &p.updated {
            let old = store
                .record(tenant, entity, &k.id, &Selection::All, None)
                .await?;
            let (label, fields) = match &old {
                // A tombstone coming back: every value is new.
                Some(r) => (record_label(store, entity, r), diff(store, entity, r, k)),
                None => (kept_label(store, entity, k), Vec::new()),
            };
            e.changed.push(Changed {
                sourced_id: k.id.clone(),
                label,
                fields,
            });
        }
        for id in &p.tombstoned {
            let old = store
                .record(tenant, entity, id, &Selection::All, None)
                .await?;
            e.tombstoned.push(Sampled {
                sourced_id: id.clone(),
                label: old
                    .map(|r| record_label(store, entity, &r))
                    .unwrap_or_default(),
            });
        }
        // File order on one backend is not id order on the other: sort for a stable report.
        e.inserted.sort_by(|a, b| a.sourced_id.cmp(&b.sourced_id));
        e.changed.sort_by(|a, b| a.sourced_id.cmp(&b.sourced_id));
        e.tombstoned.sort_by(|a, b| a.sourced_id.cmp(&b.sourced_id));
        if !(e.inserted.is_empty() && e.changed.is_empty() && e.tombstoned.is_empty()) {
            out.insert(entity.name().to_owned(), e);
        }
    }
    Ok(out)
}

/// [`resolve`] from the import's blocking thread. The sample is an aid, not the result: if the
/// stored records cannot be read it is left out (and logged), and the report stands.
pub fn resolve_blocking(
    store: &Store,
    tenant: &str,
    collector: Collector,
) -> Option<BTreeMap<String, EntityChanges>> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    match handle.block_on(resolve(store, tenant, collector)) {
        Ok(sample) => Some(sample),
        Err(e) => {
            tracing::warn!(error = %e, "the sample of what would change could not be read");
            None
        }
    }
}
