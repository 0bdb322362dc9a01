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
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    seq BIGINT NOT NULL,
    import_id TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT,
    undo_of TEXT COLLATE "C",
    undone_by TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX changelog_imports_id ON changelog_imports (tenant_id, import_id);
CREATE INDEX changelog_imports_at ON changelog_imports (at);

CREATE TABLE changelog_loads (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    entity TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, seq, entity)
);

CREATE TABLE changelog_orgs (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    name TEXT COLLATE "C",
    type TEXT COLLATE "C",
    identifier TEXT COLLATE "C",
    parent_sourced_id TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_orgs_record ON changelog_orgs (tenant_id, sourced_id, seq);

CREATE TABLE changelog_academic_sessions (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    title TEXT COLLATE "C",
    type TEXT COLLATE "C",
    start_date TEXT COLLATE "C",
    end_date TEXT COLLATE "C",
    parent_sourced_id TEXT COLLATE "C",
    school_year TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_academic_sessions_record ON changelog_academic_sessions (tenant_id, sourced_id, seq);

CREATE TABLE changelog_courses (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    school_year_sourced_id TEXT COLLATE "C",
    title TEXT COLLATE "C",
    course_code TEXT COLLATE "C",
    grades TEXT COLLATE "C",
    org_sourced_id TEXT COLLATE "C",
    subjects TEXT COLLATE "C",
    subject_codes TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_courses_record ON changelog_courses (tenant_id, sourced_id, seq);

CREATE TABLE changelog_classes (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    title TEXT COLLATE "C",
    grades TEXT COLLATE "C",
    course_sourced_id TEXT COLLATE "C",
    class_code TEXT COLLATE "C",
    class_type TEXT COLLATE "C",
    location TEXT COLLATE "C",
    school_sourced_id TEXT COLLATE "C",
    term_sourced_ids TEXT COLLATE "C",
    subjects TEXT COLLATE "C",
    subject_codes TEXT COLLATE "C",
    periods TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_classes_record ON changelog_classes (tenant_id, sourced_id, seq);

CREATE TABLE changelog_users (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    enabled_user TEXT COLLATE "C",
    username TEXT COLLATE "C",
    user_ids TEXT COLLATE "C",
    given_name TEXT COLLATE "C",
    family_name TEXT COLLATE "C",
    middle_name TEXT COLLATE "C",
    identifier TEXT COLLATE "C",
    email TEXT COLLATE "C",
    sms TEXT COLLATE "C",
    phone TEXT COLLATE "C",
    agent_sourced_ids TEXT COLLATE "C",
    grades TEXT COLLATE "C",
    password TEXT COLLATE "C",
    user_master_identifier TEXT COLLATE "C",
    resource_sourced_ids TEXT COLLATE "C",
    preferred_given_name TEXT COLLATE "C",
    preferred_middle_name TEXT COLLATE "C",
    preferred_family_name TEXT COLLATE "C",
    primary_org_sourced_id TEXT COLLATE "C",
    pronouns TEXT COLLATE "C",
    email_bidx TEXT COLLATE "C",
    sms_bidx TEXT COLLATE "C",
    phone_bidx TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_users_record ON changelog_users (tenant_id, sourced_id, seq);

CREATE TABLE changelog_user_profiles (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    user_sourced_id TEXT COLLATE "C",
    profile_type TEXT COLLATE "C",
    vendor_id TEXT COLLATE "C",
    application_id TEXT COLLATE "C",
    description TEXT COLLATE "C",
    credential_type TEXT COLLATE "C",
    username TEXT COLLATE "C",
    password TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_user_profiles_record ON changelog_user_profiles (tenant_id, sourced_id, seq);

CREATE TABLE changelog_roles (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    user_sourced_id TEXT COLLATE "C",
    role_type TEXT COLLATE "C",
    role TEXT COLLATE "C",
    begin_date TEXT COLLATE "C",
    end_date TEXT COLLATE "C",
    org_sourced_id TEXT COLLATE "C",
    user_profile_sourced_id TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_roles_record ON changelog_roles (tenant_id, sourced_id, seq);

CREATE TABLE changelog_enrollments (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    class_sourced_id TEXT COLLATE "C",
    school_sourced_id TEXT COLLATE "C",
    user_sourced_id TEXT COLLATE "C",
    role TEXT COLLATE "C",
    is_primary TEXT COLLATE "C",
    begin_date TEXT COLLATE "C",
    end_date TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_enrollments_record ON changelog_enrollments (tenant_id, sourced_id, seq);

CREATE TABLE changelog_demographics (
    tenant_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    sourced_id TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C",
    content_hash BYTEA,
    source_date_last_modified BIGINT,
    birth_date TEXT COLLATE "C",
    sex TEXT COLLATE "C",
    american_indian_or_alaska_native TEXT COLLATE "C",
    asian TEXT COLLATE "C",
    black_or_african_american TEXT COLLATE "C",
    native_hawaiian_or_other_pacific_islander TEXT COLLATE "C",
    white TEXT COLLATE "C",
    demographic_race_two_or_more_races TEXT COLLATE "C",
    hispanic_or_latino_ethnicity TEXT COLLATE "C",
    country_of_birth_code TEXT COLLATE "C",
    state_of_birth_abbreviation TEXT COLLATE "C",
    city_of_birth TEXT COLLATE "C",
    public_school_residence_status TEXT COLLATE "C",
    birth_date_bidx TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, seq, sourced_id)
);
CREATE INDEX changelog_demographics_record ON changelog_demographics (tenant_id, sourced_id, seq);
