-- API client restrictions and credential rotation.
-- allowed_ips: space-separated CIDR ranges the client may call from; NULL = any address.
-- rate_limit_per_min: the client's token bucket (requests per minute); NULL = the server default.
-- org_scope: space-separated org sourcedIds the client is limited to (and everything attached
--   to them); NULL = every org of the tenant.
-- previous_secret_hash / previous_secret_until: the secret replaced by a rotation stays valid
--   until then (the overlap window).
-- signing_keys.retired_at: a key replaced by a rotation still verifies tokens until the last
--   token it signed has expired, then it is deleted.

ALTER TABLE api_clients ADD COLUMN allowed_ips TEXT;
ALTER TABLE api_clients ADD COLUMN rate_limit_per_min BIGINT;
ALTER TABLE api_clients ADD COLUMN org_scope TEXT;
ALTER TABLE api_clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE api_clients ADD COLUMN previous_secret_until BIGINT;
ALTER TABLE signing_keys ADD COLUMN retired_at BIGINT;
