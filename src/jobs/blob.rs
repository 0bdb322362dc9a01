//! Files kept in the database (uploads, exports) as 1 MiB chunks: every replica reads what any
//! replica wrote, with no shared filesystem. A file is written once and read whole or streamed.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::domain::datetime::now_ms;
use crate::params;
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
    let id = uuid::Uuid::now_v7().to_string();
    store
        .ops_exec(
            "INSERT INTO blobs (id, tenant_id, size_bytes, sha256, complete, created_at) \
             VALUES ($1, $2, 0, NULL, 0, $3)",
            params![id.as_str(), tenant, now_ms()],
        )
        .await?;
    match write_chunks(store, &id, path).await {
        Ok(info) => Ok(info),
        Err(e) => {
            // Best effort: a half-written file is also removed by the retention sweep.
            let _ = delete(store, &id).await;
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
        store
            .ops_exec(
                "INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)",
                params![id, seq, chunk],
            )
            .await?;
        seq += 1;
    }
    let sha256 = hex::encode(hasher.finalize());
    store
        .ops_exec(
            "UPDATE blobs SET size_bytes = $1, sha256 = $2, complete = 1 WHERE id = $3",
            params![size, sha256.as_str(), id],
        )
        .await?;
    Ok(BlobInfo {
        id: id.to_owned(),
        size_bytes: size,
        sha256,
    })
}

/// The size of a complete stored file, `None` if there is none with this id.
pub async fn size(store: &Store, id: &str) -> Result<Option<u64>, StoreError> {
    Ok(store
        .ops_fetch_opt(
            "SELECT size_bytes FROM blobs WHERE id = $1 AND complete = 1",
            params![id],
        )
        .await?
        .map(|r| r.int(0) as u64))
}

/// Chunk `seq` of a file, `None` past its end.
pub async fn chunk(store: &Store, id: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(store
        .ops_fetch_opt(
            "SELECT data FROM blob_chunks WHERE blob_id = $1 AND seq = $2",
            params![id, seq],
        )
        .await?
        .map(|r| r.bytes(0)))
}

/// Writes a stored file into `out` (a local temporary file of the worker).
pub async fn copy_to_file(store: &Store, id: &str, out: &Path) -> Result<u64, StoreError> {
    let mut file = std::io::BufWriter::with_capacity(CHUNK, std::fs::File::create(out)?);
    let mut seq = 0;
    let mut size = 0u64;
    while let Some(data) = chunk(store, id, seq).await? {
        size += data.len() as u64;
        file = tokio::task::spawn_blocking(move || file.write_all(&data).map(|_| file))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        seq += 1;
    }
    file.flush()?;
    Ok(size)
}

/// Deletes a stored file (its chunks go with it).
pub async fn delete(store: &Store, id: &str) -> Result<(), StoreError> {
    // Chunks first: on SQLite without foreign keys enforced the cascade would not run.
    store
        .ops_exec("DELETE FROM blob_chunks WHERE blob_id = $1", params![id])
        .await?;
    store
        .ops_exec("DELETE FROM blobs WHERE id = $1", params![id])
        .await?;
    Ok(())
}

/// Files nobody refers to: half-written ones and those of jobs never created (a crash between
/// the upload and the job), older than `cutoff`.
pub async fn orphans(store: &Store, cutoff: i64) -> Result<Vec<String>, StoreError> {
    let rows = store
        .ops_fetch(
            "SELECT b.id FROM blobs b WHERE b.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.upload_blob = b.id OR j.result_blob = b.id) \
             LIMIT 100",
            params![cutoff],
        )
        .await?;
    Ok(rows.iter().map(|r| r.text(0)).collect())
}
