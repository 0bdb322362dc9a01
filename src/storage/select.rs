//! Which records an API operation selects (ONEROSTER.md §3.3), as SQL over table alias `m`,
//! and the typed reads around it: one record, a user's roles and profiles, child ids, the
//! request's state. The SQL stays here: callers name a [`Selection`], never a clause.

use super::read::{Query, Record};
use super::{Store, StoreError};
use crate::domain::Entity;
use crate::domain::scopes::Scopes;

/// The session types served under `/terms`. Japan Profile data has only `schoolYear`
/// sessions, and clients follow `classes[].terms[0]` (a schoolYear) into `/terms/{id}/…`, so a
/// schoolYear counts as the term of a school that has no shorter terms.
pub const TERM_TYPES: &[&str] = &["term", "schoolYear"];

/// What an API request learns about its tenant and client before anything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestState {
    /// Bumped by every applied import: the key of everything cached.
    pub generation: i64,
    /// The client exists, in this tenant, unrevoked.
    pub client_active: bool,
    /// The orgs the client is limited to (before expansion), `None` for the whole tenant.
    pub org_scope: Option<Vec<String>>,
    /// The scopes the client holds now (none when it is not active): a token grants at most
    /// these, whatever it lists, so that taking a scope away applies on the next request.
    pub scopes: Scopes,
    /// The national model the client's JSON follows (`None` when it is not active).
    pub target: Option<String>,
}

/// The selection of one operation, before any `filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// Orgs of one type (`/schools`).
    OrgsOfType(&'static str),
    /// Academic sessions of some types (`/terms`, `/gradingPeriods`).
    SessionsOfTypes(&'static [&'static str]),
    /// Users holding an active role (`/students`, `/teachers`).
    UsersWithRole(&'static str),
    /// Records whose column equals a value (`/schools/{id}/classes` …).
    Eq(&'static str, String),
    /// Two columns equal values (`/schools/{s}/classes/{c}/enrollments`).
    Eq2(&'static str, String, &'static str, String),
    /// Users with an active enrollment in a class, with a role, optionally at a school.
    UsersInClass {
        class: String,
        role: &'static str,
        school: Option<String>,
    },
    /// Users holding an active role at an org.
    UsersAtOrg {
        org: String,
        role: &'static str,
    },
    /// Classes in which a user has an active enrollment (with a role, if given).
    ClassesOfUser {
        user: String,
        role: Option<&'static str>,
    },
    /// Classes whose terms include a session.
    ClassesOfTerm(String),
    /// Sessions referenced as terms by the classes of a school.
    TermsOfSchool(String),
    /// Grading periods whose parent is a term.
    GradingPeriodsOfTerm(String),
}

/// The orgs an org-scoped API client may see: the orgs it was limited to and every org below
/// them (a district's schools), sorted. `None` on a request: the client sees the whole tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgScope(pub Vec<String>);

/// `m.tenant_id = ? AND <selection> [AND <org scope>]` into `q`, for records of `entity`.
pub(super) fn where_clause(
    q: &mut Query,
    tenant: &str,
    entity: Entity,
    selection: &Selection,
    scope: Option<&OrgScope>,
) {
    selection_clause(q, tenant, selection);
    if let Some(scope) = scope {
        scope_clause(q, entity, scope);
    }
}

/// What an org-scoped client sees of each entity: orgs in its scope; courses, classes and
/// enrollments of those orgs; users (and their demographics) holding a role or an enrollment
/// there. Academic sessions belong to no org and stay visible.
fn scope_clause(q: &mut Query, entity: Entity, scope: &OrgScope) {
    let orgs = |q: &mut Query| {
        q.push("(");
        if scope.0.is_empty() {
            // No org at all: nothing matches (`IN ()` is not SQL).
            q.push("NULL");
        }
        bind_list(q, scope.0.iter().map(String::as_str));
        q.push(")");
    };
    let user_in_scope = |q: &mut Query, user_col: &str| {
        q.push(&format!(
            " AND (EXISTS (SELECT 1 FROM roles r WHERE r.tenant_id = m.tenant_id \
             AND r.user_sourced_id = {user_col} AND r.org_sourced_id IN "
        ));
        orgs(q);
        q.push(&format!(
            ") OR EXISTS (SELECT 1 FROM enrollments e WHERE e.tenant_id = m.tenant_id \
             AND e.user_sourced_id = {user_col} AND e.school_sourced_id IN "
        ));
        orgs(q);
        q.push("))");
    };
    match entity {
        Entity::Orgs => {
            q.push(" AND m.sourced_id IN ");
            orgs(q);
        }
        Entity::Courses => {
            q.push(" AND m.org_sourced_id IN ");
            orgs(q);
        }
        Entity::Classes | Entity::Enrollments => {
            q.push(" AND m.school_sourced_id IN ");
            orgs(q);
        }
        Entity::Users | Entity::Demographics => user_in_scope(q, "m.sourced_id"),
        Entity::Roles | Entity::UserProfiles => user_in_scope(q, "m.user_sourced_id"),
        Entity::AcademicSessions => {}
    }
}

/// `m.tenant_id = ? AND <selection>` into `q`.
fn selection_clause(q: &mut Query, tenant: &str, selection: &Selection) {
    q.push("m.tenant_id = ").bind(tenant);
    match selection {
        Selection::All => {}
        Selection::OrgsOfType(t) => {
            q.push(" AND m.type = ").bind(*t);
        }
        Selection::SessionsOfTypes(types) => {
            q.push(" AND m.type IN (");
            bind_list(q, types.iter().copied());
            q.push(")");
        }
        Selection::UsersWithRole(role) => {
            q.push(
                " AND EXISTS (SELECT 1 FROM roles r WHERE r.tenant_id = m.tenant_id \
                 AND r.user_sourced_id = m.sourced_id AND r.status = 'active' AND r.role = ",
            )
            .bind(*role)
            .push(")");
        }
        Selection::Eq(col, v) => {
            q.push(&format!(" AND m.{col} = ")).bind(v);
        }
        Selection::Eq2(c1, v1, c2, v2) => {
            q.push(&format!(" AND m.{c1} = ")).bind(v1);
            q.push(&format!(" AND m.{c2} = ")).bind(v2);
        }
        Selection::UsersInClass {
            class,
            role,
            school,
        } => {
            // Driven from the enrollments of the class (indexed), not from every user.
            q.push(" AND m.sourced_id IN (SELECT e.user_sourced_id FROM enrollments e WHERE e.tenant_id = ")
                .bind(tenant)
                .push(" AND e.class_sourced_id = ")
                .bind(class)
                .push(" AND e.role = ")
                .bind(*role)
                .push(" AND e.status = 'active'");
            if let Some(s) = school {
                q.push(" AND e.school_sourced_id = ").bind(s);
            }
            q.push(")");
        }
        Selection::UsersAtOrg { org, role } => {
            q.push(
                " AND m.sourced_id IN (SELECT r.user_sourced_id FROM roles r WHERE r.tenant_id = ",
            )
            .bind(tenant)
            .push(" AND r.org_sourced_id = ")
            .bind(org)
            .push(" AND r.role = ")
            .bind(*role)
            .push(" AND r.status = 'active')");
        }
        Selection::ClassesOfUser { user, role } => {
            q.push(" AND m.sourced_id IN (SELECT e.class_sourced_id FROM enrollments e WHERE e.tenant_id = ")
                .bind(tenant)
                .push(" AND e.user_sourced_id = ")
                .bind(user)
                .push(" AND e.status = 'active'");
            if let Some(r) = role {
                q.push(" AND e.role = ").bind(*r);
            }
            q.push(")");
        }
        Selection::ClassesOfTerm(term) => {
            q.push(" AND ");
            list_contains(q, "m.term_sourced_ids", term);
        }
        Selection::TermsOfSchool(school) => {
            q.push(" AND m.type IN ('term', 'schoolYear') AND EXISTS (SELECT 1 FROM classes c WHERE c.tenant_id = m.tenant_id AND c.school_sourced_id = ")
                .bind(school)
                .push(" AND ");
            let col = "c.term_sourced_ids";
            list_contains_column(q, col, "m.sourced_id");
            q.push(")");
        }
        Selection::GradingPeriodsOfTerm(term) => {
            q.push(" AND m.type = 'gradingPeriod' AND m.parent_sourced_id = ")
                .bind(term);
        }
    }
}

/// `?, ?, …` bound to the values.
fn bind_list<'a>(q: &mut Query, values: impl Iterator<Item = &'a str>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(v);
    }
}

/// `value` is an element of the comma list in `col`.
fn list_contains(q: &mut Query, col: &str, value: &str) {
    match q.dialect {
        super::sql::Dialect::Sqlite => {
            q.push(&format!("instr(',' || {col} || ',', ',' || "))
                .bind(value)
                .push(" || ',') > 0");
        }
        super::sql::Dialect::Postgres => {
            q.push("position(',' || ")
                .bind(value)
                .push(&format!(" || ',' in ',' || {col} || ',') > 0"));
        }
    }
}

/// The value of column `item` is an element of the comma list in `col`.
fn list_contains_column(q: &mut Query, col: &str, item: &str) {
    match q.dialect {
        super::sql::Dialect::Sqlite => {
            q.push(&format!(
                "instr(',' || {col} || ',', ',' || {item} || ',') > 0"
            ));
        }
        super::sql::Dialect::Postgres => {
            q.push(&format!(
                "position(',' || {item} || ',' in ',' || {col} || ',') > 0"
            ));
        }
    }
}

impl Store {
    /// Every tenant: (id, name), by id.
    pub async fn tenants(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push("SELECT id, name FROM tenants ORDER BY id");
        self.rows(q)
            .await?
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect()
    }

    /// What every API request checks first, in one round trip: the tenant's data generation,
    /// whether the token's client still exists unrevoked in that tenant (so a revocation
    /// takes effect on the next request, not at token expiry), its org scope and its current
    /// scopes (so does a scope taken away).
    pub async fn request_state(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> Result<RequestState, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push(
            "SELECT t.data_generation, CASE WHEN c.client_id IS NULL THEN 0 ELSE 1 END, \
             c.org_scope, c.scopes, c.target FROM tenants t LEFT JOIN api_clients c ON c.tenant_id = t.id \
             AND c.revoked_at IS NULL AND c.client_id = ",
        )
        .bind(client_id)
        .push(" WHERE t.id = ")
        .bind(tenant);
        let rows = self.rows(q).await?;
        let Some(row) = rows.first() else {
            return Ok(RequestState::default());
        };
        let active = row.int(1)? == 1;
        Ok(RequestState {
            generation: row.int(0)?,
            client_active: active,
            org_scope: row
                .opt_text(2)?
                .filter(|_| active)
                .map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>()),
            scopes: match row.opt_text(3)? {
                Some(list) if active => Scopes::parse_list(&list),
                _ => Scopes::NONE,
            },
            target: row.opt_text(4)?.filter(|_| active),
        })
    }

    /// One record by sourcedId (any status), optionally only if `selection` holds for it and
    /// it is inside `scope`.
    pub async fn record(
        &self,
        tenant: &str,
        entity: Entity,
        id: &str,
        selection: &Selection,
        scope: Option<&OrgScope>,
    ) -> Result<Option<Record>, StoreError> {
        let mut q = Query::select_records(self.dialect(), entity);
        where_clause(&mut q, tenant, entity, selection, scope);
        q.push(" AND m.sourced_id = ").bind(id);
        Ok(self.records(entity, q).await?.pop())
    }

    /// The roles (`user_sourced_id`, role_type, role, org, begin, end, userProfile) of users;
    /// with a scope, only the roles at orgs inside it.
    pub async fn roles_of(
        &self,
        tenant: &str,
        users: &[&str],
        scope: Option<&OrgScope>,
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let mut rows = self
            .children_of(
                tenant,
                "SELECT user_sourced_id, role_type, role, org_sourced_id, begin_date, end_date, \
                 user_profile_sourced_id, status FROM roles",
                users,
            )
            .await?;
        if let Some(scope) = scope {
            rows.retain(|r| {
                r.get(3)
                    .cloned()
                    .flatten()
                    .is_some_and(|org| scope.0.binary_search(&org).is_ok())
            });
        }
        Ok(rows)
    }

    /// `orgs` and every org below them (children, grandchildren, …), sorted and deduplicated:
    /// the orgs an org-scoped client sees.
    pub async fn expand_orgs(&self, tenant: &str, orgs: &[String]) -> Result<OrgScope, StoreError> {
        let mut all: std::collections::BTreeSet<String> = orgs.iter().cloned().collect();
        let mut frontier: Vec<String> = orgs.to_vec();
        // Level by level until a level adds no org: however deep the tree is. An org seen
        // before is not visited again, so a cycle in bad data ends the walk too.
        while !frontier.is_empty() {
            let parents: Vec<&str> = frontier.iter().map(String::as_str).collect();
            let children = self.children_ids(tenant, Entity::Orgs, &parents).await?;
            frontier = children
                .into_iter()
                .map(|(_, child)| child)
                .filter(|c| all.insert(c.clone()))
                .collect();
        }
        Ok(OrgScope(all.into_iter().collect()))
    }

    /// The userProfiles of users (user, sourcedId, profileType, vendorId, applicationId,
    /// description, credentialType, username, password).
    pub async fn profiles_of(
        &self,
        tenant: &str,
        users: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        self.children_of(
            tenant,
            "SELECT user_sourced_id, sourced_id, profile_type, vendor_id, application_id, \
             description, credential_type, username, password, status FROM user_profiles",
            users,
        )
        .await
    }

    /// Rows of text cells (NULL = `None`) of `select` for the given users, sorted.
    async fn children_of(
        &self,
        tenant: &str,
        select: &str,
        users: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Query::new(self.dialect());
        q.push(select).push(" WHERE tenant_id = ").bind(tenant);
        q.push(" AND user_sourced_id IN (");
        bind_list(&mut q, users.iter().copied());
        // No ORDER BY: it would tempt SQLite into walking the primary key; rows are sorted here.
        q.push(")");
        let mut rows = self
            .rows(q)
            .await?
            .iter()
            .map(|r| (0..r.len()).map(|i| r.opt_text(i)).collect())
            .collect::<Result<Vec<Vec<_>>, _>>()?;
        rows.sort();
        Ok(rows)
    }

    /// The sourcedIds of sessions or orgs whose parent is one of `parents` (for `children`).
    pub async fn children_ids(
        &self,
        tenant: &str,
        entity: Entity,
        parents: &[&str],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Query::new(self.dialect());
        q.push(&format!(
            "SELECT parent_sourced_id, sourced_id FROM {} WHERE tenant_id = ",
            entity.table()
        ))
        .bind(tenant)
        .push(" AND parent_sourced_id IN (");
        bind_list(&mut q, parents.iter().copied());
        q.push(") ORDER BY parent_sourced_id, sourced_id");
        self.rows(q)
            .await?
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect()
    }

    /// The run of a job that reached the database (`imports.job_id`): (import id, status,
    /// report JSON). A job whose worker died after that commit is finished from it, not re-run.
    pub async fn import_for_job(
        &self,
        job_id: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        let mut q = Query::new(self.dialect());
        q.push("SELECT id, status, report FROM imports WHERE job_id = ")
            .bind(job_id)
            .push(" ORDER BY started_at DESC LIMIT 1");
        let rows = self.rows(q).await?;
        rows.first()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)))
            .transpose()
    }
}
