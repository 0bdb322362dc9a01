-- The audit log: one append-only row per audited request (src/audit). The code only inserts;
-- the retention sweep deletes rows older than `--audit-retention-days`. No foreign key to
-- `tenants`: the tenant comes from a verified token, and a batch must never fail as a whole
-- because of one row (the same table lives in the SQLite `-ops.db` file, migrations/sqlite-ops).
-- Text compares byte-wise (COLLATE "C") so filters and the order match SQLite's.

CREATE TABLE audit_log (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    method TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    query TEXT COLLATE "C",
    status BIGINT NOT NULL,
    result_count BIGINT,
    target TEXT COLLATE "C",
    source_ip TEXT COLLATE "C",
    request_id TEXT COLLATE "C",
    user_agent TEXT COLLATE "C"
);
-- Newest first per tenant: the listing, its since/until range, and the other filters (actor,
-- action, status, request id) applied within that range. One index besides the sweep's: every
-- API read writes a row, and each index is paid on every insert.
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at, id);
-- The retention sweep, across tenants.
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only in the database too: no statement may change a row (the sweep only deletes).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
