//! CSV cells for export (ONEROSTER.md §1.3): RFC 4180 quoting, no line breaks inside a field.
//!
//! `generate::sink::Sink::text` quotes the same way but is private to `generate` and keeps line
//! breaks, which an exporter must replace, hence this small writer.

/// Appends `s` as one CSV cell: CR and LF become a space (a CRLF pair one space), and the cell
/// is quoted, with quotes doubled, when it holds a comma or a quote.
pub fn push_cell(buf: &mut String, s: &str) {
    let has_break = s.contains(['\r', '\n']);
    let needs_quote = s.contains([',', '"']);
    if !has_break && !needs_quote {
        buf.push_str(s);
        return;
    }
    if needs_quote {
        buf.push('"');
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => buf.push_str("\"\""),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                buf.push(' ');
            }
            '\n' => buf.push(' '),
            c => buf.push(c),
        }
    }
    if needs_quote {
        buf.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::push_cell;

    fn cell(s: &str) -> String {
        let mut b = String::new();
        push_cell(&mut b, s);
        b
    }

    #[test]
    fn cells_are_quoted_only_when_needed_and_never_hold_line_breaks() {
        assert_eq!(cell("abc"), "abc");
        assert_eq!(cell(""), "");
        assert_eq!(cell("P1,P2"), "\"P1,P2\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("a\r\nb\nc\rd"), "a b c d");
        assert_eq!(cell("a,\r\n\"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(cell("高橋"), "高橋");
    }
}
