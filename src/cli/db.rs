//! What the commands that touch the database share: the tokio runtime, and choosing, naming
//! and opening the database with its URL redacted in every message. Apart from `commands`
//! (which dispatches to `admin`, `client` and `keys`) so that those files need not import it
//! back.

use anyhow::Context as _;

use super::DbArgs;
use crate::storage::{BackendKind, DEFAULT_DATABASE_URL, Store, StoreError, redact_url};

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// What a command does when no database was named and the default file does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Missing {
    /// `serve` and `migrate`: create it (the README's first run).
    Create,
    /// Everything else: refuse. The default path is relative to the working directory, so a
    /// command run from another folder would otherwise write to a new, empty database that no
    /// server reads (a client created there is then refused with `invalid_client`).
    Refuse,
}

/// The URL of the database the command uses, named on stderr (without its password) so that
/// the person sees which file or server a command wrote to.
pub(super) fn database_url(db: &DbArgs, missing: Missing) -> anyhow::Result<String> {
    let url = match &db.database_url {
        Some(url) => url.clone(),
        None => {
            let path = crate::storage::sqlite::path_from_url(DEFAULT_DATABASE_URL);
            if missing == Missing::Refuse && !path.exists() {
                let shown = describe(DEFAULT_DATABASE_URL);
                anyhow::bail!(
                    "no database at {shown}: no database was named (--database-url or \
                     ROSTERHUB_DATABASE_URL) and the default one, relative to this folder, does \
                     not exist; this command does not create one. Run it in the folder where \
                     `rosterhub serve` runs, or name the database: --database-url \
                     sqlite:///PATH/TO/rosterhub.db (or postgres://…). `rosterhub migrate` \
                     creates a new one.\n\
                     データベースがありません ({shown})。--database-url も ROSTERHUB_DATABASE_URL \
                     も指定されておらず、この作業フォルダからの既定のファイルが存在しないため、\
                     新しく作成しませんでした。`rosterhub serve` を実行しているフォルダで実行するか、\
                     --database-url sqlite:///PATH/TO/rosterhub.db (または postgres://…) で\
                     データベースを指定してください。新しく作成するには `rosterhub migrate` を\
                     実行します。"
                );
            }
            DEFAULT_DATABASE_URL.to_owned()
        }
    };
    eprintln!("database: {}", describe(&url));
    Ok(url)
}

/// A database URL for people: the password redacted and, for SQLite, the absolute path of the
/// file (a relative URL depends on the folder the command runs in).
pub(super) fn describe(url: &str) -> String {
    let shown = redact_url(url);
    if BackendKind::from_url(url).ok() != Some(BackendKind::Sqlite) {
        return shown;
    }
    let path = crate::storage::sqlite::path_from_url(url);
    if path.is_absolute() {
        return shown;
    }
    match std::path::absolute(&path) {
        Ok(abs) => format!("{shown} ({})", abs.display()),
        Err(_) => shown,
    }
}

/// Opens (and migrates) the command's database, without PII keys.
pub(super) async fn open(db: &DbArgs) -> anyhow::Result<Store> {
    let url = database_url(db, Missing::Refuse)?;
    opened(&url, Store::open(&url).await)
}

/// The opened store, or an error naming the database (its URL without the password).
pub(super) fn opened(url: &str, store: Result<Store, StoreError>) -> anyhow::Result<Store> {
    store.with_context(|| format!("cannot open the database {}", redact_url(url)))
}
