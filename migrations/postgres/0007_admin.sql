-- (filled by the 0007_admin change)
SELECT 1;
