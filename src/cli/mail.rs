//! `serve`'s e-mail settings (docs/notifications.md): the SMTP server, STARTTLS, the account,
//! the sender, the default language and the hour of the daily summary. No e-mail is sent
//! without `--smtp-host`. The password comes from `ROSTERHUB_SMTP_PASSWORD` or a file
//! (`--smtp-password-file`), never from a flag, which `ps` would show.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::mail::{Lang, MailConfig, Mailbox, SmtpConfig, SmtpPassword, Starttls, smtp};

/// The environment variable the SMTP password may come from.
pub const PASSWORD_ENV: &str = "ROSTERHUB_SMTP_PASSWORD";

#[derive(Debug, Clone, clap::Args)]
pub struct MailArgs {
    /// The SMTP server for e-mail notices (none: no e-mail is sent).
    #[arg(long, env = "ROSTERHUB_SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "ROSTERHUB_SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    /// required (nothing is sent unless the server offers STARTTLS), opportunistic (used when
    /// offered; a password is still never sent without it) or none.
    #[arg(long, env = "ROSTERHUB_SMTP_STARTTLS", default_value = "required",
          value_parser = Starttls::parse)]
    pub smtp_starttls: Starttls,
    /// The SMTP account (AUTH PLAIN or LOGIN); its password from ROSTERHUB_SMTP_PASSWORD or
    /// --smtp-password-file.
    #[arg(long, env = "ROSTERHUB_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// A file whose first line is the SMTP password.
    #[arg(long, env = "ROSTERHUB_SMTP_PASSWORD_FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// PEM certificates to trust for STARTTLS instead of the system's (a private mail server).
    #[arg(long, env = "ROSTERHUB_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// The sender: `roster@example.jp` or `RosterHub <roster@example.jp>`.
    #[arg(long, env = "ROSTERHUB_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// The language of notices to users who chose none: ja or en.
    #[arg(long, env = "ROSTERHUB_MAIL_LANGUAGE", default_value = "ja")]
    pub mail_language: String,
    /// The hour (0–23, in --time-zone) after which each tenant's summary of the day before is
    /// sent.
    #[arg(long, env = "ROSTERHUB_MAIL_SUMMARY_HOUR", default_value_t = 7,
          value_parser = clap::value_parser!(u8).range(0..=23))]
    pub mail_summary_hour: u8,
}

/// The SMTP password: the variable, else the file's first line; neither when no account.
fn password(a: &MailArgs) -> anyhow::Result<Option<SmtpPassword>> {
    let from_env = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    let from_file = match &a.smtp_password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the SMTP password file {}", path.display())
            })?;
            Some(text.lines().next().unwrap_or("").to_owned())
        }
        None => None,
    };
    let given = match (from_env, from_file) {
        (Some(_), Some(_)) => {
            bail!("the SMTP password is given twice: keep {PASSWORD_ENV} or --smtp-password-file")
        }
        (Some(p), None) | (None, Some(p)) => Some(p),
        (None, None) => None,
    };
    match (&a.smtp_username, given) {
        (Some(_), Some(p)) if !p.is_empty() => Ok(Some(SmtpPassword::new(p))),
        (Some(_), _) => {
            bail!("--smtp-username needs a password: set {PASSWORD_ENV} or --smtp-password-file")
        }
        (None, Some(_)) => bail!("an SMTP password is set but no --smtp-username to use it with"),
        (None, None) => Ok(None),
    }
}

/// The e-mail settings, or `None` when no SMTP server is configured.
pub fn config(
    a: &MailArgs,
    zone_offset_secs: i32,
    public_url: Option<&str>,
) -> anyhow::Result<Option<Arc<MailConfig>>> {
    let Some(host) = a.smtp_host.clone().filter(|h| !h.trim().is_empty()) else {
        if a.smtp_from.is_some() || a.smtp_username.is_some() {
            bail!("--smtp-from and --smtp-username need --smtp-host (the SMTP server)");
        }
        return Ok(None);
    };
    let from = a
        .smtp_from
        .as_deref()
        .context("--smtp-host needs --smtp-from, the sender of the notices (roster@example.jp)")?;
    let from = Mailbox::parse(from).map_err(|e| anyhow::anyhow!("--smtp-from: {e}"))?;
    let default_language = Lang::parse(&a.mail_language)
        .with_context(|| format!("--mail-language {:?}: use ja or en", a.mail_language))?;
    let hello_name = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        .unwrap_or_else(|| "localhost".into());
    let smtp = SmtpConfig {
        host: host.trim().to_owned(),
        port: a.smtp_port,
        starttls: a.smtp_starttls,
        username: a.smtp_username.clone(),
        password: password(a)?,
        tls: smtp::tls_config(a.smtp_ca_file.as_deref())?,
        hello_name,
        timeout: smtp::DEFAULT_TIMEOUT,
    };
    let mut config = MailConfig::new(smtp, from);
    config.default_language = default_language;
    config.summary_hour = a.mail_summary_hour;
    config.utc_offset_secs = zone_offset_secs;
    config.public_url = public_url.map(str::to_owned);
    if config.smtp.username.is_some() && config.smtp.starttls == Starttls::None {
        tracing::warn!(
            "smtp_starttls = none: the SMTP password travels unencrypted to {}",
            config.smtp.host
        );
    }
    Ok(Some(Arc::new(config)))
}
