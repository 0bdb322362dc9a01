-- API clients of the OAuth 2.0 client credentials grant (ONEROSTER.md §3.8), and the keys that
-- sign their access tokens. Times are epoch milliseconds.
-- secret_hash = hex(HMAC-SHA256(pepper, secret)): the secret itself is never stored.
-- scopes: the space-separated scope URIs the client may be granted.

CREATE TABLE api_clients (
    client_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_clients_tenant ON api_clients (tenant_id, created_at);

-- HS256 token signing keys, shared by every replica; the newest one signs.
-- secret: base64url of 32 random bytes.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The per-database pepper of secret_hash, used when ROSTERHUB_SECRET_PEPPER is not set.
-- One row at most. pepper: base64url of 32 random bytes.
CREATE TABLE client_secret_pepper (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pepper TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
