//! The audit log, on both backends, against a server on a real socket: one entry per audited
//! request with the right actor, action, status, count, target, IP and request id; the
//! `GET /api/v1/audit` filters and paging; tenants kept apart; retention; batched writes.

mod actions;
mod api;

use actions::{
    each_audited_action_leaves_exactly_one_entry, the_guards_refusals_are_audited,
    token_requests_and_refusals_are_audited,
};
use api::{
    quick_reads_are_written_in_batches_and_none_lost, the_audit_api_filters_and_pages_exactly,
    the_retention_sweep_removes_old_entries_only,
};

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use rosterhub::audit::{Entry, Filter};

use crate::server::Server;

pub(crate) const OR: &str = "/ims/oneroster/rostering/v1p2";
pub(crate) const UA: &str = "audit-test/1";

/// A request to `path` with the test's user agent and, when given, a bearer token.
pub(crate) fn req(
    server: &Server,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> RequestBuilder {
    let rb = server
        .http
        .request(method, server.url(path))
        .header("user-agent", UA);
    match token {
        Some(t) => rb.bearer_auth(t),
        None => rb,
    }
}

/// Sends with `x-request-id: rid` (the server keeps a request id it is given); the status,
/// headers and body.
pub(crate) async fn send(rb: RequestBuilder, rid: &str) -> (u16, HeaderMap, Vec<u8>) {
    let r = rb.header("x-request-id", rid).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    assert_eq!(headers["x-request-id"], rid, "the request id is kept");
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// The tenant's entries matching `filter`, newest first, once the writer has flushed.
pub(crate) async fn entries(server: &Server, tenant: &str, filter: Filter) -> Vec<Entry> {
    server.state.audit.flush().await;
    server
        .state
        .store
        .audit_entries(tenant, &filter, 10_000, 0)
        .await
        .unwrap()
        .0
}

/// The one entry of request `rid` (exactly one, or the test fails).
pub(crate) async fn one(server: &Server, tenant: &str, rid: &str) -> Entry {
    let mut found = by_request(server, tenant, rid).await;
    assert_eq!(found.len(), 1, "{rid}: {found:#?}");
    found.remove(0)
}

pub(crate) async fn by_request(server: &Server, tenant: &str, rid: &str) -> Vec<Entry> {
    let filter = Filter {
        request_id: Some(rid.to_owned()),
        ..Filter::default()
    };
    entries(server, tenant, filter).await
}

/// An entry as the test expects it: `id` and `at` are taken from `got` (checked apart).
#[expect(clippy::too_many_arguments)]
pub(crate) fn expected(
    got: &Entry,
    actor: &str,
    action: &str,
    method: &str,
    path: &str,
    query: Option<&str>,
    status: u16,
    result_count: Option<u64>,
    target: Option<&str>,
    rid: &str,
) -> Entry {
    Entry {
        id: got.id.clone(),
        tenant: got.tenant.clone(),
        at: got.at,
        actor: actor.into(),
        action: action.into(),
        method: method.into(),
        path: path.into(),
        query: query.map(Into::into),
        status,
        result_count,
        target: target.map(Into::into),
        source_ip: Some("127.0.0.1".into()),
        request_id: Some(rid.into()),
        user_agent: Some(UA.into()),
    }
}

crate::on_both_backends!(
    each_audited_action_leaves_exactly_one_entry,
    token_requests_and_refusals_are_audited,
    the_guards_refusals_are_audited,
    the_audit_api_filters_and_pages_exactly,
    the_retention_sweep_removes_old_entries_only,
    quick_reads_are_written_in_batches_and_none_lost,
);
