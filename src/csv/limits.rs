//! Limits that keep memory flat whatever a file holds: a CSV record (one line, or several
//! when a quoted cell holds line breaks), a cell and a header have a maximum size.
//!
//! The csv crate grows its record buffer to fit the record it reads, so a hostile file with a
//! header and one 1 GiB line (a 1 MB ZIP) would make it allocate gigabytes. [`RecordLimit`]
//! sits between the decoded text and the csv reader and fails the read as soon as a record
//! passes [`ReadLimits::max_record_bytes`]; the import reports that as a finding naming the
//! file and the line where the record starts, and reads no further in that file.

use std::io::Read;

/// The sizes a bundle's files may not exceed. The defaults are far above anything a roster
/// needs (a OneRoster row is a few hundred bytes) and far below what could exhaust memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Bytes of one CSV record, header included.
    pub max_record_bytes: usize,
    /// Bytes of one cell.
    pub max_cell_bytes: usize,
    /// Columns of a header (`metadata.*` columns included).
    pub max_columns: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_record_bytes: 1024 * 1024,
            max_cell_bytes: 64 * 1024,
            max_columns: 1000,
        }
    }
}

/// The read error [`RecordLimit`] fails with (inside an `io::Error` of kind `InvalidData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the record starting on line {line} is longer than {limit} bytes; a OneRoster row is a few \
     hundred bytes, so the file is damaged or not a roster (check how it was exported)"
)]
pub struct RecordTooLong {
    pub line: u64,
    pub limit: usize,
}

impl RecordTooLong {
    /// The limit error inside an I/O error, if that is what it is.
    pub fn find(e: &std::io::Error) -> Option<RecordTooLong> {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<RecordTooLong>())
            .copied()
    }

    /// The limit error behind a csv reader's error, if that is what it is.
    pub fn in_csv(e: &csv::Error) -> Option<RecordTooLong> {
        match e.kind() {
            csv::ErrorKind::Io(io) => RecordTooLong::find(io),
            _ => None,
        }
    }
}

/// Where the scanner is inside a record (RFC 4180 quoting, as the csv crate reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the end of the quotes, or the first half of `""`.
    QuoteInQuoted,
}

/// A reader that fails once a CSV record grows past a limit (see the module docs). Expects
/// LF line ends (it reads the output of [`super::decode::CrlfToLf`]).
pub struct RecordLimit<R> {
    inner: R,
    limit: usize,
    state: State,
    record_bytes: usize,
    /// Line numbers, 1-based: the current line and the one the current record started on.
    line: u64,
    record_line: u64,
    failed: Option<RecordTooLong>,
}

impl<R: Read> RecordLimit<R> {
    pub fn new(inner: R, limit: usize) -> RecordLimit<R> {
        RecordLimit {
            inner,
            limit,
            state: State::FieldStart,
            record_bytes: 0,
            line: 1,
            record_line: 1,
            failed: None,
        }
    }

    /// Advances the scanner over `bytes`; the number of bytes that stay within the limit.
    /// Inside a cell it jumps to the next byte that can change the state (`,` `\n` outside
    /// quotes, `"` inside them) with `memchr`, so the scan costs little per byte.
    fn scan(&mut self, bytes: &[u8]) -> usize {
        let mut i = 0;
        while i < bytes.len() {
            // Skip the bytes that cannot end a cell or a record, counting their line breaks.
            let skip = match self.state {
                State::Unquoted => memchr::memchr3(b',', b'\n', b'\r', &bytes[i..]),
                State::Quoted => memchr::memchr(b'"', &bytes[i..]),
                _ => Some(0),
            }
            .unwrap_or(bytes.len() - i);
            if skip > 0 {
                if self.state == State::Quoted {
                    self.line += memchr::memchr_iter(b'\n', &bytes[i..i + skip]).count() as u64;
                }
                if self.record_bytes + skip > self.limit {
                    return self.fail(i + (self.limit - self.record_bytes));
                }
                self.record_bytes += skip;
                i += skip;
                continue;
            }
            let b = bytes[i];
            let end_of_record = match (self.state, b) {
                (State::Quoted, b'"') => {
                    self.state = State::QuoteInQuoted;
                    false
                }
                (State::Quoted, _) => false,
                (State::QuoteInQuoted, b'"') => {
                    self.state = State::Quoted;
                    false
                }
                (State::FieldStart, b'"') => {
                    self.state = State::Quoted;
                    false
                }
                (_, b',') => {
                    self.state = State::FieldStart;
                    false
                }
                // A lone CR ends a record too, as the csv reader reads it.
                (_, b'\n' | b'\r') => true,
                _ => {
                    self.state = State::Unquoted;
                    false
                }
            };
            if b == b'\n' {
                self.line += 1;
            }
            i += 1;
            if end_of_record {
                self.state = State::FieldStart;
                self.record_bytes = 0;
                self.record_line = self.line;
                continue;
            }
            self.record_bytes += 1;
            if self.record_bytes > self.limit {
                return self.fail(i - 1);
            }
        }
        bytes.len()
    }

    /// Records the failure; `at` bytes of this read stay within the limit.
    fn fail(&mut self, at: usize) -> usize {
        self.failed = Some(RecordTooLong {
            line: self.record_line,
            limit: self.limit,
        });
        at
    }
}

impl<R: Read> Read for RecordLimit<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if let Some(e) = self.failed {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
        }
        let n = self.inner.read(out)?;
        let ok = self.scan(&out[..n]);
        if ok < n && ok == 0 {
            // Nothing of this read is within the limit: fail now rather than return 0 (EOF).
            let e = self.failed.expect("scan stopped at the limit");
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
        }
        // Bytes up to the limit are handed on; the next read fails.
        Ok(ok)
    }
}

/// A control character in a cell (other than tab, CR and LF), with its position in characters
/// (1-based). NUL bytes and other controls are never roster data: they break PostgreSQL text,
/// terminals and spreadsheets alike.
pub fn control_character(cell: &str) -> Option<(usize, char)> {
    // Fast path: C0 controls and DEL are single bytes; C1 controls (U+0080–U+009F) start with
    // the byte 0xC2. Most cells have none of these bytes.
    // (A fold, not `any`: without the early exit the loop is vectorised; it runs for every
    // cell of every row.)
    if !cell.bytes().fold(false, |seen, b| {
        seen | (b < 0x20) | (b == 0x7F) | (b == 0xC2)
    }) {
        return None;
    }
    cell.chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
        .map(|(i, c)| (i + 1, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, limit: usize) -> Result<String, RecordTooLong> {
        let mut out = String::new();
        RecordLimit::new(text.as_bytes(), limit)
            .read_to_string(&mut out)
            .map(|_| out)
            .map_err(|e| RecordTooLong::find(&e).expect("a limit error"))
    }

    #[test]
    fn records_within_the_limit_pass_unchanged() {
        let text = "a,b\nccc,\"d\ne\"\n\"x\"\"y\",z\n";
        assert_eq!(read(text, 10).unwrap(), text);
    }

    #[test]
    fn a_long_line_fails_naming_the_line_it_starts_on() {
        let text = format!("h1,h2\nok,ok\n{}\n", "x".repeat(100));
        assert_eq!(
            read(&text, 50).unwrap_err(),
            RecordTooLong { line: 3, limit: 50 }
        );
    }

    #[test]
    fn a_quoted_cell_spanning_lines_counts_as_one_record() {
        // Short lines, but one record of 3 × 20 bytes: quoted line breaks do not end it.
        let cell = format!("{0}\n{0}\n{0}", "y".repeat(19));
        let text = format!("h\n\"{cell}\"\nnext\n");
        assert_eq!(
            read(&text, 40).unwrap_err(),
            RecordTooLong { line: 2, limit: 40 }
        );
        assert!(read(&text, 80).is_ok());
    }

    #[test]
    fn a_stray_quote_inside_an_unquoted_cell_does_not_open_quotes() {
        let text = "a\"b,c\nd,e\n";
        assert_eq!(read(text, 6).unwrap(), text);
    }

    #[test]
    fn control_characters_are_found_but_tab_and_line_ends_are_not() {
        assert_eq!(control_character("a\u{0}b"), Some((2, '\u{0}')));
        assert_eq!(control_character("山田\u{7}"), Some((3, '\u{7}')));
        assert_eq!(control_character("a\tb\r\nc"), None);
        assert_eq!(control_character("𠮷野"), None);
    }

    #[test]
    fn line_numbers_count_breaks_inside_quoted_cells() {
        // Record 2 spans lines 2–3; the long record starts on line 4.
        let text = format!("h,h\n\"a\nb\",c\n{}\n", "x".repeat(40));
        assert_eq!(
            read(&text, 20).unwrap_err(),
            RecordTooLong { line: 4, limit: 20 }
        );
    }

    #[test]
    fn c1_controls_are_found_too() {
        assert_eq!(control_character("a\u{85}"), Some((2, '\u{85}')));
        assert_eq!(control_character("é"), None);
    }
}
