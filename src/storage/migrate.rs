//! Embedded migrations, one list per backend. An applied migration is never edited: a change
//! is a new file. Both runners record what they applied in `schema_migrations`.

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
];

pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

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
        for (i, (version, _, _)) in SQLITE.iter().enumerate() {
            assert_eq!(*version, i as i64 + 1);
        }
    }
}
