//! Per-generation caches for collection reads: totals (`X-Total-Count`) and paging anchors.
//! Data changes only through imports, and every applied import bumps the tenant's generation,
//! so an entry keyed by generation is exact until the next import — then it is never hit again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::storage::read::Query;

/// Entries kept before the cache is emptied (a crude bound; entries are small).
const MAX_ENTRIES: usize = 20_000;

#[derive(Clone, Default)]
pub struct ReadCache {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    totals: HashMap<String, u64>,
    anchors: HashMap<String, Arc<Vec<String>>>,
}

/// The key of a query's result for one tenant generation.
pub fn key(tenant: &str, generation: i64, table: &str, q: &Query, extra: &str) -> String {
    format!(
        "{tenant}\u{1f}{generation}\u{1f}{table}\u{1f}{}\u{1f}{:?}\u{1f}{extra}",
        q.sql, q.params
    )
}

impl ReadCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn total(&self, key: &str) -> Option<u64> {
        self.lock().totals.get(key).copied()
    }

    pub fn put_total(&self, key: String, total: u64) {
        let mut inner = self.lock();
        if inner.totals.len() >= MAX_ENTRIES {
            inner.totals.clear();
        }
        inner.totals.insert(key, total);
    }

    pub fn anchors(&self, key: &str) -> Option<Arc<Vec<String>>> {
        self.lock().anchors.get(key).cloned()
    }

    pub fn put_anchors(&self, key: String, anchors: Arc<Vec<String>>) {
        let mut inner = self.lock();
        if inner.anchors.len() >= MAX_ENTRIES / 10 {
            inner.anchors.clear();
        }
        inner.anchors.insert(key, anchors);
    }
}
