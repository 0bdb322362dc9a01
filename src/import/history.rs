//! A record's history as people read it (`GET /api/v1/records/{entity}/{sourcedId}/history`
//! and the web UI's record page): per import that touched it — newest first — when, by whom,
//! and each field that changed, old → new, from the change log ([`Store::record_history`]).
//!
//! Personal fields are shown only to callers allowed to see them (administrators): the
//! columns encrypted at rest (`--pii-columns`, or their default list while encryption is off)
//! and every field of a demographics record (a scope of its own in the OneRoster API); for
//! others they are listed as changed, with their values masked. A password is masked for
//! everyone.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::domain::Entity;
use crate::domain::datetime::format_ms;
use crate::pii::{Columns, DEFAULT_COLUMNS};
use crate::storage::read::Record;
use crate::storage::{Store, StoreError};

/// One field that an import changed. Masked: `old` and `new` are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
}

/// One import that touched the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub import_id: String,
    /// When it ran, `YYYY-MM-DDTHH:MM:SS.sssZ`.
    pub at: String,
    #[serde(skip)]
    pub at_ms: i64,
    /// Who ran it: `cli:<user>`, `client:<id>`, `user:<id>`, `intake`.
    pub by: Option<String>,
    /// `inserted`, `updated` or `tombstoned`.
    pub action: &'static str,
    /// When it was an undo: the import it undid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo_of: Option<String>,
    /// When an undo reverted it: that undo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undone_by: Option<String>,
    pub fields: Vec<FieldChange>,
}

/// Which fields of a record are personal.
struct Personal {
    columns: Columns,
    shown: bool,
}

impl Personal {
    fn masks(&self, entity: Entity, db: &str) -> bool {
        db == "password"
            || (!self.shown
                && (entity == Entity::Demographics || self.columns.contains_db(entity, db)))
    }
}

/// The history of `id` of `entity`, newest first; `None` if there is no such record.
/// `show_personal`: whether the caller may see personal values.
pub async fn history(
    store: &Store,
    tenant: &str,
    entity: Entity,
    id: &str,
    show_personal: bool,
) -> Result<Option<Vec<Change>>, StoreError> {
    let Some(entries) = store.record_history(tenant, entity, id).await? else {
        return Ok(None);
    };
    let personal = Personal {
        columns: match store.pii() {
            Some(p) => p.columns().clone(),
            None => Columns::parse(DEFAULT_COLUMNS).unwrap_or_default(),
        },
        shown: show_personal,
    };
    let mut out: Vec<Change> = entries
        .into_iter()
        .map(|e| Change {
            import_id: e.import_id,
            at: format_ms(e.at),
            at_ms: e.at,
            by: e.actor,
            action: e.action.as_str(),
            undo_of: e.undo_of,
            undone_by: e.undone_by,
            fields: fields(entity, e.before.as_ref(), e.after.as_ref(), &personal),
        })
        .collect();
    out.reverse();
    Ok(Some(out))
}

/// A record's metadata object, key → text.
fn metadata(r: Option<&Record>) -> BTreeMap<String, String> {
    let map: BTreeMap<String, serde_json::Value> = r
        .and_then(|r| r.metadata.as_deref())
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    map.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) if s.is_empty() => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect()
}

/// The fields that differ between two images of a record (`None`: no record), in column order,
/// then `status`, then the metadata keys.
fn fields(
    entity: Entity,
    before: Option<&Record>,
    after: Option<&Record>,
    personal: &Personal,
) -> Vec<FieldChange> {
    let value = |r: Option<&Record>, i: usize| {
        r.and_then(|r| r.values.get(i).cloned().flatten())
            .filter(|v| !v.is_empty())
    };
    let mut out = Vec::new();
    let mut push = |field: String, old: Option<String>, new: Option<String>, masked: bool| {
        if old != new {
            let (old, new) = if masked { (None, None) } else { (old, new) };
            out.push(FieldChange {
                field,
                old,
                new,
                masked,
            });
        }
    };
    for (i, c) in entity.columns().iter().enumerate() {
        push(
            c.csv.to_owned(),
            value(before, i),
            value(after, i),
            personal.masks(entity, c.db),
        );
    }
    let status = |r: Option<&Record>| r.map(|r| r.status.clone());
    push("status".into(), status(before), status(after), false);
    let (old, new) = (metadata(before), metadata(after));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for k in keys {
        push(
            format!("metadata.{k}"),
            old.get(k).cloned(),
            new.get(k).cloned(),
            !personal.shown && entity == Entity::Demographics,
        );
    }
    out
}
