//! The rostering entities and the exact CSV columns of each (ONEROSTER.md §1.7, §2.2).
//!
//! Everything that walks over columns (validation, staging, SQL, export) is driven by these
//! tables, so a column is described once.

use std::fmt;

/// One rostering entity: one CSV file, one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Orgs,
    AcademicSessions,
    Courses,
    Classes,
    Users,
    UserProfiles,
    Roles,
    Enrollments,
    Demographics,
}

impl Entity {
    /// Dependency order: every entity only references entities before it (or itself).
    pub const ALL: [Entity; 9] = [
        Entity::Orgs,
        Entity::AcademicSessions,
        Entity::Courses,
        Entity::Classes,
        Entity::Users,
        Entity::UserProfiles,
        Entity::Roles,
        Entity::Enrollments,
        Entity::Demographics,
    ];

    /// The position in [`Entity::ALL`], for arrays indexed by entity.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in the manifest (`file.<name>`), in reports and in JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Orgs => "orgs",
            Entity::AcademicSessions => "academicSessions",
            Entity::Courses => "courses",
            Entity::Classes => "classes",
            Entity::Users => "users",
            Entity::UserProfiles => "userProfiles",
            Entity::Roles => "roles",
            Entity::Enrollments => "enrollments",
            Entity::Demographics => "demographics",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Entity::Orgs => "orgs.csv",
            Entity::AcademicSessions => "academicSessions.csv",
            Entity::Courses => "courses.csv",
            Entity::Classes => "classes.csv",
            Entity::Users => "users.csv",
            Entity::UserProfiles => "userProfiles.csv",
            Entity::Roles => "roles.csv",
            Entity::Enrollments => "enrollments.csv",
            Entity::Demographics => "demographics.csv",
        }
    }

    /// The database table holding this entity.
    pub fn table(self) -> &'static str {
        match self {
            Entity::Orgs => "orgs",
            Entity::AcademicSessions => "academic_sessions",
            Entity::Courses => "courses",
            Entity::Classes => "classes",
            Entity::Users => "users",
            Entity::UserProfiles => "user_profiles",
            Entity::Roles => "roles",
            Entity::Enrollments => "enrollments",
            Entity::Demographics => "demographics",
        }
    }

    pub fn from_name(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.name() == name)
    }

    /// The columns after `sourcedId,status,dateLastModified`, in CSV order.
    ///
    /// For users this is the OneRoster 1.2 shape, which includes `resourceSourcedIds`; the 1.2.1
    /// shape simply lacks that column (see [`Column::only_in_1_2`]).
    pub fn columns(self) -> &'static [Column] {
        match self {
            Entity::Orgs => ORGS,
            Entity::AcademicSessions => ACADEMIC_SESSIONS,
            Entity::Courses => COURSES,
            Entity::Classes => CLASSES,
            Entity::Users => USERS,
            Entity::UserProfiles => USER_PROFILES,
            Entity::Roles => ROLES,
            Entity::Enrollments => ENROLLMENTS,
            Entity::Demographics => DEMOGRAPHICS,
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Closed vocabularies of ONEROSTER.md §1.8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocab {
    SessionType,
    OrgType,
    ClassType,
    EnrollmentRole,
    RoleRole,
    RoleType,
    Sex,
}

/// What a column holds, which decides how it is validated and normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY`.
    Year,
    /// `true` / `false`.
    Bool,
    /// A closed vocabulary (some extensible with `ext:`).
    Enum(Vocab),
    /// A GUID reference to a record of the given entity.
    Ref(Entity),
    /// A comma list of GUID references.
    RefList(Entity),
    /// A comma list of strings (grades, subjects, periods).
    List,
    /// The users `userIds` list of `{type:identifier}`.
    UserIds,
    /// A list of grade codes (validated against the MEXT list in Japan Profile bundles).
    Grades,
}

/// The 21 `file.*` names of a OneRoster 1.2 manifest, in the binding's order (ONEROSTER.md
/// §1.5): the nine [`Entity`] files and the gradebook and resources files this server ignores.
/// The one list the manifest reader, the importer, the exporter and the generator use.
pub const FILE_NAMES: [&str; 21] = [
    "academicSessions",
    "categories",
    "classes",
    "classResources",
    "courses",
    "courseResources",
    "demographics",
    "enrollments",
    "lineItemLearningObjectiveIds",
    "lineItems",
    "lineItemScoreScales",
    "orgs",
    "resources",
    "resultLearningObjectiveIds",
    "results",
    "resultScoreScales",
    "roles",
    "scoreScales",
    "userProfiles",
    "userResources",
    "users",
];

/// One CSV column of a rostering file.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The exact CSV header.
    pub csv: &'static str,
    /// The database column (snake case).
    pub db: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// `users.resourceSourcedIds` exists in the OneRoster 1.2 users.csv only.
    pub only_in_1_2: bool,
}

const fn col(csv: &'static str, db: &'static str, kind: Kind, required: bool) -> Column {
    Column {
        csv,
        db,
        kind,
        required,
        only_in_1_2: false,
    }
}

use Kind::*;

const ORGS: &[Column] = &[
    col("name", "name", Text, true),
    col("type", "type", Enum(Vocab::OrgType), true),
    col("identifier", "identifier", Text, false),
    col(
        "parentSourcedId",
        "parent_sourced_id",
        Ref(Entity::Orgs),
        false,
    ),
];

const ACADEMIC_SESSIONS: &[Column] = &[
    col("title", "title", Text, true),
    col("type", "type", Enum(Vocab::SessionType), true),
    col("startDate", "start_date", Date, true),
    col("endDate", "end_date", Date, true),
    col(
        "parentSourcedId",
        "parent_sourced_id",
        Ref(Entity::AcademicSessions),
        false,
    ),
    col("schoolYear", "school_year", Year, true),
];

const COURSES: &[Column] = &[
    col(
        "schoolYearSourcedId",
        "school_year_sourced_id",
        Ref(Entity::AcademicSessions),
        false,
    ),
    col("title", "title", Text, true),
    col("courseCode", "course_code", Text, false),
    col("grades", "grades", Grades, false),
    col("orgSourcedId", "org_sourced_id", Ref(Entity::Orgs), true),
    col("subjects", "subjects", List, false),
    col("subjectCodes", "subject_codes", List, false),
];

const CLASSES: &[Column] = &[
    col("title", "title", Text, true),
    col("grades", "grades", Grades, false),
    col(
        "courseSourcedId",
        "course_sourced_id",
        Ref(Entity::Courses),
        true,
    ),
    col("classCode", "class_code", Text, false),
    col("classType", "class_type", Enum(Vocab::ClassType), true),
    col("location", "location", Text, false),
    col(
        "schoolSourcedId",
        "school_sourced_id",
        Ref(Entity::Orgs),
        true,
    ),
    col(
        "termSourcedIds",
        "term_sourced_ids",
        RefList(Entity::AcademicSessions),
        true,
    ),
    col("subjects", "subjects", List, false),
    col("subjectCodes", "subject_codes", List, false),
    col("periods", "periods", List, false),
];

const USERS: &[Column] = &[
    col("enabledUser", "enabled_user", Bool, true),
    col("username", "username", Text, true),
    col("userIds", "user_ids", UserIds, false),
    col("givenName", "given_name", Text, true),
    col("familyName", "family_name", Text, true),
    col("middleName", "middle_name", Text, false),
    col("identifier", "identifier", Text, false),
    col("email", "email", Text, false),
    col("sms", "sms", Text, false),
    col("phone", "phone", Text, false),
    col(
        "agentSourcedIds",
        "agent_sourced_ids",
        RefList(Entity::Users),
        false,
    ),
    col("grades", "grades", Grades, false),
    col("password", "password", Text, false),
    col(
        "userMasterIdentifier",
        "user_master_identifier",
        Text,
        false,
    ),
    Column {
        csv: "resourceSourcedIds",
        db: "resource_sourced_ids",
        kind: List,
        required: false,
        only_in_1_2: true,
    },
    col("preferredGivenName", "preferred_given_name", Text, false),
    col("preferredMiddleName", "preferred_middle_name", Text, false),
    col("preferredFamilyName", "preferred_family_name", Text, false),
    col(
        "primaryOrgSourcedId",
        "primary_org_sourced_id",
        Ref(Entity::Orgs),
        false,
    ),
    col("pronouns", "pronouns", Text, false),
];

const USER_PROFILES: &[Column] = &[
    col("userSourcedId", "user_sourced_id", Ref(Entity::Users), true),
    col("profileType", "profile_type", Text, true),
    col("vendorId", "vendor_id", Text, true),
    col("applicationId", "application_id", Text, false),
    col("description", "description", Text, false),
    col("credentialType", "credential_type", Text, true),
    col("username", "username", Text, true),
    col("password", "password", Text, false),
];

const ROLES: &[Column] = &[
    col("userSourcedId", "user_sourced_id", Ref(Entity::Users), true),
    col("roleType", "role_type", Enum(Vocab::RoleType), true),
    col("role", "role", Enum(Vocab::RoleRole), true),
    col("beginDate", "begin_date", Date, false),
    col("endDate", "end_date", Date, false),
    col("orgSourcedId", "org_sourced_id", Ref(Entity::Orgs), true),
    col(
        "userProfileSourcedId",
        "user_profile_sourced_id",
        Ref(Entity::UserProfiles),
        false,
    ),
];

const ENROLLMENTS: &[Column] = &[
    col(
        "classSourcedId",
        "class_sourced_id",
        Ref(Entity::Classes),
        true,
    ),
    col(
        "schoolSourcedId",
        "school_sourced_id",
        Ref(Entity::Orgs),
        true,
    ),
    col("userSourcedId", "user_sourced_id", Ref(Entity::Users), true),
    col("role", "role", Enum(Vocab::EnrollmentRole), true),
    col("primary", "is_primary", Bool, false),
    col("beginDate", "begin_date", Date, false),
    col("endDate", "end_date", Date, false),
];

const DEMOGRAPHICS: &[Column] = &[
    col("birthDate", "birth_date", Date, false),
    col("sex", "sex", Enum(Vocab::Sex), false),
    col(
        "americanIndianOrAlaskaNative",
        "american_indian_or_alaska_native",
        Bool,
        false,
    ),
    col("asian", "asian", Bool, false),
    col(
        "blackOrAfricanAmerican",
        "black_or_african_american",
        Bool,
        false,
    ),
    col(
        "nativeHawaiianOrOtherPacificIslander",
        "native_hawaiian_or_other_pacific_islander",
        Bool,
        false,
    ),
    col("white", "white", Bool, false),
    col(
        "demographicRaceTwoOrMoreRaces",
        "demographic_race_two_or_more_races",
        Bool,
        false,
    ),
    col(
        "hispanicOrLatinoEthnicity",
        "hispanic_or_latino_ethnicity",
        Bool,
        false,
    ),
    col("countryOfBirthCode", "country_of_birth_code", Text, false),
    col(
        "stateOfBirthAbbreviation",
        "state_of_birth_abbreviation",
        Text,
        false,
    ),
    col("cityOfBirth", "city_of_birth", Text, false),
    col(
        "publicSchoolResidenceStatus",
        "public_school_residence_status",
        Text,
        false,
    ),
];

/// The three columns every rostering file starts with.
pub const LEADING: [&str; 3] = ["sourcedId", "status", "dateLastModified"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_only_reference_earlier_entities_or_themselves() {
        for (i, e) in Entity::ALL.iter().enumerate() {
            for c in e.columns() {
                if let Kind::Ref(t) | Kind::RefList(t) = c.kind {
                    let j = Entity::ALL.iter().position(|x| *x == t).unwrap();
                    assert!(j <= i, "{}.{} references {} which comes later", e, c.csv, t);
                }
            }
        }
    }

    #[test]
    fn index_is_the_position_in_all() {
        for (i, e) in Entity::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
        }
    }

    #[test]
    fn names_round_trip() {
        for e in Entity::ALL {
            assert_eq!(Entity::from_name(e.name()), Some(e));
            assert_eq!(e.file_name(), format!("{}.csv", e.name()));
        }
    }
}
