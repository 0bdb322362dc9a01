-- Scheduled pulls (src/intake/pull.rs, docs/operations-intake.md): one row per scheduled run,
-- inserted by the replica that claims it (the primary key refuses a second claim), finished with
-- its outcome. The same table as SQLite's sqlite-ops/0007_pulls.sql.
CREATE TABLE intake_pull_runs (
    tenant_id TEXT NOT NULL,
    -- The pull's name in the pulls file, or `url-` and the start of its URL's SHA-256.
    pull TEXT NOT NULL,
    -- The scheduled minute this run is for (epoch ms): the key that lets one replica only
    -- pull it.
    scheduled_at BIGINT NOT NULL,
    claimed_by TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    -- queued, unchanged or failed; NULL while the run is under way (or its replica stopped).
    outcome TEXT,
    -- The import job a queued run created.
    job_id TEXT,
    -- Why a run failed, or what was unchanged (HTTP 304, the same SHA-256).
    detail TEXT,
    -- The body this run queued or found unchanged: its validators for the next request and
    -- its SHA-256 (NULL for a failed run).
    etag TEXT,
    last_modified TEXT,
    sha256 TEXT,
    finished_at BIGINT,
    PRIMARY KEY (tenant_id, pull, scheduled_at)
);
