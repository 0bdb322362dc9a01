//! Property tests of the row reader: whatever bytes a file holds, `validate` ends with a
//! report (no panic), every finding names its file, and the record-size limit cuts exactly
//! where the csv reader's records start.

use std::io::Read;

use proptest::prelude::*;

use crate::csv::limits::{RecordLimit, RecordTooLong};

/// Pieces that make CSV interesting: quotes, separators, line ends, controls, multi-byte text.
const PIECES: &[&str] = &[
    ",",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "\r",
    "a",
    "𠮷",
    "ﾃ",
    "\u{0}",
    "\u{7}",
    " ",
    "NULL",
    "tobedeleted",
    "active",
    "2025-04-01",
    "x,y",
    "\u{feff}",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..120).prop_map(|p| p.concat())
}

/// The reference: one byte at a time, RFC 4180 quoting; the bytes within the limit and the
/// line of the record that passes it.
fn plain_scan(bytes: &[u8], limit: usize) -> (usize, Option<u64>) {
    let (mut quoted, mut after_quote, mut field_start) = (false, false, true);
    let (mut line, mut record_line, mut record_bytes) = (1u64, 1u64, 0usize);
    for (i, &b) in bytes.iter().enumerate() {
        let mut end = false;
        if quoted {
            if b == b'"' {
                quoted = false;
                after_quote = true;
            }
        } else if after_quote && b == b'"' {
            quoted = true;
            after_quote = false;
        } else {
            after_quote = false;
            match b {
                b'"' if field_start => quoted = true,
                b',' => {
                    field_start = true;
                    record_bytes += 1;
                    if record_bytes > limit {
                        return (i, Some(record_line));
                    }
                    continue;
                }
                b'\n' | b'\r' => end = true,
                _ => {}
            }
        }
        field_start = false;
        if b == b'\n' {
            line += 1;
        }
        if end {
            field_start = true;
            record_bytes = 0;
            record_line = line;
            continue;
        }
        record_bytes += 1;
        if record_bytes > limit {
            return (i, Some(record_line));
        }
    }
    (bytes.len(), None)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Within the limit the reader hands on every byte unchanged; past it, it fails where a
    /// plain byte-by-byte scan of the same quoting rules does (the reader skips through cells
    /// with `memchr`), naming the line the long record starts on.
    #[test]
    fn the_limit_reader_cuts_where_a_plain_scan_does(body in text(), limit in 1usize..64) {
        let mut out = Vec::new();
        let whole = RecordLimit::new(body.as_bytes(), usize::MAX).read_to_end(&mut out);
        prop_assert!(whole.is_ok());
        prop_assert_eq!(&out, body.as_bytes());

        let mut kept = Vec::new();
        let got = RecordLimit::new(body.as_bytes(), limit)
            .read_to_end(&mut kept)
            .err()
            .map(|e| RecordTooLong::find(&e).expect("only limit errors").line);
        let (expected_kept, expected) = plain_scan(body.as_bytes(), limit);
        prop_assert_eq!(got, expected);
        if expected.is_some() {
            prop_assert_eq!(kept.len(), expected_kept);
        }
    }

    /// `validate` of a bundle whose users.csv holds anything ends with a report; every finding
    /// of that file names it.
    #[test]
    fn validate_never_panics_on_odd_rows(body in text()) {
        let dir = tempfile::tempdir().unwrap();
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jp-profile-v1.2.1");
        for entry in std::fs::read_dir(fixture).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
        let users = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
        let header = users.lines().next().unwrap();
        std::fs::write(dir.path().join("users.csv"), format!("{header}\n{body}")).unwrap();
        let report = super::validate(dir.path(), &super::ImportOptions::default(), &());
        for f in &report.findings {
            prop_assert!(f.file.is_some() || f.line.is_none(), "{:?}", f);
            prop_assert!(!f.message.is_empty());
        }
    }
}
