-- The audit log: one append-only row per audited request (src/audit). The code only inserts;
-- the retention sweep deletes rows older than `--audit-retention-days`. No foreign key to
-- `tenants`: the tenant comes from a verified token, and a batch must never fail as a whole
-- because of one row (the same table lives in PostgreSQL, migrations/postgres/0008_audit.sql).
-- Text compares byte-wise (SQLite BINARY), as on PostgreSQL (COLLATE "C").

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT,
    status BIGINT NOT NULL,
    result_count BIGINT,
    target TEXT,
    source_ip TEXT,
    request_id TEXT,
    user_agent TEXT
);
-- Newest first per tenant: the listing, its since/until range, and the other filters (actor,
-- action, status, request id) applied within that range. One index besides the sweep's: every
-- API read writes a row, and each index is paid on every insert.
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at, id);
-- The retention sweep, across tenants.
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only in the database too: no statement may change a row (the sweep only deletes).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
