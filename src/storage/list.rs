//! A collection read of the API as a typed request: which records ([`Selection`], filter, org
//! scope), in which order, one page at a time, with the total and the paging anchors that make
//! a deep offset cheap. Storage turns the request into SQL ([`Store::list_query`]); callers see
//! the request, the records and [`ReadKey`]s, never a clause.
//!
//! `COUNT(*)` over a million rows and `OFFSET 999000` both cost hundreds of milliseconds, so the
//! API caches totals and anchors per data generation under the keys a [`ListRequest`] makes:
//! canonical texts of its typed parts, equal for equal requests and different whenever the
//! selected rows could differ.

use super::read::{Query, Record, record_select};
use super::select::{OrgScope, Selection, where_clause};
use super::sql_filter::FilterSqlError;
use super::{Store, StoreError};
use crate::domain::Entity;
use crate::filter::{Expr, SortField};

/// How far apart paging anchors are: an offset deeper than this seeks to the anchor before it
/// and skips at most this many rows.
pub const ANCHOR_STEP: u64 = 1000;

/// The records one collection request asks for, before paging.
#[derive(Debug, Clone, Copy)]
pub struct ListRequest<'a> {
    pub tenant: &'a str,
    pub entity: Entity,
    pub selection: &'a Selection,
    pub filter: Option<&'a Expr>,
    /// The field to order by before sourcedId; `None`: sourcedId alone.
    pub sort: Option<SortField>,
    pub desc: bool,
    /// The orgs an org-scoped client may see; `None`: the whole tenant.
    pub scope: Option<&'a OrgScope>,
}

/// The key of something read for a request in one data generation (its total, its anchors).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReadKey(String);

impl ListRequest<'_> {
    /// The key of the set of rows selected, whatever their order: their total. The parts are
    /// written with `Debug`, which quotes and escapes every text, so different parts never
    /// write the same key (the cache lives in this process only).
    pub fn total_key(&self, generation: i64) -> ReadKey {
        ReadKey(format!(
            "{generation}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}",
            self.tenant, self.entity, self.selection, self.filter, self.scope
        ))
    }

    /// The key of the rows in their order: their paging anchors.
    pub fn key(&self, generation: i64) -> ReadKey {
        let ReadKey(rows) = self.total_key(generation);
        ReadKey(format!("{rows}\u{1f}{:?}\u{1f}{}", self.sort, self.desc))
    }
}

/// A [`ListRequest`] translated to SQL: what [`Store::list_total`], [`Store::list_anchors`] and
/// [`Store::list_page`] run.
#[derive(Debug, Clone)]
pub struct ListQuery {
    entity: Entity,
    /// `m.tenant_id = … AND <selection> [AND <scope>] [AND (<filter>)]`.
    matching: Query,
    sort: Option<&'static str>,
    desc: bool,
}

impl ListQuery {
    /// The column the rows are ordered by before sourcedId, if a sort was asked for.
    pub fn sort_column(&self) -> Option<&'static str> {
        self.sort
    }

    /// Whether a page at `offset` starts from an anchor (give [`Store::list_page`] the
    /// request's [`Store::list_anchors`]): only in the default order, past the first step.
    pub fn seeks(&self, offset: u64) -> bool {
        self.sort.is_none() && offset >= ANCHOR_STEP
    }

    fn dir(&self) -> &'static str {
        if self.desc { "DESC" } else { "ASC" }
    }

    /// `prefix`, the matching clause, then `suffix`, with its parameters.
    fn around(&self, prefix: &str, suffix: &str) -> Query {
        let mut q = self.matching.clone();
        q.sql = format!("{prefix}{}{suffix}", q.sql);
        q
    }
}

impl Store {
    /// Translates a request. Errors are the client's (a filter value of the wrong kind, a field
    /// encrypted at rest): the API answers them with 400 and their text.
    pub fn list_query(&self, req: &ListRequest<'_>) -> Result<ListQuery, FilterSqlError> {
        let mut matching = Query::new(self.dialect());
        where_clause(
            &mut matching,
            req.tenant,
            req.entity,
            req.selection,
            req.scope,
        );
        if let Some(expr) = req.filter {
            // Encrypted fields (`--pii-columns`) compare through their blind index, per tenant.
            let frag = self.filter_sql(expr, req.entity, req.tenant, "m", matching.next_param())?;
            matching.push(" AND (").push(&frag.sql).push(")");
            matching.params.extend(frag.params);
        }
        // Sorting on a field encrypted at rest is refused, not done by ciphertext.
        let sort = req
            .sort
            .map(|f| self.sort_column(req.entity, &f))
            .transpose()?;
        Ok(ListQuery {
            entity: req.entity,
            matching,
            sort,
            desc: req.desc,
        })
    }

    /// How many records the request selects.
    pub async fn list_total(&self, q: &ListQuery) -> Result<u64, StoreError> {
        let prefix = format!("SELECT COUNT(*) FROM {} m WHERE ", q.entity.table());
        self.count(q.around(&prefix, "")).await
    }

    /// Every [`ANCHOR_STEP`]-th sourcedId of the selected records in sourcedId order
    /// (positions 0, step, 2·step, …): anchors that turn a deep `OFFSET` into an index seek.
    pub async fn list_anchors(&self, q: &ListQuery) -> Result<Vec<String>, StoreError> {
        let prefix = format!(
            "SELECT sourced_id FROM (SELECT m.sourced_id, ROW_NUMBER() OVER (ORDER BY \
             m.sourced_id {}) AS rn FROM {} m WHERE ",
            q.dir(),
            q.entity.table()
        );
        let suffix = format!(") numbered WHERE (rn - 1) % {ANCHOR_STEP} = 0 ORDER BY rn");
        self.rows(q.around(&prefix, &suffix))
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect()
    }

    /// One page of the selected records, ordered by the sort field with sourcedId as
    /// tie-breaker, so paging never skips or repeats. When [`ListQuery::seeks`] says so,
    /// `anchors` (the request's [`Store::list_anchors`]) turn the offset into a seek.
    pub async fn list_page(
        &self,
        q: &ListQuery,
        limit: u64,
        mut offset: u64,
        anchors: Option<&[String]>,
    ) -> Result<Vec<Record>, StoreError> {
        let dir = q.dir();
        let order = match q.sort {
            Some(col) if col != "sourced_id" => format!("m.{col} {dir}, m.sourced_id {dir}"),
            _ => format!("m.sourced_id {dir}"),
        };
        let mut select = q.around(&record_select(q.entity), "");
        let anchor = anchors
            .filter(|_| q.seeks(offset))
            .and_then(|a| a.get((offset / ANCHOR_STEP) as usize));
        if let Some(anchor) = anchor {
            select
                .push(if q.desc {
                    " AND m.sourced_id <= "
                } else {
                    " AND m.sourced_id >= "
                })
                .bind(anchor);
            offset %= ANCHOR_STEP;
        }
        select.push(&format!(" ORDER BY {order} LIMIT {limit} OFFSET {offset}"));
        self.records(q.entity, select).await
    }
}

#[cfg(test)]
mod tests;
