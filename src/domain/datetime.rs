//! Dates and datetimes of the CSV binding (§1.4): `YYYY-MM-DD`, and ISO 8601 datetimes in any
//! common form, normalised to UTC milliseconds and written back as `YYYY-MM-DDTHH:MM:SS.sssZ`.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Milliseconds since the Unix epoch, UTC.
pub type EpochMs = i64;

/// A datetime read from a CSV cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDateTime {
    pub ms: EpochMs,
    /// The cell named no time zone (or no time at all), so UTC was assumed.
    pub assumed_utc: bool,
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// Parses `YYYY-MM-DD` into a real calendar date.
pub fn parse_date(value: &str) -> Option<Date> {
    let b = value.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])? as i32;
    let month = Month::try_from(digits(&b[5..7])? as u8).ok()?;
    let day = digits(&b[8..10])? as u8;
    Date::from_calendar_date(year, month, day).ok()
}

/// `YYYY`: four digits.
pub fn is_year(value: &str) -> bool {
    value.len() == 4 && value.bytes().all(|b| b.is_ascii_digit())
}

/// Parses `YYYY-MM-DD[(T| )HH:MM[:SS[.fff…]]][Z|±HH:MM|±HHMM|±HH]`.
pub fn parse_datetime(value: &str) -> Option<ParsedDateTime> {
    let b = value.as_bytes();
    let date = parse_date(value.get(..10)?)?;
    if b.len() == 10 {
        let ms = PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
        return Some(ParsedDateTime {
            ms: to_ms(ms),
            assumed_utc: true,
        });
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let rest = &b[11..];
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let hour = digits(&rest[0..2])?;
    let minute = digits(&rest[3..5])?;
    let mut i = 5;
    let mut second = 0;
    let mut nanos = 0u32;
    if rest.get(i) == Some(&b':') {
        second = digits(rest.get(i + 1..i + 3)?)?;
        i += 3;
        if rest.get(i) == Some(&b'.') || rest.get(i) == Some(&b',') {
            let start = i + 1;
            let mut end = start;
            while end < rest.len() && rest[end].is_ascii_digit() {
                end += 1;
            }
            let frac = &rest[start..end];
            if frac.is_empty() {
                return None;
            }
            // Keep up to nanoseconds; later digits cannot change the millisecond we store.
            let kept = &frac[..frac.len().min(9)];
            nanos = digits(kept)? * 10u32.pow(9 - kept.len() as u32);
            i = end;
        }
    }
    let time = Time::from_hms_nano(hour as u8, minute as u8, second as u8, nanos).ok()?;
    let local = PrimitiveDateTime::new(date, time);
    let zone = &rest[i..];
    let (offset, assumed_utc) = match zone {
        [] => (UtcOffset::UTC, true),
        [b'Z' | b'z'] => (UtcOffset::UTC, false),
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m) = match tail {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i32;
            let secs = if *sign == b'-' { -secs } else { secs };
            (UtcOffset::from_whole_seconds(secs).ok()?, false)
        }
        _ => return None,
    };
    Some(ParsedDateTime {
        ms: to_ms(local.assume_offset(offset)),
        assumed_utc,
    })
}

fn to_ms(t: OffsetDateTime) -> EpochMs {
    (t.unix_timestamp_nanos() / 1_000_000) as EpochMs
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ`, the only DateTime form the binding allows on output.
pub fn format_ms(ms: EpochMs) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The current time in epoch milliseconds.
pub fn now_ms() -> EpochMs {
    to_ms(OffsetDateTime::now_utc())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_forms_japanese_sources_send_and_normalises_to_utc() {
        let cases = [
            (
                "2012-04-23T18:25:43.511Z",
                "2012-04-23T18:25:43.511Z",
                false,
            ),
            ("2012-04-23T18:25:43Z", "2012-04-23T18:25:43.000Z", false),
            (
                "2024-06-01T09:00:00+09:00",
                "2024-06-01T00:00:00.000Z",
                false,
            ),
            (
                "2024-06-01T09:00:00.5+0900",
                "2024-06-01T00:00:00.500Z",
                false,
            ),
            ("2024-06-01T09:00+09", "2024-06-01T00:00:00.000Z", false),
            (
                "2024-06-01T00:00:00.123456789Z",
                "2024-06-01T00:00:00.123Z",
                false,
            ),
            ("2024-06-01 12:30:00", "2024-06-01T12:30:00.000Z", true),
            ("2024-06-01", "2024-06-01T00:00:00.000Z", true),
        ];
        for (input, want, assumed) in cases {
            let p = parse_datetime(input).unwrap_or_else(|| panic!("{input} should parse"));
            assert_eq!(format_ms(p.ms), want, "{input}");
            assert_eq!(p.assumed_utc, assumed, "{input}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_datetime() {
        for bad in [
            "1/05/2023",
            "2023-02-30T00:00:00Z",
            "2023-05-01T25:00:00Z",
            "2023-05-01T10:00:00+25:00",
            "2023-05-01T10:00:00.Z",
            "2023-05-01X10:00:00Z",
            "",
            "2023-05-01T10:00:00Zjunk",
        ] {
            assert!(parse_datetime(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn dates_are_real_calendar_dates() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2023-5-01").is_none());
        assert!(parse_date("1/05/2023").is_none());
        assert!(is_year("2025") && !is_year("25") && !is_year("２０２５"));
    }

    proptest! {
        #[test]
        fn formatting_then_parsing_is_the_identity(ms in 0i64..4_102_444_800_000) {
            let text = format_ms(ms);
            prop_assert_eq!(parse_datetime(&text).unwrap().ms, ms);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_datetime(&s);
            let _ = parse_date(&s);
        }
    }
}
