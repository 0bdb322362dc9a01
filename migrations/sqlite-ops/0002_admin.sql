-- Admin users of the web UI, their roles per tenant, their sessions and failed logins
-- (src/users): the same tables as PostgreSQL's 0007_admin.sql. Tenants live in the main file, so
-- `tenant_id` is checked by the code that writes these rows rather than by a foreign key.

CREATE TABLE admin_users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    -- The username lower-cased: usernames are unique whatever their case.
    username_key TEXT NOT NULL UNIQUE,
    display_name TEXT,
    -- An argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash); never the password.
    password_hash TEXT NOT NULL,
    system_admin BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    disabled_at BIGINT,
    -- Failed logins in the last 15 minutes (since the last login), as of the last failure.
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    last_login_at BIGINT
);

CREATE TABLE admin_roles (
    user_id TEXT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'uploader', 'viewer')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, tenant_id)
);
CREATE INDEX admin_roles_tenant ON admin_roles (tenant_id, user_id);

CREATE TABLE admin_sessions (
    -- hex(SHA-256(token)): the token itself (the cookie) is never stored.
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    -- The tenant chosen at login (NULL: a system admin who chose none).
    tenant_id TEXT,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);

-- One row per failed login (user_id NULL: no such user), for the account lock-out and the
-- per-source-address back-off, both over a sliding 15-minute window; older rows are deleted as
-- new ones come.
CREATE TABLE admin_login_failures (
    ip TEXT NOT NULL,
    user_id TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX admin_login_failures_ip ON admin_login_failures (ip, at);
CREATE INDEX admin_login_failures_user ON admin_login_failures (user_id, at);
CREATE INDEX admin_login_failures_at ON admin_login_failures (at);
