//! A local SMTP server for the tests: it speaks enough SMTP (EHLO, STARTTLS, AUTH PLAIN and
//! LOGIN, MAIL, RCPT, DATA with dot-stuffing undone, QUIT) to accept messages and records each
//! one with how it came. Independent of the crate's client: it parses what arrives.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufStream};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// `user:password` of the AUTH that came before it, if any.
    pub auth: Option<String>,
    /// Whether it came after STARTTLS.
    pub tls: bool,
    /// Whether MAIL FROM said `BODY=8BITMIME`.
    pub eight_bit: bool,
    /// The DATA section, dot-stuffing undone, without the ending `.` line.
    pub data: String,
}

impl Received {
    fn parts(&self) -> (&str, &str) {
        self.data.split_once("\r\n\r\n").expect("headers and body")
    }

    /// A header's value, folded lines joined (as they came: encoded words stay encoded).
    pub fn header(&self, name: &str) -> String {
        let headers = self.parts().0.replace("\r\n ", "\u{0}");
        headers
            .split("\r\n")
            .find_map(|l| {
                let (n, v) = l.split_once(": ")?;
                n.eq_ignore_ascii_case(name)
                    .then(|| v.replace('\u{0}', "\r\n "))
            })
            .unwrap_or_else(|| panic!("no {name} header in {}", self.data))
    }

    /// The subject as a mail reader shows it: RFC 2047 `B` words of UTF-8 decoded.
    pub fn subject(&self) -> String {
        let raw = self.header("Subject");
        if !raw.starts_with("=?") {
            return raw;
        }
        let mut bytes = Vec::new();
        for word in raw.split("\r\n ") {
            let inner = word
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap_or_else(|| panic!("not an encoded word: {word:?}"));
            bytes.extend(STANDARD.decode(inner).unwrap());
        }
        String::from_utf8(bytes).unwrap()
    }

    /// The body as text, its transfer encoding undone, with `\n` line ends.
    pub fn body(&self) -> String {
        let body = self.parts().1;
        let text = match self.header("Content-Transfer-Encoding").as_str() {
            "base64" => {
                let joined: String = body.split("\r\n").collect();
                String::from_utf8(STANDARD.decode(joined).unwrap()).unwrap()
            }
            "8bit" => body.to_owned(),
            other => panic!("unexpected transfer encoding {other}"),
        };
        text.replace("\r\n", "\n")
    }
}

/// What the server offers.
#[derive(Clone)]
pub struct Offer {
    /// STARTTLS with this certificate.
    pub tls: Option<Arc<ServerConfig>>,
    pub eight_bit_mime: bool,
}

/// The server: its port and what it received.
#[derive(Clone)]
pub struct SmtpReceiver {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl SmtpReceiver {
    pub async fn start(offer: Offer) -> SmtpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let r = SmtpReceiver {
            port,
            inbox: inbox.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (offer, inbox) = (offer.clone(), inbox.clone());
                tokio::spawn(async move {
                    let _ = connection(tcp, offer, inbox).await;
                });
            }
        });
        r
    }

    /// What arrived so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `n` messages arrived; all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{} of {n} messages arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    offer: Offer,
    inbox: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let mut plain = BufStream::new(tcp);
    plain.write_all(b"220 receiver.test ESMTP\r\n").await?;
    plain.flush().await?;
    let upgrade = session(&mut plain, &offer, false, &inbox).await?;
    let (true, Some(config)) = (upgrade, offer.tls.clone()) else {
        return Ok(());
    };
    let tls = TlsAcceptor::from(config).accept(plain.into_inner()).await?;
    let mut secure = BufStream::new(tls);
    session(&mut secure, &offer, true, &inbox).await?;
    Ok(())
}

async fn line<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufStream<S>) -> std::io::Result<String> {
    let mut l = String::new();
    if io.read_line(&mut l).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(l.trim_end_matches(['\r', '\n']).to_owned())
}

async fn say<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
    text: &str,
) -> std::io::Result<()> {
    io.write_all(text.as_bytes()).await?;
    io.write_all(b"\r\n").await?;
    io.flush().await
}

/// Serves commands until QUIT (`false`) or STARTTLS (`true`: upgrade, then start again).
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufStream<S>,
    offer: &Offer,
    secure: bool,
    inbox: &Mutex<Vec<Received>>,
) -> std::io::Result<bool> {
    let (mut from, mut to, mut auth, mut eight_bit) = (String::new(), Vec::new(), None, false);
    loop {
        let cmd = line(io).await?;
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO ") {
            let mut reply = vec!["250-receiver.test".to_owned()];
            if offer.eight_bit_mime {
                reply.push("250-8BITMIME".into());
            }
            if offer.tls.is_some() && !secure {
                reply.push("250-STARTTLS".into());
            }
            reply.push("250 AUTH PLAIN LOGIN".into());
            say(io, &reply.join("\r\n")).await?;
        } else if upper == "STARTTLS" && offer.tls.is_some() && !secure {
            say(io, "220 go ahead").await?;
            return Ok(true);
        } else if let Some(token) = cmd.strip_prefix("AUTH PLAIN ") {
            let plain = String::from_utf8(STANDARD.decode(token).unwrap()).unwrap();
            let mut parts = plain.split('\0').skip(1);
            auth = Some(format!(
                "{}:{}",
                parts.next().unwrap_or(""),
                parts.next().unwrap_or("")
            ));
            say(io, "235 ok").await?;
        } else if upper.starts_with("MAIL FROM:<") {
            let rest = &cmd["MAIL FROM:<".len()..];
            from = rest[..rest.find('>').unwrap()].to_owned();
            eight_bit = upper.contains("BODY=8BITMIME");
            say(io, "250 ok").await?;
        } else if upper.starts_with("RCPT TO:<") {
            to.push(cmd["RCPT TO:<".len()..cmd.len() - 1].to_owned());
            say(io, "250 ok").await?;
        } else if upper == "DATA" {
            say(io, "354 end with .").await?;
            let mut data = String::new();
            loop {
                let l = line(io).await?;
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            inbox.lock().unwrap().push(Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                auth: auth.clone(),
                tls: secure,
                eight_bit,
                data,
            });
            say(io, "250 queued").await?;
        } else if upper == "QUIT" {
            say(io, "221 bye").await?;
            return Ok(false);
        } else {
            say(io, "502 not here").await?;
        }
    }
}
