//! The schedules of scheduled pulls: five-field cron expressions (`minute hour day-of-month
//! month day-of-week`) with `*`, lists, ranges, steps and the English month and day names,
//! read in a fixed-offset zone (`--time-zone`, which has no daylight saving time, so every
//! local minute exists exactly once).
//!
//! As in the classic cron, when both day fields are restricted a day matches if either does
//! (`0 6 1 * mon`: the 1st and every Monday); a field beginning with `*` is unrestricted.
//!
//! Times are found by scanning days, not by arithmetic on the fields: a day is checked in a
//! few operations, and an expression that can match at all matches within eight years (29
//! February), so the scan is short and obviously right.

use std::fmt;

use crate::domain::datetime::civil_from_days;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
/// Days in each month at most (29 February included).
const MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/// How far a scan looks: past the longest gap between two 29 Februaries (2096 → 2104).
const SCAN_DAYS: i64 = 366 * 9;
const MINUTE_MS: i64 = 60_000;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_any: bool,
    weekdays_any: bool,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One field's range and names.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The first name's value (`jan` = 1, `sun` = 0).
    names_from: u32,
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        names_from: 0,
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        names_from: 0,
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        names_from: 0,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
        names_from: 1,
    },
    // 7 is Sunday too, as in most crons.
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        names: &DAYS,
        names_from: 0,
    },
];

impl Schedule {
    /// `*/15 7-18 * * mon-fri`; the error names the field and what is wrong.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "schedule {text:?}: write five fields, minute hour day-of-month month \
                 day-of-week (e.g. \"0 6 * * *\" for 06:00 every day)"
            ));
        }
        let mut sets = [0u64; 5];
        for (i, (part, field)) in parts.iter().zip(&FIELDS).enumerate() {
            sets[i] = parse_field(part, field)
                .map_err(|e| format!("schedule {text:?}: {} field {part:?}: {e}", field.name))?;
        }
        // Sunday is 0 and 7.
        if sets[4] & (1 << 7) != 0 {
            sets[4] = (sets[4] | 1) & !(1 << 7);
        }
        let s = Schedule {
            text: parts.join(" "),
            minutes: sets[0],
            hours: sets[1],
            days: sets[2],
            months: sets[3],
            weekdays: sets[4],
            days_any: parts[2].starts_with('*'),
            weekdays_any: parts[4].starts_with('*'),
        };
        let possible = !s.weekdays_any
            || (1..=12u32).any(|m| {
                s.months & (1 << m) != 0 && (1..=MONTH_DAYS[m as usize - 1]).any(|d| s.has_day(d))
            });
        if !possible {
            return Err(format!(
                "schedule {text:?}: no month of it has such a day, so it would never run"
            ));
        }
        Ok(s)
    }

    fn has_day(&self, d: u32) -> bool {
        self.days & (1 << d) != 0
    }

    /// Whether the day (days since 1970-01-01) is one of the schedule's.
    fn day_matches(&self, day: i64) -> bool {
        let (_, m, d) = civil_from_days(day);
        if self.months & (1 << m) == 0 {
            return false;
        }
        let weekday = (day + 4).rem_euclid(7) as u32;
        let by_day = self.has_day(d);
        let by_weekday = self.weekdays & (1 << weekday) != 0;
        match (self.days_any, self.weekdays_any) {
            (false, false) => by_day || by_weekday,
            (true, false) => by_weekday,
            (false, true) => by_day,
            (true, true) => true,
        }
    }

    fn time_matches(&self, minute_of_day: i64) -> bool {
        self.hours & (1 << (minute_of_day / 60)) != 0
            && self.minutes & (1 << (minute_of_day % 60)) != 0
    }

    /// Whether the minute that holds `ms` is one of the schedule's, in a zone `offset_secs`
    /// east of UTC.
    pub fn matches(&self, ms: i64, offset_secs: i32) -> bool {
        let local = local_minute(ms, offset_secs);
        self.day_matches(local.div_euclid(1440)) && self.time_matches(local.rem_euclid(1440))
    }

    /// The first scheduled minute strictly after `now_ms` (its start, epoch ms).
    pub fn next_after(&self, now_ms: i64, offset_secs: i32) -> Option<i64> {
        let start = local_minute(now_ms, offset_secs) + 1;
        let first_day = start.div_euclid(1440);
        for day in first_day..first_day + SCAN_DAYS {
            if !self.day_matches(day) {
                continue;
            }
            let from = if day == first_day {
                start.rem_euclid(1440)
            } else {
                0
            };
            if let Some(m) = (from..1440).find(|&m| self.time_matches(m)) {
                return Some(utc_ms(day * 1440 + m, offset_secs));
            }
        }
        None
    }

    /// The last scheduled minute at or before `now_ms` (its start, epoch ms): the run that is
    /// due at `now_ms`.
    pub fn latest_at_or_before(&self, now_ms: i64, offset_secs: i32) -> Option<i64> {
        let end = local_minute(now_ms, offset_secs);
        let last_day = end.div_euclid(1440);
        for day in (last_day - SCAN_DAYS..=last_day).rev() {
            if !self.day_matches(day) {
                continue;
            }
            let to = if day == last_day {
                end.rem_euclid(1440)
            } else {
                1439
            };
            if let Some(m) = (0..=to).rev().find(|&m| self.time_matches(m)) {
                return Some(utc_ms(day * 1440 + m, offset_secs));
            }
        }
        None
    }
}

fn local_minute(ms: i64, offset_secs: i32) -> i64 {
    (ms + i64::from(offset_secs) * 1000).div_euclid(MINUTE_MS)
}

fn utc_ms(local_minute: i64, offset_secs: i32) -> i64 {
    local_minute * MINUTE_MS - i64::from(offset_secs) * 1000
}

/// One field as a bit set of its values.
fn parse_field(text: &str, f: &Field) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("step {s:?} is not a whole number from 1"))?;
                (r, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" {
            (f.min, f.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, f)?, value(b, f)?)
        } else {
            let v = value(range, f)?;
            // `5/15`: from 5 to the end in steps of 15.
            (v, if step.is_some() { f.max } else { v })
        };
        if lo > hi {
            return Err(format!("range {range:?} runs backwards"));
        }
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step.unwrap_or(1);
        }
    }
    Ok(set)
}

fn value(text: &str, f: &Field) -> Result<u32, String> {
    if let Some(i) = f.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i as u32 + f.names_from);
    }
    match text.parse::<u32>() {
        Ok(v) if (f.min..=f.max).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a value from {} to {}{}",
            f.min,
            f.max,
            if f.names.is_empty() {
                String::new()
            } else {
                format!(" or a name ({}, …)", f.names[..3].join(", "))
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JST: i32 = 9 * 3600;

    /// Epoch ms of a time written in JST.
    fn jst(text: &str) -> i64 {
        let t = time::OffsetDateTime::parse(
            &format!("{text}:00+09:00"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        (t.unix_timestamp_nanos() / 1_000_000) as i64
    }

    fn next(expr: &str, now: &str) -> i64 {
        Schedule::parse(expr)
            .unwrap()
            .next_after(jst(now), JST)
            .unwrap()
    }

    #[test]
    fn next_times_in_the_zone() {
        assert_eq!(
            next("0 6 * * *", "2026-04-01T05:59"),
            jst("2026-04-01T06:00")
        );
        assert_eq!(
            next("0 6 * * *", "2026-04-01T06:00"),
            jst("2026-04-02T06:00")
        );
        assert_eq!(
            next("*/15 7-18 * * mon-fri", "2026-04-03T18:50"),
            jst("2026-04-06T07:00"),
            "Friday evening → Monday morning"
        );
        assert_eq!(
            next("30 2 29 feb *", "2026-03-01T00:00"),
            jst("2028-02-29T02:30")
        );
        assert_eq!(
            next("0 0 1 * mon", "2026-04-02T00:00"),
            jst("2026-04-06T00:00")
        );
        assert_eq!(
            next("0 0 1,15 * 7", "2026-04-13T00:00"),
            jst("2026-04-15T00:00")
        );
        assert_eq!(
            next("5/20 * * * *", "2026-04-01T10:26"),
            jst("2026-04-01T10:45")
        );
    }

    #[test]
    fn the_due_run() {
        let s = Schedule::parse("0 6 * * *").unwrap();
        let due = |now| s.latest_at_or_before(jst(now), JST).unwrap();
        assert_eq!(due("2026-04-01T06:00"), jst("2026-04-01T06:00"));
        assert_eq!(due("2026-04-01T05:59"), jst("2026-03-31T06:00"));
        assert!(s.matches(jst("2026-04-01T06:00") + 59_999, JST));
        assert!(!s.matches(jst("2026-04-01T06:01"), JST));
    }

    #[test]
    fn refusals_name_the_field() {
        for (expr, says) in [
            ("0 6 * *", "five fields"),
            ("60 * * * *", "minute field \"60\""),
            ("0 6-3 * * *", "runs backwards"),
            ("*/0 * * * *", "step \"0\""),
            ("0 0 31 feb,apr *", "never run"),
            ("0 0 * foo *", "month field"),
            ("0 0 * * 8", "day of week field"),
        ] {
            let e = Schedule::parse(expr).unwrap_err();
            assert!(e.contains(says), "{expr}: {e}");
        }
        assert!(Schedule::parse("0 0 31 feb mon").is_ok(), "Mondays");
    }

    fn field(max: u32) -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_owned()),
            (0..=max).prop_map(|v| v.to_string()),
            (0..=max, 0..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
            (1..=max.max(1)).prop_map(|s| format!("*/{s}")),
            proptest::collection::vec(0..=max, 1..4).prop_map(|v| v
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")),
        ]
    }

    fn expr() -> impl Strategy<Value = String> {
        (field(59), field(23), field(30), field(11), field(7)).prop_map(|(m, h, d, mo, w)| {
            // Days and months start at 1: shift the generated numbers up by one.
            let up = |f: String| {
                f.split(',')
                    .map(|item| match item.split_once('/') {
                        Some((r, s)) => format!("{r}/{s}"),
                        None if item == "*" => item.to_owned(),
                        None => item
                            .split('-')
                            .map(|n| (n.parse::<u32>().unwrap() + 1).to_string())
                            .collect::<Vec<_>>()
                            .join("-"),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!("{m} {h} {} {} {w}", up(d), up(mo))
        })
    }

    proptest! {
        /// The next time is strictly after `now`, matches, and no matching minute lies between
        /// (checked minute by minute for up to ten days, and by the backward scan beyond).
        #[test]
        fn next_is_the_first_match_after_now(
            text in expr(),
            now in 946_684_800_000i64..4_102_444_800_000,
            offset_min in -12i32 * 60..=14 * 60,
        ) {
            let Ok(s) = Schedule::parse(&text) else { return Ok(()) };
            let offset = offset_min * 60;
            let next = s.next_after(now, offset).expect("a possible schedule runs");
            prop_assert!(next > now);
            prop_assert_eq!(local_minute(next, offset) * MINUTE_MS - i64::from(offset) * 1000, next);
            prop_assert!(s.matches(next, offset));
            let mut t = utc_ms(local_minute(now, offset) + 1, offset);
            while t < next && t < now + 10 * 1440 * MINUTE_MS {
                prop_assert!(!s.matches(t, offset), "{} skipped {}", text, t);
                t += MINUTE_MS;
            }
            let before = s.latest_at_or_before(next - 1, offset).unwrap();
            prop_assert!(before <= now, "{} between {} and {}", before, now, next);
            prop_assert_eq!(s.latest_at_or_before(next, offset), Some(next));
        }
    }
}
