//! `rosterhub doctor`: checks a set-up the way `serve` would meet it — its configuration, the
//! database (reachable, migrated), the PII key (able to decrypt a stored value), the signing
//! key, disk space at the data directory, the clock and the workers' heartbeats — and prints one
//! line per check: `OK|WARN|FAIL  check  detail — what to do`, in English or Japanese.
//!
//! Nothing is written: the database is read as it is (never migrated or created), a PII key
//! that is not registered yet is not registered, no signing key is made.

mod checks;

use std::ffi::OsString;

use crate::http::ui::i18n::Lang;

/// How a check came out; the worst one gives the exit code (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's outcome, in both languages (detail, then ` — ` and what to do, if anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub status: Status,
    pub check: &'static str,
    pub en: String,
    pub ja: String,
}

impl Line {
    pub fn new(status: Status, check: &'static str, en: String, ja: String) -> Line {
        Line {
            status,
            check,
            en,
            ja,
        }
    }

    pub fn text(&self, lang: Lang) -> String {
        let words = match lang {
            Lang::En => &self.en,
            Lang::Ja => &self.ja,
        };
        format!("{:<4}  {:<11}  {words}", self.status.word(), self.check)
    }
}

/// The language of the report: `--lang`, else the locale's (`LC_ALL`, `LC_MESSAGES`, `LANG`:
/// the first one set), Japanese for `ja…` and English otherwise.
fn language(flag: Option<&str>) -> anyhow::Result<Lang> {
    if let Some(l) = flag {
        return Lang::parse(l).ok_or_else(|| {
            anyhow::anyhow!("unknown --lang {l:?}: use en or ja (英語 en / 日本語 ja)")
        });
    }
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    Ok(match Lang::parse(&locale) {
        Some(Lang::Ja) => Lang::Ja,
        _ => Lang::En,
    })
}

/// The exit code of a report: 0 when every check is OK, 1 with a warning, 2 with a failure.
pub fn exit_code(lines: &[Line]) -> i32 {
    match lines.iter().map(|l| l.status).max() {
        Some(Status::Fail) => 2,
        Some(Status::Warn) => 1,
        _ => 0,
    }
}

pub(super) fn run(lang: Option<&str>, serve_flags: &[OsString]) -> anyhow::Result<i32> {
    let lang = language(lang)?;
    let args: Vec<OsString> = std::env::args_os().collect();
    let lines = super::db::runtime()?.block_on(checks::all(&args, serve_flags));
    for line in &lines {
        println!("{}", line.text(lang));
    }
    Ok(exit_code(&lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_align_and_the_worst_status_is_the_exit_code() {
        let ok = Line::new(Status::Ok, "disk", "fine".into(), "問題なし".into());
        let warn = Line::new(
            Status::Warn,
            "signing-key",
            "none — make one".into(),
            "なし".into(),
        );
        assert_eq!(ok.text(Lang::En), "OK    disk         fine");
        assert_eq!(ok.text(Lang::Ja), "OK    disk         問題なし");
        assert_eq!(warn.text(Lang::En), "WARN  signing-key  none — make one");
        assert_eq!(exit_code(std::slice::from_ref(&ok)), 0);
        assert_eq!(exit_code(&[ok.clone(), warn.clone()]), 1);
        let fail = Line::new(Status::Fail, "database", "x".into(), "x".into());
        assert_eq!(exit_code(&[fail, warn, ok]), 2);
    }
}
