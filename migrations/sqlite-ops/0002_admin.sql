-- (filled by the admin change)
SELECT 1;
