-- The import probes every row of a bundle for (status, content_hash) by sourcedId. With those
-- two columns in an index the probe never reads the (wide) table row: an unchanged
-- re-import of a million users stays in the page cache instead of reading the whole table.

CREATE INDEX orgs_probe ON orgs (tenant_id, sourced_id, status, content_hash);
CREATE INDEX academic_sessions_probe ON academic_sessions (tenant_id, sourced_id, status, content_hash);
CREATE INDEX courses_probe ON courses (tenant_id, sourced_id, status, content_hash);
CREATE INDEX classes_probe ON classes (tenant_id, sourced_id, status, content_hash);
CREATE INDEX users_probe ON users (tenant_id, sourced_id, status, content_hash);
CREATE INDEX user_profiles_probe ON user_profiles (tenant_id, sourced_id, status, content_hash);
CREATE INDEX roles_probe ON roles (tenant_id, sourced_id, status, content_hash);
CREATE INDEX enrollments_probe ON enrollments (tenant_id, sourced_id, status, content_hash);
CREATE INDEX demographics_probe ON demographics (tenant_id, sourced_id, status, content_hash);
