//! The audit log: an append-only record, per tenant, of who did what through the API.

/// What a handler adds to its response's extensions for the audit entry of its request: the
/// audit middleware records method, path, query, status, client, IP and request id by itself;
/// a note refines the entry. Every field is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    /// Who acted when it is not the token's client (a logged-in admin user: `user:<id>`; a
    /// failed login: `login:<username>`).
    pub actor: Option<String>,
    /// The tenant acted on when it is not the caller's.
    pub tenant: Option<String>,
    /// A stable action name (`imports.create`, `session.login_failed`, …) instead of the one
    /// derived from the route.
    pub action: Option<&'static str>,
    /// What was acted on (an import id, a client id, …).
    pub target: Option<String>,
    /// How many records a read returned.
    pub count: Option<u64>,
}
