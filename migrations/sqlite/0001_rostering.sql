-- The rostering tables, one per OneRoster entity. Every row carries tenant_id.
-- Content columns hold the normalised CSV text (NULL = no value); times are epoch milliseconds.
-- status and content_hash come first: the import's per-row probe reads only them.
-- date_last_modified is the server time of the import that last changed the record.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    status TEXT NOT NULL,
    profile TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    report TEXT NOT NULL
);
CREATE INDEX imports_tenant_started ON imports (tenant_id, started_at);

CREATE TABLE orgs (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
    source_date_last_modified INTEGER,
    name TEXT,
    type TEXT,
    identifier TEXT,
    parent_sourced_id TEXT,
    metadata TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX orgs_modified ON orgs (tenant_id, date_last_modified, sourced_id);
CREATE INDEX orgs_parent ON orgs (tenant_id, parent_sourced_id);

CREATE TABLE academic_sessions (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
    source_date_last_modified INTEGER,
    title TEXT,
    type TEXT,
    start_date TEXT,
    end_date TEXT,
    parent_sourced_id TEXT,
    school_year TEXT,
    metadata TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX academic_sessions_modified ON academic_sessions (tenant_id, date_last_modified, sourced_id);
CREATE INDEX academic_sessions_parent ON academic_sessions (tenant_id, parent_sourced_id);

CREATE TABLE courses (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
    source_date_last_modified INTEGER,
    school_year_sourced_id TEXT,
    title TEXT,
    course_code TEXT,
    grades TEXT,
    org_sourced_id TEXT,
    subjects TEXT,
    subject_codes TEXT,
    metadata TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX courses_modified ON courses (tenant_id, date_last_modified, sourced_id);
CREATE INDEX courses_org ON courses (tenant_id, org_sourced_id);
CREATE INDEX courses_school_year ON courses (tenant_id, school_year_sourced_id);

CREATE TABLE classes (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
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
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX classes_modified ON classes (tenant_id, date_last_modified, sourced_id);
CREATE INDEX classes_school ON classes (tenant_id, school_sourced_id);
CREATE INDEX classes_course ON classes (tenant_id, course_sourced_id);

CREATE TABLE users (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
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
    metadata TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX users_modified ON users (tenant_id, date_last_modified, sourced_id);

CREATE TABLE user_profiles (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
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
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX user_profiles_modified ON user_profiles (tenant_id, date_last_modified, sourced_id);
CREATE INDEX user_profiles_user ON user_profiles (tenant_id, user_sourced_id);

CREATE TABLE roles (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
    source_date_last_modified INTEGER,
    user_sourced_id TEXT,
    role_type TEXT,
    role TEXT,
    begin_date TEXT,
    end_date TEXT,
    org_sourced_id TEXT,
    user_profile_sourced_id TEXT,
    metadata TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX roles_modified ON roles (tenant_id, date_last_modified, sourced_id);
CREATE INDEX roles_user ON roles (tenant_id, user_sourced_id);
CREATE INDEX roles_org ON roles (tenant_id, org_sourced_id);

CREATE TABLE enrollments (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
    source_date_last_modified INTEGER,
    class_sourced_id TEXT,
    school_sourced_id TEXT,
    user_sourced_id TEXT,
    role TEXT,
    is_primary TEXT,
    begin_date TEXT,
    end_date TEXT,
    metadata TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX enrollments_modified ON enrollments (tenant_id, date_last_modified, sourced_id);
CREATE INDEX enrollments_class ON enrollments (tenant_id, class_sourced_id);
CREATE INDEX enrollments_user ON enrollments (tenant_id, user_sourced_id);
CREATE INDEX enrollments_school ON enrollments (tenant_id, school_sourced_id);

CREATE TABLE demographics (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    sourced_id TEXT NOT NULL,
    status TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    date_last_modified INTEGER NOT NULL,
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
    metadata TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    import_id TEXT,
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX demographics_modified ON demographics (tenant_id, date_last_modified, sourced_id);

INSERT INTO tenants (id, name, created_at) VALUES ('default', 'Default tenant', 0);
