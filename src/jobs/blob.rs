//! Files kept in the database (uploads, exports) as 1 MiB chunks: every replica reads what any
//! replica wrote, with no shared filesystem. A file is written once and read whole or streamed
//! (the table statements are `storage::ops::blobs`).

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::storage::{Store, StoreError};

/// The size of one stored chunk.
pub const CHUNK: usize = 1 << 20;

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub id: String,
    pub size_bytes: u64,
    pub sha256: String,
}

/// Copies the file at `path` into the database for `tenant`. Blocking reads of the file happen
/// on a blocking thread one chunk at a time, so memory stays at one chunk.
pub async fn store_file(store: &Store, tenant: &str, path: &Path) -> Result<BlobInfo, StoreError> {
    let id = store.create_blob(tenant).await?;
    match write_chunks(store, &id, path).await {
        Ok(info) => Ok(info),
        Err(e) => {
            // Best effort: a half-written file is also removed by the retention sweep.
            let _ = store.delete_blob(&id).await;
            Err(e)
        }
    }
}

async fn write_chunks(store: &Store, id: &str, path: &Path) -> Result<BlobInfo, StoreError> {
    let file = std::fs::File::open(path)?;
    let mut reader = std::io::BufReader::with_capacity(CHUNK, file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut seq = 0i64;
    loop {
        let (chunk, r) = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(CHUNK);
            let n = (&mut reader).take(CHUNK as u64).read_to_end(&mut buf);
            (n.map(|_| buf), reader)
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        reader = r;
        let chunk = chunk?;
        if chunk.is_empty() {
            break;
        }
        hasher.update(&chunk);
        size += chunk.len() as u64;
        store.add_blob_chunk(id, seq, chunk).await?;
        seq += 1;
    }
    let sha256 = hex::encode(hasher.finalize());
    store.complete_blob(id, size, &sha256).await?;
    Ok(BlobInfo {
        id: id.to_owned(),
        size_bytes: size,
        sha256,
    })
}

/// Writes a stored file into `out` (a local temporary file of the worker).
pub async fn copy_to_file(store: &Store, id: &str, out: &Path) -> Result<u64, StoreError> {
    let mut file = std::io::BufWriter::with_capacity(CHUNK, std::fs::File::create(out)?);
    let mut seq = 0;
    let mut size = 0u64;
    while let Some(data) = store.blob_chunk(id, seq).await? {
        size += data.len() as u64;
        file = tokio::task::spawn_blocking(move || file.write_all(&data).map(|_| file))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        seq += 1;
    }
    file.flush()?;
    Ok(size)
}
