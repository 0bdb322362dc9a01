//! The UI's words in Japanese and English: one key → text catalogue per language
//! (`assets/i18n/{ja,en}.json`, embedded), and which language a request is answered in:
//! `?lang=`, then the `rosterhub_lang` cookie, then `Accept-Language`, else Japanese.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{HeaderMap, header};

/// The cookie that keeps the language chosen with `?lang=`.
pub const LANG_COOKIE: &str = "rosterhub_lang";

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        let primary = s.split(['-', '_']).next().unwrap_or("");
        match primary {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (the switch in the header offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// The language of a request and whether it was chosen by `?lang=` now (then the answer
    /// sets the cookie).
    pub fn negotiate(query_lang: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
        if let Some(l) = query_lang.and_then(Lang::parse) {
            return (l, true);
        }
        if let Some(l) = cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return (l, false);
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        (from_accept_language(accept).unwrap_or(Lang::Ja), false)
    }

    /// The text of `key`; a missing key shows itself (the catalogue test keeps none missing).
    pub fn t(self, key: &str) -> &'static str {
        let cat = match self {
            Lang::Ja => catalogue(&JA, JA_JSON),
            Lang::En => catalogue(&EN, EN_JSON),
        };
        match cat.get(key) {
            Some(s) => s.as_str(),
            None => {
                tracing::warn!(key, "UI text missing from the catalogue");
                "?"
            }
        }
    }
}

/// The best of Japanese and English by the header's quality values; `None` when it names
/// neither.
fn from_accept_language(accept: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for part in accept.split(',') {
        let mut bits = part.split(';');
        let tag = bits.next().unwrap_or("").trim();
        let q = bits
            .find_map(|b| b.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some(l) = Lang::parse(tag)
            && q > 0.0
            && best.is_none_or(|(_, bq)| q > bq)
        {
            best = Some((l, q));
        }
    }
    best.map(|(l, _)| l)
}

/// A cookie's value by name.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

const JA_JSON: &str = include_str!("../../../assets/i18n/ja.json");
const EN_JSON: &str = include_str!("../../../assets/i18n/en.json");
static JA: OnceLock<HashMap<String, String>> = OnceLock::new();
static EN: OnceLock<HashMap<String, String>> = OnceLock::new();

fn catalogue(
    cell: &'static OnceLock<HashMap<String, String>>,
    json: &str,
) -> &'static HashMap<String, String> {
    cell.get_or_init(|| {
        serde_json::from_str(json).expect("the catalogue is a JSON object of strings")
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(json: &str) -> BTreeSet<String> {
        let map: HashMap<String, String> = serde_json::from_str(json).unwrap();
        map.into_keys().collect()
    }

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let (ja, en) = (keys(JA_JSON), keys(EN_JSON));
        let only_ja: Vec<_> = ja.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&ja).collect();
        assert!(
            only_ja.is_empty() && only_en.is_empty(),
            "only in ja.json: {only_ja:?}; only in en.json: {only_en:?}"
        );
    }

    /// Every `t("…")` of every template and UI source names a key of the catalogues.
    #[test]
    fn every_key_used_is_in_the_catalogues() {
        let ja = keys(JA_JSON);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in [
            "templates/layouts",
            "templates/pages",
            "templates/partials",
            "src/http/ui",
        ] {
            for e in std::fs::read_dir(root.join(dir)).unwrap() {
                files.push(e.unwrap().path());
            }
        }
        let mut missing = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, _) in text.match_indices("t(\"") {
                let rest = &text[i + 3..];
                let key = &rest[..rest.find('"').unwrap()];
                if key.contains('.') && !ja.contains(key) {
                    missing.push(format!("{}: {key}", f.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from the catalogues: {missing:?}"
        );
    }

    #[test]
    fn the_language_is_the_query_then_the_cookie_then_accept_language_then_japanese() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::negotiate(None, &h), (Lang::Ja, false));
        h.insert(
            header::ACCEPT_LANGUAGE,
            "fr, en-GB;q=0.8, ja;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::negotiate(None, &h), (Lang::En, false));
        h.insert(header::ACCEPT_LANGUAGE, "en;q=0.4, ja-JP".parse().unwrap());
        assert_eq!(Lang::negotiate(None, &h), (Lang::Ja, false));
        h.insert(header::ACCEPT_LANGUAGE, "fr, de".parse().unwrap());
        assert_eq!(
            Lang::negotiate(None, &h),
            (Lang::Ja, false),
            "neither: Japanese"
        );
        h.insert(header::COOKIE, "a=b; rosterhub_lang=en".parse().unwrap());
        assert_eq!(Lang::negotiate(None, &h), (Lang::En, false));
        assert_eq!(Lang::negotiate(Some("ja"), &h), (Lang::Ja, true));
        assert_eq!(
            Lang::negotiate(Some("xx"), &h),
            (Lang::En, false),
            "unknown ?lang= ignored"
        );
    }
}
