//! Embedded migrations, one list per backend. An applied migration is never edited: a change
//! is a new file. Both runners record what they applied in `schema_migrations` and apply every
//! listed version not recorded there (not only those above the highest): a migration merged
//! after a higher-numbered one is still applied.

/// `(version, name, sql)` for SQLite.
pub const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "rostering",
        include_str!("../../migrations/sqlite/0001_rostering.sql"),
    ),
    (
        2,
        "clients",
        include_str!("../../migrations/sqlite/0002_clients.sql"),
    ),
    (
        3,
        "api",
        include_str!("../../migrations/sqlite/0003_api.sql"),
    ),
    (
        4,
        "probe",
        include_str!("../../migrations/sqlite/0004_probe.sql"),
    ),
    (
        5,
        "jobs",
        include_str!("../../migrations/sqlite/0005_jobs.sql"),
    ),
    (
        6,
        "security",
        include_str!("../../migrations/sqlite/0006_security.sql"),
    ),
    (
        7,
        "admin",
        include_str!("../../migrations/sqlite/0007_admin.sql"),
    ),
    (
        8,
        "audit",
        include_str!("../../migrations/sqlite/0008_audit.sql"),
    ),
    (
        9,
        "pii",
        include_str!("../../migrations/sqlite/0009_pii.sql"),
    ),
    (
        10,
        "throttle",
        include_str!("../../migrations/sqlite/0010_throttle.sql"),
    ),
    (
        11,
        "targets",
        include_str!("../../migrations/sqlite/0011_targets.sql"),
    ),
    (
        12,
        "dashboard",
        include_str!("../../migrations/sqlite/0012_dashboard.sql"),
    ),
    (
        13,
        "shortfall",
        include_str!("../../migrations/sqlite/0013_shortfall.sql"),
    ),
    (
        14,
        "changelog",
        include_str!("../../migrations/sqlite/0014_changelog.sql"),
    ),
    (
        15,
        "mail",
        include_str!("../../migrations/sqlite/0015_mail.sql"),
    ),
    (
        16,
        "mappings",
        include_str!("../../migrations/sqlite/0016_mappings.sql"),
    ),
    (
        17,
        "pulls",
        include_str!("../../migrations/sqlite/0017_pulls.sql"),
    ),
];

/// `(version, name, sql)` for the SQLite operational file (`<name>-ops.db`: jobs, files,
/// webhooks), which has its own `schema_migrations`.
pub const SQLITE_OPS: &[(i64, &str, &str)] = &[
    (
        1,
        "ops",
        include_str!("../../migrations/sqlite-ops/0001_ops.sql"),
    ),
    (
        2,
        "admin",
        include_str!("../../migrations/sqlite-ops/0002_admin.sql"),
    ),
    (
        3,
        "audit",
        include_str!("../../migrations/sqlite-ops/0003_audit.sql"),
    ),
    (
        4,
        "throttle",
        include_str!("../../migrations/sqlite-ops/0004_throttle.sql"),
    ),
    (
        5,
        "job_brief",
        include_str!("../../migrations/sqlite-ops/0005_job_brief.sql"),
    ),
    (
        6,
        "mail",
        include_str!("../../migrations/sqlite-ops/0006_mail.sql"),
    ),
    (
        7,
        "pulls",
        include_str!("../../migrations/sqlite-ops/0007_pulls.sql"),
    ),
];

/// `(version, name, sql)` for PostgreSQL.
pub const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "rostering",
        include_str!("../../migrations/postgres/0001_rostering.sql"),
    ),
    (
        2,
        "clients",
        include_str!("../../migrations/postgres/0002_clients.sql"),
    ),
    (
        3,
        "api",
        include_str!("../../migrations/postgres/0003_api.sql"),
    ),
    (
        4,
        "probe",
        include_str!("../../migrations/postgres/0004_probe.sql"),
    ),
    (
        5,
        "jobs",
        include_str!("../../migrations/postgres/0005_jobs.sql"),
    ),
    (
        6,
        "security",
        include_str!("../../migrations/postgres/0006_security.sql"),
    ),
    (
        7,
        "admin",
        include_str!("../../migrations/postgres/0007_admin.sql"),
    ),
    (
        8,
        "audit",
        include_str!("../../migrations/postgres/0008_audit.sql"),
    ),
    (
        9,
        "pii",
        include_str!("../../migrations/postgres/0009_pii.sql"),
    ),
    (
        10,
        "throttle",
        include_str!("../../migrations/postgres/0010_throttle.sql"),
    ),
    (
        11,
        "targets",
        include_str!("../../migrations/postgres/0011_targets.sql"),
    ),
    (
        12,
        "dashboard",
        include_str!("../../migrations/postgres/0012_dashboard.sql"),
    ),
    (
        13,
        "shortfall",
        include_str!("../../migrations/postgres/0013_shortfall.sql"),
    ),
    (
        14,
        "changelog",
        include_str!("../../migrations/postgres/0014_changelog.sql"),
    ),
    (
        15,
        "mail",
        include_str!("../../migrations/postgres/0015_mail.sql"),
    ),
    (
        16,
        "mappings",
        include_str!("../../migrations/postgres/0016_mappings.sql"),
    ),
    (
        17,
        "pulls",
        include_str!("../../migrations/postgres/0017_pulls.sql"),
    ),
];

pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

/// Applies the migrations of `list` that `conn`'s file has not seen yet.
pub(super) fn apply_sqlite(
    conn: &mut rusqlite::Connection,
    list: &[(i64, &str, &str)],
) -> Result<(), super::StoreError> {
    conn.execute_batch(CREATE_TABLE)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: Vec<i64> = tx
        .prepare("SELECT version FROM schema_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for (version, name, sql) in list {
        if !applied.contains(version) {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, crate::domain::datetime::now_ms()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migrations_in_order() {
        let v = |m: &[(i64, &str, &str)]| {
            m.iter()
                .map(|(v, n, _)| (*v, n.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(v(SQLITE), v(POSTGRES));
        // Increasing, never repeated; a number may be missing while the change that takes it
        // is on another branch (the runners apply every version not yet recorded).
        for pair in SQLITE.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} then {}", pair[0].0, pair[1].0);
        }
    }
}
