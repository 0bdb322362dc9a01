//! `/ui/mappings`: the tenant's stored mapping profiles (docs/mappings.md) — the list, a
//! profile's page with its text in an editor, a new profile started from an example, saving
//! (validated: each error with its line, the typed text kept) and deleting; the preview of a
//! sample is `mapping_preview`. The rules are the admin API's (`admin::mappings`:
//! `save_profile`, `delete_profile`, `find`) with the session as its caller, so the scopes are
//! the API's: everyone with a role in the tenant reads (`rosterhub.import`), uploaders and
//! admins preview, admins save and delete. Writes are audited as the API's
//! (`mappings.create`, `mappings.update`, `mappings.delete`, `mappings.preview`).

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::audit::user_names;
use super::chrome::{Chrome, Member, enc, noted, targeted};
use super::mapping_preview::PreviewView;
use super::view::Params;
use crate::auth::Scopes;
use crate::http::AppState;
use crate::http::admin::auth::Caller;
use crate::http::admin::error::AdminError;
use crate::http::admin::mappings::{delete_profile, find, save_action, save_profile};
use crate::http::admin::session::form_fields;
use crate::mapping::stored::ProfileName;
use crate::storage::mappings::StoredMapping;

/// The built-in layouts with the school and 年度 set: the smallest useful profile.
const BUILTIN_EXAMPLE: &str = r#"{
  "version": 1,
  "school": {"code": "B113210000019", "name": "さくら市立さくら小学校", "type": "elementary"},
  "schoolYear": 2025
}
"#;

/// The example of docs/mappings.md, without its `namespace`: a copied namespace would give
/// every tenant starting from it the same ids, where the default is the tenant's own.
const DOCS_EXAMPLE: &str = r#"{
  "version": 1,
  "school": {"code": "B113210000019", "name": "さくら市立さくら小学校", "type": "elementary"},
  "schoolYear": 2025,
  "layouts": {
    "さくら小 児童名簿": {
      "kind": "students",
      "extends": "児童生徒名簿",
      "columns": {
        "student_id": ["個人番号"],
        "class": "{組}組",
        "email": "=",
        "number": ["No."]
      }
    }
  },
  "values": {"sex": {"不明": "unspecified"}, "role": {"教務主任": "teacher"}},
  "templates": {"class_title": "{学年}年{組}組", "course_title": "{年度}年度 {学年}年",
                "session_title": "{年度}年度", "username": "{id}@sakura.example.ed.jp"}
}
"#;

/// The examples a new profile starts from: (value, catalogue key of its label, text).
pub const EXAMPLES: [(&str, &str, &str); 2] = [
    ("builtin", "mappings.example_builtin", BUILTIN_EXAMPLE),
    ("docs", "mappings.example_docs", DOCS_EXAMPLE),
];

/// A stored profile as the pages show it.
pub struct ProfileView {
    pub name: String,
    pub version: i64,
    pub updated: String,
    pub updated_by: String,
}

/// One error of a profile that cannot be used.
pub struct ErrorLine {
    pub line: u64,
    pub message: String,
}

/// The `errors` (each with its line) of an invalid profile's refusal.
pub fn profile_errors(e: &AdminError) -> Vec<ErrorLine> {
    e.errors
        .iter()
        .map(|v| ErrorLine {
            line: v["line"].as_u64().unwrap_or(0),
            message: v["message"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

/// What a profile's page shows besides the stored profile: the text in the editor, a refused
/// save's errors, the sample form's fields, a preview.
#[derive(Default)]
pub struct Editor {
    pub name: String,
    pub text: String,
    pub errors: Vec<ErrorLine>,
    pub problem: String,
    /// The version just saved (0: none).
    pub saved: i64,
    pub school: String,
    pub school_year: String,
    pub preview: Option<PreviewView>,
}

/// What the list page shows besides the list: the new-profile form and the preview form as
/// typed, a refusal, a preview.
#[derive(Default)]
pub struct List {
    pub problem: String,
    pub new_name: String,
    /// The preview form's choice: `auto` or a stored profile's name.
    pub mapping: String,
    pub school: String,
    pub school_year: String,
    /// A profile deleted by the post that led here.
    pub deleted: String,
    pub preview: Option<PreviewView>,
}

#[derive(Template)]
#[template(path = "pages/mappings.html")]
struct ListPage {
    c: Chrome,
    profiles: Vec<ProfileView>,
    l: List,
    examples: [(&'static str, &'static str, &'static str); 2],
    can_save: bool,
    can_preview: bool,
    /// The sample form's fields and the preview (`partials/mapping_*.html`, shared).
    school: String,
    school_year: String,
    preview: Option<PreviewView>,
}

#[derive(Template)]
#[template(path = "pages/mapping.html")]
struct EditorPage {
    c: Chrome,
    e: Editor,
    /// The stored profile of this name (`None`: a new one).
    stored: Option<ProfileView>,
    can_save: bool,
    can_preview: bool,
    school: String,
    school_year: String,
    preview: Option<PreviewView>,
}

/// The session as the API's caller with what reading profiles needs; else the answer.
fn reader(member: &Member) -> Result<Caller, Box<Response>> {
    let Some(caller) = member.caller() else {
        return Err(Box::new(member.visit.see_other(super::BASE_PATH)));
    };
    caller
        .require(Scopes::IMPORT)
        .map_err(|e| Box::new(member.visit.error_page(&e)))?;
    Ok(caller)
}

fn can_save(member: &Member) -> bool {
    member.can_approve()
}

/// `names`: the tenant's usernames by id, so a `user:<id>` changer shows as the person.
fn view(state: &AppState, m: &StoredMapping, names: &HashMap<String, String>) -> ProfileView {
    let by = &m.updated_by;
    ProfileView {
        name: m.name.clone(),
        version: m.version,
        updated: state.ui_zone.datetime(m.updated_at),
        updated_by: by
            .strip_prefix("user:")
            .and_then(|id| names.get(id))
            .cloned()
            .unwrap_or_else(|| by.clone()),
    }
}

pub async fn list_page(
    state: &AppState,
    member: &Member,
    status: StatusCode,
    mut l: List,
) -> Response {
    let caller = match reader(member) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let listed = match state.store.list_mappings(&caller.tenant).await {
        Ok(list) => list,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let names = match user_names(&state.store, &caller.tenant).await {
        Ok(n) => n,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let profiles = listed.iter().map(|m| view(state, m, &names)).collect();
    let page = ListPage {
        c: member.chrome("mappings.title", "mappings"),
        profiles,
        school: std::mem::take(&mut l.school),
        school_year: std::mem::take(&mut l.school_year),
        preview: l.preview.take(),
        l,
        examples: EXAMPLES,
        can_save: can_save(member),
        can_preview: member.can_upload(),
    };
    member.visit.html(status, page.render())
}

pub async fn editor_page(
    state: &AppState,
    member: &Member,
    status: StatusCode,
    mut e: Editor,
) -> Response {
    let caller = match reader(member) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let stored = match state.store.mapping(&caller.tenant, &e.name).await {
        Ok(m) => m,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let names = match user_names(&state.store, &caller.tenant).await {
        Ok(n) => n,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let stored = stored.map(|m| view(state, &m, &names));
    let page = EditorPage {
        c: member.chrome("mapping.title", "mappings"),
        school: std::mem::take(&mut e.school),
        school_year: std::mem::take(&mut e.school_year),
        preview: e.preview.take(),
        e,
        stored,
        can_save: can_save(member),
        can_preview: member.can_upload(),
    };
    member.visit.html(status, page.render())
}

/// `GET /ui/mappings[?new=NAME&example=builtin|docs][?deleted=NAME]`: the list, or the page of
/// a new profile started from an example.
pub async fn show(
    State(state): State<AppState>,
    member: Member,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::new(raw.as_deref());
    let new_name = params.get("new").trim().to_owned();
    if new_name.is_empty() {
        let list = List {
            deleted: params.get("deleted").to_owned(),
            mapping: crate::mapping::stored::AUTO.to_owned(),
            ..List::default()
        };
        return list_page(&state, &member, StatusCode::OK, list).await;
    }
    let refused = |problem: String| List {
        problem,
        new_name: new_name.clone(),
        ..List::default()
    };
    let name = match ProfileName::parse(&new_name) {
        Ok(n) => n,
        Err(problem) => {
            let status = StatusCode::BAD_REQUEST;
            return list_page(&state, &member, status, refused(problem)).await;
        }
    };
    let tenant = match reader(&member) {
        Ok(c) => c.tenant,
        Err(r) => return *r,
    };
    match state.store.mapping(&tenant, name.as_str()).await {
        // A name already taken opens that profile: a new text saves as its next version.
        Ok(Some(_)) => member
            .visit
            .see_other(&format!("/ui/mappings/{}", enc(name.as_str()))),
        Ok(None) => {
            let example = params.get("example");
            let text = EXAMPLES
                .iter()
                .find(|(v, _, _)| *v == example)
                .unwrap_or(&EXAMPLES[0])
                .2;
            let editor = Editor {
                name: name.as_str().to_owned(),
                text: text.to_owned(),
                ..Editor::default()
            };
            editor_page(&state, &member, StatusCode::OK, editor).await
        }
        Err(e) => member.visit.error_page(&e.into()),
    }
}

/// `GET /ui/mappings/{name}[?saved=N]`: a stored profile's page.
pub async fn profile(
    State(state): State<AppState>,
    member: Member,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let caller = match reader(&member) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let stored = match find(&state, &caller.tenant, &name).await {
        Ok(m) => m,
        Err(e) => return member.visit.error_page(&e),
    };
    let editor = Editor {
        name: stored.name,
        text: stored.body,
        saved: Params::new(raw.as_deref())
            .get("saved")
            .parse()
            .unwrap_or(0),
        ..Editor::default()
    };
    editor_page(&state, &member, StatusCode::OK, editor).await
}

/// `POST /ui/mappings` (`name`, `profile`): saves the typed text as the profile's next version
/// (the API's `save_profile`); refused, the page shows why with the text as typed.
pub async fn save(State(state): State<AppState>, member: Member, body: Bytes) -> Response {
    let Some(caller) = member.caller() else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let fields = form_fields(&body);
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let name = field("name").trim().to_owned();
    let text = field("profile");
    match save_profile(&state, &caller, &name, &text).await {
        Ok(saved) => {
            let to = format!("/ui/mappings/{}?saved={}", enc(&saved.name), saved.version);
            let action = save_action(&saved);
            noted(member.visit.see_other(&to), action, Some(saved.name))
        }
        Err(e) if e.status == StatusCode::FORBIDDEN => targeted(member.visit.error_page(&e), name),
        Err(e) => {
            let editor = Editor {
                name: name.clone(),
                text,
                errors: profile_errors(&e),
                problem: e.message,
                ..Editor::default()
            };
            targeted(editor_page(&state, &member, e.status, editor).await, name)
        }
    }
}

/// `POST /ui/mappings/{name}/delete` (admins).
pub async fn remove(
    State(state): State<AppState>,
    member: Member,
    Path(name): Path<String>,
) -> Response {
    let Some(caller) = member.caller() else {
        return member.visit.see_other(super::BASE_PATH);
    };
    match delete_profile(&state, &caller, &name).await {
        Ok(()) => member
            .visit
            .see_other(&format!("/ui/mappings?deleted={}", enc(&name))),
        Err(e) => member.visit.error_page(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_is_a_valid_profile() {
        for (name, _, text) in EXAMPLES {
            assert!(
                crate::mapping::profile::MappingProfile::parse(text).is_ok(),
                "{name}"
            );
        }
    }
}
