//! The mapping engine: source lists (児童生徒名簿, 教職員名簿, …) → the rows of a OneRoster
//! Japan Profile bundle, with a provenance map from every bundle row and column back to the
//! source file, line and header it came from.
//!
//! Every sourcedId is a hash (UUIDv5, v4-stamped) of a school-local key (school code +
//! 児童生徒番号, …) under a per-tenant namespace: next week's list yields the same ids, so the import pipeline sees
//! only what really changed.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::profile::{Bound, Kind, MappingProfile, Piece, School, Source};
pub use super::source::SourceFile;
use super::source::read;
pub use super::table::{Origin, Table};
use super::{dates, grades, text};
use crate::domain::Entity;
use crate::import::{Finding, Severity};

#[derive(Debug, Clone, Default)]
pub struct MapOptions {
    pub tenant: String,
    /// `--school CODE[:NAME]`: used when a file has no 学校コード column.
    pub school: Option<School>,
    /// `--school-year`: else the profile's, else the 年度 of `today`.
    pub school_year: Option<i32>,
    pub today: (i32, u32, u32),
}

/// What the engine made of the source files.
#[derive(Debug, Default)]
pub struct Mapped {
    pub files: Vec<String>,
    /// Per source file: the layout chosen and the encoding found.
    pub detected: Vec<(String, String)>,
    /// Per source file: field → the header (or template) it was read from.
    pub columns: Vec<BTreeMap<&'static str, String>>,
    pub kinds: Vec<Kind>,
    pub tables: BTreeMap<Entity, Table>,
    pub findings: Vec<Finding>,
}

impl Mapped {
    /// Frees the rows on another thread once they are written, keeping what findings need (the
    /// origins): at 100,000 students freeing half a million rows takes a noticeable part of a
    /// second that the import need not wait for, and the import then runs without them in
    /// memory.
    pub fn release_rows(&mut self) {
        let rows: Vec<_> = self.tables.values_mut().map(Table::take_rows).collect();
        std::thread::spawn(move || drop(rows));
    }
}

struct Row<'a> {
    file: usize,
    line: u64,
    name: &'a str,
    bound: &'a Bound,
    cells: &'a csv::StringRecord,
}

impl Row<'_> {
    /// A field's value, normalised (trimmed, half-width ASCII, full-width kana); "" if absent.
    fn get(&self, field: &str) -> String {
        let raw = match self.bound.sources.get(field) {
            None => return String::new(),
            Some(Source::Constant(c)) => c.clone(),
            Some(Source::Column(i, _)) => self.cells.get(*i).unwrap_or("").to_owned(),
            Some(Source::Template(pieces)) => pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    Piece::Column(i, _) => self.cells.get(*i).unwrap_or(""),
                })
                .collect(),
        };
        text::normalize(&raw.replace(['\r', '\n'], " "))
    }

    fn header(&self, field: &str) -> Option<String> {
        header_of(self.bound, field)
    }

    fn finding(&self, code: &'static str, field: &str, value: &str, message: String) -> Finding {
        Finding {
            severity: Severity::Error,
            code,
            file: Some(self.name.to_owned()),
            line: Some(self.line),
            column: self.header(field),
            value: (!value.is_empty()).then(|| value.to_owned()),
            message,
        }
    }
}

fn header_of(bound: &Bound, field: &str) -> Option<String> {
    match bound.sources.get(field)? {
        Source::Column(_, h) => Some(h.clone()),
        Source::Template(p) => Some(
            p.iter()
                .map(|p| match p {
                    Piece::Text(t) => t.clone(),
                    Piece::Column(_, h) => format!("{{{h}}}"),
                })
                .collect(),
        ),
        Source::Constant(c) => Some(format!("={c}")),
    }
}

fn file_finding(name: &str, code: &'static str, message: String) -> Finding {
    Finding {
        severity: Severity::Error,
        code,
        file: Some(name.to_owned()),
        line: None,
        column: None,
        value: None,
        message,
    }
}

struct Engine<'a> {
    profile: &'a MappingProfile,
    opts: &'a MapOptions,
    ns: Uuid,
    year: i32,
    out: Mapped,
    /// School code → its org's id, once its org and 年度 rows are made: every row of a list
    /// names its school, and hashing and building those rows again per row cost more than
    /// the row's own user.
    schools: HashMap<String, String>,
    /// (school code, grade, 組) → the homeroom class's id, once it and its course are made.
    classes: HashMap<(String, &'static str, String), String>,
}

/// The per-tenant namespace of computed ids, unless a profile names its own.
pub fn namespace(profile: &MappingProfile, tenant: &str) -> Uuid {
    profile.namespace.unwrap_or_else(|| {
        Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("urn:rosterhub:tenant:{tenant}").as_bytes(),
        )
    })
}

/// The id of `key` under `ns` (see [`Engine::id`]); public so tests and tools can compute it.
pub fn stable_id(ns: &Uuid, key: &str) -> String {
    let hash = Uuid::new_v5(ns, key.as_bytes());
    uuid::Builder::from_random_bytes(*hash.as_bytes())
        .into_uuid()
        .to_string()
}

/// Maps every source file. Findings carry the source file, line and header.
pub fn map(profile: &MappingProfile, files: &[SourceFile], opts: &MapOptions) -> Mapped {
    let (y, m, d) = opts.today;
    let year = opts
        .school_year
        .or(profile.school_year)
        .unwrap_or_else(|| dates::school_year_of(y, m, d));
    let mut engine = Engine {
        profile,
        opts,
        ns: namespace(profile, &opts.tenant),
        year,
        out: Mapped::default(),
        schools: HashMap::new(),
        classes: HashMap::new(),
    };
    // Staff last: a 担任 needs the classes the student lists define.
    let mut parsed = Vec::new();
    for (i, f) in files.iter().enumerate() {
        engine.out.files.push(f.name.clone());
        match read(f) {
            Err(message) => {
                engine
                    .out
                    .findings
                    .push(file_finding(&f.name, "mapping_unreadable", message));
                engine.out.detected.push((String::new(), String::new()));
                engine.out.columns.push(BTreeMap::new());
                engine.out.kinds.push(Kind::Students);
            }
            Ok((encoding, header, records)) => match profile.choose(&header) {
                Ok(bound) => {
                    engine.out.detected.push((bound.layout.clone(), encoding));
                    engine.out.columns.push(
                        bound
                            .sources
                            .keys()
                            .filter_map(|k| header_of(&bound, k).map(|h| (*k, h)))
                            .collect(),
                    );
                    engine.out.kinds.push(bound.kind);
                    parsed.push((i, bound, records));
                }
                Err((layout, missing)) => {
                    engine.out.findings.push(file_finding(
                        &f.name,
                        "mapping_layout_unknown",
                        format!(
                            "{} matches no layout: closest is {layout}, which needs the column(s) {} \
                             (この名簿の見出しに {} の列がありません)",
                            f.name,
                            missing.join(", "),
                            missing.join("、")
                        ),
                    ));
                    engine.out.detected.push((String::new(), encoding));
                    engine.out.columns.push(BTreeMap::new());
                    engine.out.kinds.push(Kind::Students);
                }
            },
        }
    }
    parsed.sort_by_key(|(_, b, _)| b.kind == Kind::Staff);
    for (i, bound, records) in &parsed {
        for (line, cells) in records {
            let row = Row {
                file: *i,
                line: *line,
                name: &files[*i].name,
                bound,
                cells,
            };
            match bound.kind {
                Kind::Students => engine.student(&row),
                Kind::Staff => engine.staff(&row),
            }
        }
    }
    engine.out
}

impl Engine<'_> {
    /// The sourcedId of a school-local key: the UUIDv5 hash under the tenant's namespace,
    /// stamped as version 4 because the Japan Profile expects v4-shaped ids (a SHA-1 hash is
    /// as unpredictable as random bits; only the version nibble differs).
    fn id(&self, key: String) -> String {
        stable_id(&self.ns, &key)
    }

    fn push(&mut self, entity: Entity, origin: Origin, cells: Vec<(&'static str, String)>) {
        self.out
            .tables
            .entry(entity)
            .or_insert_with(|| Table::new(entity))
            .add(origin, cells);
    }

    /// The source line of the user already mapped to `id`, if any.
    fn first_line(&self, id: &str) -> Option<u64> {
        let table = self.out.tables.get(&Entity::Users)?;
        table.line_of(id)
    }

    fn err(&mut self, f: Finding) {
        self.out.findings.push(f);
    }

    /// The school of a row: its 学校コード column, else `--school`, else the profile's.
    fn school(&mut self, row: &Row) -> Option<(String, String)> {
        let from = [
            Some(School {
                code: Some(row.get("school_code")).filter(|s| !s.is_empty()),
                name: Some(row.get("school_name")).filter(|s| !s.is_empty()),
                school_type: None,
            }),
            self.opts.school.clone(),
            Some(self.profile.school.clone()),
        ];
        let code = from.iter().flatten().find_map(|s| s.code.clone());
        let Some(code) = code else {
            self.err(row.finding(
                "mapping_school_missing",
                "school_code",
                "",
                "no school code: add a 学校コード column, set school.code in the profile or pass \
                 --school CODE[:NAME] (学校コードを指定してください)"
                    .into(),
            ));
            return None;
        };
        if let Some(id) = self.schools.get(&code) {
            return Some((code, id.clone()));
        }
        let name = from
            .iter()
            .flatten()
            .find_map(|s| s.name.clone())
            .unwrap_or_else(|| code.clone());
        let id = self.id(format!("org:{code}"));
        self.schools.insert(code.clone(), id.clone());
        let origin = Origin {
            file: row.file,
            line: row.line,
        };
        self.push(
            Entity::Orgs,
            origin,
            vec![
                ("sourcedId", id.clone()),
                ("name", name),
                ("type", "school".into()),
                ("identifier", code.clone()),
            ],
        );
        let session = self.id(format!("session:{code}:{}", self.year));
        let y = self.year;
        let title = self
            .template("session_title", &[("年度", y.to_string())])
            .unwrap_or_else(|| format!("{y}年度"));
        self.push(
            Entity::AcademicSessions,
            origin,
            vec![
                ("sourcedId", session),
                ("title", title),
                ("type", "schoolYear".into()),
                ("startDate", format!("{y}-04-01")),
                ("endDate", format!("{}-03-31", y + 1)),
                ("schoolYear", y.to_string()),
            ],
        );
        Some((code, id))
    }

    /// A profile's output template (`{学年}年{組}組`) over named values.
    fn template(&self, name: &str, values: &[(&str, String)]) -> Option<String> {
        let mut t = self.profile.templates.get(name)?.clone();
        for (k, v) in values {
            t = t.replace(&format!("{{{k}}}"), v);
        }
        Some(t)
    }

    /// A value through the field's value map; an unknown value is an error naming the map.
    fn value(&mut self, row: &Row, field: &str) -> Option<String> {
        let v = row.get(field);
        if v.is_empty() {
            return None;
        }
        match self.profile.values.get(field).and_then(|m| m.get(&v)) {
            Some(mapped) => Some(mapped.clone()),
            None => {
                let known: Vec<&String> = self
                    .profile
                    .values
                    .get(field)
                    .map(|m| m.keys().collect())
                    .unwrap_or_default();
                let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                self.err(row.finding(
                    "mapping_value_unmapped",
                    field,
                    &v,
                    format!(
                        "{v:?} is not in the value map \"{field}\" (known: {}); add it under \
                         values.{field} in the profile (値の対応表 {field} にない値です)",
                        known.join(", ")
                    ),
                ));
                None
            }
        }
    }

    fn grade(&mut self, row: &Row, field: &str) -> Option<&'static str> {
        let v = row.get(field);
        let code = grades::grade_code(&v, self.profile.school_type());
        if code.is_none() {
            self.err(row.finding(
                "mapping_grade_unknown",
                field,
                &v,
                format!(
                    "{v:?} is not a grade: write 小1…小6, 中1…中3, 高1…高3, or a bare number with \
                     school.type in the profile (学年を読み取れません)"
                ),
            ));
        }
        code
    }

    fn required(&mut self, row: &Row, field: &str) -> Option<String> {
        let v = row.get(field);
        if v.is_empty() {
            self.err(row.finding(
                "mapping_required_empty",
                field,
                "",
                format!(
                    "{} is empty; every row needs it (必須の項目が空です)",
                    row.header(field).unwrap_or_else(|| field.to_owned())
                ),
            ));
            return None;
        }
        Some(v)
    }

    fn names(&mut self, row: &Row) -> Option<(String, String, String, String)> {
        let name = self.required(row, "name")?;
        let Some((family, given)) = text::split_name(&name) else {
            self.err(
                row.finding(
                    "mapping_name_unsplit",
                    "name",
                    &name,
                    "the name has no space between family and given name: write 山田　太郎 \
                 (姓と名の間に空白を入れてください)"
                        .into(),
                ),
            );
            return None;
        };
        let kana = text::to_katakana(&row.get("kana"));
        let (kf, kg) = text::split_name(&kana).unwrap_or((kana, String::new()));
        Some((family, given, kf, kg))
    }

    /// The homeroom class of (grade, 組) at a school, with its per-grade course.
    fn class(
        &mut self,
        row: &Row,
        school: &(String, String),
        code: &'static str,
        class: &str,
    ) -> String {
        let key = (school.0.clone(), code, class.to_owned());
        if let Some(id) = self.classes.get(&key) {
            return id.clone();
        }
        let (sc, org) = school;
        let year = self.year;
        let session = self.id(format!("session:{sc}:{year}"));
        let origin = Origin {
            file: row.file,
            line: row.line,
        };
        let n = code
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .to_owned();
        let course = self.id(format!("course:{sc}:{year}:{code}"));
        let course_title = self
            .template(
                "course_title",
                &[("年度", year.to_string()), ("学年", n.clone())],
            )
            .unwrap_or_else(|| format!("{year}年度 {n}年"));
        self.push(
            Entity::Courses,
            origin,
            vec![
                ("sourcedId", course.clone()),
                ("schoolYearSourcedId", session.clone()),
                ("title", course_title),
                ("grades", code.to_owned()),
                ("orgSourcedId", org.clone()),
            ],
        );
        let id = self.id(format!("class:{sc}:{year}:{code}:{class}"));
        self.classes.insert(key, id.clone());
        let title = self
            .template(
                "class_title",
                &[("学年", n.clone()), ("組", class.to_owned())],
            )
            .unwrap_or_else(|| format!("{n}年{class}組"));
        self.push(
            Entity::Classes,
            origin,
            vec![
                ("sourcedId", id.clone()),
                ("title", title),
                ("grades", code.to_owned()),
                ("courseSourcedId", course),
                ("classType", "homeroom".into()),
                ("schoolSourcedId", org.clone()),
                ("termSourcedIds", session),
                ("metadata.jp.specialNeeds", "false".into()),
            ],
        );
        id
    }

    /// The user, role and demographics rows common to both lists.
    #[allow(clippy::too_many_arguments)]
    fn person(
        &mut self,
        row: &Row,
        user: &str,
        local: &str,
        names: (String, String, String, String),
        org: &str,
        role: &str,
        grade: &str,
        home: &str,
    ) {
        let origin = Origin {
            file: row.file,
            line: row.line,
        };
        let email = row.get("email");
        let username = self
            .template("username", &[("id", local.to_owned())])
            .unwrap_or_else(|| {
                if email.is_empty() {
                    local.to_owned()
                } else {
                    email.clone()
                }
            });
        let (family, given, kf, kg) = names;
        self.push(
            Entity::Users,
            origin,
            vec![
                ("sourcedId", user.to_owned()),
                ("enabledUser", "true".into()),
                ("username", username),
                ("givenName", given),
                ("familyName", family),
                ("identifier", local.to_owned()),
                ("email", email),
                ("grades", grade.to_owned()),
                ("primaryOrgSourcedId", org.to_owned()),
                ("metadata.jp.kanaGivenName", kg),
                ("metadata.jp.kanaFamilyName", kf),
                ("metadata.jp.homeClass", home.to_owned()),
            ],
        );
        self.push(
            Entity::Roles,
            origin,
            vec![
                ("sourcedId", self.id(format!("role:{user}:{org}"))),
                ("userSourcedId", user.to_owned()),
                ("roleType", "primary".into()),
                ("role", role.to_owned()),
                ("orgSourcedId", org.to_owned()),
            ],
        );
        let sex = self.value(row, "sex");
        let birth = row.get("birth_date");
        let birth = if birth.is_empty() {
            None
        } else {
            match dates::parse_date(&birth) {
                Ok((y, m, d)) => Some(format!("{y:04}-{m:02}-{d:02}")),
                Err(e) => {
                    self.err(row.finding(
                        "mapping_date_invalid",
                        "birth_date",
                        &birth,
                        format!("{e}: write 2015/4/2, 2015-04-02 or 平成27年4月2日 (日付を読み取れません)"),
                    ));
                    None
                }
            }
        };
        if sex.is_some() || birth.is_some() {
            self.push(
                Entity::Demographics,
                origin,
                vec![
                    ("sourcedId", user.to_owned()),
                    ("birthDate", birth.unwrap_or_default()),
                    ("sex", sex.unwrap_or_default()),
                ],
            );
        }
    }

    fn student(&mut self, row: &Row) {
        let school = self.school(row);
        let grade = self.grade(row, "grade");
        let class = self
            .required(row, "class")
            .map(|c| c.trim_end_matches('組').to_owned());
        let local = self.required(row, "student_id");
        let names = self.names(row);
        let (Some(school), Some(grade), Some(class), Some(local), Some(names)) =
            (school, grade, class, local, names)
        else {
            return;
        };
        let user = self.id(format!("student:{}:{local}", school.0));
        if let Some(first) = self.first_line(&user) {
            self.err(row.finding(
                "mapping_duplicate_id",
                "student_id",
                &local,
                format!(
                    "{local} is also the number of the student on line {first}: each student \
                     needs their own number (児童生徒番号が重複しています)"
                ),
            ));
            return;
        }
        let class_id = self.class(row, &school, grade, &class);
        self.person(
            row, &user, &local, names, &school.1, "student", grade, &class_id,
        );
        self.push(
            Entity::Enrollments,
            Origin {
                file: row.file,
                line: row.line,
            },
            vec![
                (
                    "sourcedId",
                    self.id(format!("enrollment:{class_id}:{user}")),
                ),
                ("classSourcedId", class_id),
                ("schoolSourcedId", school.1.clone()),
                ("userSourcedId", user),
                ("role", "student".into()),
                ("primary", "false".into()),
                ("metadata.jp.ShussekiNo", row.get("number")),
                ("metadata.jp.PublicFlg", "true".into()),
            ],
        );
    }

    fn staff(&mut self, row: &Row) {
        let school = self.school(row);
        let local = self.required(row, "staff_id");
        let names = self.names(row);
        let role = if row.get("role").is_empty() {
            Some("teacher".to_owned())
        } else {
            self.value(row, "role")
        };
        let (Some(school), Some(local), Some(names), Some(role)) = (school, local, names, role)
        else {
            return;
        };
        let user = self.id(format!("staff:{}:{local}", school.0));
        self.person(row, &user, &local, names, &school.1, &role, "", "");
        // 担任: one class, or several in one cell (1・2) or on several rows.
        let classes = row.get("homeroom_class");
        if row.get("homeroom_grade").is_empty() || classes.is_empty() {
            return;
        }
        let Some(grade) = self.grade(row, "homeroom_grade") else {
            return;
        };
        for class in classes
            .split([',', '、', '・', '/', ' '])
            .filter(|c| !c.is_empty())
        {
            let class = class.trim_end_matches('組').to_owned();
            let class_id = self.class(row, &school, grade, &class);
            self.push(
                Entity::Enrollments,
                Origin {
                    file: row.file,
                    line: row.line,
                },
                vec![
                    (
                        "sourcedId",
                        self.id(format!("enrollment:{class_id}:{user}")),
                    ),
                    ("classSourcedId", class_id),
                    ("schoolSourcedId", school.1.clone()),
                    ("userSourcedId", user.clone()),
                    ("role", "teacher".into()),
                    ("primary", "true".into()),
                    ("metadata.jp.PublicFlg", "true".into()),
                ],
            );
        }
    }
}
