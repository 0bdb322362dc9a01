//! Closed vocabularies (ONEROSTER.md §1.8) as enums, with `ext:` extensions where allowed.

use super::entity::Vocab;

/// The tokens of each vocabulary, exactly as they appear on the wire.
pub fn tokens(vocab: Vocab) -> &'static [&'static str] {
    match vocab {
        Vocab::SessionType => &["gradingPeriod", "semester", "schoolYear", "term"],
        Vocab::OrgType => &[
            "department",
            "school",
            "district",
            "local",
            "state",
            "national",
        ],
        Vocab::ClassType => &["homeroom", "scheduled"],
        Vocab::EnrollmentRole => &["administrator", "proctor", "student", "teacher"],
        Vocab::RoleRole => &[
            "aide",
            "counselor",
            "districtAdministrator",
            "guardian",
            "parent",
            "principal",
            "proctor",
            "relative",
            "siteAdministrator",
            "student",
            "systemAdministrator",
            "teacher",
        ],
        Vocab::RoleType => &["primary", "secondary"],
        Vocab::Sex => &["male", "female", "unspecified", "other"],
    }
}

/// Whether the vocabulary accepts `ext:` tokens.
pub fn extensible(vocab: Vocab) -> bool {
    !matches!(vocab, Vocab::RoleType)
}

/// `ext:` followed by one or more of `[a-zA-Z0-9.\-_]` (the JSON schema pattern).
pub fn is_extension(value: &str) -> bool {
    value.strip_prefix("ext:").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    })
}

/// Why a value is not in a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VocabError {
    /// Not a token; `suggestion` is the token that differs only in case, if any.
    Unknown { suggestion: Option<&'static str> },
    /// An `ext:` token where the vocabulary is closed.
    ExtensionNotAllowed,
}

/// Checks a value against a vocabulary. Tokens are case-sensitive (CSV binding §3).
pub fn check(vocab: Vocab, value: &str) -> Result<(), VocabError> {
    let toks = tokens(vocab);
    if toks.contains(&value) {
        return Ok(());
    }
    if is_extension(value) {
        return if extensible(vocab) {
            Ok(())
        } else {
            Err(VocabError::ExtensionNotAllowed)
        };
    }
    let suggestion = toks.iter().copied().find(|t| t.eq_ignore_ascii_case(value));
    Err(VocabError::Unknown { suggestion })
}

macro_rules! vocab_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $token:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// An `ext:` extension token, kept verbatim.
            Ext(String),
        }

        impl $name {
            pub fn parse(value: &str) -> Option<Self> {
                match value {
                    $($token => Some(Self::$variant),)+
                    v if is_extension(v) => Some(Self::Ext(v.to_owned())),
                    _ => None,
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $token,)+
                    Self::Ext(v) => v,
                }
            }
        }
    };
}

vocab_enum!(
    /// `orgs.type`.
    OrgType { Department => "department", School => "school", District => "district",
              Local => "local", State => "state", National => "national" }
);
vocab_enum!(
    /// `academicSessions.type`.
    SessionType { GradingPeriod => "gradingPeriod", Semester => "semester",
                  SchoolYear => "schoolYear", Term => "term" }
);
vocab_enum!(
    /// `classes.classType`.
    ClassType { Homeroom => "homeroom", Scheduled => "scheduled" }
);
vocab_enum!(
    /// `enrollments.role`.
    EnrollmentRole { Administrator => "administrator", Proctor => "proctor",
                     Student => "student", Teacher => "teacher" }
);
vocab_enum!(
    /// `roles.role`.
    RoleName { Aide => "aide", Counselor => "counselor",
               DistrictAdministrator => "districtAdministrator", Guardian => "guardian",
               Parent => "parent", Principal => "principal", Proctor => "proctor",
               Relative => "relative", SiteAdministrator => "siteAdministrator",
               Student => "student", SystemAdministrator => "systemAdministrator",
               Teacher => "teacher" }
);
vocab_enum!(
    /// `demographics.sex`.
    Sex { Male => "male", Female => "female", Unspecified => "unspecified", Other => "other" }
);

/// `roles.roleType`: closed, no extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleType {
    Primary,
    Secondary,
}

/// The OneRoster record status. `inactive` (OneRoster 1.0) reads as `tobedeleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Active,
    ToBeDeleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::ToBeDeleted => "tobedeleted",
        }
    }

    pub fn parse(value: &str) -> Option<Status> {
        match value {
            "active" => Some(Status::Active),
            "tobedeleted" => Some(Status::ToBeDeleted),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_case_sensitive_and_suggest_the_right_case() {
        assert_eq!(check(Vocab::ClassType, "homeroom"), Ok(()));
        assert_eq!(
            check(Vocab::ClassType, "Scheduled"),
            Err(VocabError::Unknown {
                suggestion: Some("scheduled")
            })
        );
        assert_eq!(
            check(Vocab::OrgType, "campus"),
            Err(VocabError::Unknown { suggestion: None })
        );
    }

    #[test]
    fn extensions_follow_the_schema_pattern() {
        assert_eq!(check(Vocab::OrgType, "ext:campus"), Ok(()));
        assert!(check(Vocab::OrgType, "ext:").is_err());
        assert!(check(Vocab::OrgType, "ext:a b").is_err());
        assert_eq!(
            check(Vocab::RoleType, "ext:x"),
            Err(VocabError::ExtensionNotAllowed)
        );
    }

    #[test]
    fn enums_round_trip_every_token() {
        for t in tokens(Vocab::RoleRole) {
            assert_eq!(RoleName::parse(t).unwrap().as_str(), *t);
        }
        assert_eq!(
            OrgType::parse("ext:juku"),
            Some(OrgType::Ext("ext:juku".into()))
        );
        assert_eq!(Sex::parse("Male"), None);
        assert_eq!(Status::parse("inactive"), None);
    }
}
