//! Mapping profiles: a versioned JSON document saying how a school's own lists (校務 CSVs with
//! Japanese headers) become OneRoster records, and the two built-in layouts (児童生徒名簿,
//! 教職員名簿) that work without one.
//!
//! A layout names *fields* (grade, class, name, …) and, for each, the header spellings that may
//! hold it, a template over other columns (`{学年}-{組}`) or a constant (`=値`). The engine
//! (`super::engine`) derives every OneRoster entity from those fields, so a profile only says
//! where the values are, never how OneRoster is shaped.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::grades::SchoolType;

/// The profile format this build reads.
pub const VERSION: u32 = 1;

/// What a source file lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Students,
    Staff,
}

/// Fields of a student list: (field, required, header synonyms).
pub const STUDENT_FIELDS: &[(&str, bool, &[&str])] = &[
    ("grade", true, &["学年"]),
    ("class", true, &["組", "クラス", "学級"]),
    ("number", false, &["出席番号", "番号"]),
    (
        "name",
        true,
        &["氏名", "児童生徒氏名", "生徒名", "児童名", "名前"],
    ),
    (
        "kana",
        false,
        &["ふりがな", "フリガナ", "氏名かな", "カナ氏名", "よみがな"],
    ),
    ("sex", false, &["性別"]),
    ("birth_date", false, &["生年月日"]),
    (
        "student_id",
        true,
        &["児童生徒番号", "学籍番号", "生徒ID", "児童生徒ID"],
    ),
    ("email", false, &["メールアドレス", "メール", "アカウント"]),
    ("school_code", false, &["学校コード"]),
    ("school_name", false, &["学校名"]),
];

/// Fields of a staff list.
pub const STAFF_FIELDS: &[(&str, bool, &[&str])] = &[
    (
        "staff_id",
        true,
        &["教職員番号", "職員番号", "教員番号", "教職員ID"],
    ),
    ("name", true, &["氏名", "教職員氏名", "職員名", "名前"]),
    (
        "kana",
        false,
        &["ふりがな", "フリガナ", "氏名かな", "カナ氏名", "よみがな"],
    ),
    ("role", false, &["職名", "職種"]),
    ("homeroom_grade", false, &["担任学年"]),
    (
        "homeroom_class",
        false,
        &["担任組", "担任クラス", "担任学級"],
    ),
    ("sex", false, &["性別"]),
    ("birth_date", false, &["生年月日"]),
    ("email", false, &["メールアドレス", "メール", "アカウント"]),
    ("school_code", false, &["学校コード"]),
    ("school_name", false, &["学校名"]),
];

pub fn fields(kind: Kind) -> &'static [(&'static str, bool, &'static [&'static str])] {
    match kind {
        Kind::Students => STUDENT_FIELDS,
        Kind::Staff => STAFF_FIELDS,
    }
}

/// Where a field's value comes from in one source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A column, by its position in the header, and the header as written (for findings).
    Column(usize, String),
    /// `{学年}-{組}`: text with column references, each by position.
    Template(Vec<Piece>),
    Constant(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Column(usize, String),
}

/// One layout: a kind of list and how its fields are found.
#[derive(Debug, Clone)]
pub struct Layout {
    pub name: String,
    pub kind: Kind,
    /// field → header synonyms, or a single `{template}` / `=constant`.
    pub columns: BTreeMap<String, Vec<String>>,
}

/// A layout matched against one header row: every field's source.
#[derive(Debug, Clone)]
pub struct Bound {
    pub layout: String,
    pub kind: Kind,
    pub sources: BTreeMap<&'static str, Source>,
}

impl Layout {
    pub fn builtin(kind: Kind) -> Layout {
        let name = match kind {
            Kind::Students => "児童生徒名簿",
            Kind::Staff => "教職員名簿",
        };
        Layout {
            name: name.to_owned(),
            kind,
            columns: fields(kind)
                .iter()
                .map(|(f, _, syn)| (f.to_string(), syn.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    /// Matches a header row. `Err` lists the required fields it lacks, each with the headers
    /// that would have supplied it.
    pub fn bind(&self, header: &[String]) -> Result<Bound, Vec<String>> {
        let find = |name: &str| {
            header
                .iter()
                .position(|h| header_key(h) == header_key(name))
        };
        let mut sources = BTreeMap::new();
        let mut missing = Vec::new();
        for (field, required, _) in fields(self.kind) {
            let specs = self.columns.get(*field).cloned().unwrap_or_default();
            let mut source = None;
            if let [one] = specs.as_slice() {
                if let Some(c) = one.strip_prefix('=') {
                    source = Some(Source::Constant(c.to_owned()));
                } else if one.contains('{') {
                    source = template(one, &find).map(Source::Template);
                }
            }
            if source.is_none() {
                source = specs
                    .iter()
                    .find_map(|s| find(s).map(|i| Source::Column(i, header[i].trim().to_owned())));
            }
            match source {
                Some(s) => {
                    sources.insert(*field, s);
                }
                None if *required => missing.push(specs.join(" / ")),
                None => {}
            }
        }
        if missing.is_empty() {
            Ok(Bound {
                layout: self.name.clone(),
                kind: self.kind,
                sources,
            })
        } else {
            Err(missing)
        }
    }
}

/// Headers compare after normalisation: `学年 `, `学　年` and full-width letters match.
fn header_key(h: &str) -> String {
    super::text::normalize(h.trim_start_matches('\u{feff}'))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn template(spec: &str, find: &dyn Fn(&str) -> Option<usize>) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = spec;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_owned()));
        }
        let close = rest[open..].find('}')? + open;
        let name = &rest[open + 1..close];
        pieces.push(Piece::Column(find(name)?, name.to_owned()));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Some(pieces)
}

/// The school a profile or the command line names.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct School {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// elementary, junior_high, high, compulsory: needed when 学年 is a bare number.
    #[serde(default, rename = "type")]
    pub school_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutDoc {
    kind: Kind,
    #[serde(default)]
    extends: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    version: u32,
    #[serde(default)]
    school: School,
    #[serde(default, rename = "schoolYear")]
    school_year: Option<i32>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    layouts: BTreeMap<String, LayoutDoc>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    templates: BTreeMap<String, String>,
}

/// A validated profile.
#[derive(Debug, Clone)]
pub struct MappingProfile {
    pub school: School,
    pub school_year: Option<i32>,
    /// The UUIDv5 namespace of every computed sourcedId; default: one per tenant.
    pub namespace: Option<uuid::Uuid>,
    /// Tried in order; the built-in layouts come last.
    pub layouts: Vec<Layout>,
    /// Value maps by field (`sex`, `role`): source value (normalised) → OneRoster value.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Output templates: `class_title`, `course_title`, `session_title`, `username`.
    pub templates: BTreeMap<String, String>,
}

/// A profile that cannot be used, with the line (1-based) where it went wrong when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ProfileError {
    pub line: Option<usize>,
    pub message: String,
}

const TEMPLATE_NAMES: [&str; 4] = ["class_title", "course_title", "session_title", "username"];

impl MappingProfile {
    /// The built-in layouts alone (`--mapping auto`).
    pub fn auto(school: School, school_year: Option<i32>) -> MappingProfile {
        MappingProfile {
            school,
            school_year,
            namespace: None,
            layouts: vec![
                Layout::builtin(Kind::Students),
                Layout::builtin(Kind::Staff),
            ],
            values: default_values(),
            templates: BTreeMap::new(),
        }
    }

    pub fn parse(text: &str) -> Result<MappingProfile, ProfileError> {
        let doc: Doc = serde_json::from_str(text).map_err(|e| ProfileError {
            line: Some(e.line()),
            message: e
                .to_string()
                .split(" at line")
                .next()
                .unwrap_or("")
                .to_owned(),
        })?;
        // Semantic errors point at the line of the key they concern.
        let at = |key: &str, message: String| ProfileError {
            line: line_of(text, key),
            message,
        };
        if doc.version != VERSION {
            return Err(at(
                "\"version\"",
                format!(
                    "version {} is not supported: this RosterHub reads version {VERSION}",
                    doc.version
                ),
            ));
        }
        if let Some(t) = &doc.school.school_type
            && school_type(t).is_none()
        {
            return Err(at(
                "\"type\"",
                format!(
                    "unknown school type {t:?}: use elementary, junior_high, high or compulsory"
                ),
            ));
        }
        let namespace = match &doc.namespace {
            None => None,
            Some(n) => Some(
                uuid::Uuid::parse_str(n)
                    .map_err(|_| at("\"namespace\"", format!("namespace {n:?} is not a UUID")))?,
            ),
        };
        let mut profile = MappingProfile::auto(doc.school, doc.school_year);
        profile.namespace = namespace;
        let mut own = Vec::new();
        for (name, l) in doc.layouts {
            let base = match &l.extends {
                Some(b) => profile
                    .layouts
                    .iter()
                    .find(|x| &x.name == b)
                    .cloned()
                    .ok_or_else(|| at(&format!("\"{b}\""), format!("layout {name:?} extends unknown layout {b:?}: use 児童生徒名簿 or 教職員名簿")))?,
                None => Layout {
                    name: name.clone(),
                    kind: l.kind,
                    columns: BTreeMap::new(),
                },
            };
            let mut layout = Layout {
                name: name.clone(),
                ..base
            };
            layout.kind = l.kind;
            for (field, spec) in l.columns {
                if !fields(l.kind).iter().any(|(f, _, _)| *f == field) {
                    let known: Vec<&str> = fields(l.kind).iter().map(|(f, _, _)| *f).collect();
                    return Err(at(
                        &format!("\"{field}\""),
                        format!(
                            "layout {name:?}: unknown field {field:?}; fields are {}",
                            known.join(", ")
                        ),
                    ));
                }
                let spec = match spec {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                };
                // An extending layout adds spellings; a template or constant replaces them.
                let entry = layout.columns.entry(field).or_default();
                if spec.iter().any(|s| s.starts_with('=') || s.contains('{')) {
                    *entry = spec;
                } else {
                    let mut spec = spec;
                    spec.append(entry);
                    *entry = spec;
                }
            }
            own.push(layout);
        }
        own.append(&mut profile.layouts);
        profile.layouts = own;
        for (field, map) in doc.values {
            let target = profile.values.entry(field).or_default();
            for (k, v) in map {
                target.insert(super::text::normalize(&k), v);
            }
        }
        for (name, t) in doc.templates {
            if !TEMPLATE_NAMES.contains(&name.as_str()) {
                return Err(at(
                    &format!("\"{name}\""),
                    format!(
                        "unknown template {name:?}; templates are {}",
                        TEMPLATE_NAMES.join(", ")
                    ),
                ));
            }
            profile.templates.insert(name, t);
        }
        Ok(profile)
    }

    /// The first layout whose required fields all appear in `header` (the header fingerprint).
    /// `Err` names, for the closest layout, the headers the file lacks.
    pub fn choose(&self, header: &[String]) -> Result<Bound, (String, Vec<String>)> {
        let mut best: Option<(String, Vec<String>)> = None;
        for layout in &self.layouts {
            match layout.bind(header) {
                Ok(b) => return Ok(b),
                Err(missing) => {
                    if best.as_ref().is_none_or(|(_, m)| missing.len() < m.len()) {
                        best = Some((layout.name.clone(), missing));
                    }
                }
            }
        }
        Err(best.unwrap_or_default())
    }

    pub fn school_type(&self) -> Option<SchoolType> {
        self.school.school_type.as_deref().and_then(school_type)
    }
}

pub fn school_type(s: &str) -> Option<SchoolType> {
    match s {
        "elementary" | "小学校" => Some(SchoolType::Elementary),
        "junior_high" | "中学校" => Some(SchoolType::JuniorHigh),
        "high" | "高等学校" => Some(SchoolType::High),
        "compulsory" | "義務教育学校" => Some(SchoolType::Compulsory),
        _ => None,
    }
}

/// Built-in value maps; keys are normalised source values.
fn default_values() -> BTreeMap<String, BTreeMap<String, String>> {
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    BTreeMap::from([
        (
            "sex".to_owned(),
            map(&[
                ("男", "male"),
                ("女", "female"),
                ("男性", "male"),
                ("女性", "female"),
                ("M", "male"),
                ("F", "female"),
                ("1", "male"),
                ("2", "female"),
                ("その他", "other"),
                ("未回答", "unspecified"),
            ]),
        ),
        (
            "role".to_owned(),
            map(&[
                ("校長", "principal"),
                ("副校長", "siteAdministrator"),
                ("教頭", "siteAdministrator"),
                ("主幹教諭", "teacher"),
                ("指導教諭", "teacher"),
                ("教諭", "teacher"),
                ("講師", "teacher"),
                ("養護教諭", "teacher"),
                ("栄養教諭", "teacher"),
                ("事務職員", "siteAdministrator"),
            ]),
        ),
    ])
}

/// The 1-based line of the first occurrence of `needle` in a profile, for semantic errors.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    let at = text.find(needle)?;
    Some(text[..at].matches('\n').count() + 1)
}
