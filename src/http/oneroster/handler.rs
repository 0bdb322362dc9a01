//! One generic handler for every collection and one for every single-object operation: auth
//! and scope, parameters, parent checks, the query, the JSON, the paging headers.

use std::future::Future;
use std::pin::Pin;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::cache::CachedResponse;
use super::params::{self, DEFAULT_LIMIT, Params};
use super::wire::{self, Extras, Links};
use crate::auth::{Principal, Scopes};
use crate::domain::Entity;
use crate::filter::{self, Resource};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::metrics::security::{self, AuthFailure};
use crate::storage::list::{ListQuery, ListRequest};
use crate::storage::read::Record;
use std::sync::Arc;

use crate::storage::select::{OrgScope, Selection};

/// The scope an operation needs (ONEROSTER.md §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The 22 core operations: `roster-core.readonly` or `roster.readonly`.
    Core,
    /// Relationship operations: `roster.readonly`.
    Roster,
    /// `roster-demographics.readonly`.
    Demographics,
}

impl Need {
    fn allowed(self, scopes: Scopes) -> bool {
        match self {
            Need::Core => scopes.contains(Scopes::CORE) || scopes.contains(Scopes::ROSTER),
            Need::Roster => scopes.contains(Scopes::ROSTER),
            Need::Demographics => scopes.contains(Scopes::DEMOGRAPHICS),
        }
    }

    /// The scopes that open the operation, for the 403 that tells the client what to ask for
    /// (the admin API names its scope the same way).
    fn covering(self) -> String {
        match self {
            Need::Core => format!("{} or {}", Scopes::CORE_URI, Scopes::ROSTER_URI),
            Need::Roster => Scopes::ROSTER_URI.to_owned(),
            Need::Demographics => Scopes::DEMOGRAPHICS_URI.to_owned(),
        }
    }
}

/// What one collection operation selects.
#[derive(Debug, Clone)]
pub struct Spec {
    entity: Entity,
    wrapper: &'static str,
    need: Need,
    /// Path parents that must exist (else 404 `unknownobject`).
    parents: Vec<(Entity, Selection, String)>,
    selection: Selection,
}

impl Spec {
    pub fn all(entity: Entity, wrapper: &'static str, need: Need, selection: Selection) -> Spec {
        Spec {
            entity,
            wrapper,
            need,
            parents: Vec::new(),
            selection,
        }
    }

    pub fn related(
        entity: Entity,
        wrapper: &'static str,
        parent: (Entity, Selection),
        parent_id: &str,
        selection: Selection,
    ) -> Spec {
        Spec {
            entity,
            wrapper,
            need: Need::Roster,
            parents: vec![(parent.0, parent.1, parent_id.to_owned())],
            selection,
        }
    }

    /// `/schools/{s}/classes/{c}/…`: the school must exist, and the class at that school.
    pub fn related2(
        entity: Entity,
        wrapper: &'static str,
        ids: &[String],
        selection: Selection,
    ) -> Spec {
        Spec {
            entity,
            wrapper,
            need: Need::Roster,
            parents: vec![
                (
                    Entity::Orgs,
                    Selection::OrgsOfType("school"),
                    ids[0].clone(),
                ),
                (
                    Entity::Classes,
                    Selection::Eq("school_sourced_id", ids[0].clone()),
                    ids[1].clone(),
                ),
            ],
            selection,
        }
    }
}

/// Everything a handler needs from the request.
pub struct Req {
    state: AppState,
    principal: Principal,
    ids: Vec<String>,
    query: Option<String>,
    path: String,
    headers: HeaderMap,
    base: String,
    /// The tenant's data generation, read once per request by [`cached`].
    generation: i64,
    /// The orgs an org-scoped client may see (set by [`cached`]); `None`: the whole tenant.
    scope: Option<Arc<OrgScope>>,
}

impl FromRequestParts<AppState> for Req {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Req, Response> {
        let principal = match parts
            .extensions
            .get::<crate::http::guard::VerifiedPrincipal>()
        {
            Some(v) => v.0.clone(),
            None => bearer(&parts.headers, state).map_err(IntoResponse::into_response)?,
        };
        let ids = match Path::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Path(v)) => v.into_iter().map(|(_, v)| v).collect(),
            Err(PathRejection::MissingPathParams(_)) => Vec::new(),
            // An id that does not decode (not UTF-8): the route's ids would be missing.
            Err(_) => {
                return Err(ApiError::InvalidData(
                    "a sourcedId in the path is not valid percent-encoded UTF-8".into(),
                )
                .into_response());
            }
        };
        let base = state.base_url(&parts.headers);
        Ok(Req {
            state: state.clone(),
            principal,
            ids,
            query: parts.uri.query().map(str::to_owned),
            // Nested routes see the path without the service's base path.
            path: format!("{}{}", super::BASE_PATH, parts.uri.path()),
            headers: parts.headers.clone(),
            base,
            generation: 0,
            scope: None,
        })
    }
}

/// The verified principal of a `Bearer` token, or 401.
pub(crate) fn bearer(headers: &HeaderMap, state: &AppState) -> Result<Principal, ApiError> {
    crate::http::credentials::verify_bearer(headers, &state.auth).map_err(ApiError::Unauthorised)
}

type BoxResponse = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A handler for a collection operation; `make` builds its [`Spec`] from the path ids.
pub fn collection(
    make: fn(&[String]) -> Spec,
) -> impl Fn(Req) -> BoxResponse + Clone + Send + Sync + 'static {
    move |req: Req| {
        Box::pin(async move {
            let spec = make(&req.ids);
            let need = spec.need;
            cached(req, need, move |req| Box::pin(list(req, spec))).await
        })
    }
}

type BoxResult = Pin<Box<dyn Future<Output = Result<Built, ApiError>> + Send>>;

/// A response built from the database, before it is cached and sent.
pub struct Built {
    body: Value,
    total: Option<u64>,
    link: Option<String>,
}

/// Serves from the per-generation response cache, or builds, caches and serves.
async fn cached(mut req: Req, need: Need, build: impl FnOnce(Req) -> BoxResult) -> Response {
    let run = async {
        let client = req
            .state
            .store
            .request_state(&req.principal.tenant, &req.principal.client_id)
            .await?;
        if !client.client_active {
            security::auth_failure(AuthFailure::Revoked);
            return Err(ApiError::Unauthorised(
                "the token's client has been revoked".into(),
            ));
        }
        // A token grants at most what its client holds now: a scope taken away since the
        // token was issued (or one it lists that the client never had) opens nothing.
        req.principal.scopes = req.principal.scopes.intersection(client.scopes);
        check_scope(&req, need)?;
        // The generation of the database the data comes from: a replica behind the primary
        // must not have its older rows cached under the primary's newer generation.
        let generation = match &req.state.replica {
            Some(r) => r.data_generation(&req.principal.tenant).await?,
            None => client.generation,
        };
        req.generation = generation;
        let scope_text = client.org_scope.as_ref().map(|s| s.join(" "));
        if let Some(orgs) = &client.org_scope {
            req.scope = Some(expanded_scope(&req, orgs).await?);
        }
        // A client bound to a national model reads converted names (`target`).
        let target = client
            .target
            .as_deref()
            .and_then(crate::csv::target::Target::parse);
        // Answers differ by org scope and target: such clients never share an entry.
        let key = format!(
            "{}\u{1f}{generation}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            req.principal.tenant,
            scope_text.as_deref().unwrap_or("*"),
            target.map_or("", crate::csv::target::Target::name),
            req.base,
            req.path,
            req.query.as_deref().unwrap_or("")
        );
        let cache = req.state.cache.clone();
        if let Some(hit) = cache.response(&key) {
            return Ok(send(&req.headers, &hit));
        }
        let lock = cache.build_lock(&key);
        let _building = lock.lock().await;
        if let Some(hit) = cache.response(&key) {
            return Ok(send(&req.headers, &hit));
        }
        let headers = req.headers.clone();
        let mut built = build(req).await?;
        if let Some(t) = target {
            super::target::conform(&mut built.body, t);
        }
        let body: axum::body::Bytes = serde_json::to_vec(&built.body).unwrap_or_default().into();
        let etag = format!("W/\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&body));
        let response = std::sync::Arc::new(CachedResponse {
            body,
            etag,
            total: built.total,
            link: built.link,
        });
        cache.put_response(key, response.clone());
        Ok::<_, ApiError>(send(&headers, &response))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// The client's orgs and every org below them, once per tenant generation.
async fn expanded_scope(req: &Req, orgs: &[String]) -> Result<Arc<OrgScope>, ApiError> {
    let key = format!(
        "{}\u{1f}{}\u{1f}{}",
        req.principal.tenant,
        req.generation,
        orgs.join(" ")
    );
    if let Some(hit) = req.state.cache.scope(&key) {
        return Ok(hit);
    }
    let scope = Arc::new(
        req.state
            .reads()
            .expand_orgs(&req.principal.tenant, orgs)
            .await?,
    );
    req.state.cache.put_scope(key, scope.clone());
    Ok(scope)
}

/// A cached or fresh response: `X-Total-Count`, `Link`, weak `ETag`; `If-None-Match` → 304.
fn send(request_headers: &HeaderMap, r: &CachedResponse) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&r.etag) {
        headers.insert(header::ETAG, v);
    }
    if let Some(t) = r.total {
        headers.insert("x-total-count", HeaderValue::from(t));
    }
    if let Some(l) = r
        .link
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        headers.insert(header::LINK, l);
    }
    let matches = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == r.etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (StatusCode::OK, headers, r.body.clone()).into_response()
}

/// A handler for a single-object operation.
pub fn single(
    entity: Entity,
    wrapper: &'static str,
    need: Need,
    selection: Selection,
) -> impl Fn(Req) -> BoxResponse + Clone + Send + Sync + 'static {
    move |req: Req| {
        let selection = selection.clone();
        Box::pin(async move {
            cached(req, need, move |req| {
                Box::pin(one(req, entity, wrapper, selection))
            })
            .await
        })
    }
}

fn resource(e: Entity) -> Resource {
    match e {
        Entity::Orgs => Resource::Orgs,
        Entity::AcademicSessions => Resource::AcademicSessions,
        Entity::Courses => Resource::Courses,
        Entity::Classes => Resource::Classes,
        Entity::Enrollments => Resource::Enrollments,
        Entity::Demographics => Resource::Demographics,
        Entity::Users | Entity::Roles | Entity::UserProfiles => Resource::Users,
    }
}

fn check_scope(req: &Req, need: Need) -> Result<(), ApiError> {
    if need.allowed(req.principal.scopes) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the token's scopes do not cover this operation (it needs {}): request a token \
             with that scope, for a client that holds it",
            need.covering()
        )))
    }
}

async fn one(
    req: Req,
    entity: Entity,
    wrapper: &'static str,
    selection: Selection,
) -> Result<Built, ApiError> {
    let p = params::parse(req.query.as_deref(), req.state.max_limit)?;
    let fields = params::selected_fields(p.fields.as_deref(), wire::known_fields(entity))?;
    let id = req.ids.first().cloned().unwrap_or_default();
    let tenant = &req.principal.tenant;
    let record = req
        .state
        .reads()
        .record(tenant, entity, &id, &selection, req.scope.as_deref())
        .await?
        .ok_or_else(|| ApiError::UnknownObject(format!("no {wrapper} with sourcedId `{id}`")))?;
    let links = links(&req);
    let extras = extras(&req, entity, std::slice::from_ref(&record)).await?;
    let obj = wire::select_fields(
        wire::to_json(entity, &record, &links, &extras),
        fields.as_deref(),
    );
    let mut body = Map::new();
    body.insert(wrapper.into(), obj);
    Ok(Built {
        body: Value::Object(body),
        total: None,
        link: None,
    })
}

async fn list(req: Req, spec: Spec) -> Result<Built, ApiError> {
    let p = params::parse(req.query.as_deref(), req.state.max_limit)?;
    let fields = params::selected_fields(p.fields.as_deref(), wire::known_fields(spec.entity))?;
    let res = resource(spec.entity);
    let expr = match p.filter.as_deref() {
        Some(f) => {
            Some(filter::parse_filter(res, f).map_err(|e| ApiError::InvalidFilter(e.to_string()))?)
        }
        None => None,
    };
    let store = req.state.reads();
    let tenant = req.principal.tenant.clone();
    for (entity, selection, id) in &spec.parents {
        if store
            .record(&tenant, *entity, id, selection, req.scope.as_deref())
            .await?
            .is_none()
        {
            return Err(ApiError::UnknownObject(format!(
                "no {} with sourcedId `{id}`",
                entity.name()
            )));
        }
    }
    let request = ListRequest {
        tenant: &tenant,
        entity: spec.entity,
        selection: &spec.selection,
        filter: expr.as_ref(),
        sort: match p.sort.as_deref() {
            Some(s) => {
                filter::parse_sort(res, s).map_err(|e| ApiError::InvalidData(e.to_string()))?
            }
            None => None,
        },
        desc: p.desc,
        scope: req.scope.as_deref(),
    };
    // A filter or sort storage cannot translate (a field encrypted at rest…) is a 400.
    let query = store
        .list_query(&request)
        .map_err(|e| ApiError::InvalidFilter(e.to_string()))?;
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT).min(req.state.max_limit);
    let offset = p.offset.unwrap_or(0);
    let (total, records) = fetch_page(&req, &request, &query, limit, offset).await?;
    let links = links(&req);
    let extras = extras(&req, spec.entity, &records).await?;
    let items: Vec<Value> = records
        .iter()
        .map(|r| {
            wire::select_fields(
                wire::to_json(spec.entity, r, &links, &extras),
                fields.as_deref(),
            )
        })
        .collect();
    let mut body = Map::new();
    body.insert(spec.wrapper.into(), Value::Array(items));
    let link = link_header(&req, &p, limit, offset, total);
    Ok(Built {
        body: Value::Object(body),
        total: Some(total),
        link,
    })
}

/// The total and one page, using the per-generation caches: the total is counted once per
/// import, and a deep offset in the default order becomes a seek to a cached anchor.
async fn fetch_page(
    req: &Req,
    request: &ListRequest<'_>,
    query: &ListQuery,
    limit: u64,
    offset: u64,
) -> Result<(u64, Vec<Record>), ApiError> {
    let store = req.state.reads();
    let cache = &req.state.cache;
    let total_key = request.total_key(req.generation);
    let total = match cache.total(&total_key) {
        Some(t) => t,
        None => {
            let t = store.list_total(query).await?;
            cache.put_total(total_key, t);
            t
        }
    };
    if offset >= total {
        return Ok((total, Vec::new()));
    }
    let anchors = if query.seeks(offset) {
        let key = request.key(req.generation);
        Some(match cache.anchors(&key) {
            Some(a) => a,
            None => {
                let a = Arc::new(store.list_anchors(query).await?);
                cache.put_anchors(key, a.clone());
                a
            }
        })
    } else {
        None
    };
    let records = store
        .list_page(query, limit, offset, anchors.as_deref().map(Vec::as_slice))
        .await?;
    Ok((total, records))
}

fn links(req: &Req) -> Links {
    Links {
        api_base: format!("{}{}", req.base, super::BASE_PATH),
        nested_metadata: req.state.nested_metadata,
    }
}

/// Roles and profiles for users; children for orgs and sessions.
async fn extras(req: &Req, entity: Entity, records: &[Record]) -> Result<Extras, ApiError> {
    let store = req.state.reads();
    let tenant = &req.principal.tenant;
    let ids: Vec<&str> = records.iter().map(|r| r.sourced_id.as_str()).collect();
    let mut x = Extras::default();
    match entity {
        Entity::Users => {
            let (roles, profiles) = tokio::try_join!(
                store.roles_of(tenant, &ids, req.scope.as_deref()),
                store.profiles_of(tenant, &ids)
            )?;
            x.roles = roles;
            x.profiles = profiles;
        }
        Entity::Orgs | Entity::AcademicSessions => {
            x.children = store.children_ids(tenant, entity, &ids).await?;
            if let (Entity::Orgs, Some(scope)) = (entity, &req.scope) {
                // An org's children outside the scope are not shown (they are not, for a
                // scope expanded downwards, but the rule does not rely on it).
                x.children
                    .retain(|(_, child)| scope.0.binary_search(child).is_ok());
            }
        }
        _ => {}
    }
    Ok(x)
}

/// A query parameter as the client sent it, with what may not appear in a URL (or a header:
/// non-ASCII, spaces, quotes, angle brackets, controls) percent-encoded. Already encoded
/// text is kept as is.
fn url_safe(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The longest `Link` sent. With `filter`, `sort` and `fields` bounded it is rarely reached
/// (four long non-ASCII parameters); past it the header is left out rather than sent at a
/// size that proxies and curl refuse: `X-Total-Count` and `offset` still page.
pub const MAX_LINK_BYTES: usize = 16 * 1024;

/// `Link` with first/prev/next/last: absolute URLs that keep the parameters that shape the
/// answer (`Params::raw`); `None` past [`MAX_LINK_BYTES`].
fn link_header(req: &Req, p: &Params, limit: u64, offset: u64, total: u64) -> Option<String> {
    let url = |off: u64| {
        let mut q: Vec<String> = p
            .raw
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    url_safe(k)
                } else {
                    format!("{}={}", url_safe(k), url_safe(v))
                }
            })
            .collect();
        q.push(format!("limit={limit}"));
        q.push(format!("offset={off}"));
        format!("<{}{}?{}>", req.base, req.path, q.join("&"))
    };
    let last = if total == 0 {
        0
    } else {
        (total - 1) / limit * limit
    };
    let mut parts = Vec::new();
    if offset + limit < total {
        parts.push(format!("{}; rel=\"next\"", url(offset + limit)));
    }
    parts.push(format!("{}; rel=\"last\"", url(last)));
    parts.push(format!("{}; rel=\"first\"", url(0)));
    if offset > 0 {
        parts.push(format!(
            "{}; rel=\"prev\"",
            url(offset.saturating_sub(limit))
        ));
    }
    let link = parts.join(", ");
    (link.len() <= MAX_LINK_BYTES).then_some(link)
}
