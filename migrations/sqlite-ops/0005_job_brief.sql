-- What a list of jobs shows of each report (status, counts, profile; no findings): lists read
-- this instead of the whole report, whose findings may run to megabytes. The same column as
-- PostgreSQL's 0011_dashboard.sql.
ALTER TABLE jobs ADD COLUMN brief TEXT;
UPDATE jobs SET brief = (SELECT json_group_object(key, value) FROM json_each(jobs.report)
    WHERE key IN ('status', 'error_count', 'warning_count', 'entities', 'files', 'mode', 'profile'))
WHERE report IS NOT NULL AND json_valid(report);
