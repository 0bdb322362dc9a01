-- SQLite's import probes rows one by one and gets a covering index for that in its 0004. The
-- PostgreSQL import reads (sourcedId, status, content_hash) per table in one pass instead, so it
-- needs no such index: this migration only keeps the two histories numbered alike.
SELECT 1;
