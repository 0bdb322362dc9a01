//! When unattended imports may apply by themselves: blackout windows (`--intake-blackout`), in
//! which a dropped file is imported but held for approval — the weeks of 年次更新, when a
//! half-finished export from the 校務 system is most likely — and the April rollover, which
//! the first unattended import of a new 年度 runs in (`--intake-rollover`).

use std::fmt;

use crate::http::ui::zone::Zone;

/// A yearly window of days, `MM-DD..MM-DD`, both ends included; it may wrap the new year
/// (`12-28..01-04`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    from: (u8, u8),
    to: (u8, u8),
}

impl Window {
    /// `03-25..04-07`; several windows are comma-separated (see [`Window::parse_list`]).
    pub fn parse(s: &str) -> Result<Window, String> {
        let bad = || {
            format!(
                "blackout window {s:?}: write it as MM-DD..MM-DD, e.g. 03-25..04-07 for \
                 年次更新 (both days included, in the UI time zone)"
            )
        };
        let (a, b) = s.trim().split_once("..").ok_or_else(bad)?;
        let day = |t: &str| -> Option<(u8, u8)> {
            let (m, d) = t.trim().split_once('-')?;
            let (m, d): (u8, u8) = (m.parse().ok()?, d.parse().ok()?);
            let days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            (1..=12)
                .contains(&m)
                .then_some(())
                .filter(|_| (1..=days[usize::from(m) - 1]).contains(&d))
                .map(|_| (m, d))
        };
        Ok(Window {
            from: day(a).ok_or_else(bad)?,
            to: day(b).ok_or_else(bad)?,
        })
    }

    /// Comma-separated windows; an empty text is none.
    pub fn parse_list(s: &str) -> Result<Vec<Window>, String> {
        s.split(',')
            .filter(|w| !w.trim().is_empty())
            .map(Window::parse)
            .collect()
    }

    pub fn contains(&self, day: (u8, u8)) -> bool {
        if self.from <= self.to {
            self.from <= day && day <= self.to
        } else {
            day >= self.from || day <= self.to
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}-{:02}..{:02}-{:02}",
            self.from.0, self.from.1, self.to.0, self.to.1
        )
    }
}

/// The window `now` falls in, if any.
pub fn blackout_at(windows: &[Window], zone: &Zone, now_ms: i64) -> Option<Window> {
    let day = zone.month_day(now_ms)?;
    windows.iter().copied().find(|w| w.contains(day))
}

/// Whether an import at `now_ms` is the first of a new 年度: the tenant applied one before,
/// in an earlier school year.
pub fn new_school_year(zone: &Zone, last_applied_ms: Option<i64>, now_ms: i64) -> bool {
    match (
        last_applied_ms.and_then(|t| zone.school_year(t)),
        zone.school_year(now_ms),
    ) {
        (Some(last), Some(now)) => last < now,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i32, m: u8, d: u8) -> i64 {
        let date = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        // Noon in Tokyo.
        (date.midnight().assume_utc().unix_timestamp() + 3 * 3600) * 1000
    }

    #[test]
    fn windows_parse_print_and_wrap_the_new_year() {
        let w = Window::parse("03-25..04-07").unwrap();
        assert_eq!(w.to_string(), "03-25..04-07");
        assert!(w.contains((3, 25)) && w.contains((4, 1)) && w.contains((4, 7)));
        assert!(!w.contains((3, 24)) && !w.contains((4, 8)));
        let wrap = Window::parse("12-28..01-04").unwrap();
        assert!(wrap.contains((12, 31)) && wrap.contains((1, 1)) && !wrap.contains((1, 5)));
        assert_eq!(Window::parse_list("").unwrap(), vec![]);
        assert_eq!(
            Window::parse_list("03-25..04-07, 08-01..08-02")
                .unwrap()
                .len(),
            2
        );
        for bad in [
            "03-25",
            "13-01..13-02",
            "02-30..03-01",
            "3/25..4/7",
            "03-25..04-xx",
        ] {
            let e = Window::parse(bad).unwrap_err();
            assert!(e.contains("MM-DD..MM-DD"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_window_and_the_school_year_are_read_in_the_zone() {
        let tokyo = Zone::default();
        let windows = Window::parse_list("03-25..04-07").unwrap();
        assert_eq!(
            blackout_at(&windows, &tokyo, ms(2026, 4, 1)),
            Some(windows[0])
        );
        assert_eq!(blackout_at(&windows, &tokyo, ms(2026, 4, 8)), None);
        assert!(new_school_year(
            &tokyo,
            Some(ms(2026, 3, 20)),
            ms(2026, 4, 2)
        ));
        assert!(!new_school_year(
            &tokyo,
            Some(ms(2026, 4, 1)),
            ms(2026, 4, 2)
        ));
        assert!(
            !new_school_year(&tokyo, None, ms(2026, 4, 2)),
            "a first import ever"
        );
    }
}
