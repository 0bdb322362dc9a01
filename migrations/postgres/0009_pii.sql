-- (filled by the 0009_pii change)
SELECT 1;
