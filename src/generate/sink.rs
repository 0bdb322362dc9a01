//! A row buffer that writes CSV cells without per-field allocation and hands the bytes to the
//! underlying writer in large chunks.

use std::io::{self, Write};

use super::hash::{Ns, uuid};

const CHUNK: usize = 256 * 1024;

pub(crate) struct Sink<'a> {
    buf: Vec<u8>,
    out: &'a mut dyn Write,
    rows: u64,
    bytes: u64,
}

impl<'a> Sink<'a> {
    pub fn new(out: &'a mut dyn Write) -> Sink<'a> {
        Sink {
            buf: Vec::with_capacity(CHUNK + 4096),
            out,
            rows: 0,
            bytes: 0,
        }
    }

    /// The header line (not counted as a data row).
    pub fn header(&mut self, header: &str) {
        self.buf.extend_from_slice(header.as_bytes());
        self.buf.push(b'\n');
    }

    /// Ends a data row.
    #[inline]
    pub fn end_row(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        self.rows += 1;
        if self.buf.len() >= CHUNK {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is left; returns (data rows, bytes).
    pub fn finish(mut self) -> io::Result<(u64, u64)> {
        self.flush()?;
        self.out.flush()?;
        Ok((self.rows, self.bytes))
    }

    /// A separator.
    #[inline]
    pub fn comma(&mut self) {
        self.buf.push(b',');
    }

    /// `n` separators (that is, `n - 1` empty cells between two cells).
    #[inline]
    pub fn commas(&mut self, n: usize) {
        self.buf.extend(std::iter::repeat_n(b',', n));
    }

    /// Text known to need no quoting (ids, codes, vocabulary tokens, names from our tables).
    #[inline]
    pub fn raw(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Any text, quoted per RFC 4180 when it holds a comma, a quote or a line break.
    pub fn text(&mut self, s: &str) {
        if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.buf.push(b'"');
            for b in s.bytes() {
                if b == b'"' {
                    self.buf.push(b'"');
                }
                self.buf.push(b);
            }
            self.buf.push(b'"');
        } else {
            self.raw(s);
        }
    }

    /// A list of tokens: bare when one element, quoted `"a,b"` when several.
    pub fn list(&mut self, items: &[&str]) {
        let quote = items.len() > 1;
        if quote {
            self.buf.push(b'"');
        }
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.raw(item);
        }
        if quote {
            self.buf.push(b'"');
        }
    }

    #[inline]
    pub fn uuid(&mut self, seed: u64, ns: Ns, index: u64) {
        self.buf.extend_from_slice(&uuid(seed, ns, index));
    }

    /// A decimal number, left-padded with zeros to at least `width` digits.
    #[inline]
    pub fn num(&mut self, mut n: u64, width: usize) {
        let mut tmp = [b'0'; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let start = i.min(tmp.len() - width.min(tmp.len()));
        self.buf.extend_from_slice(&tmp[start..]);
    }

    /// A `YYYY-MM-DD` date.
    pub fn date(&mut self, (y, m, d): (i64, u32, u32)) {
        self.num(y.max(0) as u64, 4);
        self.buf.push(b'-');
        self.num(u64::from(m), 2);
        self.buf.push(b'-');
        self.num(u64::from(d), 2);
    }
}
