//! Storage: the only layer that writes SQL. One implementation per backend, chosen from the
//! database URL: SQLite (embedded, the default) and PostgreSQL (shared by replicas).
//!
//! Imports run on a blocking thread against an [`ImportTx`]: one database transaction that stages
//! the bundle's rows, plans the change set-wise in SQL, and applies it — or rolls back, leaving
//! the database exactly as it was.

pub mod backup;
pub mod changelog;
pub mod clients;
pub mod dashboard;
pub mod health;
pub mod list;
pub mod mappings;
pub mod migrate;
pub mod ops;
mod pg_copy;
pub mod pii_keys;
pub mod pii_rotate;
pub mod postgres;
pub mod provenance;
pub mod read;
mod replica;
mod rollover;
pub mod select;
mod sql;
pub mod sql_filter;
pub mod sqlite;
mod tenants;
#[cfg(test)]
pub(crate) mod test_db;
pub mod value;

use std::collections::HashMap;

use crate::domain::Entity;
use crate::domain::datetime::EpochMs;
use crate::domain::vocab::Status;

/// The database URL used when none is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/rosterhub.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    // Transparent: the message is the inner error's, and a report of the error chain
    // (`{:#}`) would print it twice if it were also this error's source.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The apply statements changed other rows than the plan counted: the import is aborted.
    #[error("applying {0} did not match its plan; nothing was written")]
    PlanMismatch(&'static str),
    /// A guarded state change found the row in another state (or gone): nothing was written.
    #[error("conflict: {0} changed no row")]
    Conflict(String),
    /// The job's lease passed to another worker before the import could commit.
    #[error("the job's lease was lost; the import was rolled back")]
    LeaseLost,
    /// A failure injected by a test to prove that a half-done apply leaves no trace.
    #[error("injected failure: {0}")]
    Injected(&'static str),
    /// A stored value is not what its column must hold — NULL where a value is required,
    /// another type, a number out of range, text outside a vocabulary, unreadable JSON: the row
    /// is refused rather than read as a default.
    #[error("column {column}: expected {expected}, found {found}")]
    Decode {
        /// The column's position in the result, and its name when the runner knows it.
        column: String,
        expected: &'static str,
        found: String,
    },
    /// PII encryption: a missing or wrong key, or a value that does not decrypt.
    #[error(transparent)]
    Pii(#[from] crate::pii::PiiError),
}

/// How a file of the bundle is to be applied (manifest `file.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileMode {
    Bulk,
    Delta,
}

impl FileMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FileMode::Bulk => "bulk",
            FileMode::Delta => "delta",
        }
    }
}

/// Per-entity outcome of a plan or an apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub tombstoned: u64,
}

impl Counts {
    /// Records written: inserted, updated or tombstoned.
    pub fn written(&self) -> u64 {
        self.inserted + self.updated + self.tombstoned
    }
}

/// What staging a row will do to the tenant's stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Inserted,
    Updated,
    Unchanged,
    Tombstoned,
    /// A delete of a record that was never stored.
    Nothing,
}

/// Ids a bulk file's absent records are reported by, at most: a sample for people, not a list.
pub const TOMBSTONE_SAMPLE: usize = 20;

/// One validated row on its way into the staging area.
#[derive(Debug)]
pub struct StageRow<'a> {
    pub sourced_id: &'a str,
    /// `Active` for bulk rows; delta rows say which.
    pub status: Status,
    /// The source's own `dateLastModified` (delta rows), kept beside the server time.
    pub source_modified: Option<EpochMs>,
    /// One normalised value per [`Entity::columns`] (the full 1.2 shape); empty = no value.
    pub values: &'a [String],
    /// The `metadata.*` columns as a JSON object text, in CSV order.
    pub metadata: Option<&'a str>,
    /// Hash of the record's content (values + metadata), to detect real changes.
    pub hash: [u8; 16],
}

/// An active stored record that references another record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub entity: Entity,
    pub sourced_id: String,
    /// The CSV name of the referencing column.
    pub column: &'static str,
    pub target_id: String,
}

/// The single-valued reference columns that point at `target`: (entity, column).
pub fn reference_columns(target: Entity) -> Vec<(Entity, &'static crate::domain::Column)> {
    Entity::ALL
        .iter()
        .flat_map(|e| e.columns().iter().map(move |c| (*e, c)))
        .filter(|(_, c)| c.kind == crate::domain::Kind::Ref(target))
        .collect()
}

/// The import being applied: every changed record is stamped with it.
#[derive(Debug, Clone)]
pub struct ImportStamp {
    pub import_id: String,
    pub now: EpochMs,
}

/// The row kept in `imports` for each import run (applied, dry run, rejected or held).
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub id: String,
    pub status: String,
    pub profile: Option<String>,
    pub started_at: EpochMs,
    pub finished_at: EpochMs,
    pub report_json: String,
    /// The job this run belongs to (HTTP imports): recorded with the import, and on PostgreSQL
    /// the import commits only while this worker still holds the job's lease.
    pub job: Option<JobRef>,
    /// Who ran it (`cli:<user>`, a job's creator), kept with an applied import's change log.
    pub actor: Option<String>,
}

/// A job as seen by the worker running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    pub job_id: String,
    /// The worker holding the lease.
    pub owner: String,
}

/// One transaction of an import. Dropping it without [`ImportTx::commit`] rolls back.
///
/// The backends differ in *when* rows reach the tables — SQLite probes and writes each changed
/// row as it is staged; PostgreSQL reads the tenant's (id, status, hash) per table once, classifies
/// rows in memory, streams new records with `COPY` while the file is parsed, and applies updates
/// and tombstones set-wise from a temporary table — but not in what a caller sees: counts from
/// [`ImportTx::plan`], data only after [`ImportTx::commit`].
pub trait ImportTx {
    /// Adds a row of the bundle; says what it will do to the stored record.
    fn stage(&mut self, entity: Entity, row: &StageRow<'_>) -> Result<Change, StoreError>;
    /// Before the first row of a delta file: the sourcedIds its rows name (read ahead), so a
    /// store that would otherwise read every stored record of the entity to classify rows
    /// looks up just these. A hint: a store may ignore it, and rows may still name others.
    fn expect_ids(&mut self, _entity: Entity, _ids: &[String]) -> Result<(), StoreError> {
        Ok(())
    }
    /// Called once after the last row of an entity. `in_bundle` tells whether a sourcedId
    /// was in the file (for bulk files: stored records absent from it become tombstones).
    /// Returns the first [`TOMBSTONE_SAMPLE`] ids so made tombstones.
    fn finish_staging(
        &mut self,
        entity: Entity,
        mode: FileMode,
        in_bundle: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, StoreError>;
    /// Which of `ids` the tenant had stored before this import, and whether each was active
    /// (`true`) or a tombstone (`false`). Ids not in the map are not stored.
    fn stored_status(
        &mut self,
        entity: Entity,
        ids: &[&str],
    ) -> Result<HashMap<String, bool>, StoreError>;
    /// Active stored records that reference one of `ids` of `target` through a single-valued
    /// reference column (at most `limit` of them): what a tombstone of those ids would leave
    /// pointing at a deleted record.
    fn active_referrers(
        &mut self,
        target: Entity,
        ids: &[&str],
        limit: usize,
    ) -> Result<Vec<Referrer>, StoreError>;
    /// The stored active orgs' parents (org → parent), for parent-cycle checks of delta data.
    fn stored_org_parents(&mut self) -> Result<HashMap<String, String>, StoreError>;
    /// The stored `type` of the given orgs (for "must reference a school" checks on delta data).
    fn stored_org_types(&mut self, ids: &[&str]) -> Result<HashMap<String, String>, StoreError>;
    /// How many of the tenant's records of this entity are active now.
    fn active_count(&mut self, entity: Entity) -> Result<u64, StoreError>;
    /// What applying the staged rows would do, without changing anything.
    fn plan(&mut self, entity: Entity, mode: FileMode) -> Result<Counts, StoreError>;
    /// Applies the staged rows: upserts changed records, tombstones deleted or absent ones,
    /// stamping them with the import given to `begin_import`.
    fn apply(&mut self, entity: Entity, mode: FileMode) -> Result<Counts, StoreError>;
    /// Writes the import's own record (part of the same transaction).
    fn save_import(&mut self, record: &ImportRecord) -> Result<(), StoreError>;
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Which backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    pub fn from_url(url: &str) -> Result<BackendKind, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(BackendKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(BackendKind::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }
}

/// A database URL without its password (in the user part or a `password=` parameter), for
/// logs and messages.
pub fn redact_url(url: &str) -> String {
    let url = &match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url.to_owned(),
    };
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The directory RosterHub keeps its own files in: the SQLite database's directory, or
/// `./data` beside a PostgreSQL server's process.
pub fn data_dir(url: &str) -> std::path::PathBuf {
    match BackendKind::from_url(url) {
        Ok(BackendKind::Sqlite) => match sqlite::path_from_url(url).parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => ".".into(),
        },
        _ => "data".into(),
    }
}

/// An open database: the entry point for every storage operation.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the database at `url` and brings its schema up to date, with PII encryption as the
    /// environment configures it (`ROSTERHUB_PII_KEY`…, see [`crate::pii::PiiSettings`]).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let pii = crate::pii::PiiSettings::from_env().load()?;
        Store::open_with_pii(url, pii).await
    }

    /// Opens the database with these PII keys (`None`: encryption off). Refuses a database that
    /// holds encrypted PII without its key (see [`Store::with_pii`]).
    pub async fn open_with_pii(
        url: &str,
        pii: Option<crate::pii::PiiConfig>,
    ) -> Result<Store, StoreError> {
        Store::open_unchecked(url).await?.with_pii(pii).await
    }

    /// Opens the database without PII keys and without checking that it needs none: only for
    /// what reads no rostering values (`rosterhub keys status`).
    pub async fn open_unchecked(url: &str) -> Result<Store, StoreError> {
        Ok(match BackendKind::from_url(url)? {
            BackendKind::Sqlite => Store::Sqlite(sqlite::SqliteStore::open(url)?),
            BackendKind::Postgres => Store::Postgres(postgres::PgStore::connect(url).await?),
        })
    }

    /// Opens a database whose schema is current as it is: no migration, nothing created,
    /// without PII keys (`doctor`, after [`health::reach`] found it migrated).
    pub async fn open_as_is(url: &str) -> Result<Store, StoreError> {
        Ok(match BackendKind::from_url(url)? {
            BackendKind::Sqlite => Store::Sqlite(sqlite::SqliteStore::open_as_is(url)),
            BackendKind::Postgres => Store::Postgres(postgres::PgStore::connect_as_is(url).await?),
        })
    }

    pub fn backend(&self) -> BackendKind {
        match self {
            Store::Sqlite(_) => BackendKind::Sqlite,
            Store::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Cheap round trip for the readiness probe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.ping(),
            Store::Postgres(p) => p.ping().await,
        }
    }

    /// Creates a tenant if it does not exist yet.
    pub async fn ensure_tenant(&self, id: &str, name: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.ensure_tenant(id, name),
            Store::Postgres(p) => p.ensure_tenant(id, name).await,
        }
    }

    pub async fn tenant_exists(&self, id: &str) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.tenant_exists(id),
            Store::Postgres(p) => p.tenant_exists(id).await,
        }
    }

    /// Starts an import transaction for `tenant`; changed records are stamped with `stamp`.
    /// Blocking: call it from a blocking thread.
    pub fn begin_import(
        &self,
        tenant: &str,
        stamp: &ImportStamp,
    ) -> Result<Box<dyn ImportTx + Send + '_>, StoreError> {
        match self {
            Store::Sqlite(s) => Ok(Box::new(s.begin_import(tenant, stamp)?)),
            Store::Postgres(p) => Ok(Box::new(p.begin_import(tenant, stamp)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend_and_passwords_never_show() {
        assert_eq!(
            BackendKind::from_url("sqlite://x.db").unwrap(),
            BackendKind::Sqlite
        );
        assert_eq!(
            BackendKind::from_url("postgres://h/db").unwrap(),
            BackendKind::Postgres
        );
        assert!(BackendKind::from_url("mysql://h/db").is_err());
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=disable&password=secret"),
            "postgres://u@h/db?sslmode=disable&password=***"
        );
    }
}
