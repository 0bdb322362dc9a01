//! A small SMTP client (RFC 5321): one message per connection — greeting, EHLO, STARTTLS
//! (RFC 3207) when configured, AUTH PLAIN or LOGIN (RFC 4954), MAIL, RCPT, DATA, QUIT — the
//! whole session under one time limit. A 5xx reply is permanent (the message is given up);
//! anything else that goes wrong (4xx, a refused or dropped connection, a timeout) is worth a
//! retry.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufStream};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::message::dot_stuff;
use super::{SmtpConfig, Starttls};

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    /// The server refused for good (5xx), or our settings cannot work (no STARTTLS offered
    /// where it is required): a retry would fail the same way.
    #[error("{0}")]
    Permanent(String),
    #[error("{0}")]
    Transient(String),
}

type Result<T> = std::result::Result<T, SmtpError>;

fn io(e: std::io::Error) -> SmtpError {
    SmtpError::Transient(format!("connection error: {e}"))
}

/// A reply: its code and the text of each of its lines.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn check(self, expected: u16, step: &str) -> Result<Reply> {
        if self.code == expected {
            return Ok(self);
        }
        let message = format!(
            "{step}: the server answered {} {}",
            self.code,
            self.lines.join(" ")
        );
        if (500..600).contains(&self.code) {
            Err(SmtpError::Permanent(message))
        } else {
            Err(SmtpError::Transient(message))
        }
    }
}

/// A connection with its buffers; plain or TLS.
struct Session<S> {
    io: BufStream<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Reads one reply, its continuation lines (`250-…`) included.
    async fn reply(&mut self) -> Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.io.read_line(&mut line).await.map_err(io)?;
            if n == 0 {
                return Err(SmtpError::Transient(
                    "the server closed the connection".into(),
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| SmtpError::Transient(format!("not an SMTP reply: {line:?}")))?;
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, lines });
            }
        }
    }

    async fn command(&mut self, line: &str) -> Result<Reply> {
        self.io
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(io)?;
        self.io.flush().await.map_err(io)?;
        self.reply().await
    }

    /// EHLO; the extensions the server announced (upper-cased keywords and their arguments).
    async fn ehlo(&mut self, name: &str) -> Result<Vec<String>> {
        let reply = self
            .command(&format!("EHLO {name}"))
            .await?
            .check(250, "EHLO")?;
        // The first line is the greeting; each further line an extension and its arguments
        // (`AUTH PLAIN LOGIN`): their words are what is looked for.
        Ok(reply
            .lines
            .iter()
            .skip(1)
            .flat_map(|l| l.split(' '))
            .map(str::to_ascii_uppercase)
            .collect())
    }

    async fn auth(&mut self, config: &SmtpConfig, extensions: &[String]) -> Result<()> {
        let (Some(user), Some(password)) = (&config.username, &config.password) else {
            return Ok(());
        };
        let password = password.expose();
        if extensions.iter().any(|e| e == "PLAIN") || !extensions.iter().any(|e| e == "LOGIN") {
            let token = STANDARD.encode(format!("\0{user}\0{password}"));
            self.command(&format!("AUTH PLAIN {token}"))
                .await?
                .check(235, "AUTH PLAIN")?;
        } else {
            self.command("AUTH LOGIN").await?.check(334, "AUTH LOGIN")?;
            self.command(&STANDARD.encode(user))
                .await?
                .check(334, "AUTH LOGIN (username)")?;
            self.command(&STANDARD.encode(password))
                .await?
                .check(235, "AUTH LOGIN")?;
        }
        Ok(())
    }

    /// MAIL, RCPT, DATA and QUIT.
    async fn transfer(
        &mut self,
        from: &str,
        to: &str,
        message: &[u8],
        eight_bit: bool,
    ) -> Result<()> {
        let body = if eight_bit { " BODY=8BITMIME" } else { "" };
        self.command(&format!("MAIL FROM:<{from}>{body}"))
            .await?
            .check(250, "MAIL FROM")?;
        let rcpt = self.command(&format!("RCPT TO:<{to}>")).await?;
        if rcpt.code != 250 && rcpt.code != 251 {
            rcpt.check(250, "RCPT TO")?;
        }
        self.command("DATA").await?.check(354, "DATA")?;
        self.io.write_all(&dot_stuff(message)).await.map_err(io)?;
        self.io.flush().await.map_err(io)?;
        self.reply().await?.check(250, "the end of DATA")?;
        // The message is accepted; a failed QUIT changes nothing.
        let _ = self.command("QUIT").await;
        Ok(())
    }
}

/// What the message needs from the session: the server's 8BITMIME decides how the body goes.
pub type Render<'a> = &'a (dyn Fn(bool) -> Vec<u8> + Send + Sync);

/// Sends one message from `from` to `to`; `render(eight_bit_mime)` writes it once the server's
/// extensions are known.
pub async fn send(config: &SmtpConfig, from: &str, to: &str, render: Render<'_>) -> Result<()> {
    let limit = config.timeout;
    match tokio::time::timeout(limit, session(config, from, to, render)).await {
        Ok(r) => r,
        Err(_) => Err(SmtpError::Transient(format!(
            "no answer from {}:{} within {} s",
            config.host,
            config.port,
            limit.as_secs()
        ))),
    }
}

async fn session(config: &SmtpConfig, from: &str, to: &str, render: Render<'_>) -> Result<()> {
    let tcp = TcpStream::connect((config.host.as_str(), config.port))
        .await
        .map_err(|e| {
            SmtpError::Transient(format!(
                "cannot connect to {}:{}: {e}",
                config.host, config.port
            ))
        })?;
    let mut plain = Session {
        io: BufStream::new(tcp),
    };
    plain.reply().await?.check(220, "the greeting")?;
    let extensions = plain.ehlo(&config.hello_name).await?;
    let offered = extensions.iter().any(|e| e == "STARTTLS");
    let use_tls = match config.starttls {
        Starttls::None => false,
        Starttls::Opportunistic => offered,
        Starttls::Required if offered => true,
        Starttls::Required => {
            return Err(SmtpError::Permanent(format!(
                "{} does not offer STARTTLS, which smtp_starttls = required asks for",
                config.host
            )));
        }
    };
    if !use_tls {
        if config.username.is_some() && config.starttls != Starttls::None {
            // Opportunistic without TLS: a password never goes out in the clear unless the
            // operator chose `none` knowingly.
            return Err(SmtpError::Permanent(format!(
                "{} offers no STARTTLS: the password is not sent over a plain connection \
                 (set smtp_starttls = required, or none to allow it)",
                config.host
            )));
        }
        plain.auth(config, &extensions).await?;
        let eight_bit = extensions.iter().any(|e| e == "8BITMIME");
        return plain
            .transfer(from, to, &render(eight_bit), eight_bit)
            .await;
    }
    plain.command("STARTTLS").await?.check(220, "STARTTLS")?;
    let tcp = plain.io.into_inner();
    let name = ServerName::try_from(config.host.clone())
        .map_err(|_| SmtpError::Permanent(format!("{:?} is not a host name", config.host)))?;
    let tls = TlsConnector::from(config.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| SmtpError::Transient(format!("TLS handshake failed: {e}")))?;
    let mut secure = Session {
        io: BufStream::new(tls),
    };
    let extensions = secure.ehlo(&config.hello_name).await?;
    secure.auth(config, &extensions).await?;
    let eight_bit = extensions.iter().any(|e| e == "8BITMIME");
    secure
        .transfer(from, to, &render(eight_bit), eight_bit)
        .await
}

/// The TLS client settings: the system's trusted roots, or only those of `ca_file` (a private
/// mail server's CA, PEM).
pub fn tls_config(ca_file: Option<&std::path::Path>) -> anyhow::Result<Arc<ClientConfig>> {
    use anyhow::Context as _;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read the CA file {}", path.display()))?
            {
                let cert =
                    cert.with_context(|| format!("{} is not a PEM certificate", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("{} holds an unusable certificate", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A certificate the store cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    Ok(Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// A connection time limit long enough for a slow server, short enough not to hold a sender.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
