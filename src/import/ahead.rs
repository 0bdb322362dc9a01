//! Reading a delta file's sourcedIds ahead of its rows, so that the store looks up just the
//! records it names (`ImportTx::expect_ids`): a daily delta names 1 % of a tenant, and
//! classifying its rows against every stored record read the whole tenant (PostgreSQL: 1–3 s
//! per million records and entity, most of a daily delta's time).

use std::io::Read;

use crate::csv::bundle::Bundle;
use crate::csv::decode;

use super::pipeline::ImportOptions;

/// Past this many rows a delta is no longer small: the store reads every stored record, as for
/// a bulk file (one ordered scan beats hundreds of thousands of lookups).
pub const MAX_IDS: usize = 200_000;

/// The non-empty sourcedIds of `name`'s rows, or `None` when the file has more than
/// [`MAX_IDS`] rows or cannot be read here (the rows' own pass reports why).
pub fn delta_ids(bundle: &mut Bundle, name: &str, opts: &ImportOptions) -> Option<Vec<String>> {
    let input = bundle.open_file(name).ok()?;
    let decoded = decode::decode(input, opts.encoding, opts.limits.max_record_bytes).ok()?;
    // The sourcedId is a file's first field (the layout requires it there).
    ids_of(decoded.reader, 0)
}

/// The rows' cells at `column` after the header row, as the row loop reads them.
fn ids_of(input: impl Read, column: usize) -> Option<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let mut ids = Vec::new();
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).ok()? {
        if ids.len() == MAX_IDS {
            return None;
        }
        match record.get(column).map(std::str::from_utf8) {
            Some(Ok(id)) if !id.is_empty() => ids.push(id.to_owned()),
            _ => {}
        }
    }
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_id_column_of_every_row_after_the_header() {
        let csv = "sourcedId,status\nu1,active\n\"u,2\",tobedeleted\n,active\nu3\n";
        assert_eq!(
            ids_of(csv.as_bytes(), 0),
            Some(vec!["u1".to_owned(), "u,2".to_owned(), "u3".to_owned()])
        );
        assert_eq!(ids_of("a,b\n".as_bytes(), 1), Some(Vec::new()));
    }
}
