//! The COPY text format of the PostgreSQL import, and the task that streams it to the server
//! while the staging thread keeps parsing.

use sqlx::{Postgres, Transaction};

use super::StageRow;
use crate::domain::Entity;
use crate::pii::Sealed;

/// Where a COPY goes: the entity's table (new records) or its staging table (changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Main,
    Stage,
}

/// A COPY stream fed from the staging thread while the caller keeps parsing: a task owns the
/// transaction until the stream is finished, and gives it back with the server's row count.
pub(super) struct CopyJob {
    pub(super) entity: Entity,
    pub(super) target: Target,
    pub(super) sender: tokio::sync::mpsc::Sender<Vec<u8>>,
    pub(super) task:
        tokio::task::JoinHandle<(Transaction<'static, Postgres>, Result<u64, sqlx::Error>)>,
}

/// Send COPY data to the server in chunks of this many bytes.
pub(super) const SEND_CHUNK: usize = 1 << 20;
/// New records are sorted and sent once this many bytes of them are buffered (or the file ends).
pub(super) const SORT_CHUNK: usize = 16 << 20;
/// Chunks queued for the COPY task before the staging thread waits.
pub(super) const SEND_QUEUE: usize = 8;

pub(super) async fn copy_task(
    mut tx: Transaction<'static, Postgres>,
    statement: String,
    mut data: tokio::sync::mpsc::Receiver<Vec<u8>>,
) -> (Transaction<'static, Postgres>, Result<u64, sqlx::Error>) {
    let result = async {
        let mut copy = tx.copy_in_raw(&statement).await?;
        while let Some(chunk) = data.recv().await {
            // On error the dropped stream tells the server the COPY failed.
            copy.send(chunk).await?;
        }
        copy.finish().await
    }
    .await;
    (tx, result)
}

/// Appends a value in COPY text format.
pub(super) fn copy_text(buf: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

fn copy_opt(buf: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(v) if !v.is_empty() => copy_text(buf, v),
        _ => buf.extend_from_slice(b"\\N"),
    }
}

pub(super) fn copy_hash(buf: &mut Vec<u8>, hash: &[u8]) {
    buf.extend_from_slice(b"\\\\x");
    for b in hash {
        buf.push(HEX[usize::from(b >> 4)]);
        buf.push(HEX[usize::from(b & 15)]);
    }
}

/// The source's dateLastModified (`\N` if none), then a content cell per column (or `\N`) as
/// `sealed` has it (encrypted, when PII encryption is on), the blind indexes, then metadata:
/// the part shared by the entity's table and the staging table.
pub(super) fn copy_content(
    buf: &mut Vec<u8>,
    row: &StageRow<'_>,
    sealed: &Sealed,
    with_values: bool,
) {
    match row.source_modified {
        Some(ms) => buf.extend_from_slice(ms.to_string().as_bytes()),
        None => buf.extend_from_slice(b"\\N"),
    }
    let values = sealed.values.as_deref().unwrap_or(row.values);
    let cells = values
        .iter()
        .map(|v| Some(v.as_str()))
        .chain(sealed.bidx().iter().map(|b| b.as_deref()));
    for v in cells {
        buf.push(b'\t');
        if with_values {
            copy_opt(buf, v);
        } else {
            buf.extend_from_slice(b"\\N");
        }
    }
    buf.push(b'\t');
    copy_opt(buf, row.metadata.filter(|_| with_values));
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        let mut b = Vec::new();
        copy_text(&mut b, "a\tb\\c\nd\re");
        assert_eq!(b, b"a\\tb\\\\c\\nd\\re");
    }
}
