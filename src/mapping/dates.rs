//! Dates as school lists write them: `2015/4/2`, `2015-04-02`, `2015.4.2`, `2015年4月2日`, and
//! 和暦 — `平成27年4月2日`, `令和元年5月1日`, `H27.4.2`, `R06/04/01` — with full-width digits; and
//! the 年度 (April–March) a date falls in.

use super::text::to_half_width;

/// An era: its name, its letter, and its first day.
struct Era {
    name: &'static str,
    letter: char,
    start: (i32, u32, u32),
}

/// The eras from 明治 on, oldest first. 明治 is counted from 1868-10-23 (the day of the change
/// of era; earlier dates of 明治元年 were still 慶応 when they happened).
const ERAS: [Era; 5] = [
    Era {
        name: "明治",
        letter: 'M',
        start: (1868, 10, 23),
    },
    Era {
        name: "大正",
        letter: 'T',
        start: (1912, 7, 30),
    },
    Era {
        name: "昭和",
        letter: 'S',
        start: (1926, 12, 25),
    },
    Era {
        name: "平成",
        letter: 'H',
        start: (1989, 1, 8),
    },
    Era {
        name: "令和",
        letter: 'R',
        start: (2019, 5, 1),
    },
];

/// Why a cell is not a date. The text names the value; the mapping adds what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Not in any of the accepted forms.
    Unreadable(String),
    /// The form is right but there is no such day (`2015/2/30`).
    NoSuchDay(String),
    /// A 和暦 date outside its era (`令和1年4月1日`: 令和 began on 2019-05-01).
    OutsideEra(String, &'static str),
}

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DateError::Unreadable(v) => write!(f, "{v:?} is not a date"),
            DateError::NoSuchDay(v) => write!(f, "{v:?} is not a day of the calendar"),
            DateError::OutsideEra(v, era) => write!(f, "{v:?} is not a day of the {era} era"),
        }
    }
}

impl std::error::Error for DateError {}

fn leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn exists(y: i32, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)
}

/// The era a prefix names (`令和`, `R`, `r`) and the rest of the text.
fn era_prefix(s: &str) -> Option<(usize, &str)> {
    for (i, era) in ERAS.iter().enumerate() {
        if let Some(rest) = s.strip_prefix(era.name) {
            return Some((i, rest));
        }
        let mut chars = s.chars();
        if chars
            .next()
            .is_some_and(|c| c.to_ascii_uppercase() == era.letter)
        {
            let rest = chars.as_str();
            if rest.starts_with(|c: char| c.is_ascii_digit() || c == '元') {
                return Some((i, rest));
            }
        }
    }
    None
}

/// The three numbers of a date: digits (or 元 for year 1) between separators `/ - . 年 月 日`.
fn numbers(s: &str) -> Option<(u32, u32, u32, usize)> {
    let mut parts: Vec<(u32, usize)> = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, parts: &mut Vec<(u32, usize)>| -> Option<()> {
        if !current.is_empty() {
            let n = if current == "元" {
                1
            } else {
                current.parse().ok()?
            };
            parts.push((n, current.len()));
            current.clear();
        }
        Some(())
    };
    for c in s.chars() {
        match c {
            '0'..='9' => current.push(c),
            '元' if current.is_empty() && parts.is_empty() => current.push(c),
            '/' | '-' | '.' | '年' | '月' | '日' | ' ' => flush(&mut current, &mut parts)?,
            _ => return None,
        }
    }
    flush(&mut current, &mut parts)?;
    match parts.as_slice() {
        [(y, digits), (m, _), (d, _)] => Some((*y, *m, *d, *digits)),
        _ => None,
    }
}

/// Reads a date in any of the forms above; `(year, month, day)` in the western calendar.
pub fn parse_date(s: &str) -> Result<(i32, u32, u32), DateError> {
    let text = to_half_width(s);
    let text = text.trim();
    let unreadable = || DateError::Unreadable(s.to_owned());
    match era_prefix(text) {
        Some((i, rest)) => {
            let (ey, m, d, _) = numbers(rest).ok_or_else(unreadable)?;
            let era = &ERAS[i];
            if ey == 0 {
                return Err(unreadable());
            }
            let y = era.start.0 + ey as i32 - 1;
            if !exists(y, m, d) {
                return Err(DateError::NoSuchDay(s.to_owned()));
            }
            let after_start = (y, m, d) >= era.start;
            let before_next = ERAS.get(i + 1).is_none_or(|next| (y, m, d) < next.start);
            if !(after_start && before_next) {
                return Err(DateError::OutsideEra(s.to_owned(), era.name));
            }
            Ok((y, m, d))
        }
        None => {
            let (y, m, d, digits) = numbers(text).ok_or_else(unreadable)?;
            if digits != 4 {
                return Err(unreadable());
            }
            let y = y as i32;
            if !exists(y, m, d) {
                return Err(DateError::NoSuchDay(s.to_owned()));
            }
            Ok((y, m, d))
        }
    }
}

/// `令和6年4月1日` (`元年` for an era's first year); `None` before 明治.
pub fn to_wareki(y: i32, m: u32, d: u32) -> Option<String> {
    let era = ERAS.iter().rev().find(|e| (y, m, d) >= e.start)?;
    let n = y - era.start.0 + 1;
    let year = if n == 1 {
        "元".to_owned()
    } else {
        n.to_string()
    };
    Some(format!("{}{year}年{m}月{d}日", era.name))
}

/// The 年度 (school year, April–March) a day falls in: 2025-03-31 → 2024, 2025-04-01 → 2025.
pub fn school_year_of(y: i32, m: u32, _d: u32) -> i32 {
    if m >= 4 { y } else { y - 1 }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn western_and_japanese_forms() {
        for (text, want) in [
            ("2015/4/2", (2015, 4, 2)),
            ("2015-04-02", (2015, 4, 2)),
            ("2015.4.2", (2015, 4, 2)),
            ("2015年4月2日", (2015, 4, 2)),
            ("２０１５／０４／０２", (2015, 4, 2)),
            (" 平成27年4月2日 ", (2015, 4, 2)),
            ("H27.4.2", (2015, 4, 2)),
            ("h27/4/2", (2015, 4, 2)),
            ("令和元年5月1日", (2019, 5, 1)),
            ("令和6年4月1日", (2024, 4, 1)),
            ("R6.4.1", (2024, 4, 1)),
            ("R06/04/01", (2024, 4, 1)),
            ("H30/4/1", (2018, 4, 1)),
            ("平成31年4月30日", (2019, 4, 30)),
            ("S64.1.7", (1989, 1, 7)),
            ("昭和64年1月7日", (1989, 1, 7)),
            ("大正15年12月24日", (1926, 12, 24)),
            ("明治45年7月29日", (1912, 7, 29)),
            ("2024/2/29", (2024, 2, 29)),
        ] {
            assert_eq!(parse_date(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn what_is_not_a_date_says_why() {
        assert_eq!(
            parse_date("令和1年4月1日"),
            Err(DateError::OutsideEra("令和1年4月1日".into(), "令和"))
        );
        assert_eq!(
            parse_date("平成31年5月1日"),
            Err(DateError::OutsideEra("平成31年5月1日".into(), "平成"))
        );
        assert_eq!(
            parse_date("2015/2/30"),
            Err(DateError::NoSuchDay("2015/2/30".into()))
        );
        for bad in [
            "",
            "4/2",
            "15/4/2",
            "2015/4",
            "2015/4/2 朝",
            "X27.4.2",
            "平成0年4月1日",
        ] {
            assert!(
                matches!(parse_date(bad), Err(DateError::Unreadable(_))),
                "{bad}: {:?}",
                parse_date(bad)
            );
        }
        assert_eq!(
            parse_date("2015/2/30").unwrap_err().to_string(),
            "\"2015/2/30\" is not a day of the calendar"
        );
    }

    #[test]
    fn era_boundaries_both_ways() {
        let last_days = [(1912, 7, 29), (1926, 12, 24), (1989, 1, 7), (2019, 4, 30)];
        for (era, last) in ERAS.iter().skip(1).zip(last_days) {
            let first = to_wareki(era.start.0, era.start.1, era.start.2).unwrap();
            assert!(first.starts_with(&format!("{}元年", era.name)), "{first}");
            assert_eq!(parse_date(&first), Ok(era.start));
            let before = to_wareki(last.0, last.1, last.2).unwrap();
            assert!(!before.starts_with(era.name), "{before}");
            assert_eq!(parse_date(&before), Ok(last));
        }
        assert_eq!(to_wareki(1868, 10, 22), None);
        assert_eq!(to_wareki(1868, 10, 23).as_deref(), Some("明治元年10月23日"));
    }

    #[test]
    fn school_years_turn_in_april() {
        assert_eq!(school_year_of(2025, 3, 31), 2024);
        assert_eq!(school_year_of(2025, 4, 1), 2025);
        assert_eq!(school_year_of(2025, 12, 31), 2025);
        assert_eq!(school_year_of(2026, 1, 1), 2025);
    }

    proptest! {
        #[test]
        fn wareki_round_trips(y in 1869i32..2100, m in 1u32..=12, d in 1u32..=31) {
            prop_assume!(exists(y, m, d));
            let w = to_wareki(y, m, d).unwrap();
            prop_assert_eq!(parse_date(&w), Ok((y, m, d)));
            let western = format!("{y}/{m}/{d}");
            prop_assert_eq!(parse_date(&western), Ok((y, m, d)));
        }
    }
}
