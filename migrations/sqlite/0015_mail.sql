-- E-mail notices: on SQLite their tables (and the admin users' address and language) live in
-- the operational file (migrations/sqlite-ops/0006_mail.sql); this version keeps the two
-- backends' numbering in step.
SELECT 1;
