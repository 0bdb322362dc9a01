-- On SQLite these tables live in the -ops.db file (migrations/sqlite-ops); nothing here.
SELECT 1;
