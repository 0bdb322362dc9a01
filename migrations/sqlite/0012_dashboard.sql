-- The web UI dashboard's counters per tenant (src/storage/dashboard.rs): per rostering table
-- `<table>.active` and `<table>.tombstoned`, and the sanity counts `students_without_enrollment`,
-- `classes_without_teacher`, `schools_without_students`. An applied import recomputes the
-- counters its changes touch in its own transaction; a counter without a row is 0. Filled here
-- for the data imported before this migration.
CREATE TABLE tenant_counts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    counter TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, counter)
);

-- The sanity counts' lookups (an active student role of a user, an active enrollment of a user,
-- a class's teacher, a school's students) answered from the index alone: without the role and
-- status in it, each lookup read a table row at random, ~10 s per count at a million students.
-- The same leading columns: every query that used these indexes still does.
DROP INDEX roles_user;
CREATE INDEX roles_user ON roles (tenant_id, user_sourced_id, role, status);
DROP INDEX enrollments_user;
CREATE INDEX enrollments_user ON enrollments (tenant_id, user_sourced_id, status);
DROP INDEX enrollments_class;
CREATE INDEX enrollments_class ON enrollments (tenant_id, class_sourced_id, role, status);
DROP INDEX enrollments_school;
CREATE INDEX enrollments_school ON enrollments (tenant_id, school_sourced_id, role, status);

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'orgs.active' ELSE 'orgs.tombstoned' END, COUNT(*)
FROM orgs GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'orgs.active' ELSE 'orgs.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'academic_sessions.active' ELSE 'academic_sessions.tombstoned' END, COUNT(*)
FROM academic_sessions GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'academic_sessions.active' ELSE 'academic_sessions.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'courses.active' ELSE 'courses.tombstoned' END, COUNT(*)
FROM courses GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'courses.active' ELSE 'courses.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'classes.active' ELSE 'classes.tombstoned' END, COUNT(*)
FROM classes GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'classes.active' ELSE 'classes.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'users.active' ELSE 'users.tombstoned' END, COUNT(*)
FROM users GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'users.active' ELSE 'users.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'user_profiles.active' ELSE 'user_profiles.tombstoned' END, COUNT(*)
FROM user_profiles GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'user_profiles.active' ELSE 'user_profiles.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'roles.active' ELSE 'roles.tombstoned' END, COUNT(*)
FROM roles GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'roles.active' ELSE 'roles.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'enrollments.active' ELSE 'enrollments.tombstoned' END, COUNT(*)
FROM enrollments GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'enrollments.active' ELSE 'enrollments.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT tenant_id, CASE WHEN status = 'active' THEN 'demographics.active' ELSE 'demographics.tombstoned' END, COUNT(*)
FROM demographics GROUP BY tenant_id, CASE WHEN status = 'active' THEN 'demographics.active' ELSE 'demographics.tombstoned' END;

INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT u.tenant_id, 'students_without_enrollment', COUNT(*) FROM users u
WHERE u.status = 'active' AND EXISTS (SELECT 1 FROM roles r WHERE r.tenant_id = u.tenant_id
    AND r.user_sourced_id = u.sourced_id AND r.role = 'student' AND r.status = 'active')
  AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.tenant_id = u.tenant_id
    AND e.user_sourced_id = u.sourced_id AND e.status = 'active')
GROUP BY u.tenant_id;
INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT c.tenant_id, 'classes_without_teacher', COUNT(*) FROM classes c
WHERE c.status = 'active' AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.tenant_id = c.tenant_id
    AND e.class_sourced_id = c.sourced_id AND e.role = 'teacher' AND e.status = 'active')
GROUP BY c.tenant_id;
INSERT INTO tenant_counts (tenant_id, counter, value)
SELECT o.tenant_id, 'schools_without_students', COUNT(*) FROM orgs o
WHERE o.status = 'active' AND o.type = 'school' AND NOT EXISTS (SELECT 1 FROM enrollments e
    WHERE e.tenant_id = o.tenant_id AND e.school_sourced_id = o.sourced_id AND e.role = 'student'
    AND e.status = 'active')
GROUP BY o.tenant_id;
