//! Source files: decoded as bundles are (UTF-8 ± BOM, or Shift_JIS/CP932 detected) into a
//! header and records that keep their line numbers.

use std::io::Read;

use crate::csv::decode::{self, Detected, EncodingChoice};

/// One source file as read from disk or an upload.
pub struct SourceFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

pub(super) type Records = Vec<(u64, csv::StringRecord)>;

/// Decodes one file (UTF-8 ± BOM or Shift_JIS, as bundles are) into its header and records.
pub(super) fn read(f: &SourceFile) -> Result<(String, Vec<String>, Records), String> {
    let input: Box<dyn Read> = Box::new(std::io::Cursor::new(f.bytes.as_slice()));
    let decoded =
        decode::decode(input, EncodingChoice::Auto, 1 << 20).map_err(|e| e.to_string())?;
    let encoding = match decoded.detected {
        Detected::Utf8 { bom: true } => "UTF-8 (BOM)",
        Detected::Utf8 { bom: false } => "UTF-8",
        Detected::Cp932 => "Shift_JIS",
    }
    .to_owned();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(decoded.reader);
    let mut header = None;
    let mut records = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", f.name))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if header.is_none() {
            header = Some(rec.iter().map(str::to_owned).collect());
        } else {
            records.push((line, rec));
        }
    }
    let header = header.ok_or_else(|| format!("{} is empty: it needs a header row", f.name))?;
    Ok((encoding, header, records))
}
