//! The pulls file (`serve --intake-pulls FILE`): TOML, one `[[pull]]` table per pull, checked
//! whole when `serve` (or `doctor`) starts — a bad entry is refused with its number, name and
//! reason rather than failing at 3 a.m. Secrets are never in the file itself: a bearer token or
//! a password is read from the file it names, at each run (so it can be rotated without a
//! restart), and is never logged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::intake::cron::Schedule;

/// How long a download may take by default (`timeout_secs`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// One pull, checked.
#[derive(Debug, Clone)]
pub struct Pull {
    /// The key of its runs: the entry's `name`, or `url-` and 16 hex digits of the URL's
    /// SHA-256.
    pub key: String,
    pub tenant: String,
    pub schedule: Schedule,
    pub url: reqwest::Url,
    pub auth: Auth,
    /// PEM certificates: the only roots trusted for this pull (a private CA).
    pub ca_file: Option<PathBuf>,
    /// `auto` or a stored mapping profile's name: the body is a school's list, not a bundle.
    pub mapping: Option<String>,
    pub school: Option<String>,
    pub school_year: Option<i32>,
    pub timeout: Duration,
}

/// Where a pull's credentials are (paths only: the secrets are read at each run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer {
        token_file: PathBuf,
    },
    Basic {
        user: String,
        password_file: PathBuf,
    },
}

impl Pull {
    /// The URL as messages show it: without its query, which may carry a signature.
    pub fn url_shown(&self) -> String {
        let mut u = self.url.clone();
        u.set_query(None);
        u.set_fragment(None);
        u.to_string()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    pull: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Option<String>,
    tenant: String,
    schedule: String,
    url: String,
    bearer_token_file: Option<PathBuf>,
    basic_user: Option<String>,
    basic_password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    mapping: Option<String>,
    school: Option<String>,
    school_year: Option<i32>,
    timeout_secs: Option<f64>,
}

/// Reads and checks the pulls file.
pub fn load(path: &Path) -> Result<Vec<Pull>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the pulls file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("pulls file {}: {e}", path.display()))
}

/// The pulls of a file's text.
pub fn parse(text: &str) -> Result<Vec<Pull>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut pulls: Vec<Pull> = Vec::new();
    for (i, entry) in file.pull.into_iter().enumerate() {
        let label = match &entry.name {
            Some(n) => format!("[[pull]] {} ({n:?})", i + 1),
            None => format!("[[pull]] {} ({})", i + 1, entry.url),
        };
        let pull = check(entry).map_err(|e| format!("{label}: {e}"))?;
        if pulls
            .iter()
            .any(|p| p.tenant == pull.tenant && p.key == pull.key)
        {
            return Err(format!(
                "{label}: a second pull {} for tenant {:?}; give each a different `name`",
                pull.key, pull.tenant
            ));
        }
        pulls.push(pull);
    }
    Ok(pulls)
}

fn check(e: Entry) -> Result<Pull, String> {
    if e.tenant.trim().is_empty() || e.tenant.chars().any(char::is_control) {
        return Err(format!("tenant {:?} is not a tenant id", e.tenant));
    }
    let schedule = Schedule::parse(&e.schedule)?;
    let url = check_url(&e.url)?;
    let auth = match (e.bearer_token_file, e.basic_user, e.basic_password_file) {
        (None, None, None) => Auth::None,
        (Some(token_file), None, None) => {
            read_secret(&token_file)?;
            Auth::Bearer { token_file }
        }
        (None, Some(user), Some(password_file)) => {
            if user.is_empty() || user.contains(':') {
                return Err("basic_user must be a name without `:`".into());
            }
            read_secret(&password_file)?;
            Auth::Basic {
                user,
                password_file,
            }
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Err("basic_user and basic_password_file go together".into());
        }
        _ => return Err("give bearer_token_file or basic_user, not both".into()),
    };
    if let Some(ca) = &e.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|err| format!("cannot read ca_file {}: {err}", ca.display()))?;
        match reqwest::Certificate::from_pem_bundle(&pem) {
            Ok(certs) if !certs.is_empty() => {}
            _ => return Err(format!("ca_file {} holds no PEM certificate", ca.display())),
        }
    }
    let mapping = match e.mapping {
        None => None,
        Some(m) if m == crate::mapping::stored::AUTO => Some(m),
        Some(m) => Some(
            crate::mapping::stored::ProfileName::parse(&m)
                .map_err(|err| format!("mapping: {err}"))?
                .as_str()
                .to_owned(),
        ),
    };
    if mapping.is_none() && (e.school.is_some() || e.school_year.is_some()) {
        return Err("school and school_year are for a school's list: set `mapping` too".into());
    }
    let timeout = match e.timeout_secs {
        None => DEFAULT_TIMEOUT,
        Some(s) if s.is_finite() && (1.0..=86_400.0).contains(&s) => Duration::from_secs_f64(s),
        Some(_) => return Err("timeout_secs must be from 1 to 86400".into()),
    };
    let key = match e.name {
        Some(n) => {
            let ok = !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                return Err("name: 1 to 64 letters, digits, `-`, `_` or `.`".into());
            }
            n
        }
        None => format!("url-{}", &hex::encode(Sha256::digest(url.as_str()))[..16]),
    };
    Ok(Pull {
        key,
        tenant: e.tenant,
        schedule,
        url,
        auth,
        ca_file: e.ca_file,
        mapping,
        school: e.school,
        school_year: e.school_year,
        timeout,
    })
}

/// HTTPS, or HTTP to this machine only; no credentials in the URL.
fn check_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("url {text:?}: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "url: no credentials in the URL; use basic_user and basic_password_file".into(),
        );
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "url {}: plain http is refused (a roster is personal data); use https, \
             or http only to this machine (localhost)",
            url.host_str().unwrap_or("")
        )),
        s => Err(format!("url: scheme {s:?}; use https")),
    }
}

/// Whether the URL's host is this machine.
pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A secret read from its file, trailing line break removed; an empty file is refused.
pub(super) fn read_secret(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let secret = text.trim_end_matches(['\r', '\n']).to_owned();
    if secret.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        parse(text).unwrap_err()
    }

    #[test]
    fn entries_are_checked_with_their_number_and_reason() {
        let ok = parse(
            "[[pull]]\ntenant = \"default\"\nschedule = \"0 6 * * *\"\n\
             url = \"https://sis.example.jp/roster.zip?sig=abc\"\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 1);
        assert!(ok[0].key.starts_with("url-") && ok[0].key.len() == 20);
        assert_eq!(ok[0].url_shown(), "https://sis.example.jp/roster.zip");
        assert!(
            parse(
                "[[pull]]\ntenant = \"t\"\nschedule = \"* * * * *\"\nurl = \"http://127.0.0.1:9/x\""
            )
            .is_ok()
        );
        let e = refused(
            "[[pull]]\nname = \"east\"\ntenant = \"t\"\nschedule = \"0 6 * *\"\nurl = \"https://x/\"",
        );
        assert!(e.starts_with("[[pull]] 1 (\"east\"): schedule"), "{e}");
        let e = refused(
            "[[pull]]\ntenant = \"t\"\nschedule = \"0 6 * * *\"\nurl = \"http://sis.example.jp/r.zip\"",
        );
        assert!(e.contains("plain http is refused"), "{e}");
        let e =
            refused("[[pull]]\ntenant = \"t\"\nschedule = \"0 6 * * *\"\nurl = \"https://u:p@x/\"");
        assert!(e.contains("no credentials in the URL"), "{e}");
        let e = refused(
            "[[pull]]\ntenant = \"t\"\nschedule = \"0 6 * * *\"\nurl = \"https://x/\"\nbearer_token_file = \"/nonexistent/token\"",
        );
        assert!(e.contains("cannot read /nonexistent/token"), "{e}");
        let e = refused(
            "[[pull]]\ntenant = \"t\"\nschedule = \"0 6 * * *\"\nurl = \"https://x/\"\nbasic_user = \"u\"",
        );
        assert!(e.contains("go together"), "{e}");
        let e = refused(
            "[[pull]]\ntenant = \"t\"\nschedule = \"0 6 * * *\"\nurl = \"https://x/\"\nschool_year = 2026",
        );
        assert!(e.contains("set `mapping` too"), "{e}");
        let e = refused(
            "[[pull]]\ntenant = \"t\"\nschedule = \"0 6 * * *\"\nurl = \"https://x/\"\ntoken = \"s3cret\"",
        );
        assert!(e.contains("unknown field"), "{e}");
        let twice = "[[pull]]\ntenant = \"t\"\nschedule = \"0 6 * * *\"\nurl = \"https://x/\"\n";
        let e = refused(&format!("{twice}{twice}"));
        assert!(e.starts_with("[[pull]] 2"), "{e}");
    }
}
