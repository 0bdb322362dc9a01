//! PII encrypted at rest: no plaintext in the database, reads and exports as without
//! encryption, blind-index filters, keys required to open, rotation, nothing in the logs.

mod api;
mod at_rest;
mod cli;
mod rotate;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::Request;
use rosterhub::auth::Scopes;
use rosterhub::domain::Entity;
use rosterhub::filter::{Expr, SortField};
use rosterhub::import::{ImportOptions, Outcome};
use rosterhub::pii::{Columns, DEFAULT_COLUMNS, Key, PiiConfig};
use rosterhub::storage::Store;
use rosterhub::storage::list::ListRequest;
use rosterhub::storage::read::Record;
use rosterhub::storage::select::Selection;
use rosterhub::storage::sql_filter::FilterSqlError;
use serde_json::Value;

use crate::helpers::tokens::client;
use crate::helpers::{TestDb, fixtures};
use crate::server::{oneshot, state};

pub const BASE: &str = "/ims/oneroster/rostering/v1p2";
/// A teacher of the fixture whose e-mail is `t00@example.jp`.
pub const TEACHER: &str = "570aa3c8-cd28-498c-b2b3-dab02cc3bddf";
/// A student of the fixture born 2018-04-01.
pub const S1: &str = "de274027-6f10-4912-9777-f62c295f0e8f";

pub fn bundle() -> std::path::PathBuf {
    fixtures().join("jp-profile-v1.2.1")
}

/// The default columns plus `users.username`: the fixture's usernames are e-mail addresses,
/// so without it the addresses would be stored in plaintext there (see SECURITY.md).
pub fn config(key: &Key) -> PiiConfig {
    PiiConfig::new(key.clone())
        .with_columns(Columns::parse(&format!("{DEFAULT_COLUMNS},users.username")).unwrap())
}

/// Switches the test database's store to these keys.
pub fn use_keys(db: &mut TestDb, config: Option<PiiConfig>) {
    db.store = db.block_on(db.store.clone().with_pii(config)).unwrap();
}

pub fn import_into(db: &TestDb, tenant: &str) -> rosterhub::import::Report {
    db.tenant(tenant);
    let report = db.import(
        &bundle(),
        ImportOptions {
            tenant: tenant.into(),
            ..ImportOptions::default()
        },
    );
    assert_eq!(report.status, Outcome::Applied, "{}", report.to_json());
    report
}

/// Every value of a column of the fixture (non-empty), from its CSV file.
pub fn fixture_values(file: &str, column: &str) -> Vec<String> {
    let text = std::fs::read_to_string(bundle().join(file)).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let at = rows
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == column)
        .unwrap();
    rows.records()
        .map(|r| r.unwrap()[at].to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The e-mail addresses and birth dates of the fixture: what must never be stored in clear.
pub fn personal_values() -> Vec<String> {
    let mut v = fixture_values("users.csv", "email");
    v.extend(fixture_values("demographics.csv", "birthDate"));
    assert!(v.len() > 20, "the fixture has e-mails and birth dates");
    v
}

/// A collection read of every record of `tenant` (any status), optionally filtered or sorted.
pub fn request<'a>(
    tenant: &'a str,
    entity: Entity,
    filter: Option<&'a Expr>,
    sort: Option<SortField>,
) -> ListRequest<'a> {
    const ALL: &Selection = &Selection::All;
    ListRequest {
        tenant,
        entity,
        selection: ALL,
        filter,
        sort,
        desc: false,
        scope: None,
    }
}

/// The records a [`request`] selects, by sourcedId, through the API's reader (decrypted);
/// a filter storage refuses is the error.
pub fn list(
    store: &Store,
    db: &TestDb,
    tenant: &str,
    entity: Entity,
    filter: Option<&Expr>,
) -> Result<Vec<Record>, FilterSqlError> {
    let query = store.list_query(&request(tenant, entity, filter, None))?;
    Ok(db
        .block_on(store.list_page(&query, u32::MAX.into(), 0, None))
        .unwrap())
}

/// Every record of a tenant as the API and exports read it (decrypted), by entity.
pub fn records(store: &Store, db: &TestDb, tenant: &str) -> BTreeMap<&'static str, Vec<Record>> {
    Entity::ALL
        .into_iter()
        .map(|e| (e.name(), list(store, db, tenant, e, None).unwrap()))
        .collect()
}

/// The raw stored text of a column, every row of every tenant.
pub fn raw_column(db: &TestDb, table: &str, column: &str) -> Vec<String> {
    db.rows(&format!(
        "SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY tenant_id, sourced_id"
    ))
    .into_iter()
    .filter_map(|r| r[0].clone())
    .collect()
}

/// A router over `db.store` and a token of `tenant` with every rostering scope.
pub fn app(db: &TestDb, tenant: &str) -> (axum::Router, String) {
    db.block_on(async {
        let state = state(db, |_| {}).await;
        let scopes = Scopes::CORE
            .union(Scopes::ROSTER)
            .union(Scopes::DEMOGRAPHICS);
        let token = client(&state, tenant, scopes).await.token;
        (rosterhub::http::router(state), token)
    })
}

/// GET on the OneRoster API: status, `X-Total-Count`, JSON body.
pub fn get(db: &TestDb, app: &axum::Router, token: &str, path: &str) -> (u16, Option<u64>, Value) {
    let path = path.replace(' ', "%20");
    let req = Request::get(format!("{BASE}{path}"))
        .header("host", "example.test")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let resp = db.block_on(oneshot(app, req));
    let total = resp
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (
        resp.status().as_u16(),
        total,
        serde_json::from_slice(resp.body()).unwrap_or(Value::Null),
    )
}
