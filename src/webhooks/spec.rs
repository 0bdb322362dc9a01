//! What a subscription is made of, parsed: the target URL, the events, the secret, a note.

use std::fmt;

use super::sign::generate_secret;
use crate::storage::ops::webhooks::{ALL_EVENTS, EVENTS};

const MAX_URL_CHARS: usize = 2048;
const MIN_SECRET_CHARS: usize = 16;
const MAX_SECRET_CHARS: usize = 256;
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// A field of a subscription that is not acceptable; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// An absolute `http` or `https` URL with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(text: &str) -> Result<WebhookUrl, Invalid> {
        let must = "must be an absolute http:// or https:// URL with a host";
        if text.chars().count() > MAX_URL_CHARS {
            return Err(invalid(
                "url",
                format!("is longer than {MAX_URL_CHARS} characters"),
            ));
        }
        let url = reqwest::Url::parse(text.trim())
            .map_err(|e| invalid("url", format!("{must} ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("url", format!("{must}, not {}:", url.scheme())));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("url", must));
        }
        Ok(WebhookUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The events a subscription receives: a non-empty set of [`EVENTS`], or `["*"]` for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Events(Vec<String>);

impl Events {
    /// Duplicates are dropped (first order kept); `*` with others is just `*`.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Events, Invalid> {
        if names.is_empty() {
            return Err(invalid(
                "events",
                format!(
                    "must name at least one of {} (or \"*\" for all)",
                    EVENTS.join(", ")
                ),
            ));
        }
        let mut out: Vec<String> = Vec::new();
        for name in names {
            let name = name.as_ref();
            if name != ALL_EVENTS && !EVENTS.contains(&name) {
                return Err(invalid(
                    "events",
                    format!(
                        "unknown event {name:?}; expected one of {} or \"*\"",
                        EVENTS.join(", ")
                    ),
                ));
            }
            if !out.iter().any(|o| o == name) {
                out.push(name.to_owned());
            }
        }
        if out.iter().any(|o| o == ALL_EVENTS) {
            out = vec![ALL_EVENTS.to_owned()];
        }
        Ok(Events(out))
    }

    /// Whether a subscription to these events receives `event`.
    pub fn matches(names: &[String], event: &str) -> bool {
        names.iter().any(|n| n == ALL_EVENTS || n == event)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// The key of the signatures: given (at least 16 characters) or generated (`whsec_…`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn parse(text: &str) -> Result<Secret, Invalid> {
        let n = text.chars().count();
        if n < MIN_SECRET_CHARS {
            return Err(invalid(
                "secret",
                format!(
                    "must be at least {MIN_SECRET_CHARS} characters (omit it to have one generated)"
                ),
            ));
        }
        if n > MAX_SECRET_CHARS {
            return Err(invalid(
                "secret",
                format!("must be at most {MAX_SECRET_CHARS} characters"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(invalid("secret", "must not contain control characters"));
        }
        Ok(Secret(text.to_owned()))
    }

    pub fn generate() -> Secret {
        Secret(generate_secret())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// A free-text note (at most 1000 characters).
pub fn parse_description(text: &str) -> Result<String, Invalid> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    pub events: Events,
    pub secret: Secret,
    pub active: bool,
    pub description: String,
}

/// The fields of a subscription to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<WebhookUrl>,
    pub events: Option<Events>,
    pub secret: Option<Secret>,
    pub active: Option<bool>,
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http_with_a_host() {
        for (text, ok, why) in [
            ("https://example.com/hook", true, "https"),
            (
                "http://127.0.0.1:8080/x?y=1",
                true,
                "http with port and query",
            ),
            ("ftp://example.com/", false, "another scheme"),
            ("/relative/path", false, "relative"),
            ("example.com/hook", false, "no scheme"),
            ("https://", false, "no host"),
            ("mailto:a@example.com", false, "no host, other scheme"),
            ("", false, "empty"),
        ] {
            let r = WebhookUrl::parse(text);
            assert_eq!(r.is_ok(), ok, "{why}: {text:?} → {r:?}");
            if let Err(e) = r {
                assert_eq!(e.field, "url", "{why}");
            }
        }
    }

    #[test]
    fn events_are_known_names_or_star() {
        assert_eq!(
            Events::parse(&["import.failed", "import.completed", "import.failed"])
                .unwrap()
                .as_slice(),
            ["import.failed", "import.completed"],
            "duplicates dropped, order kept"
        );
        assert_eq!(
            Events::parse(&["import.held", "*"]).unwrap().as_slice(),
            ["*"]
        );
        let e = Events::parse::<&str>(&[]).unwrap_err();
        assert_eq!(e.field, "events");
        let e = Events::parse(&["import.done"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("events: unknown event \"import.done\""),
            "{e}"
        );
        assert!(Events::matches(&["*".into()], "export.completed"));
        assert!(Events::matches(&["import.held".into()], "import.held"));
        assert!(!Events::matches(&["import.held".into()], "import.failed"));
    }

    #[test]
    fn secrets_are_long_enough_and_never_printed() {
        assert_eq!(Secret::parse("short").unwrap_err().field, "secret");
        let s = Secret::parse("0123456789abcdef").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(…)");
        assert!(Secret::generate().expose().starts_with("whsec_"));
    }
}
