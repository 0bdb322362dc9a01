//! `/ui/roster/{users,classes,orgs}/{id}`: one record with what hangs off it — a user's roles,
//! classes, enrollments and (for administrators) demographics; a class's teachers and students
//! in 出席番号 order; an org's sub-orgs. Every page shows `dateLastModified`, the import
//! that last wrote the record (`Store::last_import`) and its history: each import that touched
//! it, field by field (`import::history`; personal values for administrators only). Related
//! lists read bounded pages.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::chrome::{Chrome, Member, enc};
use crate::domain::Entity;
use crate::http::AppState;
use crate::http::admin::error::AdminError;
use crate::storage::list::ListRequest;
use crate::storage::read::Record;
use crate::storage::select::Selection;
use crate::users::Role;

/// The most related records a detail page lists (a class, a user's enrollments).
const RELATED: u64 = 500;

/// Columns never shown: secrets that happen to travel in roster files.
const HIDDEN: [&str; 1] = ["password"];

/// A record's metadata object (flat `jp.*` keys).
pub struct Meta(serde_json::Map<String, Value>);

impl Meta {
    pub fn of(r: &Record) -> Meta {
        let map = r
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str::<Value>(m).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default();
        Meta(map)
    }

    pub fn value(&self, key: &str) -> String {
        match self.0.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }

    /// 出席番号: both spellings of the Japan profiles (`ShussekiNo`, `shussekiNo`).
    fn seat(&self) -> Option<u64> {
        ["jp.shussekiNo", "jp.ShussekiNo"]
            .iter()
            .find_map(|k| self.value(k).trim().parse().ok())
    }
}

/// A family and given name as a Japanese reader expects them: family name first.
pub fn full_name(family: &str, given: &str) -> String {
    format!("{family} {given}").trim().to_owned()
}

/// One label and value of a record.
pub struct Field {
    pub label: String,
    pub value: String,
}

/// A record's columns and metadata as label/value pairs (secrets left out, empty ones too).
fn fields(entity: Entity, r: &Record) -> Vec<Field> {
    let mut out: Vec<Field> = entity
        .columns()
        .iter()
        .zip(&r.values)
        .filter(|(c, _)| !HIDDEN.contains(&c.csv))
        .filter_map(|(c, v)| {
            v.as_ref().filter(|v| !v.is_empty()).map(|v| Field {
                label: c.csv.to_owned(),
                value: v.clone(),
            })
        })
        .collect();
    for (k, v) in &Meta::of(r).0 {
        let value = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push(Field {
            label: format!("metadata.{k}"),
            value,
        });
    }
    out
}

/// A link to another record.
pub struct Link {
    pub href: String,
    pub text: String,
    pub note: String,
    pub tombstoned: bool,
}

/// What every detail page shows about the record itself.
pub struct Head {
    pub id: String,
    pub title: String,
    pub tombstoned: bool,
    pub modified: String,
    /// The import that last wrote it: its page (server-run) or its id (command line).
    pub import_href: String,
    pub import_id: String,
    pub fields: Vec<Field>,
    /// The imports that touched it, newest first (`history.html`).
    pub history: Vec<super::history_rows::HistoryRow>,
}

#[derive(Template)]
#[template(path = "pages/record.html")]
struct RecordPage {
    c: Chrome,
    kind: &'static str,
    head: Head,
    /// Titled lists of related records, in the order shown.
    sections: Vec<(&'static str, Vec<Link>)>,
    demographics: Option<Vec<Field>>,
}

fn user_link(r: &Record, note: String) -> Link {
    let g = |c: &str| r.get(Entity::Users, c).unwrap_or("").to_owned();
    Link {
        href: format!("/ui/roster/users/{}", enc(&r.sourced_id)),
        text: full_name(&g("family_name"), &g("given_name")),
        note,
        tombstoned: r.status != "active",
    }
}

fn class_link(r: &Record, note: String) -> Link {
    Link {
        href: format!("/ui/roster/classes/{}", enc(&r.sourced_id)),
        text: r.get(Entity::Classes, "title").unwrap_or("").to_owned(),
        note,
        tombstoned: r.status != "active",
    }
}

fn org_link(r: &Record) -> Link {
    Link {
        href: format!("/ui/roster/orgs/{}", enc(&r.sourced_id)),
        text: r.get(Entity::Orgs, "name").unwrap_or("").to_owned(),
        note: r.get(Entity::Orgs, "type").unwrap_or("").to_owned(),
        tombstoned: r.status != "active",
    }
}

/// A bounded page of `entity` records selected by `selection`.
async fn related(
    state: &AppState,
    tenant: &str,
    entity: Entity,
    selection: Selection,
) -> Result<Vec<Record>, AdminError> {
    let req = ListRequest {
        tenant,
        entity,
        selection: &selection,
        filter: None,
        sort: None,
        desc: false,
        scope: None,
    };
    let q = state
        .store
        .list_query(&req)
        .map_err(|e| AdminError::internal(e.to_string()))?;
    Ok(state.store.list_page(&q, RELATED, 0, None).await?)
}

async fn head(
    state: &AppState,
    member: &Member,
    tenant: &str,
    entity: Entity,
    r: &Record,
    title: String,
) -> Result<Head, AdminError> {
    let last = state
        .store
        .last_import(tenant, entity, &r.sourced_id)
        .await?;
    let (import_href, import_id) = match last {
        Some(l) => (
            l.job_id
                .map(|j| format!("/ui/imports/{}", enc(&j)))
                .unwrap_or_default(),
            l.import_id,
        ),
        None => (String::new(), String::new()),
    };
    // Personal values, as demographics, for administrators only.
    let personal = member.role() == Some(Role::Admin);
    let history =
        crate::import::history::history(&state.store, tenant, entity, &r.sourced_id, personal)
            .await?
            .unwrap_or_default();
    Ok(Head {
        history: super::history_rows::rows(history, &state.ui_zone),
        id: r.sourced_id.clone(),
        title,
        tombstoned: r.status != "active",
        modified: state.ui_zone.datetime(r.modified),
        import_href,
        import_id,
        fields: fields(entity, r),
    })
}

/// The record of `entity` with `id`, or the page saying it is not there.
async fn find(
    state: &AppState,
    member: &Member,
    entity: Entity,
    id: &str,
) -> Result<(String, Record), Response> {
    let Some((tenant, _)) = &member.tenant else {
        return Err(member.visit.see_other(super::BASE_PATH));
    };
    match state
        .store
        .record(tenant, entity, id, &Selection::All, None)
        .await
    {
        Ok(Some(r)) => Ok((tenant.clone(), r)),
        Ok(None) => Err(member
            .visit
            .error_page(&AdminError::not_found(format!("no record {id}")))),
        Err(e) => Err(member.visit.error_page(&e.into())),
    }
}

fn render(member: &Member, page: Result<RecordPage, AdminError>) -> Response {
    match page {
        Ok(p) => member.visit.html(StatusCode::OK, p.render()),
        Err(e) => member.visit.error_page(&e),
    }
}

pub async fn user(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> Response {
    let (tenant, r) = match find(&state, &member, Entity::Users, &id).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let page = async {
        let g = |c: &str| r.get(Entity::Users, c).unwrap_or("").to_owned();
        let head = head(
            &state,
            &member,
            &tenant,
            Entity::Users,
            &r,
            full_name(&g("family_name"), &g("given_name")),
        )
        .await?;
        let roles = state
            .store
            .roles_of(&tenant, &[id.as_str()], None)
            .await
            .map_err(AdminError::from)?;
        let roles = roles
            .iter()
            .map(|row| {
                let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                Link {
                    href: format!("/ui/roster/orgs/{}", enc(&cell(3))),
                    text: format!("{} ({})", cell(2), cell(1)),
                    note: cell(3),
                    tombstoned: cell(7) != "active",
                }
            })
            .collect();
        let classes = related(
            &state,
            &tenant,
            Entity::Classes,
            Selection::ClassesOfUser {
                user: id.clone(),
                role: None,
            },
        )
        .await?;
        let enrollments = related(
            &state,
            &tenant,
            Entity::Enrollments,
            Selection::Eq("user_sourced_id", id.clone()),
        )
        .await?;
        let enrollments = enrollments
            .iter()
            .map(|e| {
                let g = |c: &str| e.get(Entity::Enrollments, c).unwrap_or("").to_owned();
                let seat = Meta::of(e)
                    .seat()
                    .map(|n| format!(" #{n}"))
                    .unwrap_or_default();
                Link {
                    href: format!("/ui/roster/classes/{}", enc(&g("class_sourced_id"))),
                    text: g("class_sourced_id"),
                    note: format!("{}{seat}", g("role")),
                    tombstoned: e.status != "active",
                }
            })
            .collect();
        // Demographics are a scope of their own in the API (`roster-demographics.readonly`);
        // in the UI only administrators see them.
        let demographics = if member.role() == Some(Role::Admin) {
            state
                .store
                .record(&tenant, Entity::Demographics, &id, &Selection::All, None)
                .await
                .map_err(AdminError::from)?
                .map(|d| fields(Entity::Demographics, &d))
        } else {
            None
        };
        Ok::<_, AdminError>(RecordPage {
            c: member.chrome("roster.user", "roster"),
            kind: "users",
            head,
            sections: vec![
                ("roster.roles", roles),
                (
                    "roster.classes",
                    classes
                        .iter()
                        .map(|c| {
                            class_link(
                                c,
                                c.get(Entity::Classes, "class_code")
                                    .unwrap_or("")
                                    .to_owned(),
                            )
                        })
                        .collect(),
                ),
                ("roster.enrollments", enrollments),
            ],
            demographics,
        })
    }
    .await;
    render(&member, page)
}

pub async fn class(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> Response {
    let (tenant, r) = match find(&state, &member, Entity::Classes, &id).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let page = async {
        let title = r.get(Entity::Classes, "title").unwrap_or("").to_owned();
        let head = head(&state, &member, &tenant, Entity::Classes, &r, title).await?;
        let enrollments = related(
            &state,
            &tenant,
            Entity::Enrollments,
            Selection::Eq("class_sourced_id", id.clone()),
        )
        .await?;
        let seat_of = |user: &str| {
            enrollments
                .iter()
                .find(|e| e.get(Entity::Enrollments, "user_sourced_id") == Some(user))
                .and_then(|e| Meta::of(e).seat())
        };
        let members = |role: &'static str| {
            related(
                &state,
                &tenant,
                Entity::Users,
                Selection::UsersInClass {
                    class: id.clone(),
                    role,
                    school: None,
                },
            )
        };
        let teachers = members("teacher").await?;
        let mut students: Vec<(Option<u64>, Link)> = members("student")
            .await?
            .iter()
            .map(|u| {
                let seat = seat_of(&u.sourced_id);
                let note = seat.map(|n| format!("#{n}")).unwrap_or_default();
                (seat, user_link(u, note))
            })
            .collect();
        // 出席番号 first (in number order), then those without one, as the roster lists them.
        students.sort_by_key(|(seat, _)| (seat.is_none(), *seat));
        Ok::<_, AdminError>(RecordPage {
            c: member.chrome("roster.class", "roster"),
            kind: "classes",
            head,
            sections: vec![
                (
                    "roster.teachers",
                    teachers
                        .iter()
                        .map(|u| user_link(u, String::new()))
                        .collect(),
                ),
                (
                    "roster.students",
                    students.into_iter().map(|(_, l)| l).collect(),
                ),
            ],
            demographics: None,
        })
    }
    .await;
    render(&member, page)
}

pub async fn org(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> Response {
    let (tenant, r) = match find(&state, &member, Entity::Orgs, &id).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let page = async {
        let name = r.get(Entity::Orgs, "name").unwrap_or("").to_owned();
        let head = head(&state, &member, &tenant, Entity::Orgs, &r, name).await?;
        let children = related(
            &state,
            &tenant,
            Entity::Orgs,
            Selection::Eq("parent_sourced_id", id.clone()),
        )
        .await?;
        let classes = related(
            &state,
            &tenant,
            Entity::Classes,
            Selection::Eq("school_sourced_id", id.clone()),
        )
        .await?;
        Ok::<_, AdminError>(RecordPage {
            c: member.chrome("roster.org", "roster"),
            kind: "orgs",
            head,
            sections: vec![
                ("roster.sub_orgs", children.iter().map(org_link).collect()),
                (
                    "roster.classes",
                    classes
                        .iter()
                        .map(|c| {
                            class_link(
                                c,
                                c.get(Entity::Classes, "class_code")
                                    .unwrap_or("")
                                    .to_owned(),
                            )
                        })
                        .collect(),
                ),
            ],
            demographics: None,
        })
    }
    .await;
    render(&member, page)
}
