-- E-mail notices (src/mail, docs/notifications.md): an admin user's address and language, the
-- outbox of messages (one row per recipient, written in the transaction of what caused it, sent
-- under a lease with retries) and the daily summaries claimed per tenant and day, so that one
-- replica sends each. The same tables as SQLite's sqlite-ops/0006_mail.sql.
ALTER TABLE admin_users ADD COLUMN email TEXT;
-- `ja` or `en`; NULL: the server's default (`--mail-language`).
ALTER TABLE admin_users ADD COLUMN language TEXT;

CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    -- import.held, import.failed, intake.refused or summary.daily.
    event TEXT NOT NULL,
    recipient TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- pending, sent or failed.
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_tenant ON mail_outbox (tenant_id, created_at);

CREATE TABLE mail_summaries (
    tenant_id TEXT NOT NULL,
    -- The summary's day, YYYY-MM-DD in the UI's time zone.
    day TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day)
);
