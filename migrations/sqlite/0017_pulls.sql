-- Scheduled pulls: on SQLite their runs live in the operational file
-- (migrations/sqlite-ops/0007_pulls.sql); this version keeps the two backends' numbering in
-- step.
SELECT 1;
