-- Jobs, files and webhooks live in the `-ops.db` file beside this one (migrations/sqlite-ops):
-- an import holds this file's write lock for its whole run, and uploads, progress and
-- deliveries must not wait for it. Here only the link from an import run to its job.

ALTER TABLE imports ADD COLUMN job_id TEXT;
CREATE INDEX imports_job ON imports (job_id) WHERE job_id IS NOT NULL;
