-- (filled by the audit change)
SELECT 1;
