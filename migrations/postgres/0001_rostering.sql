-- The rostering tables, one per OneRoster entity. Every row carries tenant_id.
-- Content columns hold the normalised CSV text (NULL = no value); times are epoch milliseconds.
-- Text sorts byte-wise (COLLATE "C") so paging order matches SQLite's.
-- status and content_hash come first: the import's per-row probe reads only them.
-- date_last_modified is the server time of the import that last changed the record.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    status TEXT NOT NULL,
    profile TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    report TEXT NOT NULL
);
CREATE INDEX imports_tenant_started ON imports (tenant_id, started_at);

CREATE TABLE orgs (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
    source_date_last_modified BIGINT,
    name TEXT COLLATE "C",
    type TEXT COLLATE "C",
    identifier TEXT COLLATE "C",
    parent_sourced_id TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX orgs_modified ON orgs (tenant_id, date_last_modified, sourced_id);
CREATE INDEX orgs_parent ON orgs (tenant_id, parent_sourced_id);

CREATE TABLE academic_sessions (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
    source_date_last_modified BIGINT,
    title TEXT COLLATE "C",
    type TEXT COLLATE "C",
    start_date TEXT COLLATE "C",
    end_date TEXT COLLATE "C",
    parent_sourced_id TEXT COLLATE "C",
    school_year TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX academic_sessions_modified ON academic_sessions (tenant_id, date_last_modified, sourced_id);
CREATE INDEX academic_sessions_parent ON academic_sessions (tenant_id, parent_sourced_id);

CREATE TABLE courses (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
    source_date_last_modified BIGINT,
    school_year_sourced_id TEXT COLLATE "C",
    title TEXT COLLATE "C",
    course_code TEXT COLLATE "C",
    grades TEXT COLLATE "C",
    org_sourced_id TEXT COLLATE "C",
    subjects TEXT COLLATE "C",
    subject_codes TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX courses_modified ON courses (tenant_id, date_last_modified, sourced_id);
CREATE INDEX courses_org ON courses (tenant_id, org_sourced_id);
CREATE INDEX courses_school_year ON courses (tenant_id, school_year_sourced_id);

CREATE TABLE classes (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
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
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX classes_modified ON classes (tenant_id, date_last_modified, sourced_id);
CREATE INDEX classes_school ON classes (tenant_id, school_sourced_id);
CREATE INDEX classes_course ON classes (tenant_id, course_sourced_id);

CREATE TABLE users (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
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
    metadata TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX users_modified ON users (tenant_id, date_last_modified, sourced_id);

CREATE TABLE user_profiles (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
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
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX user_profiles_modified ON user_profiles (tenant_id, date_last_modified, sourced_id);
CREATE INDEX user_profiles_user ON user_profiles (tenant_id, user_sourced_id);

CREATE TABLE roles (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
    source_date_last_modified BIGINT,
    user_sourced_id TEXT COLLATE "C",
    role_type TEXT COLLATE "C",
    role TEXT COLLATE "C",
    begin_date TEXT COLLATE "C",
    end_date TEXT COLLATE "C",
    org_sourced_id TEXT COLLATE "C",
    user_profile_sourced_id TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX roles_modified ON roles (tenant_id, date_last_modified, sourced_id);
CREATE INDEX roles_user ON roles (tenant_id, user_sourced_id);
CREATE INDEX roles_org ON roles (tenant_id, org_sourced_id);

CREATE TABLE enrollments (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
    source_date_last_modified BIGINT,
    class_sourced_id TEXT COLLATE "C",
    school_sourced_id TEXT COLLATE "C",
    user_sourced_id TEXT COLLATE "C",
    role TEXT COLLATE "C",
    is_primary TEXT COLLATE "C",
    begin_date TEXT COLLATE "C",
    end_date TEXT COLLATE "C",
    metadata TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX enrollments_modified ON enrollments (tenant_id, date_last_modified, sourced_id);
CREATE INDEX enrollments_class ON enrollments (tenant_id, class_sourced_id);
CREATE INDEX enrollments_user ON enrollments (tenant_id, user_sourced_id);
CREATE INDEX enrollments_school ON enrollments (tenant_id, school_sourced_id);

CREATE TABLE demographics (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    sourced_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    content_hash BYTEA NOT NULL,
    date_last_modified BIGINT NOT NULL,
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
    metadata TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    import_id TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, sourced_id)
);
CREATE INDEX demographics_modified ON demographics (tenant_id, date_last_modified, sourced_id);

INSERT INTO tenants (id, name, created_at) VALUES ('default', 'Default tenant', 0);
