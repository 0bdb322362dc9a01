-- On SQLite the throttle counters live in the -ops.db file (migrations/sqlite-ops); nothing here.
SELECT 1;
