//! `rosterhub backup OUT` and `rosterhub restore IN` (SQLite): a folder holding a consistent copy
//! of the database and of its operational file, checked, with a manifest (schema versions,
//! sizes, SHA-256, time). PostgreSQL is backed up with `pg_dump`: both commands refuse it and
//! say how.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use super::DbArgs;
use super::db::{Missing, database_url};
use crate::domain::datetime::{format_ms, now_ms};
use crate::storage::backup::{sqlite_integrity, sqlite_schema_version, sqlite_snapshot};
use crate::storage::ops::sqlite_ops_path;
use crate::storage::{BackendKind, migrate, redact_url};

/// What `manifest.json` says it is.
const FORMAT: &str = "rosterhub-backup";
const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";

/// The two files of a SQLite database, in the order they are copied. The operational file
/// first: a job it shows running whose import then commits in the main file is finished from
/// that import's record at the next start (`imports.job_id`), the same as after a crash. The
/// reverse order could show a job succeeded whose import the copy does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    Ops,
    Main,
}

impl Role {
    const ORDER: [Role; 2] = [Role::Ops, Role::Main];

    /// The file's name in a backup folder.
    fn file(self) -> &'static str {
        match self {
            Role::Main => "rosterhub.db",
            Role::Ops => "rosterhub-ops.db",
        }
    }

    /// Where the file of this role is for the database at `main`.
    fn path(self, main: &Path) -> PathBuf {
        match self {
            Role::Main => main.to_owned(),
            Role::Ops => sqlite_ops_path(main),
        }
    }

    fn latest(self) -> i64 {
        let list = match self {
            Role::Main => migrate::SQLITE,
            Role::Ops => migrate::SQLITE_OPS,
        };
        list.last().map_or(0, |m| m.0)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    rosterhub_version: String,
    created_at: String,
    backend: String,
    files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    role: Role,
    file: String,
    schema_version: i64,
    bytes: u64,
    sha256: String,
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use sha2::Digest as _;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Fails unless `path` passes `PRAGMA integrity_check`.
fn check_integrity(path: &Path) -> anyhow::Result<()> {
    let problems =
        sqlite_integrity(path).with_context(|| format!("cannot check {}", path.display()))?;
    if !problems.is_empty() {
        bail!(
            "{} fails SQLite's integrity check: {}",
            path.display(),
            problems.join("; ")
        );
    }
    Ok(())
}

/// What to say instead of backing up or restoring a PostgreSQL database.
fn postgres_refusal(url: &str, restore: bool) -> String {
    let url = redact_url(url);
    let (what, ja) = if restore {
        ("restored", "リストア")
    } else {
        ("backed up", "バックアップ")
    };
    format!(
        "a PostgreSQL database is {what} with PostgreSQL's own tools, not by rosterhub: \
         rosterhub backup and restore copy SQLite files only.\n\
         back up (while rosterhub runs):\n  pg_dump --format=custom --file=rosterhub.dump '{url}'\n\
         restore into a new, empty database, then start rosterhub on it:\n  \
         pg_restore --no-owner --dbname='{url}' rosterhub.dump\n\
         (give the password by PGPASSWORD or ~/.pgpass; see docs/operations.md)\n\
         PostgreSQL のデータベースは rosterhub ではなく PostgreSQL のツールで{ja}します \
         (rosterhub backup / restore は SQLite のファイルだけを扱います)。上の pg_dump / pg_restore \
         のコマンドを使ってください (docs/operations.md)。"
    )
}

pub(super) fn backup(out: &Path, db: &DbArgs) -> anyhow::Result<i32> {
    let url = database_url(db, Missing::Refuse)?;
    if BackendKind::from_url(&url)? == BackendKind::Postgres {
        eprintln!("{}", postgres_refusal(&url, false));
        return Ok(2);
    }
    let main = crate::storage::sqlite::path_from_url(&url);
    let occupied = match std::fs::read_dir(out) {
        Ok(mut entries) => entries.next().is_some(),
        Err(_) => out.exists(),
    };
    if occupied {
        eprintln!(
            "{} exists already and is not an empty folder: nothing was written. Name a new \
             folder.\n{} は既に存在し、空のフォルダではありません。何も書き込んでいません。新しい\
             フォルダを指定してください。",
            out.display(),
            out.display()
        );
        return Ok(1);
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    // Written beside OUT and renamed at the end: a folder named OUT is always a whole backup.
    let partial = tempfile::Builder::new()
        .prefix(".rosterhub-backup-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    let mut files = Vec::new();
    for role in Role::ORDER {
        let (src, dst) = (role.path(&main), partial.path().join(role.file()));
        sqlite_snapshot(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
        check_integrity(&dst)?;
        files.push(FileEntry {
            role,
            file: role.file().to_owned(),
            schema_version: sqlite_schema_version(&dst)?,
            bytes: std::fs::metadata(&dst)?.len(),
            sha256: sha256_file(&dst)?,
        });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        rosterhub_version: env!("CARGO_PKG_VERSION").into(),
        created_at: format_ms(now_ms()),
        backend: "sqlite".into(),
        files,
    };
    std::fs::write(
        partial.path().join(MANIFEST),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    if out.exists() {
        std::fs::remove_dir(out)?;
    }
    std::fs::rename(partial.keep(), out)
        .with_context(|| format!("cannot name the backup {}", out.display()))?;
    for f in &manifest.files {
        eprintln!(
            "{:<18} {:>14} bytes  schema {}",
            f.file, f.bytes, f.schema_version
        );
    }
    eprintln!("wrote {} ({})", out.display(), manifest.created_at);
    Ok(0)
}

/// Reads and checks a backup folder's manifest and files; the manifest.
fn checked_backup(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{} has no {MANIFEST}: it is not a folder written by `rosterhub backup`",
            dir.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a rosterhub backup manifest", path.display()))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        bail!(
            "{} is a backup of format {} {}; this rosterhub reads {FORMAT} {FORMAT_VERSION}",
            dir.display(),
            manifest.format,
            manifest.format_version
        );
    }
    for role in Role::ORDER {
        let Some(entry) = manifest.files.iter().find(|f| f.role == role) else {
            bail!("the backup's manifest lists no {} file", role.file());
        };
        let file = dir.join(&entry.file);
        if sha256_file(&file)? != entry.sha256 {
            bail!(
                "{} is not the file the backup wrote (its SHA-256 differs from the manifest's): \
                 the backup is damaged",
                file.display()
            );
        }
        check_integrity(&file)?;
        let version = sqlite_schema_version(&file)?;
        if version != entry.schema_version {
            bail!(
                "{} is at schema {version}, its manifest says {}: the backup is damaged",
                file.display(),
                entry.schema_version
            );
        }
        if version > role.latest() {
            bail!(
                "{} is at schema {version}, newer than this rosterhub knows ({}): restore it \
                 with the rosterhub version that wrote it ({}) or a later one",
                file.display(),
                role.latest(),
                manifest.rosterhub_version
            );
        }
    }
    Ok(manifest)
}

pub(super) fn restore(input: &Path, force: bool, db: &DbArgs) -> anyhow::Result<i32> {
    let url = database_url(db, Missing::Create)?;
    if BackendKind::from_url(&url)? == BackendKind::Postgres {
        eprintln!("{}", postgres_refusal(&url, true));
        return Ok(2);
    }
    let manifest = checked_backup(input)?;
    let main = crate::storage::sqlite::path_from_url(&url);
    let taken: Vec<PathBuf> = Role::ORDER
        .iter()
        .map(|r| r.path(&main))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .collect();
    if !taken.is_empty() && !force {
        let list = taken
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        eprintln!(
            "a database is there already ({list}): nothing was changed. Restore into another \
             location (--database-url), or stop every rosterhub process using it and add \
             --force to replace it.\n既にデータベースがあります ({list})。何も変更していません。\
             別の場所 (--database-url) にリストアするか、このデータベースを使っている rosterhub を\
             すべて停止してから --force を付けて置き換えてください。"
        );
        return Ok(1);
    }
    let tmp_root = crate::storage::data_dir(&url).join("tmp");
    if force && crate::jobs::scratch::live_processes(&tmp_root)? > 0 {
        eprintln!(
            "a rosterhub process is running on this data directory (it holds a lock in {}): \
             nothing was changed. Stop it, then restore.\nこのデータディレクトリで rosterhub \
             が動いています ({} のロック)。何も変更していません。停止してからリストアしてください。",
            tmp_root.display(),
            tmp_root.display()
        );
        return Ok(1);
    }
    let dir = main
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for role in Role::ORDER {
        let target = role.path(&main);
        let staged = dir.join(format!(".restore-{}", role.file()));
        std::fs::copy(input.join(role.file()), &staged)
            .with_context(|| format!("cannot write {}", staged.display()))?;
        std::fs::File::open(&staged)?.sync_all()?;
        // A replaced database's WAL must not be applied to the restored file: gone first.
        for suffix in ["-wal", "-shm"] {
            let mut side = target.clone().into_os_string();
            side.push(suffix);
            match std::fs::remove_file(&side) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        std::fs::rename(&staged, &target)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    for f in &manifest.files {
        let latest = f.role.latest();
        let note = if f.schema_version < latest {
            format!(" (migrated to {latest} when rosterhub next opens it)")
        } else {
            String::new()
        };
        eprintln!("{:<18} schema {}{note}", f.file, f.schema_version);
    }
    eprintln!(
        "restored the backup of {} into {}",
        manifest.created_at,
        main.display()
    );
    Ok(0)
}
