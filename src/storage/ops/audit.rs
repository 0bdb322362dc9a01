//! The audit log (`audit_log`): the stored entry, and every statement on the table — batch
//! inserts, the filtered listing, the retention sweep. The table is never updated (a trigger
//! refuses it). Building entries and the queue that batches them are the `audit` feature's.

use super::Stmt;
use crate::storage::value::{Row, Value, params};
use crate::storage::{Store, StoreError};

/// One audit log row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// A UUID v7 (time-ordered).
    pub id: String,
    pub tenant: String,
    /// When the request arrived, epoch ms.
    pub at: i64,
    /// `client:<client_id>`, `user:<id>`, `login:<username>` or `anonymous`.
    pub actor: String,
    pub action: String,
    pub method: String,
    pub path: String,
    /// The raw query string, with values of filters on personal fields redacted.
    pub query: Option<String>,
    pub status: u16,
    /// Records a read returned (see `http::audit` for how it is decided).
    pub result_count: Option<u64>,
    pub target: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
}

const COLUMNS: &str = "id, tenant_id, at, actor, action, method, path, query, status, \
                       result_count, target, source_ip, request_id, user_agent";
const WIDTH: usize = 14;
/// Rows per `INSERT … VALUES (…), (…)`: 1,400 parameters, far below both backends' limits.
const ROWS_PER_STATEMENT: usize = 100;
/// Rows deleted per retention statement, so a first sweep over a large backlog does not hold
/// one huge transaction.
const SWEEP_BATCH: i64 = 10_000;

fn values(e: &Entry) -> [Value; WIDTH] {
    [
        e.id.clone().into(),
        e.tenant.clone().into(),
        e.at.into(),
        e.actor.clone().into(),
        e.action.clone().into(),
        e.method.clone().into(),
        e.path.clone().into(),
        e.query.clone().into(),
        i64::from(e.status).into(),
        e.result_count.map(|c| c as i64).into(),
        e.target.clone().into(),
        e.source_ip.clone().into(),
        e.request_id.clone().into(),
        e.user_agent.clone().into(),
    ]
}

fn insert_stmt(entries: &[Entry]) -> Stmt {
    let mut sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES ");
    let mut params = Vec::with_capacity(entries.len() * WIDTH);
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let first = i * WIDTH + 1;
        let placeholders: Vec<String> = (first..first + WIDTH).map(|n| format!("${n}")).collect();
        sql.push('(');
        sql.push_str(&placeholders.join(", "));
        sql.push(')');
        params.extend(values(e));
    }
    Stmt::new(sql, params)
}

/// Which entries `GET /api/v1/audit` lists; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub actor: Option<String>,
    /// An exact action name.
    pub action: Option<String>,
    /// Actions starting with this (`imports.` for `action=imports.*`).
    pub action_prefix: Option<String>,
    /// `at >= since` (epoch ms).
    pub since: Option<i64>,
    /// `at < until` (epoch ms).
    pub until: Option<i64>,
    /// `status >= .0 AND status < .1`.
    pub status: Option<(u16, u16)>,
    pub request_id: Option<String>,
    pub target: Option<String>,
}

impl Filter {
    /// The filter with a time range around its request id, when that id is a UUIDv7 (as this
    /// server makes them): a request's entries are written within moments of the id's
    /// timestamp, and the range turns a scan of the whole log into a walk of the `at` index.
    /// `None` when there is nothing to narrow. The caller falls back to the filter itself when
    /// the range finds nothing (a client may send its own id, with any timestamp).
    fn narrowed(&self) -> Option<Filter> {
        let id = uuid::Uuid::parse_str(self.request_id.as_deref()?).ok()?;
        if id.get_version_num() != 7 {
            return None;
        }
        let (secs, nanos) = id.get_timestamp()?.to_unix();
        let ms = i64::try_from(secs).ok()? * 1000 + i64::from(nanos / 1_000_000);
        // Requests (an upload, an event stream) may run long: up to a day after it started.
        let (lo, hi) = (ms - 60_000, ms + 86_400_000);
        Some(Filter {
            since: Some(self.since.map_or(lo, |s| s.max(lo))),
            until: Some(self.until.map_or(hi, |u| u.min(hi))),
            ..self.clone()
        })
    }

    /// The WHERE clause (tenant first, always) and its parameters.
    fn clause(&self, tenant: &str) -> (String, Vec<Value>) {
        let mut sql = String::from("tenant_id = $1");
        let mut params: Vec<Value> = vec![tenant.into()];
        let mut add = |cond: &str, v: Value| {
            params.push(v);
            sql.push_str(&format!(" AND {cond} ${}", params.len()));
        };
        if let Some(a) = &self.actor {
            add("actor =", a.into());
        }
        if let Some(a) = &self.action {
            add("action =", a.into());
        }
        if let Some(p) = &self.action_prefix {
            // A byte-wise range (BINARY / COLLATE "C"): [p, p + U+10FFFF).
            add("action >=", p.into());
            add("action <", format!("{p}\u{10FFFF}").into());
        }
        if let Some(s) = self.since {
            add("at >=", s.into());
        }
        if let Some(u) = self.until {
            add("at <", u.into());
        }
        if let Some((lo, hi)) = self.status {
            add("status >=", i64::from(lo).into());
            add("status <", i64::from(hi).into());
        }
        if let Some(r) = &self.request_id {
            add("request_id =", r.into());
        }
        if let Some(t) = &self.target {
            add("target =", t.into());
        }
        (sql, params)
    }
}

impl Entry {
    /// A row selected as [`COLUMNS`].
    fn from_row(r: &Row) -> Result<Entry, StoreError> {
        Ok(Entry {
            id: r.text(0)?,
            tenant: r.text(1)?,
            at: r.int(2)?,
            actor: r.text(3)?,
            action: r.text(4)?,
            method: r.text(5)?,
            path: r.text(6)?,
            query: r.opt_text(7)?,
            status: r.int_as(8, "an HTTP status")?,
            result_count: r.opt_int_as(9, "a count")?,
            target: r.opt_text(10)?,
            source_ip: r.opt_text(11)?,
            request_id: r.opt_text(12)?,
            user_agent: r.opt_text(13)?,
        })
    }
}

impl Store {
    /// Inserts `entries` in one transaction.
    pub async fn insert_audit_entries(&self, entries: &[Entry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let stmts = entries
            .chunks(ROWS_PER_STATEMENT)
            .map(insert_stmt)
            .collect();
        self.ops_atomic(stmts).await.map(|_| ())
    }

    /// A page of the tenant's entries matching `filter`, newest first, and how many match.
    pub async fn audit_entries(
        &self,
        tenant: &str,
        filter: &Filter,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<Entry>, u64), StoreError> {
        if let Some(narrow) = filter.narrowed() {
            let found = self
                .audit_entries_of(tenant, &narrow, limit, offset)
                .await?;
            if found.1 > 0 {
                return Ok(found);
            }
        }
        self.audit_entries_of(tenant, filter, limit, offset).await
    }

    async fn audit_entries_of(
        &self,
        tenant: &str,
        filter: &Filter,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<Entry>, u64), StoreError> {
        let (clause, params) = filter.clause(tenant);
        let total = self
            .ops_count(
                &format!("SELECT COUNT(*) FROM audit_log WHERE {clause}"),
                params.clone(),
            )
            .await?;
        if total <= offset {
            return Ok((Vec::new(), total));
        }
        let n = params.len();
        let mut params = params;
        params.push(limit.into());
        params.push(offset.into());
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE {clause} \
             ORDER BY at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        Ok((
            self.ops_fetch_as(&sql, params, Entry::from_row).await?,
            total,
        ))
    }

    /// Up to `limit` of the tenant's entries matching `filter`, newest first, that come after
    /// `after` (the `(at, id)` of the last entry of the previous page) — a keyset page, so its
    /// cost does not grow with how deep it is, and nothing is counted (`COUNT(*)` over a large
    /// log costs more than the page). The web UI asks for one more than it shows to know
    /// whether there is a next page.
    pub async fn audit_page(
        &self,
        tenant: &str,
        filter: &Filter,
        after: Option<(i64, &str)>,
        limit: u64,
    ) -> Result<Vec<Entry>, StoreError> {
        if let Some(narrow) = filter.narrowed() {
            let found = self.audit_page_of(tenant, &narrow, after, limit).await?;
            if !found.is_empty() {
                return Ok(found);
            }
        }
        self.audit_page_of(tenant, filter, after, limit).await
    }

    async fn audit_page_of(
        &self,
        tenant: &str,
        filter: &Filter,
        after: Option<(i64, &str)>,
        limit: u64,
    ) -> Result<Vec<Entry>, StoreError> {
        let (mut clause, mut params) = filter.clause(tenant);
        if let Some((at, id)) = after {
            // `at <= x` bounds the index range; the OR keeps ties on `at` in `id` order.
            params.push(at.into());
            params.push(id.into());
            let (a, i) = (params.len() - 1, params.len());
            clause.push_str(&format!(" AND at <= ${a} AND (at < ${a} OR id < ${i})"));
        }
        params.push(limit.into());
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE {clause} \
             ORDER BY at DESC, id DESC LIMIT ${}",
            params.len()
        );
        self.ops_fetch_as(&sql, params, Entry::from_row).await
    }

    /// Deletes every entry (of every tenant) older than `before` (epoch ms), in batches;
    /// returns how many.
    pub async fn sweep_audit_log(&self, before: i64) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let n = self
                .ops_exec(
                    "DELETE FROM audit_log WHERE id IN \
                     (SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2)",
                    params![before, SWEEP_BATCH],
                )
                .await?;
            deleted += n;
            if n < SWEEP_BATCH as u64 {
                return Ok(deleted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: &str, tenant: &str, at: i64, action: &str, status: u16) -> Entry {
        Entry {
            id: id.into(),
            tenant: tenant.into(),
            at,
            actor: "client:c1".into(),
            action: action.into(),
            method: "GET".into(),
            path: "/p".into(),
            query: None,
            status,
            result_count: (status == 200).then_some(3),
            target: None,
            source_ip: Some("::1".into()),
            request_id: Some(format!("r-{id}")),
            user_agent: None,
        }
    }

    #[test]
    fn one_insert_binds_every_value_in_order() {
        let st = insert_stmt(&[e("a", "t", 1, "x", 200), e("b", "t", 2, "y", 404)]);
        assert!(
            st.sql.ends_with(
                "($15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
            ),
            "{}",
            st.sql
        );
        assert_eq!(st.params.len(), 28);
        assert_eq!(st.params[15], Value::Text("t".into()));
        assert_eq!(st.params[23], Value::NullInt, "no count on a 404");
    }

    #[test]
    fn a_v7_request_id_narrows_to_the_moments_around_it() {
        let ms: i64 = 1_780_000_000_123;
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, (ms / 1000) as u64, 123_000_000);
        let v7 = uuid::Uuid::new_v7(ts).to_string();
        let f = Filter {
            request_id: Some(v7.clone()),
            ..Filter::default()
        };
        let n = f.narrowed().unwrap();
        assert_eq!(
            (n.since, n.until),
            (Some(ms - 60_000), Some(ms + 86_400_000))
        );
        assert_eq!(n.request_id.as_deref(), Some(v7.as_str()));
        // A range already asked for is kept where it is narrower.
        let inside = Filter {
            since: Some(ms),
            ..f.clone()
        };
        assert_eq!(inside.narrowed().unwrap().since, Some(ms));
        // Nothing to narrow: no id, a v4 id, a client's own word.
        for id in [
            None,
            Some(uuid::Uuid::new_v4().to_string()),
            Some("bench-7".into()),
        ] {
            let f = Filter {
                request_id: id,
                ..Filter::default()
            };
            assert_eq!(f.narrowed(), None);
        }
    }

    #[tokio::test]
    async fn a_request_id_outside_its_own_moment_is_still_found() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("a.db").display());
        let store = Store::open(&url).await.unwrap();
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, 1_780_000_000, 0);
        let v7 = uuid::Uuid::new_v7(ts).to_string();
        // A client sent its own v7-shaped id, written a year off its timestamp.
        let mut far = e(
            "far",
            "t1",
            1_780_000_000_000 - 365 * 86_400_000,
            "imports.read",
            200,
        );
        far.request_id = Some(v7.clone());
        let mut near = e("near", "t1", 1_780_000_000_500, "imports.read", 200);
        near.request_id = Some(v7.clone());
        store.insert_audit_entries(&[far]).await.unwrap();
        let f = Filter {
            request_id: Some(v7.clone()),
            ..Filter::default()
        };
        let found = store.audit_page("t1", &f, None, 10).await.unwrap();
        assert_eq!(found.len(), 1, "the whole log when the range finds nothing");
        assert_eq!(store.audit_entries("t1", &f, 10, 0).await.unwrap().1, 1);
        store.insert_audit_entries(&[near]).await.unwrap();
        let found = store.audit_page("t1", &f, None, 10).await.unwrap();
        assert_eq!(found[0].id, "near", "the range first");
    }

    #[tokio::test]
    async fn filters_paging_and_the_sweep_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("a.db").display());
        let store = Store::open(&url).await.unwrap();
        let rows: Vec<Entry> = (0..250)
            .map(|i| {
                let action = if i % 2 == 0 {
                    "oneroster.read"
                } else {
                    "imports.read"
                };
                e(
                    &format!("{i:04}"),
                    "t1",
                    1000 + i,
                    action,
                    if i % 5 == 0 { 403 } else { 200 },
                )
            })
            .chain([e("z", "t2", 1100, "oneroster.read", 200)])
            .collect();
        store.insert_audit_entries(&rows).await.unwrap();
        let ids = |v: &[Entry]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();

        let (page, total) = store
            .audit_entries("t1", &Filter::default(), 3, 0)
            .await
            .unwrap();
        assert_eq!(total, 250);
        assert_eq!(ids(&page), ["0249", "0248", "0247"], "newest first");
        assert_eq!(page[0], rows[249]);

        // Keyset pages walk the same order, ties on `at` included, without a count.
        let first = store
            .audit_page("t1", &Filter::default(), None, 2)
            .await
            .unwrap();
        assert_eq!(ids(&first), ["0249", "0248"]);
        let last = &first[1];
        let next = store
            .audit_page("t1", &Filter::default(), Some((last.at, &last.id)), 2)
            .await
            .unwrap();
        assert_eq!(ids(&next), ["0247", "0246"]);
        let tie = store
            .audit_page("t1", &Filter::default(), Some((last.at, "0248z")), 1)
            .await
            .unwrap();
        assert_eq!(ids(&tie), ["0248"], "same time, a smaller id");
        let f = Filter {
            action_prefix: Some("imports.".into()),
            status: Some((400, 500)),
            since: Some(1100),
            until: Some(1200),
            ..Filter::default()
        };
        let (page, total) = store.audit_entries("t1", &f, 100, 1).await.unwrap();
        // Odd i in [100, 200) divisible by 5: 105, 115, …, 195 — the first skipped.
        assert_eq!(total, 10);
        assert_eq!(page.len(), 9);
        assert_eq!(page[0].id, "0185");
        let f = Filter {
            request_id: Some("r-z".into()),
            ..Filter::default()
        };
        assert_eq!(
            store.audit_entries("t1", &f, 10, 0).await.unwrap().1,
            0,
            "other tenant"
        );
        assert_eq!(store.audit_entries("t2", &f, 10, 0).await.unwrap().1, 1);
        assert_eq!(
            store
                .audit_entries("t1", &Filter::default(), 10, 250)
                .await
                .unwrap(),
            (vec![], 250)
        );

        // Append-only: the database refuses an update.
        assert!(
            store
                .ops_exec("UPDATE audit_log SET status = 200", params![])
                .await
                .is_err()
        );
        assert_eq!(store.sweep_audit_log(1100).await.unwrap(), 100);
        assert_eq!(
            store
                .audit_entries("t1", &Filter::default(), 1, 0)
                .await
                .unwrap()
                .1,
            150
        );
        assert_eq!(
            store
                .audit_entries("t2", &Filter::default(), 1, 0)
                .await
                .unwrap()
                .1,
            1
        );
    }
}
