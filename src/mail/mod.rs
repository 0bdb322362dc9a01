//! E-mail notices to a tenant's admins (docs/notifications.md): an import held or failed, a
//! drop-folder file refused, and a daily summary; in Japanese or English per user. Nothing is
//! sent unless SMTP is configured (`serve --smtp-host …`).
//!
//! - [`message`]: the message as bytes (RFC 2047 subjects, 8bit or base64 bodies,
//!   dot-stuffing). Pure.
//! - [`smtp`]: a small SMTP client (STARTTLS through rustls, AUTH PLAIN/LOGIN).
//! - [`texts`]: what each notice says, in both languages. Pure.
//! - [`outbox`]: an event → one outbox row per recipient, written in the transaction of what
//!   caused it (a job's end, like webhooks' deliveries), so a replica that dies neither loses
//!   nor doubles a notice.
//! - [`send`]: the sender that claims due rows under a lease and retries with backoff.
//! - [`summary`]: the daily summary, claimed per tenant and day in the database so one replica
//!   sends it.
//!
//! The tables and their statements are `storage::ops::mails`.

pub mod message;
pub mod outbox;
pub mod send;
pub mod smtp;
pub mod summary;
pub mod texts;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use message::{Address, Mailbox};
pub use send::spawn_sender;
pub use smtp::SmtpError;

/// How STARTTLS is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starttls {
    /// The server must offer it; otherwise nothing is sent (the default).
    Required,
    /// Used when offered; a password is still never sent without it.
    Opportunistic,
    /// Never: a plain connection (a relay on the same host).
    None,
}

impl Starttls {
    pub fn parse(s: &str) -> Result<Starttls, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "required" => Ok(Starttls::Required),
            "opportunistic" => Ok(Starttls::Opportunistic),
            "none" => Ok(Starttls::None),
            _ => Err(format!(
                "{s:?}: use required, opportunistic or none / required, opportunistic, none \
                 のいずれかを指定してください"
            )),
        }
    }
}

/// The SMTP password: never printed (`Debug` shows `***`).
#[derive(Clone)]
pub struct SmtpPassword(String);

impl SmtpPassword {
    pub fn new(s: String) -> SmtpPassword {
        SmtpPassword(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where and how messages are sent.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub starttls: Starttls,
    pub username: Option<String>,
    pub password: Option<SmtpPassword>,
    /// The trusted roots for STARTTLS (`smtp::tls_config`).
    pub tls: Arc<tokio_rustls::rustls::ClientConfig>,
    /// The name this host gives in EHLO.
    pub hello_name: String,
    /// The whole session's time limit.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("starttls", &self.starttls)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A notice's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
}

/// The e-mail settings of `serve` (present only when SMTP is configured).
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub smtp: SmtpConfig,
    pub from: Mailbox,
    /// The language of users who chose none.
    pub default_language: Lang,
    /// The hour (0–23, in the UI's time zone) after which each tenant's daily summary goes out.
    pub summary_hour: u8,
    /// The UI's time zone as an offset from UTC (a zone without daylight saving time).
    pub utc_offset_secs: i32,
    /// `--public-url`: the base of the links in notices when the job has none of its own.
    pub public_url: Option<String>,
    /// Attempts per message before it is given up.
    pub attempts: u32,
    /// The wait before the first retry; each further retry waits twice as long.
    pub first_retry: Duration,
    /// How often the sender looks for due messages.
    pub poll: Duration,
}

impl MailConfig {
    /// Settings with the defaults for everything but the server and the sender.
    pub fn new(smtp: SmtpConfig, from: Mailbox) -> MailConfig {
        MailConfig {
            smtp,
            from,
            default_language: Lang::Ja,
            summary_hour: 7,
            utc_offset_secs: 9 * 3600,
            public_url: None,
            attempts: 8,
            first_retry: Duration::from_secs(30),
            poll: Duration::from_secs(2),
        }
    }
}
