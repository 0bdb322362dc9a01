//! Files kept in the database (`blobs`, `blob_chunks`): a file row, then its chunks in order,
//! then the row marked complete with its size and SHA-256. How a file is cut into chunks and
//! hashed is the `jobs::blob` feature's.

use super::Stmt;
use crate::domain::datetime::now_ms;
use crate::storage::value::params;
use crate::storage::{Store, StoreError};

/// The statements that delete a file: chunks first — on SQLite without foreign keys enforced
/// the cascade would not run.
pub(super) fn delete_stmts(id: &str) -> [Stmt; 2] {
    [
        Stmt::new("DELETE FROM blob_chunks WHERE blob_id = $1", params![id]),
        Stmt::new("DELETE FROM blobs WHERE id = $1", params![id]),
    ]
}

impl Store {
    /// Starts a file of `tenant`, empty and incomplete; returns its id.
    pub async fn create_blob(&self, tenant: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        self.ops_exec(
            "INSERT INTO blobs (id, tenant_id, size_bytes, sha256, complete, created_at) \
             VALUES ($1, $2, 0, NULL, 0, $3)",
            params![id.as_str(), tenant, now_ms()],
        )
        .await?;
        Ok(id)
    }

    /// Adds chunk `seq` (0-based) of a file.
    pub async fn add_blob_chunk(
        &self,
        id: &str,
        seq: i64,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.ops_exec(
            "INSERT INTO blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)",
            params![id, seq, data],
        )
        .await
        .map(|_| ())
    }

    /// Marks a file complete: from now on it is read.
    pub async fn complete_blob(&self, id: &str, size: u64, sha256: &str) -> Result<(), StoreError> {
        self.ops_exec(
            "UPDATE blobs SET size_bytes = $1, sha256 = $2, complete = 1 WHERE id = $3",
            params![size, sha256, id],
        )
        .await
        .map(|_| ())
    }

    /// The size of a complete stored file, `None` if there is none with this id.
    pub async fn blob_size(&self, id: &str) -> Result<Option<u64>, StoreError> {
        self.ops_fetch_opt_as(
            "SELECT size_bytes FROM blobs WHERE id = $1 AND complete = 1",
            params![id],
            |r| r.int_as(0, "a size in bytes"),
        )
        .await
    }

    /// Chunk `seq` of a file, `None` past its end.
    pub async fn blob_chunk(&self, id: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.ops_fetch_opt_as(
            "SELECT data FROM blob_chunks WHERE blob_id = $1 AND seq = $2",
            params![id, seq],
            |r| r.bytes(0),
        )
        .await
    }

    /// Deletes a stored file and its chunks.
    pub async fn delete_blob(&self, id: &str) -> Result<(), StoreError> {
        self.ops_atomic(delete_stmts(id).into()).await.map(|_| ())
    }

    /// Files nobody refers to: half-written ones and those of jobs never created (a crash
    /// between the upload and the job), older than `cutoff` (at most 100 per call).
    pub async fn orphan_blobs(&self, cutoff: i64) -> Result<Vec<String>, StoreError> {
        self.ops_fetch_as(
            "SELECT b.id FROM blobs b WHERE b.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.upload_blob = b.id OR j.result_blob = b.id) \
             LIMIT 100",
            params![cutoff],
            |r| r.text(0),
        )
        .await
    }
}
