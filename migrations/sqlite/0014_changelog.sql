-- The change log (src/storage/changelog): what every applied import changed, so that it can
-- be undone (`rosterhub import undo`, `POST /api/v1/imports/{id}/undo`) and a record's history
-- read (`GET /api/v1/records/{entity}/{sourcedId}/history`). Kept for `--changelog-days`
-- (default 90), then deleted by the server's maintenance (docs/undo.md).
--
-- changelog_imports: one row per applied import (an undo is one too), numbered per tenant in
--   the order they were applied (`seq`; imports of a tenant never run side by side).
-- changelog_loads: a first load of an entity into the tenant (it had none of those records):
--   every record of it that no later import inserted was inserted by that import. A marker
--   instead of one row per record keeps a first import as fast as without the log.
-- changelog_<table>: per record an import inserted (`action` 'inserted', nothing else kept),
--   changed or reactivated ('updated') or tombstoned ('tombstoned'): the record as it was
--   before, in the table's own columns. Encrypted cells are kept as stored (ciphertext).

CREATE TABLE changelog_imports (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    seq INTEGER NOT NULL,
    import_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT,
    undo_of TEXT,
    undone_by TEXT,
    PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX changelog_imports_id ON changelog_imports (tenant_id, import_id);
CREATE INDEX changelog_imports_at ON changelog_imports (at);

CREATE TABLE changelog_loads (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    entity TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq, entity)
);

CREATE TABLE changelog_orgs (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    name TEXT,
    type TEXT,
    identifier TEXT,
    parent_sourced_id TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_orgs_record ON changelog_orgs (tenant_id, sourced_id, seq);

CREATE TABLE changelog_academic_sessions (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    title TEXT,
    type TEXT,
    start_date TEXT,
    end_date TEXT,
    parent_sourced_id TEXT,
    school_year TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_academic_sessions_record ON changelog_academic_sessions (tenant_id, sourced_id, seq);

CREATE TABLE changelog_courses (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    school_year_sourced_id TEXT,
    title TEXT,
    course_code TEXT,
    grades TEXT,
    org_sourced_id TEXT,
    subjects TEXT,
    subject_codes TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_courses_record ON changelog_courses (tenant_id, sourced_id, seq);

CREATE TABLE changelog_classes (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    title TEXT,
    grades TEXT,
    course_sourced_id TEXT,
    class_code TEXT,
    class_type TEXT,
    location TEXT,
    school_sourced_id TEXT,
    term_sourced_ids TEXT,
    subjects TEXT,
    subject_codes TEXT,
    periods TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_classes_record ON changelog_classes (tenant_id, sourced_id, seq);

CREATE TABLE changelog_users (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    enabled_user TEXT,
    username TEXT,
    user_ids TEXT,
    given_name TEXT,
    family_name TEXT,
    middle_name TEXT,
    identifier TEXT,
    email TEXT,
    sms TEXT,
    phone TEXT,
    agent_sourced_ids TEXT,
    grades TEXT,
    password TEXT,
    user_master_identifier TEXT,
    resource_sourced_ids TEXT,
    preferred_given_name TEXT,
    preferred_middle_name TEXT,
    preferred_family_name TEXT,
    primary_org_sourced_id TEXT,
    pronouns TEXT,
    email_bidx TEXT,
    sms_bidx TEXT,
    phone_bidx TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_users_record ON changelog_users (tenant_id, sourced_id, seq);

CREATE TABLE changelog_user_profiles (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    user_sourced_id TEXT,
    profile_type TEXT,
    vendor_id TEXT,
    application_id TEXT,
    description TEXT,
    credential_type TEXT,
    username TEXT,
    password TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_user_profiles_record ON changelog_user_profiles (tenant_id, sourced_id, seq);

CREATE TABLE changelog_roles (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    user_sourced_id TEXT,
    role_type TEXT,
    role TEXT,
    begin_date TEXT,
    end_date TEXT,
    org_sourced_id TEXT,
    user_profile_sourced_id TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_roles_record ON changelog_roles (tenant_id, sourced_id, seq);

CREATE TABLE changelog_enrollments (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    class_sourced_id TEXT,
    school_sourced_id TEXT,
    user_sourced_id TEXT,
    role TEXT,
    is_primary TEXT,
    begin_date TEXT,
    end_date TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_enrollments_record ON changelog_enrollments (tenant_id, sourced_id, seq);

CREATE TABLE changelog_demographics (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sourced_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT,
    content_hash BLOB,
    source_date_last_modified INTEGER,
    birth_date TEXT,
    sex TEXT,
    american_indian_or_alaska_native TEXT,
    asian TEXT,
    black_or_african_american TEXT,
    native_hawaiian_or_other_pacific_islander TEXT,
    white TEXT,
    demographic_race_two_or_more_races TEXT,
    hispanic_or_latino_ethnicity TEXT,
    country_of_birth_code TEXT,
    state_of_birth_abbreviation TEXT,
    city_of_birth TEXT,
    public_school_residence_status TEXT,
    birth_date_bidx TEXT,
    metadata TEXT,
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_demographics_record ON changelog_demographics (tenant_id, sourced_id, seq);
