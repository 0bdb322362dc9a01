-- Bumped by every applied import: the API caches totals and paging anchors per generation, and
-- a cache entry of an older generation is never used.
ALTER TABLE tenants ADD COLUMN data_generation BIGINT NOT NULL DEFAULT 0;

-- Clients look users up by e-mail (Google: filter=email='…').
CREATE INDEX users_email ON users (tenant_id, email);
