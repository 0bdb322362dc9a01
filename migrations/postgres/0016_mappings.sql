-- Mapping profiles stored per tenant (docs/mappings.md): the profile's JSON text exactly as it
-- was saved, valid when saved. `version` starts at 1 and grows by one with every save; an
-- import job keeps the name, version and text it used. `created_by` / `updated_by` are the
-- admin API's actors (`client:<id>`, `user:<id>`). Times are epoch milliseconds.
CREATE TABLE mappings (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    name TEXT COLLATE "C" NOT NULL,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
