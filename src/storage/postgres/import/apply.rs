//! The end of a PostgreSQL import: apply each entity's staged changes set-wise (after copying
//! what they change into the change log), save the import's record, and commit with fresh
//! statistics and dashboard counters.

use sqlx::AssertSqlSafe;

use super::PgImportTx;
use crate::domain::Entity;
use crate::storage::sql::Dialect;
use crate::storage::{Counts, FileMode, ImportRecord, ImportTx, StoreError};

impl PgImportTx {
    pub(super) fn apply_entity(
        &mut self,
        entity: Entity,
        mode: FileMode,
    ) -> Result<Counts, StoreError> {
        let planned = self.plan(entity, mode)?;
        let (inserted, finished) = self
            .staged
            .get(&entity)
            .map(|s| (s.main_copied, s.finished))
            .unwrap_or((0, true));
        if !finished {
            return Err(StoreError::PlanMismatch(entity.name()));
        }
        // A first load keeps a marker in the change log instead of a row per record.
        let first_load = self.staged.get(&entity).is_some_and(|s| s.first_load);
        let seq = self.seq;
        let stamp = self.stamp.clone();
        let sql = self.sql[&entity].clone();
        let tenant = self.tenant.clone();
        let handle = self.handle.clone();
        let tx = self.tx()?;
        let (updated, tombstoned, logged) = handle.block_on(async {
            // The change log first, from the rows as they are before the statements below
            // change them; each capture has its statement's guard, so their counts agree.
            let log = |text: String| sqlx::query(AssertSqlSafe(text)).bind(&tenant).bind(seq);
            let mut logged = Counts::default();
            if planned.inserted > 0 && !first_load {
                logged.inserted = log(sql.capture.inserted)
                    .bind(stamp.now)
                    .bind(&stamp.import_id)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
            }
            // An unchanged entity has nothing staged: no statement to run.
            let mut up = 0;
            if planned.updated > 0 {
                logged.updated = log(sql.capture.updated)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                up = sqlx::query(AssertSqlSafe(sql.update_staged))
                    .bind(&tenant)
                    .bind(stamp.now)
                    .bind(&stamp.import_id)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
            }
            let mut tomb = 0;
            if planned.tombstoned > 0 {
                logged.tombstoned = log(sql.capture.tombstoned)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                let tomb_sql = match mode {
                    FileMode::Delta => sql.tombstone_delta,
                    FileMode::Bulk => sql.tombstone_bulk,
                };
                tomb = sqlx::query(AssertSqlSafe(tomb_sql))
                    .bind(&tenant)
                    .bind(stamp.now)
                    .bind(&stamp.import_id)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
            }
            Ok::<_, sqlx::Error>((up, tomb, logged))
        })?;
        check_applied(entity, &planned, inserted + updated, tombstoned)?;
        let logged_inserts = if first_load {
            planned.inserted
        } else {
            logged.inserted
        };
        if updated != planned.updated
            || (logged_inserts, logged.updated, logged.tombstoned)
                != (planned.inserted, planned.updated, planned.tombstoned)
        {
            return Err(StoreError::PlanMismatch(entity.name()));
        }
        Ok(planned)
    }

    pub(super) fn save(&mut self, r: &ImportRecord) -> Result<(), StoreError> {
        let (seq, now, id) = (self.seq, self.stamp.now, r.id.clone());
        let tenant = self.tenant.clone();
        let r = r.clone();
        let handle = self.handle.clone();
        let tx = self.tx()?;
        let applied = r.status == "applied";
        let lease_held = handle.block_on(async {
            if let Some(job) = &r.job {
                // The fence: another replica may have taken the job over after this worker's
                // lease expired (a long pause, a lost heartbeat). Locking the job row until
                // commit makes the check and the commit one step for every other worker.
                let held = sqlx::query(
                    "SELECT 1 FROM jobs WHERE id = $1 AND lease_owner = $2 AND state = 'running' \
                     FOR UPDATE",
                )
                .bind(&job.job_id)
                .bind(&job.owner)
                .fetch_optional(&mut **tx)
                .await?
                .is_some();
                if !held {
                    return Ok(false);
                }
            }
            sqlx::query(
                "INSERT INTO imports (id, tenant_id, status, profile, started_at, finished_at, report, \
                 job_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(r.id)
            .bind(&tenant)
            .bind(r.status)
            .bind(r.profile)
            .bind(r.started_at)
            .bind(r.finished_at)
            .bind(r.report_json)
            .bind(r.job.map(|j| j.job_id))
            .execute(&mut **tx)
            .await?;
            if applied {
                // Readers cache per generation: an applied import invalidates them all at once.
                sqlx::query("UPDATE tenants SET data_generation = data_generation + 1 WHERE id = $1")
                    .bind(&tenant)
                    .execute(&mut **tx)
                    .await?;
                let header = crate::storage::changelog::sql::header(Dialect::Postgres);
                sqlx::query(AssertSqlSafe(header))
                    .bind(&tenant)
                    .bind(seq)
                    .bind(&id)
                    .bind(now)
                    .bind(r.actor)
                    .bind(None::<String>)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok::<_, sqlx::Error>(true)
        })?;
        if !lease_held {
            return Err(StoreError::LeaseLost);
        }
        Ok(())
    }

    pub(super) fn finish(mut self: Box<Self>) -> Result<(), StoreError> {
        self.end_copy()?;
        // Fresh planner statistics for the tables this import changed a lot (a first load, or
        // more rows than autovacuum's own threshold, 50 + 10 %), so the API's first queries
        // after a big import do not wait for autovacuum. A small delta leaves the statistics
        // as good as they were, and analysing a million-row table cost it ~1.2 s.
        let mut changed: Vec<&'static str> = self
            .staged
            .iter()
            .filter(|(e, s)| {
                let n = s.counts.written();
                n > 0 && (self.loaded.contains(e) || n > 50 + s.rows_before / 10)
            })
            .map(|(e, _)| e.table())
            .collect();
        // One order for every import: concurrent ANALYZEs wait for each other, never deadlock.
        changed.sort_unstable();
        if !changed.is_empty() {
            let sql = format!("ANALYZE {}", changed.join(", "));
            let handle = self.handle.clone();
            let tx = self.tx()?;
            handle.block_on(sqlx::query(AssertSqlSafe(sql)).execute(&mut **tx))?;
        }
        // The dashboard's counters, exact at the commit that makes these rows visible; after
        // ANALYZE, which their NOT EXISTS counts need (with the statistics of before a big
        // import, the planner chose nested scans that ran for minutes).
        let entities: Vec<Entity> = Entity::ALL
            .into_iter()
            .filter(|e| self.staged.get(e).is_some_and(|s| s.counts.written() > 0))
            .collect();
        let (tenant, seq) = (self.tenant.clone(), self.seq);
        let handle = self.handle.clone();
        let recounts =
            crate::storage::dashboard::recount_sql(Dialect::Postgres, &entities, &self.loaded);
        for r in recounts {
            let tx = self.tx()?;
            let q = crate::storage::value::pg_query(&r.sql, r.params(&tenant, seq));
            handle.block_on(q.execute(&mut **tx))?;
        }
        let tx = self.tx.take().expect("transaction is open until commit");
        self.run(tx.commit())?;
        Ok(())
    }
}

/// The statements must have done exactly what the plan said; anything else aborts the import.
fn check_applied(
    entity: Entity,
    planned: &Counts,
    upserted: u64,
    tombstoned: u64,
) -> Result<(), StoreError> {
    if upserted != planned.inserted + planned.updated || tombstoned != planned.tombstoned {
        tracing::error!(
            entity = entity.name(),
            upserted,
            tombstoned,
            ?planned,
            "apply did not match the plan"
        );
        return Err(StoreError::PlanMismatch(entity.name()));
    }
    Ok(())
}
