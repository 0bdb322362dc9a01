//! Per-generation caches for collection reads: totals (`X-Total-Count`) and paging anchors,
//! under the keys storage makes of a typed request (`storage::list::ReadKey`), and whole
//! responses. Data changes only through imports, and every applied import bumps the tenant's
//! generation, so an entry keyed by generation is exact until the next import — then it is
//! never hit again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::storage::list::ReadKey;
use crate::storage::select::OrgScope;

/// Entries kept before the cache is emptied (a crude bound; entries are small).
const MAX_ENTRIES: usize = 20_000;

#[derive(Clone, Default)]
pub struct ReadCache {
    inner: Arc<Mutex<Inner>>,
    /// One lock per response being built: concurrent requests for the same missing page wait
    /// for the first one instead of all querying the database (no thundering herd).
    building: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

#[derive(Default)]
struct Inner {
    totals: HashMap<ReadKey, u64>,
    anchors: HashMap<ReadKey, Arc<Vec<String>>>,
    responses: HashMap<String, Arc<CachedResponse>>,
    response_bytes: usize,
    /// Org scopes expanded to every org below them, per tenant generation and scope.
    scopes: HashMap<String, Arc<OrgScope>>,
}

/// Bytes of response bodies kept before that cache is emptied.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// A whole 200 response: polling clients ask the same pages again and again, and between two
/// imports the answer cannot change.
#[derive(Debug)]
pub struct CachedResponse {
    pub body: axum::body::Bytes,
    pub etag: String,
    pub total: Option<u64>,
    pub link: Option<String>,
}

impl ReadCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn total(&self, key: &ReadKey) -> Option<u64> {
        self.lock().totals.get(key).copied()
    }

    pub fn put_total(&self, key: ReadKey, total: u64) {
        let mut inner = self.lock();
        if inner.totals.len() >= MAX_ENTRIES {
            inner.totals.clear();
        }
        inner.totals.insert(key, total);
    }

    pub fn response(&self, key: &str) -> Option<Arc<CachedResponse>> {
        self.lock().responses.get(key).cloned()
    }

    pub fn put_response(&self, key: String, response: Arc<CachedResponse>) {
        let mut inner = self.lock();
        if inner.response_bytes + response.body.len() > MAX_RESPONSE_BYTES {
            inner.responses.clear();
            inner.response_bytes = 0;
        }
        inner.response_bytes += response.body.len();
        inner.responses.insert(key, response);
    }

    /// The build lock of a response key.
    pub fn build_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut b = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 1024 {
            b.retain(|_, l| Arc::strong_count(l) > 1);
        }
        b.entry(key.to_owned()).or_default().clone()
    }

    pub fn scope(&self, key: &str) -> Option<Arc<OrgScope>> {
        self.lock().scopes.get(key).cloned()
    }

    pub fn put_scope(&self, key: String, scope: Arc<OrgScope>) {
        let mut inner = self.lock();
        if inner.scopes.len() >= 1024 {
            inner.scopes.clear();
        }
        inner.scopes.insert(key, scope);
    }

    pub fn anchors(&self, key: &ReadKey) -> Option<Arc<Vec<String>>> {
        self.lock().anchors.get(key).cloned()
    }

    pub fn put_anchors(&self, key: ReadKey, anchors: Arc<Vec<String>>) {
        let mut inner = self.lock();
        if inner.anchors.len() >= MAX_ENTRIES / 10 {
            inner.anchors.clear();
        }
        inner.anchors.insert(key, anchors);
    }
}
