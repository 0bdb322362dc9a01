//! Text encodings: UTF-8 (with or without BOM) is the only encoding the binding allows, but
//! Excel in Japan saves Shift_JIS (CP932). Such a file is detected and either rejected with a
//! message naming it, or converted when the user asks — never read as mojibake.

use std::io::{BufRead, BufReader, Cursor, Read};

use encoding_rs::SHIFT_JIS;

use super::limits::RecordLimit;

/// How many leading bytes of each file decide its encoding.
const SNIFF_BYTES: usize = 64 * 1024;

/// What the user allows (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    /// UTF-8 only; anything else is an error.
    #[default]
    Utf8,
    /// Convert Shift_JIS/CP932 files. A file that is valid UTF-8 is still read as UTF-8:
    /// re-decoding UTF-8 as CP932 is exactly how mojibake is made.
    Cp932,
    /// Detect per file: UTF-8, else CP932.
    Auto,
}

impl EncodingChoice {
    pub fn parse(s: &str) -> Option<EncodingChoice> {
        match s.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(EncodingChoice::Utf8),
            "cp932" | "shift_jis" | "sjis" | "windows-31j" => Some(EncodingChoice::Cp932),
            "auto" => Some(EncodingChoice::Auto),
            _ => None,
        }
    }
}

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Utf8 {
        bom: bool,
    },
    /// Shift_JIS/CP932, converted to UTF-8 while reading.
    Cp932,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "the file is encoded in Shift_JIS (CP932), not UTF-8 (first non-UTF-8 byte on line {line}); \
         save it as UTF-8, or import with --encoding cp932 to convert it"
    )]
    ShiftJis { line: u64 },
    #[error(
        "the file is not valid UTF-8: line {line}, byte offset {offset} (bytes {bytes}), and it \
         does not read as Shift_JIS text either; save it as UTF-8 (the bytes there are damaged)"
    )]
    Invalid {
        line: u64,
        /// Offset of the first invalid byte from the start of the file.
        offset: u64,
        /// The invalid bytes, in hex (`C3 28`).
        bytes: String,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The UTF-8 text of a file, and what its encoding was.
pub struct Decoded<'a> {
    pub reader: Box<dyn Read + 'a>,
    pub detected: Detected,
}

fn line_of(head: &[u8], offset: usize) -> u64 {
    head[..offset].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Whether `head` is UTF-8 text with some damaged bytes rather than another encoding: it has
/// more well-formed non-ASCII UTF-8 characters than invalid sequences. (Shift_JIS text is
/// invalid UTF-8 at nearly every non-ASCII character; UTF-8 with one bad byte is not.)
fn mostly_utf8(head: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in head.utf8_chunks() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    valid > invalid
}

/// Whether `head` is Shift_JIS text (a possibly truncated last character is allowed): it
/// decodes as CP932 *and* reads like Japanese — it has a double-byte character (kanji, kana) or
/// a run of at least two half-width katakana. A lone half-width katakana byte is what a damaged
/// UTF-8 sequence looks like in CP932 (`C3 28` reads `ﾃ(`), so it does not count.
fn is_shift_jis(head: &[u8]) -> bool {
    let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(head.len() * 3);
    let (result, _) = decoder.decode_to_string_without_replacement(head, &mut out, false);
    if !matches!(result, encoding_rs::DecoderResult::InputEmpty) {
        return false;
    }
    let (mut double_byte, mut run, mut longest_run) = (false, 0, 0);
    let mut i = 0;
    while i < head.len() {
        match head[i] {
            0x81..=0x9F | 0xE0..=0xFC => {
                double_byte = true;
                run = 0;
                i += 2;
                continue;
            }
            0xA1..=0xDF => {
                run += 1;
                longest_run = longest_run.max(run);
            }
            _ => run = 0,
        }
        i += 1;
    }
    double_byte || longest_run >= 2
}

/// Turns CRLF into LF while reading. The csv crate counts lines wrongly on CRLF input (every
/// record after the header reports the line before its own), and the binding forbids CR inside
/// fields, so dropping the CR of each CRLF changes no value and keeps line numbers exact.
pub struct CrlfToLf<R> {
    inner: BufReader<R>,
}

impl<R: Read> CrlfToLf<R> {
    pub fn new(inner: R) -> CrlfToLf<R> {
        CrlfToLf {
            inner: BufReader::with_capacity(128 * 1024, inner),
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut w = 0;
        while w < out.len() {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                break;
            }
            let n = (out.len() - w).min(avail.len());
            match avail[..n].iter().position(|&b| b == b'\r') {
                None => {
                    out[w..w + n].copy_from_slice(&avail[..n]);
                    self.inner.consume(n);
                    w += n;
                }
                Some(p) => {
                    out[w..w + p].copy_from_slice(&avail[..p]);
                    w += p;
                    self.inner.consume(p + 1);
                    // A CR not followed by LF is kept (p < n, so there is room for it).
                    if self.inner.fill_buf()?.first() != Some(&b'\n') {
                        out[w] = b'\r';
                        w += 1;
                    }
                }
            }
        }
        Ok(w)
    }
}

/// Reads the first bytes of `input`, decides the encoding, and returns a UTF-8 reader.
/// The reader fails once a CSV record passes `max_record_bytes` (see [`RecordLimit`]).
pub fn decode<'a>(
    mut input: Box<dyn Read + 'a>,
    choice: EncodingChoice,
    max_record_bytes: usize,
) -> Result<Decoded<'a>, DecodeError> {
    let limit = |r: Box<dyn Read + 'a>| -> Box<dyn Read + 'a> {
        Box::new(RecordLimit::new(CrlfToLf::new(r), max_record_bytes))
    };
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut input)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        let rest = Cursor::new(head).chain(input);
        let mut rest: Box<dyn Read + 'a> = Box::new(rest);
        let mut bom = [0u8; 3];
        rest.read_exact(&mut bom)?;
        return Ok(Decoded {
            reader: limit(rest),
            detected: Detected::Utf8 { bom: true },
        });
    }
    let utf8_ok = match std::str::from_utf8(&head) {
        Ok(_) => true,
        // A character cut by the sniff window is not an error.
        Err(e) => e.error_len().is_none() && head.len() == SNIFF_BYTES,
    };
    if utf8_ok {
        return Ok(Decoded {
            reader: limit(Box::new(Cursor::new(head).chain(input))),
            detected: Detected::Utf8 { bom: false },
        });
    }
    let (bad_at, bad_len) = std::str::from_utf8(&head)
        .err()
        .map(|e| (e.valid_up_to(), e.error_len().unwrap_or(1)))
        .unwrap_or((0, 1));
    let line = line_of(&head, bad_at);
    let sjis = !mostly_utf8(&head) && is_shift_jis(&head);
    match (choice, sjis) {
        (EncodingChoice::Utf8, true) => Err(DecodeError::ShiftJis { line }),
        (_, false) => {
            // The bad sequence and the byte after it: enough to find it in a hex editor.
            let end = (bad_at + bad_len + 1).min(head.len());
            let bytes = head[bad_at..end]
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(" ");
            Err(DecodeError::Invalid {
                line,
                offset: bad_at as u64,
                bytes,
            })
        }
        (EncodingChoice::Cp932 | EncodingChoice::Auto, true) => {
            let raw = Cursor::new(head).chain(input);
            let reader = encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(SHIFT_JIS))
                .bom_override(false)
                .build(raw);
            Ok(Decoded {
                reader: limit(Box::new(reader)),
                detected: Detected::Cp932,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(
        bytes: &'static [u8],
        choice: EncodingChoice,
    ) -> Result<(String, Detected), DecodeError> {
        let d = decode(Box::new(bytes), choice, 1 << 20)?;
        let detected = d.detected;
        let mut s = String::new();
        let mut r = d.reader;
        r.read_to_string(&mut s)?;
        Ok((s, detected))
    }

    #[test]
    fn utf8_with_and_without_bom_reads_the_same() {
        let (a, da) = read_all("a,髙\n".as_bytes(), EncodingChoice::Utf8).unwrap();
        let (b, db) = read_all(b"\xEF\xBB\xBFa,\xE9\xAB\x99\n", EncodingChoice::Utf8).unwrap();
        assert_eq!(a, b);
        assert_eq!(da, Detected::Utf8 { bom: false });
        assert_eq!(db, Detected::Utf8 { bom: true });
    }

    #[test]
    fn shift_jis_is_refused_by_default_and_converted_on_request() {
        // "a\n山田" in CP932.
        let sjis: &'static [u8] = b"a\n\x8eR\x93c\n";
        match read_all(sjis, EncodingChoice::Utf8) {
            Err(DecodeError::ShiftJis { line }) => assert_eq!(line, 2),
            other => panic!(
                "expected a Shift_JIS error, got {other:?}",
                other = other.map(|x| x.0)
            ),
        }
        let (text, d) = read_all(sjis, EncodingChoice::Cp932).unwrap();
        assert_eq!(text, "a\n山田\n");
        assert_eq!(d, Detected::Cp932);
    }

    #[test]
    fn utf8_is_never_reinterpreted_as_cp932() {
        let (text, d) = read_all("山田\n".as_bytes(), EncodingChoice::Cp932).unwrap();
        assert_eq!(text, "山田\n");
        assert_eq!(d, Detected::Utf8 { bom: false });
    }

    #[test]
    fn crlf_becomes_lf_but_a_lone_cr_stays() {
        let (text, _) = read_all(b"a,b\r\nc\rd\r\n\r", EncodingChoice::Utf8).unwrap();
        assert_eq!(text, "a,b\nc\rd\n\r");
    }

    #[test]
    fn crlf_split_across_reads_is_still_joined() {
        struct OneByte(&'static [u8]);
        impl Read for OneByte {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() || out.is_empty() {
                    return Ok(0);
                }
                out[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let mut s = String::new();
        CrlfToLf::new(OneByte(b"x\r\ny\r\n"))
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "x\ny\n");
    }

    #[test]
    fn garbage_is_neither() {
        assert!(matches!(
            read_all(b"\xff\xff\xff\n", EncodingChoice::Auto),
            Err(DecodeError::Invalid { .. })
        ));
    }

    #[test]
    fn damaged_utf8_in_ascii_is_not_called_shift_jis() {
        // `C3 28` on line 3: an invalid UTF-8 sequence that CP932 would read as `ﾃ(`.
        let bytes: &'static [u8] = b"id,name\na,b\nc,\xC3\x28x\n";
        for choice in [
            EncodingChoice::Utf8,
            EncodingChoice::Cp932,
            EncodingChoice::Auto,
        ] {
            match read_all(bytes, choice) {
                Err(DecodeError::Invalid {
                    line,
                    offset,
                    bytes,
                }) => {
                    assert_eq!((line, offset, bytes.as_str()), (3, 14, "C3 28"));
                }
                other => panic!("{choice:?}: {other:?}", other = other.map(|x| x.0)),
            }
        }
        let message = read_all(bytes, EncodingChoice::Utf8)
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.contains("line 3, byte offset 14 (bytes C3 28)"),
            "{message}"
        );
        assert!(!message.contains("cp932"), "{message}");
    }

    #[test]
    fn half_width_katakana_names_are_still_shift_jis() {
        // "ﾔﾏﾀﾞ" in CP932: a run of half-width katakana, no double-byte character.
        let sjis: &'static [u8] = b"kana\n\xD4\xCF\xC0\xDE\n";
        let (text, d) = read_all(sjis, EncodingChoice::Cp932).unwrap();
        assert_eq!((text.as_str(), d), ("kana\nﾔﾏﾀﾞ\n", Detected::Cp932));
    }

    #[test]
    fn the_reader_enforces_the_record_limit() {
        let text = format!("h\n{}\n", "x".repeat(5000));
        let d = decode(
            Box::new(std::io::Cursor::new(text.into_bytes())),
            EncodingChoice::Utf8,
            1000,
        )
        .unwrap();
        let mut out = String::new();
        let mut r = d.reader;
        let err = r.read_to_string(&mut out).unwrap_err();
        assert_eq!(
            super::super::limits::RecordTooLong::find(&err).map(|e| e.line),
            Some(2)
        );
    }
}
