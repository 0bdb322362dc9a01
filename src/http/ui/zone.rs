//! The time zone the UI shows dates in (`--time-zone`, default Asia/Tokyo).
//!
//! A fixed offset: the zones named here keep no daylight saving time (Japan has none since
//! 1951), so a table of offsets is exact for them and needs no time zone database; a zone with
//! DST is refused rather than shown wrong half the year. `+09:00`-style offsets work too.

use time::{OffsetDateTime, UtcOffset};

/// Zones without daylight saving time, by IANA name, and their offsets in minutes.
const ZONES: &[(&str, i32)] = &[
    ("Asia/Tokyo", 9 * 60),
    ("Japan", 9 * 60),
    ("Asia/Seoul", 9 * 60),
    ("Asia/Shanghai", 8 * 60),
    ("Asia/Taipei", 8 * 60),
    ("Asia/Singapore", 8 * 60),
    ("UTC", 0),
    ("Etc/UTC", 0),
];

/// A time zone the UI shows dates in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    name: String,
    offset: UtcOffset,
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::parse("Asia/Tokyo").expect("in the table")
    }
}

impl Zone {
    /// An IANA name from the table, or an offset `+HH:MM` / `-HH:MM`.
    pub fn parse(s: &str) -> Result<Zone, String> {
        let s = s.trim();
        if let Some((name, minutes)) = ZONES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
            let offset = UtcOffset::from_whole_seconds(minutes * 60).expect("in range");
            return Ok(Zone {
                name: (*name).to_owned(),
                offset,
            });
        }
        let b = s.as_bytes();
        if b.len() == 6 && (b[0] == b'+' || b[0] == b'-') && b[3] == b':' {
            let h: i32 = s[1..3].parse().map_err(|_| bad(s))?;
            let m: i32 = s[4..6].parse().map_err(|_| bad(s))?;
            let sign = if b[0] == b'-' { -1 } else { 1 };
            if h <= 14 && m < 60 {
                let offset = UtcOffset::from_whole_seconds(sign * (h * 3600 + m * 60))
                    .map_err(|_| bad(s))?;
                return Ok(Zone {
                    name: s.to_owned(),
                    offset,
                });
            }
        }
        Err(bad(s))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset from UTC in seconds (e-mail summaries' days are this zone's).
    pub fn offset_secs(&self) -> i32 {
        self.offset.whole_seconds()
    }

    /// The offset as `+09:00`, to complete a local date and time typed in a form.
    pub fn offset_text(&self) -> String {
        let (h, m, _) = self.offset.as_hms();
        let sign = if self.offset.is_negative() { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
    }

    /// A date and time typed in a form (`datetime-local`: `2026-04-01T09:30`, seconds
    /// optional) as an ISO 8601 DateTime in this zone (`2026-04-01T09:30:00+09:00`).
    pub fn form_datetime(&self, typed: &str) -> String {
        let typed = typed.trim();
        let typed = if typed.len() == 16 {
            format!("{typed}:00")
        } else {
            typed.to_owned()
        };
        format!("{typed}{}", self.offset_text())
    }

    /// A time as a `datetime-local` form value in this zone (`2026-04-01T09:30`).
    pub fn form_value(&self, ms: i64) -> String {
        self.datetime(ms).replacen(' ', "T", 1)
    }

    fn local(&self, ms: i64) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .map(|t| t.to_offset(self.offset))
    }

    /// `2026-04-01 09:30` in the zone (minutes are enough for people; the API keeps the ms).
    pub fn datetime(&self, ms: i64) -> String {
        match self.local(ms) {
            Some(t) => format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            ),
            None => String::new(),
        }
    }

    /// The (month, day) of an instant in the zone.
    pub fn month_day(&self, ms: i64) -> Option<(u8, u8)> {
        self.local(ms).map(|t| (u8::from(t.month()), t.day()))
    }

    /// `2026-04-01 09:30:15` in the zone: the audit log's times, where seconds matter.
    pub fn datetime_seconds(&self, ms: i64) -> String {
        match self.local(ms) {
            Some(t) => format!("{}:{:02}", self.datetime(ms), t.second()),
            None => String::new(),
        }
    }

    /// The Japanese school year (年度, April to March) of an instant.
    pub fn school_year(&self, ms: i64) -> Option<i32> {
        self.local(ms).map(|t| {
            if u8::from(t.month()) >= 4 {
                t.year()
            } else {
                t.year() - 1
            }
        })
    }
}

fn bad(s: &str) -> String {
    format!(
        "unknown time zone {s:?}: use one of {} or an offset like +09:00 \
         (zones with daylight saving time are not supported)",
        ZONES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokyo_is_the_default_and_nine_hours_ahead() {
        let z = Zone::default();
        assert_eq!(z.name(), "Asia/Tokyo");
        assert_eq!(z.offset_text(), "+09:00");
        assert_eq!(Zone::parse("-05:30").unwrap().offset_text(), "-05:30");
        // 2026-03-31T15:30:00Z is 2026-04-01 00:30 in Tokyo: a new 年度 there, not in UTC.
        let ms = 1_774_971_000_000;
        assert_eq!(z.datetime(ms), "2026-04-01 00:30");
        assert_eq!(z.school_year(ms), Some(2026));
        let utc = Zone::parse("utc").unwrap();
        assert_eq!(utc.datetime(ms), "2026-03-31 15:30");
        assert_eq!(utc.school_year(ms), Some(2025));
    }

    #[test]
    fn form_times_are_read_and_written_in_the_zone() {
        let z = Zone::default();
        assert_eq!(
            z.form_datetime("2026-04-01T09:30"),
            "2026-04-01T09:30:00+09:00"
        );
        assert_eq!(
            z.form_datetime("2026-04-01T09:30:15"),
            "2026-04-01T09:30:15+09:00"
        );
        assert_eq!(z.form_value(1_774_971_000_000), "2026-04-01T00:30");
        assert_eq!(z.datetime_seconds(1_774_971_015_000), "2026-04-01 00:30:15");
    }

    #[test]
    fn offsets_and_refusals() {
        assert_eq!(
            Zone::parse("-05:30").unwrap().datetime(0),
            "1969-12-31 18:30"
        );
        for bad in ["Europe/Berlin", "+9", "+25:00", "", "America/New_York"] {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
    }
}
