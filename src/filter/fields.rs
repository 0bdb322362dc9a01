//! The filterable JSON fields of each resource (ONEROSTER.md §3.4) and where each is stored.
//!
//! Every column name that can reach SQL comes from the static tables below.

use std::fmt;

use super::Resource;

/// How a field's stored text compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// Free text or a vocabulary token; compared byte-wise.
    Text,
    /// `YYYY-MM-DD` text; compares correctly as text.
    Date,
    /// `dateLastModified`: stored as epoch milliseconds, compared as a number.
    DateTime,
    /// The text `true` / `false`.
    Bool,
    /// `YYYY` text.
    Year,
}

/// A JSON field bound to one database column. Only the tables of this module create these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnRef {
    name: &'static str,
    column: &'static str,
    kind: ValueKind,
}

impl ColumnRef {
    /// The canonical JSON path (`school.sourcedId`, `preferredFirstName`, `roles.role`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The column: of the resource's table, or of `roles` for [`Field::Role`].
    pub fn column(&self) -> &'static str {
        self.column
    }

    pub fn kind(&self) -> ValueKind {
        self.kind
    }
}

/// A filterable field of one resource, with its storage meaning.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// One value in a column of the resource's table.
    Scalar(ColumnRef),
    /// A comma-joined list in a column of the resource's table (`=` means "any element equals").
    List(ColumnRef),
    /// A column of the user's active `roles` rows (`=` means "some role has it").
    Role(ColumnRef),
    /// `metadata.<key>`: one key of the record's metadata object.
    Metadata(String),
}

impl Field {
    /// The canonical name, as [`std::fmt::Display`] prints it.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// How the value compares: metadata values are text.
    pub fn kind(&self) -> ValueKind {
        match self {
            Field::Scalar(c) | Field::List(c) | Field::Role(c) => c.kind,
            Field::Metadata(_) => ValueKind::Text,
        }
    }

    /// Resolves a JSON field path of `resource`.
    pub fn resolve(resource: Resource, name: &str) -> Option<Field> {
        if let Some(key) = name.strip_prefix("metadata.") {
            return valid_metadata_key(key).then(|| Field::Metadata(key.to_owned()));
        }
        if resource == Resource::Users && name == "role" {
            // OneRoster 1.1 clients filter users on a single `role` (ONEROSTER.md §3.5).
            return Some(Field::Role(ROLE_ROLE));
        }
        COMMON
            .iter()
            .chain(table(resource))
            .find(|e| e.col.name == name)
            .map(Entry::field)
    }

    /// The fields a resource can be filtered on, `metadata.*` aside (for docs and tests).
    pub fn all(resource: Resource) -> Vec<Field> {
        COMMON
            .iter()
            .chain(table(resource))
            .map(Entry::field)
            .collect()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Scalar(c) | Field::List(c) | Field::Role(c) => f.write_str(c.name),
            Field::Metadata(key) => write!(f, "metadata.{key}"),
        }
    }
}

/// Metadata keys are dotted names (`jp.kanaGivenName`): letters, digits, `.`, `_`, `-`.
pub(super) fn valid_metadata_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(is_field_byte)
}

/// The bytes a field path is made of.
pub(super) fn is_field_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Scalar,
    List,
    Role,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    shape: Shape,
    col: ColumnRef,
}

impl Entry {
    fn field(&self) -> Field {
        match self.shape {
            Shape::Scalar => Field::Scalar(self.col),
            Shape::List => Field::List(self.col),
            Shape::Role => Field::Role(self.col),
        }
    }
}

use ValueKind::{Bool, Date, DateTime, Text, Year};

const fn s(name: &'static str, column: &'static str, kind: ValueKind) -> Entry {
    Entry {
        shape: Shape::Scalar,
        col: ColumnRef { name, column, kind },
    }
}

const fn l(name: &'static str, column: &'static str) -> Entry {
    Entry {
        shape: Shape::List,
        col: ColumnRef {
            name,
            column,
            kind: Text,
        },
    }
}

const fn r(name: &'static str, column: &'static str, kind: ValueKind) -> Entry {
    Entry {
        shape: Shape::Role,
        col: ColumnRef { name, column, kind },
    }
}

const ROLE_ROLE: ColumnRef = r("roles.role", "role", Text).col;

fn table(resource: Resource) -> &'static [Entry] {
    match resource {
        Resource::Orgs => ORGS,
        Resource::AcademicSessions => ACADEMIC_SESSIONS,
        Resource::Courses => COURSES,
        Resource::Classes => CLASSES,
        Resource::Users => USERS,
        Resource::Enrollments => ENROLLMENTS,
        Resource::Demographics => DEMOGRAPHICS,
    }
}

const COMMON: &[Entry] = &[
    s("sourcedId", "sourced_id", Text),
    s("status", "status", Text),
    s("dateLastModified", "date_last_modified", DateTime),
];

const ORGS: &[Entry] = &[
    s("name", "name", Text),
    s("type", "type", Text),
    s("identifier", "identifier", Text),
    s("parent.sourcedId", "parent_sourced_id", Text),
];

const ACADEMIC_SESSIONS: &[Entry] = &[
    s("title", "title", Text),
    s("type", "type", Text),
    s("startDate", "start_date", Date),
    s("endDate", "end_date", Date),
    s("parent.sourcedId", "parent_sourced_id", Text),
    s("schoolYear", "school_year", Year),
];

const COURSES: &[Entry] = &[
    s("schoolYear.sourcedId", "school_year_sourced_id", Text),
    s("title", "title", Text),
    s("courseCode", "course_code", Text),
    l("grades", "grades"),
    s("org.sourcedId", "org_sourced_id", Text),
    l("subjects", "subjects"),
    l("subjectCodes", "subject_codes"),
];

const CLASSES: &[Entry] = &[
    s("title", "title", Text),
    l("grades", "grades"),
    s("course.sourcedId", "course_sourced_id", Text),
    s("classCode", "class_code", Text),
    s("classType", "class_type", Text),
    s("location", "location", Text),
    s("school.sourcedId", "school_sourced_id", Text),
    l("terms.sourcedId", "term_sourced_ids"),
    l("subjects", "subjects"),
    l("subjectCodes", "subject_codes"),
    l("periods", "periods"),
];

// `password` is deliberately absent: filtering on it would let a client probe passwords.
// `userIds` (a list of {type, identifier} pairs) is not filterable.
const USERS: &[Entry] = &[
    s("enabledUser", "enabled_user", Bool),
    s("username", "username", Text),
    s("givenName", "given_name", Text),
    s("familyName", "family_name", Text),
    s("middleName", "middle_name", Text),
    s("identifier", "identifier", Text),
    s("email", "email", Text),
    s("sms", "sms", Text),
    s("phone", "phone", Text),
    l("agents.sourcedId", "agent_sourced_ids"),
    l("grades", "grades"),
    s("userMasterIdentifier", "user_master_identifier", Text),
    l("resources.sourcedId", "resource_sourced_ids"),
    s("preferredFirstName", "preferred_given_name", Text),
    s("preferredMiddleName", "preferred_middle_name", Text),
    s("preferredLastName", "preferred_family_name", Text),
    s("primaryOrg.sourcedId", "primary_org_sourced_id", Text),
    s("pronouns", "pronouns", Text),
    r("roles.role", "role", Text),
    r("roles.roleType", "role_type", Text),
    r("roles.org.sourcedId", "org_sourced_id", Text),
    r("roles.beginDate", "begin_date", Date),
    r("roles.endDate", "end_date", Date),
];

const ENROLLMENTS: &[Entry] = &[
    s("class.sourcedId", "class_sourced_id", Text),
    s("school.sourcedId", "school_sourced_id", Text),
    s("user.sourcedId", "user_sourced_id", Text),
    s("role", "role", Text),
    s("primary", "is_primary", Bool),
    s("beginDate", "begin_date", Date),
    s("endDate", "end_date", Date),
];

const DEMOGRAPHICS: &[Entry] = &[
    s("birthDate", "birth_date", Date),
    s("sex", "sex", Text),
    s(
        "americanIndianOrAlaskaNative",
        "american_indian_or_alaska_native",
        Bool,
    ),
    s("asian", "asian", Bool),
    s("blackOrAfricanAmerican", "black_or_african_american", Bool),
    s(
        "nativeHawaiianOrOtherPacificIslander",
        "native_hawaiian_or_other_pacific_islander",
        Bool,
    ),
    s("white", "white", Bool),
    s(
        "demographicRaceTwoOrMoreRaces",
        "demographic_race_two_or_more_races",
        Bool,
    ),
    s(
        "hispanicOrLatinoEthnicity",
        "hispanic_or_latino_ethnicity",
        Bool,
    ),
    s("countryOfBirthCode", "country_of_birth_code", Text),
    s(
        "stateOfBirthAbbreviation",
        "state_of_birth_abbreviation",
        Text,
    ),
    s("cityOfBirth", "city_of_birth", Text),
    s(
        "publicSchoolResidenceStatus",
        "public_school_residence_status",
        Text,
    ),
];
