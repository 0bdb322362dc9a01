//! JSON exactly as the official OneRoster 1.2 schemas say (ONEROSTER.md §3.4): wrapper keys,
//! string booleans, GUIDRefs `{href, sourcedId, type}`, no nulls (absent values are omitted),
//! JSON names where they differ from CSV, metadata as flat `"jp.kanaGivenName"` keys.

use serde_json::{Map, Value};

use crate::domain::Entity;
use crate::domain::datetime::format_ms;
use crate::domain::ids::is_uuid_v4_lower;
use crate::storage::read::Record;

/// Builds `href`s: `{base}/ims/oneroster/rostering/v1p2/{collection}/{id}`.
#[derive(Debug, Clone)]
pub struct Links {
    pub api_base: String,
    /// Emit `metadata` as `{"jp": {"kanaGivenName": …}}` instead of flat keys.
    pub nested_metadata: bool,
}

impl Links {
    fn guid_ref(&self, collection: &str, kind: &str, id: &str) -> Value {
        let mut m = Map::with_capacity(3);
        m.insert(
            "href".into(),
            format!("{}/{collection}/{id}", self.api_base).into(),
        );
        m.insert("sourcedId".into(), id.into());
        m.insert("type".into(), kind.into());
        Value::Object(m)
    }
}

/// The related rows a record's JSON needs besides its own columns.
#[derive(Debug, Default, Clone)]
pub struct Extras {
    /// Role rows: user, roleType, role, org, beginDate, endDate, userProfile, status.
    pub roles: Vec<Vec<Option<String>>>,
    /// Profile rows: user, sourcedId, profileType, vendorId, applicationId, description,
    /// credentialType, username, password, status.
    pub profiles: Vec<Vec<Option<String>>>,
    /// `children`: (parent, child) sourcedIds.
    pub children: Vec<(String, String)>,
}

struct Obj<'a> {
    m: Map<String, Value>,
    r: &'a Record,
    e: Entity,
    links: &'a Links,
}

impl Obj<'_> {
    fn v(&self, db: &str) -> Option<&str> {
        self.r.get(self.e, db).filter(|v| !v.is_empty())
    }

    fn str(&mut self, key: &str, db: &str) {
        if let Some(v) = self.v(db) {
            self.m.insert(key.into(), v.into());
        }
    }

    /// A required string: `""` when the CSV left it empty (JSON requires it).
    fn required(&mut self, key: &str, db: &str) {
        let v = self.v(db).unwrap_or("").to_owned();
        self.m.insert(key.into(), v.into());
    }

    fn list(&mut self, key: &str, db: &str) {
        if let Some(v) = self.v(db) {
            let items: Vec<Value> = v
                .split(',')
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect();
            self.m.insert(key.into(), Value::Array(items));
        }
    }

    fn reference(&mut self, key: &str, db: &str, collection: &str, kind: &str) {
        if let Some(id) = self.v(db) {
            let r = self.links.guid_ref(collection, kind, id);
            self.m.insert(key.into(), r);
        }
    }

    fn references(&mut self, key: &str, db: &str, collection: &str, kind: &str) {
        if let Some(v) = self.v(db) {
            let refs: Vec<Value> = v
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|id| self.links.guid_ref(collection, kind, id))
                .collect();
            self.m.insert(key.into(), Value::Array(refs));
        }
    }
}

fn metadata(text: &str, nested: bool) -> Option<Value> {
    let Ok(Value::Object(flat)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    if flat.is_empty() {
        return None;
    }
    if !nested {
        return Some(Value::Object(flat));
    }
    let mut out = Map::new();
    for (k, v) in flat {
        match k.split_once('.') {
            Some((ns, rest)) => {
                let entry = out
                    .entry(ns.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(inner) = entry {
                    inner.insert(rest.to_owned(), v);
                }
            }
            None => {
                out.insert(k, v);
            }
        }
    }
    Some(Value::Object(out))
}

/// The `profileId` URI of a userProfile: `urn:uuid:` for UUIDs, else a RosterHub URN.
pub fn profile_id(sourced_id: &str) -> String {
    if is_uuid_v4_lower(sourced_id) || uuid::Uuid::parse_str(sourced_id).is_ok() {
        format!("urn:uuid:{sourced_id}")
    } else {
        format!("urn:rosterhub:userProfile:{sourced_id}")
    }
}

/// One record as its OneRoster JSON object.
pub fn to_json(e: Entity, r: &Record, links: &Links, extras: &Extras) -> Value {
    let mut o = Obj {
        m: Map::with_capacity(24),
        r,
        e,
        links,
    };
    o.m.insert("sourcedId".into(), r.sourced_id.clone().into());
    o.m.insert("status".into(), r.status.clone().into());
    o.m.insert("dateLastModified".into(), format_ms(r.modified).into());
    if let Some(m) = r
        .metadata
        .as_deref()
        .and_then(|t| metadata(t, links.nested_metadata))
    {
        o.m.insert("metadata".into(), m);
    }
    match e {
        Entity::AcademicSessions => {
            o.required("title", "title");
            o.required("startDate", "start_date");
            o.required("endDate", "end_date");
            o.required("type", "type");
            o.reference(
                "parent",
                "parent_sourced_id",
                "academicSessions",
                "academicSession",
            );
            children(&mut o, extras, "academicSessions", "academicSession");
            o.required("schoolYear", "school_year");
        }
        Entity::Orgs => {
            o.required("name", "name");
            o.required("type", "type");
            o.required("identifier", "identifier");
            o.reference("parent", "parent_sourced_id", "orgs", "org");
            children(&mut o, extras, "orgs", "org");
        }
        Entity::Courses => {
            o.required("title", "title");
            o.reference(
                "schoolYear",
                "school_year_sourced_id",
                "academicSessions",
                "academicSession",
            );
            o.required("courseCode", "course_code");
            o.list("grades", "grades");
            o.list("subjects", "subjects");
            o.reference("org", "org_sourced_id", "orgs", "org");
            o.list("subjectCodes", "subject_codes");
        }
        Entity::Classes => {
            o.required("title", "title");
            o.str("classCode", "class_code");
            o.str("classType", "class_type");
            o.str("location", "location");
            o.list("grades", "grades");
            o.list("subjects", "subjects");
            o.reference("course", "course_sourced_id", "courses", "course");
            o.reference("school", "school_sourced_id", "orgs", "org");
            o.references(
                "terms",
                "term_sourced_ids",
                "academicSessions",
                "academicSession",
            );
            o.list("subjectCodes", "subject_codes");
            o.list("periods", "periods");
        }
        Entity::Enrollments => {
            o.reference("user", "user_sourced_id", "users", "user");
            o.reference("class", "class_sourced_id", "classes", "class");
            o.reference("school", "school_sourced_id", "orgs", "org");
            o.required("role", "role");
            o.str("primary", "is_primary");
            o.str("beginDate", "begin_date");
            o.str("endDate", "end_date");
        }
        Entity::Demographics => {
            for (key, db) in [
                ("birthDate", "birth_date"),
                ("sex", "sex"),
                (
                    "americanIndianOrAlaskaNative",
                    "american_indian_or_alaska_native",
                ),
                ("asian", "asian"),
                ("blackOrAfricanAmerican", "black_or_african_american"),
                (
                    "nativeHawaiianOrOtherPacificIslander",
                    "native_hawaiian_or_other_pacific_islander",
                ),
                ("white", "white"),
                (
                    "demographicRaceTwoOrMoreRaces",
                    "demographic_race_two_or_more_races",
                ),
                ("hispanicOrLatinoEthnicity", "hispanic_or_latino_ethnicity"),
                ("countryOfBirthCode", "country_of_birth_code"),
                ("stateOfBirthAbbreviation", "state_of_birth_abbreviation"),
                ("cityOfBirth", "city_of_birth"),
                (
                    "publicSchoolResidenceStatus",
                    "public_school_residence_status",
                ),
            ] {
                o.str(key, db);
            }
        }
        Entity::Users => user(&mut o, extras),
        Entity::Roles | Entity::UserProfiles => {}
    }
    Value::Object(o.m)
}

fn children(o: &mut Obj<'_>, extras: &Extras, collection: &str, kind: &str) {
    let kids: Vec<Value> = extras
        .children
        .iter()
        .filter(|(p, _)| *p == o.r.sourced_id)
        .map(|(_, c)| o.links.guid_ref(collection, kind, c))
        .collect();
    if !kids.is_empty() {
        o.m.insert("children".into(), Value::Array(kids));
    }
}

fn cell(row: &[Option<String>], i: usize) -> Option<&str> {
    row.get(i)
        .and_then(|c| c.as_deref())
        .filter(|c| !c.is_empty())
}

fn user(o: &mut Obj<'_>, extras: &Extras) {
    o.str("userMasterIdentifier", "user_master_identifier");
    o.str("username", "username");
    if let Some(ids) = o.v("user_ids") {
        let parsed: Vec<Value> = crate::domain::ids::split_user_ids(ids)
            .filter_map(|p| {
                let inner = p.strip_prefix('{')?.strip_suffix('}')?;
                let (t, i) = inner.split_once(':')?;
                let mut m = Map::new();
                m.insert("type".into(), t.into());
                m.insert("identifier".into(), i.into());
                Some(Value::Object(m))
            })
            .collect();
        o.m.insert("userIds".into(), Value::Array(parsed));
    }
    o.required("enabledUser", "enabled_user");
    o.required("givenName", "given_name");
    o.required("familyName", "family_name");
    o.str("middleName", "middle_name");
    o.str("preferredFirstName", "preferred_given_name");
    o.str("preferredMiddleName", "preferred_middle_name");
    o.str("preferredLastName", "preferred_family_name");
    o.str("pronouns", "pronouns");
    let id = o.r.sourced_id.as_str();
    let mine: Vec<&Vec<Option<String>>> = extras
        .roles
        .iter()
        .filter(|r| cell(r, 0) == Some(id))
        .collect();
    // Active roles; a tombstoned user whose roles are all tombstoned still shows them
    // (the schema wants at least one).
    let active: Vec<&&Vec<Option<String>>> = mine
        .iter()
        .filter(|r| cell(r, 7) == Some("active"))
        .collect();
    let shown: Vec<&Vec<Option<String>>> = if active.is_empty() {
        mine.clone()
    } else {
        active.into_iter().copied().collect()
    };
    let roles: Vec<Value> = shown
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("roleType".into(), cell(r, 1).unwrap_or("").into());
            m.insert("role".into(), cell(r, 2).unwrap_or("").into());
            if let Some(org) = cell(r, 3) {
                m.insert("org".into(), o.links.guid_ref("orgs", "org", org));
            }
            if let Some(p) = cell(r, 6) {
                m.insert("userProfile".into(), profile_id(p).into());
            }
            if let Some(b) = cell(r, 4) {
                m.insert("beginDate".into(), b.into());
            }
            if let Some(e) = cell(r, 5) {
                m.insert("endDate".into(), e.into());
            }
            Value::Object(m)
        })
        .collect();
    o.m.insert("roles".into(), Value::Array(roles));
    let profiles: Vec<Value> = extras
        .profiles
        .iter()
        .filter(|p| cell(p, 0) == Some(id) && cell(p, 9) == Some("active"))
        .map(|p| {
            let mut m = Map::new();
            m.insert(
                "profileId".into(),
                profile_id(cell(p, 1).unwrap_or("")).into(),
            );
            m.insert("profileType".into(), cell(p, 2).unwrap_or("").into());
            m.insert("vendorId".into(), cell(p, 3).unwrap_or("").into());
            if let Some(a) = cell(p, 4) {
                m.insert("applicationId".into(), a.into());
            }
            if let Some(d) = cell(p, 5) {
                m.insert("description".into(), d.into());
            }
            let mut cred = Map::new();
            cred.insert("type".into(), cell(p, 6).unwrap_or("").into());
            cred.insert("username".into(), cell(p, 7).unwrap_or("").into());
            if let Some(pw) = cell(p, 8) {
                cred.insert("password".into(), pw.into());
            }
            m.insert(
                "credentials".into(),
                Value::Array(vec![Value::Object(cred)]),
            );
            Value::Object(m)
        })
        .collect();
    if !profiles.is_empty() {
        o.m.insert("userProfiles".into(), Value::Array(profiles));
    }
    o.reference("primaryOrg", "primary_org_sourced_id", "orgs", "org");
    o.str("identifier", "identifier");
    o.str("email", "email");
    o.str("sms", "sms");
    o.str("phone", "phone");
    o.references("agents", "agent_sourced_ids", "users", "user");
    o.list("grades", "grades");
    o.str("password", "password");
}

/// The top-level JSON field names each entity can have (for `fields`).
pub fn known_fields(e: Entity) -> &'static [&'static str] {
    const BASE: [&str; 4] = ["sourcedId", "status", "dateLastModified", "metadata"];
    match e {
        Entity::AcademicSessions => &[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            "title",
            "startDate",
            "endDate",
            "type",
            "parent",
            "children",
            "schoolYear",
        ],
        Entity::Orgs => &[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            "name",
            "type",
            "identifier",
            "parent",
            "children",
        ],
        Entity::Courses => &[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            "title",
            "schoolYear",
            "courseCode",
            "grades",
            "subjects",
            "org",
            "subjectCodes",
            "resources",
        ],
        Entity::Classes => &[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            "title",
            "classCode",
            "classType",
            "location",
            "grades",
            "subjects",
            "course",
            "school",
            "terms",
            "subjectCodes",
            "periods",
            "resources",
        ],
        Entity::Enrollments => &[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            "user",
            "class",
            "school",
            "role",
            "primary",
            "beginDate",
            "endDate",
        ],
        Entity::Demographics => &[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            "birthDate",
            "sex",
            "americanIndianOrAlaskaNative",
            "asian",
            "blackOrAfricanAmerican",
            "nativeHawaiianOrOtherPacificIslander",
            "white",
            "demographicRaceTwoOrMoreRaces",
            "hispanicOrLatinoEthnicity",
            "countryOfBirthCode",
            "stateOfBirthAbbreviation",
            "cityOfBirth",
            "publicSchoolResidenceStatus",
        ],
        Entity::Users => &[
            BASE[0],
            BASE[1],
            BASE[2],
            BASE[3],
            "userMasterIdentifier",
            "username",
            "userIds",
            "enabledUser",
            "givenName",
            "familyName",
            "middleName",
            "preferredFirstName",
            "preferredMiddleName",
            "preferredLastName",
            "pronouns",
            "roles",
            "userProfiles",
            "primaryOrg",
            "identifier",
            "email",
            "sms",
            "phone",
            "agents",
            "grades",
            "password",
            "resources",
        ],
        Entity::Roles | Entity::UserProfiles => &BASE,
    }
}

/// Keeps only the selected top-level fields.
pub fn select_fields(v: Value, fields: Option<&[String]>) -> Value {
    match (v, fields) {
        (Value::Object(m), Some(f)) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| f.iter().any(|x| x == k))
                .collect(),
        ),
        (v, _) => v,
    }
}
