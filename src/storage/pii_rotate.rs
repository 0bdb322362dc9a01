//! `rosterhub keys status` and `rosterhub keys rotate`: passes over every encryptable column
//! of every tenant.
//!
//! A rotation reads each tenant's users and demographics — and their change logs, whose
//! before-images an undo puts back — in keyset pages, one transaction per page, and rewrites a
//! row only if it changes: values under another key are re-encrypted under
//! the current one, plaintext in a configured column (data imported before encryption was
//! turned on) is encrypted, and missing blind indexes are filled in. Encrypted values are never
//! turned back into plaintext. Rerunning it is safe and cheap: what is done stays done. When no
//! value uses another key any more, those keys are marked retired and no longer needed.

use std::collections::BTreeMap;

use rusqlite::{Connection, params_from_iter};
use sqlx::Row as _;

use super::read::Query;
use super::value::blocking;
use super::{Store, StoreError};
use crate::domain::Entity;
use crate::domain::entity::Column;
use crate::pii::{ENTITIES, Pii, PiiError, Place, bidx_columns, encryptable_columns, split_cell};

/// How many values one key encrypts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyUse {
    pub id: String,
    /// `None` for a key the values name but `pii_keys` does not (should not happen).
    pub created_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub values: u64,
}

/// What `rosterhub keys status` shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PiiStatus {
    pub keys: Vec<KeyUse>,
    /// Values of the configured columns stored as plaintext (`None` without keys configured).
    pub plaintext_values: Option<u64>,
}

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RotateReport {
    pub current_key: String,
    pub tenants: u64,
    /// Rows read and rows rewritten.
    pub rows: u64,
    pub rows_updated: u64,
    /// Values moved from another key to the current one.
    pub reencrypted: u64,
    /// Plaintext values of configured columns encrypted.
    pub encrypted: u64,
    /// Blind indexes filled in or corrected.
    pub indexed: u64,
    /// Values still under another key after the pass (written meanwhile by a process still
    /// configured with it): rerun once every process has the new key.
    pub remaining: u64,
    /// Keys no value uses any more, marked retired now.
    pub retired: Vec<String>,
}

/// The columns a pass reads for `entity`: encryptable ones, then blind indexes.
struct Layout {
    entity: Entity,
    /// The table read: the entity's, or its change log (`log`: one row per record and import,
    /// keyed by sourcedId and the import's number). Values are bound to the entity's table
    /// either way: a logged cell is a copy of a stored one.
    table: String,
    log: bool,
    enc: Vec<(usize, &'static Column)>,
    /// Per blind index: its column's position in `enc`, and its name.
    bidx: Vec<(usize, &'static str)>,
}

impl Layout {
    fn new(entity: Entity) -> Layout {
        let enc: Vec<_> = encryptable_columns(entity).collect();
        let bidx = bidx_columns(entity)
            .map(|(col, idx)| {
                let pos = enc
                    .iter()
                    .position(|(_, c)| c.db == col)
                    .expect("blind-indexed columns are encryptable");
                (pos, idx)
            })
            .collect();
        Layout {
            entity,
            table: entity.table().to_owned(),
            log: false,
            enc,
            bidx,
        }
    }

    /// The change log of `entity`.
    fn log(entity: Entity) -> Layout {
        Layout {
            table: super::changelog::sql::log_table(entity),
            log: true,
            ..Layout::new(entity)
        }
    }

    /// Both tables of every entity with encryptable columns.
    fn all() -> Vec<Layout> {
        ENTITIES
            .into_iter()
            .flat_map(|e| [Layout::new(e), Layout::log(e)])
            .collect()
    }

    fn names(&self) -> Vec<&'static str> {
        self.enc
            .iter()
            .map(|(_, c)| c.db)
            .chain(self.bidx.iter().map(|(_, b)| *b))
            .collect()
    }

    fn select(&self, d: super::sql::Dialect, batch: usize) -> String {
        let lock = match d {
            super::sql::Dialect::Sqlite => "",
            super::sql::Dialect::Postgres => " FOR UPDATE",
        };
        let (p1, p2, p3) = (d.param(1), d.param(2), d.param(3));
        let (key, after) = if self.log {
            (
                "sourced_id, seq",
                format!("(sourced_id > {p2} OR (sourced_id = {p2} AND seq > {p3}))"),
            )
        } else {
            ("sourced_id", format!("sourced_id > {p2}"))
        };
        format!(
            "SELECT {key}, {} FROM {} WHERE tenant_id = {p1} AND {after} \
             ORDER BY {key} LIMIT {batch}{lock}",
            self.names().join(", "),
            self.table,
        )
    }

    /// How many key columns a selected row starts with.
    fn key_width(&self) -> usize {
        if self.log { 2 } else { 1 }
    }

    fn update(&self, d: super::sql::Dialect) -> String {
        let sets: Vec<String> = self
            .names()
            .iter()
            .enumerate()
            .map(|(k, n)| format!("{n} = {}", d.param(k + 3)))
            .collect();
        let seq = if self.log {
            format!(" AND seq = {}", d.param(sets.len() + 3))
        } else {
            String::new()
        };
        format!(
            "UPDATE {} SET {} WHERE tenant_id = {} AND sourced_id = {}{seq}",
            self.table,
            sets.join(", "),
            d.param(1),
            d.param(2)
        )
    }

    /// Brings one row to the current key; `true` if it changed. `cells` holds the encryptable
    /// columns then the blind indexes, as [`Layout::names`].
    fn rotate(
        &self,
        pii: &Pii,
        tenant: &str,
        id: &str,
        cells: &mut [Option<String>],
        report: &mut RotateReport,
    ) -> Result<bool, PiiError> {
        let mut changed = false;
        let n = self.enc.len();
        for (j, (i, col)) in self.enc.iter().enumerate() {
            let place = Place {
                table: self.entity.table(),
                column: col.db,
                tenant,
                sourced_id: id,
            };
            let bidx_slot = self
                .bidx
                .iter()
                .position(|(pos, _)| *pos == j)
                .map(|s| n + s);
            let Some(cell) = cells[j].clone().filter(|c| !c.is_empty()) else {
                continue;
            };
            let mut plain = None;
            match split_cell(&cell) {
                Some((key, _)) if key == pii.current().id() => {}
                Some(_) => {
                    let p = pii.decrypt(&place, &cell)?;
                    cells[j] = Some(pii.encrypt(&place, &p));
                    plain = Some(p);
                    report.reencrypted += 1;
                    changed = true;
                }
                None if pii.columns().contains(self.entity, *i) => {
                    cells[j] = Some(pii.encrypt(&place, &cell));
                    plain = Some(cell.clone());
                    report.encrypted += 1;
                    changed = true;
                }
                // Plaintext in a column not configured for encryption: left as it is, with no
                // blind index (filters compare the plaintext).
                None => {
                    if let Some(slot) = bidx_slot.filter(|s| cells[*s].is_some()) {
                        cells[slot] = None;
                        report.indexed += 1;
                        changed = true;
                    }
                    continue;
                }
            }
            let Some(slot) = bidx_slot else { continue };
            if plain.is_none() && cells[slot].is_some() {
                continue;
            }
            let plain = match plain {
                Some(p) => p,
                None => pii.decrypt(&place, &cell)?,
            };
            let index = Some(pii.blind_index(place.table, place.column, tenant, &plain));
            if cells[slot] != index {
                cells[slot] = index;
                report.indexed += 1;
                changed = true;
            }
        }
        Ok(changed)
    }
}

/// A row of a pass: its sourcedId, its import number (a change log's row; 0 otherwise), and
/// the cells of [`Layout::names`].
type Cells = (String, i64, Vec<Option<String>>);

fn sqlite_rotate(
    conn: &mut Connection,
    pii: &Pii,
    tenant: &str,
    layout: &Layout,
    batch: usize,
    report: &mut RotateReport,
) -> Result<(), StoreError> {
    use rusqlite::types::Value;
    let d = super::sql::Dialect::Sqlite;
    let (select, update) = (layout.select(d, batch), layout.update(d));
    let (kw, width) = (layout.key_width(), layout.names().len());
    let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Cells> {
        Ok((
            r.get(0)?,
            if layout.log { r.get(1)? } else { 0 },
            (kw..kw + width)
                .map(|k| r.get(k))
                .collect::<Result<_, _>>()?,
        ))
    };
    let mut after = (String::new(), 0_i64);
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows: Vec<Cells> = {
            let mut stmt = tx.prepare_cached(&select)?;
            let rows = if layout.log {
                stmt.query_map(rusqlite::params![tenant, after.0, after.1], &read)?
            } else {
                stmt.query_map(rusqlite::params![tenant, after.0], &read)?
            };
            rows.collect::<Result<_, _>>()?
        };
        for (id, seq, mut cells) in rows.iter().cloned() {
            if layout.rotate(pii, tenant, &id, &mut cells, report)? {
                let mut values = vec![Value::Text(tenant.to_owned()), Value::Text(id)];
                values.extend(
                    cells
                        .into_iter()
                        .map(|c| c.map_or(Value::Null, Value::Text)),
                );
                if layout.log {
                    values.push(Value::Integer(seq));
                }
                tx.prepare_cached(&update)?
                    .execute(params_from_iter(values))?;
                report.rows_updated += 1;
            }
        }
        tx.commit()?;
        report.rows += rows.len() as u64;
        match rows.last() {
            Some((id, seq, _)) if rows.len() == batch => after = (id.clone(), *seq),
            _ => return Ok(()),
        }
    }
}

async fn pg_rotate(
    pool: &sqlx::PgPool,
    pii: &Pii,
    tenant: &str,
    layout: &Layout,
    batch: usize,
    report: &mut RotateReport,
) -> Result<(), StoreError> {
    let d = super::sql::Dialect::Postgres;
    let (select, update) = (layout.select(d, batch), layout.update(d));
    let (kw, width) = (layout.key_width(), layout.names().len());
    let mut after = (String::new(), 0_i64);
    loop {
        let mut tx = pool.begin().await?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(select.as_str()))
            .bind(tenant)
            .bind(&after.0);
        if layout.log {
            q = q.bind(after.1);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        let n = rows.len();
        let mut last = None;
        for r in rows {
            let id: String = r.try_get(0)?;
            let seq: i64 = if layout.log { r.try_get(1)? } else { 0 };
            let mut cells: Vec<Option<String>> = (kw..kw + width)
                .map(|k| r.try_get(k))
                .collect::<Result<_, _>>()?;
            if layout.rotate(pii, tenant, &id, &mut cells, report)? {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
                    .bind(tenant)
                    .bind(&id);
                for c in cells {
                    q = q.bind(c);
                }
                if layout.log {
                    q = q.bind(seq);
                }
                q.execute(&mut *tx).await?;
                report.rows_updated += 1;
            }
            last = Some((id, seq));
        }
        tx.commit().await?;
        report.rows += n as u64;
        match last {
            Some(key) if n == batch => after = key,
            _ => return Ok(()),
        }
    }
}

impl Store {
    /// How many values each key encrypts, and (with keys configured) how many values of the
    /// configured columns are plaintext.
    pub async fn pii_status(&self) -> Result<PiiStatus, StoreError> {
        let mut used: BTreeMap<String, u64> = BTreeMap::new();
        let mut plaintext = 0;
        for layout in Layout::all() {
            let entity = layout.entity;
            for (i, col) in encryptable_columns(entity) {
                let (t, c) = (layout.table.as_str(), col.db);
                let mut q = Query::new(self.dialect());
                q.push(&format!(
                    "SELECT substr({c}, 6, 8), COUNT(*) FROM {t} \
                     WHERE substr({c}, 1, 5) = 'pii1:' GROUP BY substr({c}, 6, 8)"
                ));
                for row in self.rows(q).await? {
                    *used.entry(row.text(0)?).or_default() += row.int(1)? as u64;
                }
                if self.pii().is_some_and(|p| p.columns().contains(entity, i)) {
                    let mut q = Query::new(self.dialect());
                    q.push(&format!(
                        "SELECT COUNT(*) FROM {t} WHERE {c} IS NOT NULL \
                         AND {c} <> '' AND substr({c}, 1, 5) <> "
                    ))
                    .bind(crate::pii::PREFIX);
                    plaintext += self.count(q).await?;
                }
            }
        }
        let mut keys: Vec<KeyUse> = self
            .pii_keys()
            .await?
            .into_iter()
            .map(|r| KeyUse {
                values: used.remove(&r.id).unwrap_or(0),
                id: r.id,
                created_at: Some(r.created_at),
                retired_at: r.retired_at,
            })
            .collect();
        keys.extend(used.into_iter().map(|(id, values)| KeyUse {
            id,
            created_at: None,
            retired_at: None,
            values,
        }));
        Ok(PiiStatus {
            keys,
            plaintext_values: self.pii().map(|_| plaintext),
        })
    }

    /// Re-encrypts every value of every tenant under the current key, `batch` rows per
    /// transaction, then retires the keys no value uses any more.
    pub async fn rotate_pii(&self, batch: usize) -> Result<RotateReport, StoreError> {
        let pii = self.pii().cloned().ok_or(StoreError::Pii(PiiError::Config(
            "keys rotate needs the new key as ROSTERHUB_PII_KEY (or --pii-key-file) and the \
                 old one as ROSTERHUB_PII_KEY_PREVIOUS (or --pii-previous-key-file)"
                .into(),
        )))?;
        let batch = batch.max(1);
        let tenants: Vec<String> = self
            .tenants()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut report = RotateReport {
            current_key: pii.current().id().to_owned(),
            tenants: tenants.len() as u64,
            ..RotateReport::default()
        };
        match self {
            Store::Sqlite(s) => {
                let (s, pii) = (s.clone(), pii.clone());
                report = blocking(move || {
                    let mut conn = s.connect()?;
                    for tenant in &tenants {
                        for layout in Layout::all() {
                            sqlite_rotate(&mut conn, &pii, tenant, &layout, batch, &mut report)?;
                        }
                    }
                    Ok(report)
                })
                .await?;
            }
            Store::Postgres(p) => {
                for tenant in &tenants {
                    for layout in Layout::all() {
                        pg_rotate(p.pool(), &pii, tenant, &layout, batch, &mut report).await?;
                    }
                }
            }
        }
        let status = self.pii_status().await?;
        report.remaining = status
            .keys
            .iter()
            .filter(|k| k.id != pii.current().id())
            .map(|k| k.values)
            .sum();
        if report.remaining == 0 {
            report.retired = self.retire_pii_keys_except(pii.current().id()).await?;
        }
        Ok(report)
    }
}
