-- (filled by the 0008_audit change)
SELECT 1;
