-- PII encrypted at rest (src/pii). Encrypted cells are text `pii1:<key id>:<base64url>`; the
-- columns keep their names and types.
--
-- pii_keys: every key the database's values have been encrypted under. index_key is the
--   database's blind-index key (random, made once) encrypted under that key: it survives every
--   rotation unchanged, and a key that cannot decrypt it is not this database's key. A row with
--   retired_at IS NULL is in use: the database refuses to open without that key.
-- *_bidx: blind indexes (hex HMAC-SHA256 under the index key) of the filterable columns, set
--   only when the value is encrypted, so `filter=email='…'` still finds it.

CREATE TABLE pii_keys (
    key_id TEXT PRIMARY KEY,
    index_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);

ALTER TABLE users ADD COLUMN email_bidx TEXT;
ALTER TABLE users ADD COLUMN sms_bidx TEXT;
ALTER TABLE users ADD COLUMN phone_bidx TEXT;
ALTER TABLE demographics ADD COLUMN birth_date_bidx TEXT;

-- Clients look users up by e-mail (Google: filter=email='…'); empty while nothing is encrypted.
CREATE INDEX users_email_bidx ON users (tenant_id, email_bidx) WHERE email_bidx IS NOT NULL;
