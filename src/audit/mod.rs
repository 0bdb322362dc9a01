//! The audit log: an append-only record, per tenant, of who did what through the API.
//!
//! The HTTP middleware (`http::audit`) builds one [`Entry`] per request to the OneRoster and
//! admin APIs and to the token endpoint, and per write of the web UI, after the handler ran,
//! and hands it to the
//! [`AuditLog`]: a bounded channel to a background writer that inserts in batches, so the API
//! never waits for the audit table. The table, its row ([`Entry`]), the listing's [`Filter`]
//! and every statement on `audit_log` are `storage::ops::audit` (an operational table: the
//! `-ops.db` file on SQLite); rows are only inserted, and deleted by the retention sweep
//! ([`spawn_retention`]) once older than `--audit-retention-days`.
//!
//! Action names are stable: `oneroster.read` for every rostering read, `token.issue` /
//! `token.refused`, and for the admin API `<resource>.<verb>` derived from the route:
//! `list`/`create` on a collection, `read`/`update`/`delete` on an item, the last path word for
//! an action or sub-resource (`imports.approve`, `exports.download`, `clients.rotate_secret`,
//! `jobs.events`, `imports.findings`), and `session.login`/`session.logout`/`session.read`.
//! The web UI's writes are named alike (`webhooks.create`, `clients.revoke`, `users.disable`,
//! `webhooks.test`, `users.password`, `session.tenant`, `audit.export`, …).
//! Handlers refine an entry with an [`AuditNote`] (e.g. `session.login_failed`). Reads recorded
//! while the writer is behind are folded into `oneroster.read.aggregated` entries, whose
//! `count` (`result_count` in the table) is the number of requests (see [`writer`]).

pub mod redact;
mod writer;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::domain::datetime::format_ms;

pub use crate::storage::ops::audit::{Entry, Filter};
pub use writer::{
    AGGREGATED_ACTION, AGGREGATED_TOTAL, AuditLog, DROPPED_TOTAL, READ_ACTION, WRITTEN_TOTAL,
    WriterSettings, spawn_retention,
};

/// What a handler adds to its response's extensions for the audit entry of its request: the
/// audit middleware records method, path, query, status, client, IP and request id by itself;
/// a note refines the entry. Every field is optional.
///
/// An extractor or handler may instead (or as well) call [`annotate`] on the request's
/// extensions; a note in the response's extensions wins field by field.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    /// Who acted when it is not the token's client (a logged-in admin user: `user:<id>`; a
    /// failed login: `login:<username>`).
    pub actor: Option<String>,
    /// The tenant acted on when it is not the caller's. A request without a valid bearer token
    /// is recorded only when a note names its tenant.
    pub tenant: Option<String>,
    /// A stable action name (`imports.create`, `session.login_failed`, …) instead of the one
    /// derived from the route.
    pub action: Option<&'static str>,
    /// What was acted on (an import id, a client id, …).
    pub target: Option<String>,
    /// How many records a read returned.
    pub count: Option<u64>,
}

impl AuditNote {
    /// `self`, with every field `over` sets taken from `over`.
    pub fn overridden_by(self, over: AuditNote) -> AuditNote {
        AuditNote {
            actor: over.actor.or(self.actor),
            tenant: over.tenant.or(self.tenant),
            action: over.action.or(self.action),
            target: over.target.or(self.target),
            count: over.count.or(self.count),
        }
    }
}

/// A place in the request's extensions (put there by the audit middleware) where extractors
/// can leave a note: an extractor cannot touch the response, and a rejected request has no
/// handler to do it.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<AuditNote>>);

impl AuditSlot {
    /// The note left so far.
    pub fn take(&self) -> AuditNote {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn merge(&self, note: AuditNote) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *slot = std::mem::take(&mut *slot).overridden_by(note);
    }
}

/// Refines the audit entry of the request whose extensions these are (a no-op outside the
/// audit middleware): e.g. `Caller` names the session's user and tenant.
pub fn annotate(extensions: &axum::http::Extensions, note: AuditNote) {
    if let Some(slot) = extensions.get::<AuditSlot>() {
        slot.merge(note);
    }
}

impl Entry {
    /// The entry as `GET /api/v1/audit` shows it.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "at": format_ms(self.at),
            "actor": self.actor,
            "action": self.action,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "result_count": self.result_count,
            "target": self.target,
            "source_ip": self.source_ip,
            "request_id": self.request_id,
            "user_agent": self.user_agent,
        });
        // An aggregate stands for `count` reads (stored in `result_count`).
        if self.action == AGGREGATED_ACTION {
            v["count"] = self.result_count.into();
        }
        v
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_note_overrides_a_request_note_field_by_field() {
        let slot = AuditSlot::default();
        let mut ext = axum::http::Extensions::new();
        annotate(&ext, AuditNote::default()); // no slot: nothing happens
        ext.insert(slot.clone());
        annotate(
            &ext,
            AuditNote {
                actor: Some("user:1".into()),
                tenant: Some("t1".into()),
                ..AuditNote::default()
            },
        );
        let note = slot.take().overridden_by(AuditNote {
            tenant: Some("t2".into()),
            action: Some("session.login"),
            ..AuditNote::default()
        });
        assert_eq!(note.actor.as_deref(), Some("user:1"));
        assert_eq!(note.tenant.as_deref(), Some("t2"));
        assert_eq!(note.action, Some("session.login"));
        assert_eq!(note.target, None);
        assert!(slot.take().actor.is_none(), "taken");
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("日本語", 4), "日");
        assert_eq!(truncate("日本語", 6), "日本");
    }
}
