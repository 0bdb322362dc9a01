//! An e-mail message as bytes (RFC 5322 with MIME, RFC 2045–2047): addresses checked, the
//! subject in RFC 2047 encoded words when it is not plain ASCII, the body `text/plain;
//! charset=UTF-8` sent 8bit where the server takes it (8BITMIME) and base64 otherwise, and the
//! SMTP dot-stuffing of the DATA section. Pure: no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// An address `local@domain`: ASCII, no spaces, quotes, angle brackets or controls (RosterHub
/// sends without SMTPUTF8, so an internationalised address is refused when it is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub fn parse(s: &str) -> Result<Address, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "{s:?} is not an e-mail address: write it as name@example.jp (ASCII letters, \
                 digits and . _ + - only) / メールアドレスは name@example.jp の形で書いてください"
            )
        };
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let ok_local = |c: char| c.is_ascii_alphanumeric() || "._+-=!#$%&'*/?^`{|}~".contains(c);
        let ok_domain = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
        if local.is_empty()
            || local.len() > 64
            || domain.is_empty()
            || s.len() > 254
            || !local.chars().all(ok_local)
            || !domain.chars().all(ok_domain)
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad());
        }
        Ok(Address(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@` (for `Message-ID`).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("localhost", |(_, d)| d)
    }
}

/// The `From` of notices: `RosterHub <roster@example.jp>` or a bare address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: Address,
}

impl Mailbox {
    pub fn parse(s: &str) -> Result<Mailbox, String> {
        let s = s.trim();
        match s.split_once('<') {
            Some((name, rest)) => {
                let addr = rest
                    .strip_suffix('>')
                    .ok_or_else(|| format!("{s:?}: the address must end with '>'"))?;
                let name = name.trim().trim_matches('"').trim();
                if name.chars().any(|c| c.is_control() || c == '"') {
                    return Err(format!(
                        "{s:?}: the name has a quote or a control character"
                    ));
                }
                Ok(Mailbox {
                    name: (!name.is_empty()).then(|| name.to_owned()),
                    address: Address::parse(addr)?,
                })
            }
            None => Ok(Mailbox {
                name: None,
                address: Address::parse(s)?,
            }),
        }
    }

    /// As a header value: the name quoted, or encoded when it is not ASCII.
    fn header(&self) -> String {
        match &self.name {
            None => self.address.as_str().to_owned(),
            Some(n) if n.is_ascii() => format!("\"{n}\" <{}>", self.address.as_str()),
            Some(n) => format!("{} <{}>", encode_words(n), self.address.as_str()),
        }
    }
}

/// How the body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// UTF-8 as is (the server announced 8BITMIME; every line is at most 998 bytes).
    EightBit,
    /// base64 in lines of 76.
    Base64,
}

/// The longest line SMTP carries (RFC 5321 §4.5.3.1.6, without CRLF).
const MAX_LINE: usize = 998;

impl Transfer {
    /// 8bit when the server takes it and no line is too long for it.
    pub fn choose(eight_bit_mime: bool, body: &str) -> Transfer {
        if eight_bit_mime && body.lines().all(|l| l.len() <= MAX_LINE) {
            Transfer::EightBit
        } else {
            Transfer::Base64
        }
    }
}

/// What a message needs besides its text.
pub struct Envelope<'a> {
    pub from: &'a Mailbox,
    pub to: &'a Address,
    /// RFC 5322 date, e.g. `Fri, 04 Dec 2026 21:52:39 +0000`.
    pub date: &'a str,
    /// Unique and stable across retries (the outbox row's id), so a receiver can drop a copy
    /// sent twice after a crash mid-DATA.
    pub message_id: &'a str,
}

/// The message: headers, a blank line, the body; CRLF line ends; not yet dot-stuffed.
pub fn render(env: &Envelope<'_>, subject: &str, body: &str, transfer: Transfer) -> Vec<u8> {
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("From", &env.from.header());
    header("To", env.to.as_str());
    header("Subject", &encode_subject(subject));
    header("Date", env.date);
    header(
        "Message-ID",
        &format!("<{}@{}>", env.message_id, env.from.address.domain()),
    );
    // RFC 3834: no vacation replies to a machine's notice.
    header("Auto-Submitted", "auto-generated");
    header("MIME-Version", "1.0");
    header("Content-Type", "text/plain; charset=UTF-8");
    let text = normalise_newlines(body);
    match transfer {
        Transfer::EightBit => {
            header("Content-Transfer-Encoding", "8bit");
            out.push_str("\r\n");
            out.push_str(&text);
        }
        Transfer::Base64 => {
            header("Content-Transfer-Encoding", "base64");
            out.push_str("\r\n");
            let encoded = STANDARD.encode(text.as_bytes());
            for chunk in encoded.as_bytes().chunks(76) {
                out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
                out.push_str("\r\n");
            }
        }
    }
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// Every line end as CRLF, and the text ending with one.
fn normalise_newlines(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// A subject as a header value: plain when it is printable ASCII of a short header line,
/// else RFC 2047 `B` encoded words of UTF-8, folded between words.
pub fn encode_subject(subject: &str) -> String {
    let plain = subject.chars().all(|c| (' '..='~').contains(&c));
    // "Subject: " + the text within the recommended 78 columns, and nothing that looks like
    // an encoded word.
    if plain && subject.len() <= 69 && !subject.contains("=?") {
        return subject.to_owned();
    }
    encode_words(subject)
}

/// RFC 2047 encoded words of at most 75 characters (`=?UTF-8?B?` + 60 base64 + `?=`): each
/// holds at most 45 bytes of whole characters, so no word splits a character (§5), joined by
/// a folding CRLF SP.
pub fn encode_words(text: &str) -> String {
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > MAX_BYTES {
            words.push(&text[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    if start < text.len() || words.is_empty() {
        words.push(&text[start..]);
    }
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", STANDARD.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// The DATA section's dot-stuffing (RFC 5321 §4.5.2): a line starting with `.` gets another
/// `.`, so none reads as the end of the data; then the ending `.` line.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// An RFC 5322 date of epoch milliseconds, in UTC.
pub fn rfc5322_date(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    t.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes encoded words the way a mail reader does (RFC 2047 §6.2: the white space
    /// between two adjacent encoded words is dropped).
    fn decode_words(header: &str) -> String {
        let mut bytes = Vec::new();
        for word in header.split("\r\n ") {
            let inner = word
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap_or_else(|| panic!("not an encoded word: {word:?}"));
            bytes.extend(STANDARD.decode(inner).unwrap());
        }
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_japanese_subject_becomes_encoded_words_that_split_no_character() {
        let subject = "【RosterHub】取り込みが保留されました: 児童生徒名簿_2026年度_第1回更新.zip";
        let header = encode_subject(subject);
        for word in header.split("\r\n ") {
            assert!(word.len() <= 75, "{word:?} is longer than 75");
            let inner = &word["=?UTF-8?B?".len()..word.len() - 2];
            // Each word decodes to UTF-8 on its own: no character is cut.
            String::from_utf8(STANDARD.decode(inner).unwrap()).unwrap();
        }
        assert!(header.contains("\r\n "), "a long subject is folded");
        assert_eq!(decode_words(&header), subject);
    }

    #[test]
    fn the_encoded_words_of_a_short_subject_are_exact() {
        assert_eq!(encode_subject("保留"), "=?UTF-8?B?5L+d55WZ?=");
        assert_eq!(encode_subject("Import held"), "Import held");
        // Text that looks like an encoded word is itself encoded.
        assert_eq!(encode_subject("=?x?="), "=?UTF-8?B?PT94Pz0=?=");
        // 45 bytes fill one word; a 46th starts the next.
        let a45 = "あ".repeat(15);
        assert_eq!(encode_words(&a45).matches("=?UTF-8?B?").count(), 1);
        let a16 = "あ".repeat(16);
        assert_eq!(encode_words(&a16).matches("=?UTF-8?B?").count(), 2);
        assert_eq!(decode_words(&encode_words(&a16)), a16);
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_the_data() {
        assert_eq!(
            dot_stuff(b".hidden\r\nnot.here\r\n.\r\n..two\r\n"),
            b"..hidden\r\nnot.here\r\n..\r\n...two\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b"no newline"), b"no newline\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
    }

    #[test]
    fn a_message_in_8bit_and_in_base64() {
        let from = Mailbox::parse("RosterHub <roster@example.jp>").unwrap();
        let to = Address::parse("admin@example.jp").unwrap();
        let env = Envelope {
            from: &from,
            to: &to,
            date: &rfc5322_date(1_796_420_000_000),
            message_id: "m1",
        };
        let eight = render(&env, "保留", "一行目\n.二行目\n", Transfer::EightBit);
        let text = String::from_utf8(eight).unwrap();
        assert_eq!(
            text,
            "From: \"RosterHub\" <roster@example.jp>\r\nTo: admin@example.jp\r\n\
             Subject: =?UTF-8?B?5L+d55WZ?=\r\nDate: Fri, 04 Dec 2026 21:33:20 +0000\r\n\
             Message-ID: <m1@example.jp>\r\nAuto-Submitted: auto-generated\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\r\n一行目\r\n.二行目\r\n"
        );
        let b64 = String::from_utf8(render(&env, "x", "本文\n", Transfer::Base64)).unwrap();
        let body = b64.split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(body, format!("{}\r\n", STANDARD.encode("本文\r\n")));
        assert_eq!(Transfer::choose(true, "short"), Transfer::EightBit);
        assert_eq!(Transfer::choose(false, "short"), Transfer::Base64);
        assert_eq!(Transfer::choose(true, &"x".repeat(999)), Transfer::Base64);
    }

    #[test]
    fn addresses_and_mailboxes() {
        assert_eq!(
            Address::parse(" a.b+c@mail.example.jp ").unwrap().as_str(),
            "a.b+c@mail.example.jp"
        );
        for bad in [
            "",
            "a",
            "@x.jp",
            "a@",
            "a b@x.jp",
            "a@x..jp",
            "名前@x.jp",
            "<a@x.jp>",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?}");
        }
        let m = Mailbox::parse("名簿システム <roster@example.jp>").unwrap();
        assert_eq!(m.name.as_deref(), Some("名簿システム"));
        assert_eq!(
            m.header(),
            format!("{} <roster@example.jp>", encode_words("名簿システム"))
        );
        assert_eq!(
            Mailbox::parse("roster@example.jp").unwrap().header(),
            "roster@example.jp"
        );
        assert!(Mailbox::parse("x <roster@example.jp").is_err());
    }
}
