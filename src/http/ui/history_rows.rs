//! A record's history (`import::history`) as the rows of the record page's table: the time in
//! the UI's zone, who, which import, what it did, and each changed field.

use super::zone::Zone;
use crate::import::history::{Change, FieldChange};

/// One import that touched the record.
pub struct HistoryRow {
    pub when: String,
    pub by: String,
    pub import_id: String,
    /// The i18n key of the action (`history.inserted`, …).
    pub action: String,
    /// The import this one undid, and the undo that reverted this one.
    pub undo_of: String,
    pub undone_by: String,
    pub fields: Vec<FieldChange>,
}

pub fn rows(history: Vec<Change>, zone: &Zone) -> Vec<HistoryRow> {
    history
        .into_iter()
        .map(|c| HistoryRow {
            when: zone.datetime(c.at_ms),
            by: c.by.unwrap_or_default(),
            import_id: c.import_id,
            action: format!("history.{}", c.action),
            undo_of: c.undo_of.unwrap_or_default(),
            undone_by: c.undone_by.unwrap_or_default(),
            fields: c.fields,
        })
        .collect()
}
