//! `POST /ui/mappings/preview` (uploaders and admins): a sample of a school's lists (one CSV or
//! a ZIP of CSVs, a multipart form that works without script) mapped with the profile typed on
//! a profile's page, or with a stored profile or `auto` chosen on the list page, and checked
//! by the admin API's own rule (`admin::mapping_preview::check_sample`). The page shows that
//! answer: per file the layout and encoding found, the first records of each OneRoster file
//! with their source file and line, and every finding. Nothing is written.

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::chrome::{Member, targeted};
use super::mappings::{Editor, List, editor_page, list_page, profile_errors};
use crate::http::AppState;
use crate::http::admin::error::AdminError;
use crate::http::admin::mapping_preview::{SAMPLE, asked, check_sample, limit};
use crate::http::admin::mappings::{find, parse_profile};
use crate::http::admin::upload::spool_form;
use crate::mapping::profile::{MappingProfile, School};
use crate::mapping::stored::AUTO;

/// The most findings a page lists (the counts are exact).
const FINDINGS_SHOWN: usize = 200;

/// The preview's answer as the page shows it.
pub struct PreviewView {
    pub valid: bool,
    pub errors: u64,
    pub warnings: u64,
    pub sources: Vec<SourceView>,
    pub files: Vec<FileView>,
    pub findings: Vec<FindingView>,
    /// Findings not listed (beyond [`FINDINGS_SHOWN`]).
    pub more_findings: usize,
}

/// A source file: the layout chosen (empty: none matched) and the encoding found.
pub struct SourceView {
    pub file: String,
    pub layout: String,
    pub encoding: String,
}

/// The first records of one OneRoster file; `columns` are every field any of them has, in the
/// order of the OneRoster header.
pub struct FileView {
    pub entity: String,
    pub total: u64,
    pub columns: Vec<String>,
    pub rows: Vec<RowView>,
}

pub struct RowView {
    pub file: String,
    pub line: u64,
    /// One cell per column (empty where the record has no value).
    pub cells: Vec<String>,
}

pub struct FindingView {
    pub severity: String,
    pub code: String,
    pub file: String,
    pub line: String,
    pub column: String,
    pub value: String,
    pub message: String,
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

impl PreviewView {
    /// The preview API's JSON answer (`mapping::preview::to_json`), for the templates.
    pub fn of(answer: &Value) -> PreviewView {
        let list = |k: &str| answer[k].as_array().cloned().unwrap_or_default();
        let sources = list("sources")
            .iter()
            .map(|s| SourceView {
                file: text(s, "file"),
                layout: text(s, "layout"),
                encoding: text(s, "encoding"),
            })
            .collect();
        let files = answer["records"]
            .as_object()
            .map(|records| records.iter().map(|(e, r)| file_view(e, r)).collect())
            .unwrap_or_default();
        let all = list("findings");
        let findings = all
            .iter()
            .take(FINDINGS_SHOWN)
            .map(|f| FindingView {
                severity: text(f, "severity"),
                code: text(f, "code"),
                file: text(f, "file"),
                line: text(f, "line"),
                column: text(f, "column"),
                value: text(f, "value"),
                message: text(f, "message"),
            })
            .collect();
        PreviewView {
            valid: answer["status"] == "valid",
            errors: answer["error_count"].as_u64().unwrap_or(0),
            warnings: answer["warning_count"].as_u64().unwrap_or(0),
            sources,
            files,
            findings,
            more_findings: all.len().saturating_sub(FINDINGS_SHOWN),
        }
    }
}

fn file_view(entity: &str, records: &Value) -> FileView {
    let rows = records["rows"].as_array().cloned().unwrap_or_default();
    let mut columns: Vec<String> = Vec::new();
    for r in &rows {
        if let Some(fields) = r["record"].as_object() {
            for k in fields.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let rows = rows
        .iter()
        .map(|r| RowView {
            file: text(r, "file"),
            line: r["line"].as_u64().unwrap_or(0),
            cells: columns.iter().map(|c| text(&r["record"], c)).collect(),
        })
        .collect();
    FileView {
        entity: entity.to_owned(),
        total: records["total"].as_u64().unwrap_or(0),
        columns,
        rows,
    }
}

/// What the form chose to map with.
enum Chosen {
    /// The text typed on the page of the profile `name` (kept on the page whatever happens).
    Typed { name: String, text: String },
    /// `auto` or a stored profile, chosen on the list page.
    Named(String),
}

/// `POST /ui/mappings/preview?csrf_token=…`: multipart `file` with `profile` and `name` (a
/// profile's page) or `mapping` (the list page), and `school`, `school_year`.
pub async fn submit(State(state): State<AppState>, member: Member, req: Request) -> Response {
    if !member.can_upload() {
        let e = AdminError::new(StatusCode::FORBIDDEN, "read_only", "a viewer may only read");
        return member.visit.error_page(&e);
    }
    let Some(caller) = member.caller() else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let spooled = match spool_form(req, &state, limit(&state), &SAMPLE).await {
        Ok(s) => s,
        Err(e) => return member.visit.error_page(&e),
    };
    let fields: HashMap<String, String> = spooled
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .filter(|(k, v)| k == "profile" || !v.trim().is_empty())
        .map(|(k, v)| {
            if k == "profile" {
                (k, v)
            } else {
                (k, v.trim().to_owned())
            }
        })
        .collect();
    let chosen = match (fields.get("name"), fields.get("profile")) {
        (Some(name), Some(text)) => Chosen::Typed {
            name: name.clone(),
            text: text.clone(),
        },
        _ => Chosen::Named(fields.get("mapping").cloned().unwrap_or(AUTO.to_owned())),
    };
    let target = match &chosen {
        Chosen::Typed { name, .. } | Chosen::Named(name) => name.clone(),
    };
    let school = fields.get("school").cloned().unwrap_or_default();
    let school_year = fields.get("school_year").cloned().unwrap_or_default();
    // The profile by the API's rules: a typed text must parse, a stored one must exist.
    let profile: Result<MappingProfile, AdminError> = match &chosen {
        Chosen::Typed { text, .. } => parse_profile(text),
        Chosen::Named(n) if n == AUTO => Ok(MappingProfile::auto(School::default(), None)),
        Chosen::Named(n) => match find(&state, &caller.tenant, n).await {
            Ok(stored) => parse_profile(&stored.body),
            Err(e) => Err(e),
        },
    };
    let answer = match (profile, asked(&fields)) {
        (Ok(profile), Ok(asked)) => check_sample(&state, &caller, profile, spooled, asked).await,
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let (status, preview, refusal) = match answer {
        Ok(a) => (StatusCode::OK, Some(PreviewView::of(&a)), None),
        Err(e) if e.status == StatusCode::FORBIDDEN => return member.visit.error_page(&e),
        Err(e) => (e.status, None, Some(e)),
    };
    let response = match chosen {
        Chosen::Typed { name, text } => {
            let (errors, problem) = match refusal {
                Some(e) => (profile_errors(&e), e.message),
                None => (Vec::new(), String::new()),
            };
            let editor = Editor {
                name,
                text,
                errors,
                problem,
                school,
                school_year,
                preview,
                ..Editor::default()
            };
            editor_page(&state, &member, status, editor).await
        }
        Chosen::Named(mapping) => {
            let list = List {
                problem: refusal.map(|e| e.message).unwrap_or_default(),
                mapping,
                school,
                school_year,
                preview,
                ..List::default()
            };
            list_page(&state, &member, status, list).await
        }
    };
    // The audit entry names the profile previewed, as the API's.
    targeted(response, target)
}
