-- The national models' shortfall on the dashboard (src/storage/dashboard.rs `SHORTFALL`):
-- active users leaving a column every model requires empty (userMasterIdentifier, the
-- preferred names, the kana of the names), the same with metadata.jp.homeClass required too,
-- and active enrollments without `primary`. An applied import recomputes them as it does the
-- other counters; filled here for the data imported before this migration.
INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT m.tenant_id, 'target_shortfall.users', COUNT(*) FROM users m
WHERE m.status = 'active' AND (COALESCE(m.user_master_identifier, '') = ''
    OR COALESCE(m.preferred_given_name, '') = '' OR COALESCE(m.preferred_family_name, '') = ''
    OR (m.metadata::jsonb -> 'jp.kanaGivenName') IS NULL
    OR m.metadata::jsonb ->> 'jp.kanaGivenName' = ''
    OR (m.metadata::jsonb -> 'jp.kanaFamilyName') IS NULL
    OR m.metadata::jsonb ->> 'jp.kanaFamilyName' = '')
GROUP BY m.tenant_id;
INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT m.tenant_id, 'target_shortfall.users_home_class', COUNT(*) FROM users m
WHERE m.status = 'active' AND (COALESCE(m.user_master_identifier, '') = ''
    OR COALESCE(m.preferred_given_name, '') = '' OR COALESCE(m.preferred_family_name, '') = ''
    OR (m.metadata::jsonb -> 'jp.kanaGivenName') IS NULL
    OR m.metadata::jsonb ->> 'jp.kanaGivenName' = ''
    OR (m.metadata::jsonb -> 'jp.kanaFamilyName') IS NULL
    OR m.metadata::jsonb ->> 'jp.kanaFamilyName' = ''
    OR (m.metadata::jsonb -> 'jp.homeClass') IS NULL
    OR m.metadata::jsonb ->> 'jp.homeClass' = '')
GROUP BY m.tenant_id;
INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT m.tenant_id, 'target_shortfall.enrollments', COUNT(*) FROM enrollments m
WHERE m.status = 'active' AND COALESCE(m.is_primary, '') = ''
GROUP BY m.tenant_id;
