//! What the commands that touch the database share: the tokio runtime, and opening the
//! database with its URL redacted in the error. Apart from `commands` (which dispatches to
//! `admin`, `client` and `keys`) so that those files need not import it back.

use anyhow::Context as _;

use crate::storage::{Store, StoreError, redact_url};

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Opens (and migrates) the database at `url`, without PII keys.
pub(super) async fn open(url: &str) -> anyhow::Result<Store> {
    opened(url, Store::open(url).await)
}

/// The opened store, or an error naming the database (its URL without the password).
pub(super) fn opened(url: &str, store: Result<Store, StoreError>) -> anyhow::Result<Store> {
    store.with_context(|| format!("cannot open the database {}", redact_url(url)))
}
