//! `/ui/roster`: schools, classes and users, searched through the OneRoster filter engine
//! (`filter::parse_filter` → `Store::list_query`, the API's own path), one bounded page at a
//! time. Read-only, for every role. The detail pages are in `record`.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member, enc};
use super::view::Params;
use crate::domain::Entity;
use crate::filter::{self, Expr, Resource};
use crate::http::AppState;
use crate::storage::list::ListRequest;
use crate::storage::read::Record;
use crate::storage::select::Selection;

/// Rows per page.
pub const PAGE: u64 = 25;

/// What a list shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Schools,
    Classes,
    Users,
}

impl Kind {
    fn parse(s: &str) -> Kind {
        match s {
            "classes" => Kind::Classes,
            "users" => Kind::Users,
            _ => Kind::Schools,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Schools => "schools",
            Kind::Classes => "classes",
            Kind::Users => "users",
        }
    }

    fn entity(self) -> (Entity, Resource, Selection) {
        match self {
            Kind::Schools => (
                Entity::Orgs,
                Resource::Orgs,
                Selection::OrgsOfType("school"),
            ),
            Kind::Classes => (Entity::Classes, Resource::Classes, Selection::All),
            Kind::Users => (Entity::Users, Resource::Users, Selection::All),
        }
    }

    /// The fields a search looks in (`~`: contains, ASCII case folded).
    fn search_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Schools => &["name", "identifier", "sourcedId"],
            Kind::Classes => &["title", "classCode", "sourcedId"],
            Kind::Users => &[
                "familyName",
                "givenName",
                "metadata.jp.kanaFamilyName",
                "metadata.jp.kanaGivenName",
                "sourcedId",
                "identifier",
                "email",
                "username",
            ],
        }
    }
}

/// One row of a list.
pub struct Row {
    pub href: String,
    pub id: String,
    pub name: String,
    pub kana: String,
    pub extra: String,
    pub tombstoned: bool,
}

impl Row {
    fn of(kind: Kind, r: &Record) -> Row {
        let (entity, _, _) = kind.entity();
        let get = |c: &str| r.get(entity, c).unwrap_or("").to_owned();
        let meta = super::record::Meta::of(r);
        let (path, name, kana, extra) = match kind {
            Kind::Schools => ("orgs", get("name"), String::new(), get("identifier")),
            Kind::Classes => ("classes", get("title"), String::new(), get("class_code")),
            Kind::Users => (
                "users",
                super::record::full_name(&get("family_name"), &get("given_name")),
                super::record::full_name(
                    &meta.value("jp.kanaFamilyName"),
                    &meta.value("jp.kanaGivenName"),
                ),
                get("identifier"),
            ),
        };
        Row {
            href: format!("/ui/roster/{path}/{}", enc(&r.sourced_id)),
            id: r.sourced_id.clone(),
            name,
            kana,
            extra,
            tombstoned: r.status != "active",
        }
    }
}

#[derive(Template)]
#[template(path = "pages/roster.html")]
struct RosterPage {
    c: Chrome,
    kind: &'static str,
    q: String,
    tombstoned: bool,
    rows: Vec<Row>,
    page: u64,
    prev_href: String,
    next_href: String,
}

/// A single-quoted filter value (`'` doubled, as the grammar wants).
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The filter of a search: each field that can take `~` is searched with it; a field encrypted
/// at rest (`--pii-columns`) compares only whole values, so it is searched with `=`.
fn search_filter(
    state: &AppState,
    tenant: &str,
    kind: Kind,
    q: &str,
    tombstoned: bool,
) -> Option<Expr> {
    let (entity, res, selection) = kind.entity();
    let translates = |f: &str| {
        filter::parse_filter(res, f).ok().is_some_and(|e| {
            let req = ListRequest {
                tenant,
                entity,
                selection: &selection,
                filter: Some(&e),
                sort: None,
                desc: false,
                scope: None,
            };
            state.store.list_query(&req).is_ok()
        })
    };
    let mut parts = Vec::new();
    if !q.is_empty() {
        let v = quoted(q);
        let any: Vec<String> = kind
            .search_fields()
            .iter()
            .filter_map(|f| {
                [format!("{f}~{v}"), format!("{f}={v}")]
                    .into_iter()
                    .find(|p| translates(p))
            })
            .collect();
        if !any.is_empty() {
            parts.push(format!("({})", any.join(" OR ")));
        }
    }
    if !tombstoned {
        parts.push("status='active'".to_owned());
    }
    if parts.is_empty() {
        return None;
    }
    filter::parse_filter(res, &parts.join(" AND ")).ok()
}

pub async fn list(
    State(state): State<AppState>,
    member: Member,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::new(raw.as_deref());
    let kind = Kind::parse(params.get("kind"));
    let q = params.get("q").trim().to_owned();
    let tombstoned = params.get("tombstoned") == "1";
    let page = params.page(100_000);
    let Some((tenant, _)) = &member.tenant else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let (entity, _, selection) = kind.entity();
    let expr = search_filter(&state, tenant, kind, &q, tombstoned);
    let req = ListRequest {
        tenant,
        entity,
        selection: &selection,
        filter: expr.as_ref(),
        sort: None,
        desc: false,
        scope: None,
    };
    let query = match state.store.list_query(&req) {
        Ok(q) => q,
        Err(e) => {
            let e = crate::http::admin::error::AdminError::bad_request("bad_query", e.to_string());
            return member.visit.error_page(&e);
        }
    };
    // One row more than shown says whether a next page exists without counting the table.
    let mut records = match state
        .store
        .list_page(&query, PAGE + 1, (page - 1) * PAGE, None)
        .await
    {
        Ok(r) => r,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let more = records.len() as u64 > PAGE;
    records.truncate(PAGE as usize);
    let href = |p: u64| {
        let mut s = format!("/ui/roster?kind={}", kind.name());
        if !q.is_empty() {
            s.push_str(&format!("&q={}", enc(&q)));
        }
        if tombstoned {
            s.push_str("&tombstoned=1");
        }
        s.push_str(&format!("&page={p}"));
        s
    };
    let page_view = RosterPage {
        c: member.chrome("roster.title", "roster"),
        kind: kind.name(),
        rows: records.iter().map(|r| Row::of(kind, r)).collect(),
        prev_href: if page > 1 {
            href(page - 1)
        } else {
            String::new()
        },
        next_href: if more { href(page + 1) } else { String::new() },
        q,
        tombstoned,
        page,
    };
    member.visit.html(StatusCode::OK, page_view.render())
}
