//! `/ui/audit` (administrators): the tenant's audit log, newest first, filtered by actor,
//! action (`imports.*` for a prefix), a time range typed in the UI's zone (`from` inclusive,
//! `to` up to the end of its minute), request id and target — the admin API's filter rules
//! (`admin::audit::parse`). Pages are keyset pages (`Store::audit_page`): 50 entries read as 51,
//! nothing counted, so a page costs the same at the millionth entry. `/ui/audit.csv` streams
//! the filtered log as a spreadsheet (`csv::sheet`: UTF-8 with BOM, CRLF, formula cells
//! neutralised) in pages of 1,000, never whole in memory; the download itself is audited.

use std::collections::HashMap;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::chrome::{Chrome, Member, enc, noted};
use super::view::Params;
use super::zone::Zone;
use crate::audit::{Entry, Filter};
use crate::csv::sheet;
use crate::http::AppState;
use crate::http::admin::audit::parse;
use crate::storage::Store;

/// Entries per page.
const PAGE: u64 = 50;
/// Entries per read of the CSV download.
const CSV_BATCH: u64 = 1000;
/// The filters of the form, by their query names.
const FIELDS: [&str; 6] = ["actor", "action", "from", "to", "request_id", "target"];

/// The filter form as typed (query names of [`FIELDS`]).
#[derive(Default)]
pub struct Typed {
    pub actor: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub request_id: String,
    pub target: String,
}

impl Typed {
    fn of(p: &Params) -> Typed {
        let v = |k: &str| p.get(k).trim().to_owned();
        Typed {
            actor: v("actor"),
            action: v("action"),
            from: v("from"),
            to: v("to"),
            request_id: v("request_id"),
            target: v("target"),
        }
    }

    /// The filter, by the admin API's rules; its message when a value is wrong.
    fn filter(&self, zone: &Zone) -> Result<Filter, String> {
        let mut q = HashMap::new();
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("request_id", &self.request_id),
            ("target", &self.target),
        ] {
            if !v.is_empty() {
                q.insert(k.to_owned(), v.clone());
            }
        }
        if !self.from.is_empty() {
            q.insert("since".to_owned(), zone.form_datetime(&self.from));
        }
        if !self.to.is_empty() {
            q.insert("until".to_owned(), zone.form_datetime(&self.to));
        }
        // The API's words name its parameters; the form's are `from` and `to`.
        let (mut filter, _, _) = parse(&q).map_err(|e| {
            e.message
                .replace("`since`", "`from`")
                .replace("`until`", "`to`")
        })?;
        // `to` names a minute the page shows: it includes that minute's entries.
        if self.to.len() == 16 {
            filter.until = filter.until.map(|u| u + 60_000);
        }
        Ok(filter)
    }

    /// The filters as a query string (without paging), for links.
    fn query(&self) -> String {
        let values = [
            &self.actor,
            &self.action,
            &self.from,
            &self.to,
            &self.request_id,
            &self.target,
        ];
        FIELDS
            .iter()
            .zip(values)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// An entry as the page shows it.
pub struct EntryView {
    pub at: String,
    pub actor: String,
    /// The username of a `user:<id>` actor of this tenant.
    pub actor_name: String,
    pub action: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub target: String,
    pub request_id: String,
    pub source_ip: String,
}

#[derive(Template)]
#[template(path = "pages/audit.html")]
struct AuditPage {
    c: Chrome,
    typed: Typed,
    zone: String,
    problem: String,
    entries: Vec<EntryView>,
    /// Older entries.
    next_href: String,
    /// Back to the newest (on a later page).
    first_href: String,
    csv_href: String,
}

/// `GET /ui/audit[?actor&action&from&to&request_id&target][&after=<at>_<id>]`.
pub async fn show(
    State(state): State<AppState>,
    member: Member,
    RawQuery(raw): RawQuery,
) -> Response {
    let tenant = match member.admin_tenant("reading the audit log") {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let params = Params::new(raw.as_deref());
    let typed = Typed::of(&params);
    let query = typed.query();
    let with = |extra: &str| {
        let q = [query.as_str(), extra]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("&");
        if q.is_empty() {
            "/ui/audit".to_owned()
        } else {
            format!("/ui/audit?{q}")
        }
    };
    let mut page = AuditPage {
        c: member.chrome("audit.title", "audit"),
        zone: state.ui_zone.name().to_owned(),
        problem: String::new(),
        entries: Vec::new(),
        next_href: String::new(),
        first_href: String::new(),
        csv_href: with("").replacen("/ui/audit", "/ui/audit.csv", 1),
        typed: Typed::default(),
    };
    let filter = match typed.filter(&state.ui_zone) {
        Ok(f) => f,
        Err(problem) => {
            page.problem = problem;
            page.typed = typed;
            return member.visit.html(StatusCode::BAD_REQUEST, page.render());
        }
    };
    let after = params.after();
    let mut rows = match state
        .store
        .audit_page(
            &tenant,
            &filter,
            after.as_ref().map(|(at, id)| (*at, id.as_str())),
            PAGE + 1,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let more = rows.len() as u64 > PAGE;
    rows.truncate(PAGE as usize);
    if more && let Some(last) = rows.last() {
        page.next_href = with(&format!("after={}_{}", last.at, enc(&last.id)));
    }
    if after.is_some() {
        page.first_href = with("");
    }
    let names = match user_names(&state.store, &tenant).await {
        Ok(n) => n,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    page.entries = rows
        .iter()
        .map(|e| EntryView {
            at: state.ui_zone.datetime_seconds(e.at),
            actor_name: e
                .actor
                .strip_prefix("user:")
                .and_then(|id| names.get(id))
                .cloned()
                .unwrap_or_default(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            method: e.method.clone(),
            path: e.path.clone(),
            status: e.status,
            target: e.target.clone().unwrap_or_default(),
            request_id: e.request_id.clone().unwrap_or_default(),
            source_ip: e.source_ip.clone().unwrap_or_default(),
        })
        .collect();
    page.typed = typed;
    member.visit.html(StatusCode::OK, page.render())
}

/// Usernames of the tenant's admin users by id (tens of them: one read per page).
pub(super) async fn user_names(
    store: &Store,
    tenant: &str,
) -> Result<HashMap<String, String>, crate::storage::StoreError> {
    Ok(store
        .list_admin_users(Some(tenant))
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect())
}

/// The CSV's columns.
const HEADER: [&str; 13] = [
    "at",
    "actor",
    "action",
    "method",
    "path",
    "query",
    "status",
    "result_count",
    "target",
    "source_ip",
    "request_id",
    "user_agent",
    "id",
];

fn csv_line(e: &Entry, zone: &Zone) -> String {
    let at = zone.datetime_seconds(e.at);
    let status = e.status.to_string();
    let count = e.result_count.map(|n| n.to_string()).unwrap_or_default();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let (query, target, ip, rid, ua) = (
        opt(&e.query),
        opt(&e.target),
        opt(&e.source_ip),
        opt(&e.request_id),
        opt(&e.user_agent),
    );
    let cells: [&str; 13] = [
        &at, &e.actor, &e.action, &e.method, &e.path, &query, &status, &count, &target, &ip, &rid,
        &ua, &e.id,
    ];
    sheet::line(cells)
}

/// Where the CSV download is: its first chunk, the page after an entry, or the end.
enum Next {
    Head(String),
    After(Option<(i64, String)>),
    Done,
}

/// `GET /ui/audit.csv[?filters]`: the filtered log, every matching entry, newest first.
pub async fn download(
    State(state): State<AppState>,
    member: Member,
    RawQuery(raw): RawQuery,
) -> Response {
    let tenant = match member.admin_tenant("reading the audit log") {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let typed = Typed::of(&Params::new(raw.as_deref()));
    let filter = match typed.filter(&state.ui_zone) {
        Ok(f) => f,
        Err(problem) => {
            let e = crate::http::admin::error::AdminError::bad_request("bad_query", problem);
            return member.visit.error_page(&e);
        }
    };
    // The header names the zone the times are in.
    let mut columns = HEADER.map(str::to_owned);
    columns[0] = format!("at ({})", state.ui_zone.name());
    let first = format!(
        "{}{}",
        sheet::BOM,
        sheet::line(columns.iter().map(String::as_str))
    );
    let (store, zone) = (state.store.clone(), state.ui_zone.clone());
    let stream = futures_util::stream::unfold(Next::Head(first), move |next| {
        let (store, zone, tenant, filter) =
            (store.clone(), zone.clone(), tenant.clone(), filter.clone());
        async move {
            let after = match next {
                Next::Head(h) => return Some((Ok(Bytes::from(h)), Next::After(None))),
                Next::Done => return None,
                Next::After(after) => after,
            };
            let cursor = after.as_ref().map(|(t, id)| (*t, id.as_str()));
            match store.audit_page(&tenant, &filter, cursor, CSV_BATCH).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let text: String = rows.iter().map(|e| csv_line(e, &zone)).collect();
                    // A short page is the last.
                    let next = match rows.last() {
                        Some(e) if rows.len() as u64 == CSV_BATCH => {
                            Next::After(Some((e.at, e.id.clone())))
                        }
                        _ => Next::Done,
                    };
                    Some((Ok::<Bytes, std::io::Error>(Bytes::from(text)), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "the audit log download stopped");
                    Some((Err(std::io::Error::other(e.to_string())), Next::Done))
                }
            }
        }
    });
    let day = zone_day(&state.ui_zone);
    let name = format!("rosterhub-audit-{}-{day}.csv", tenant_for_name(&member));
    let mut r = Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    noted(r, "audit.export", None)
}

/// Today in the zone, `2026-04-01`.
fn zone_day(zone: &Zone) -> String {
    let now = zone.datetime(crate::domain::datetime::now_ms());
    now.get(..10).unwrap_or("today").to_owned()
}

/// The tenant id with anything unusual in a file name replaced.
fn tenant_for_name(member: &Member) -> String {
    member
        .tenant
        .as_ref()
        .map(|(t, _)| t.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"))
        .unwrap_or_default()
}
