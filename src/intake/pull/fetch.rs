//! One download of a pull: a GET with the previous body's validators, streamed into a
//! temporary file of the scratch directory under the upload limit, hashed as it is written.
//! Errors are sentences for the run's record and the `intake.refused` notice; they never hold
//! a credential (the token and password go in headers, which no message shows).

use std::io::Write as _;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use sha2::{Digest, Sha256};

use super::file::{Auth, Pull, is_loopback, read_secret};
use crate::jobs::scratch::{Scratch, temp_file};
use crate::storage::ops::pulls::PulledBody;

/// What a download brought.
pub enum Fetched {
    /// HTTP 304: the body of the last run is still current.
    NotModified,
    /// A body, complete, in `file`.
    Body {
        file: tempfile::NamedTempFile,
        body: PulledBody,
    },
}

/// Downloads `pull` (at most `limit` bytes).
pub async fn fetch(
    pull: &Pull,
    previous: Option<&PulledBody>,
    limit: u64,
    scratch: Option<&Scratch>,
) -> Result<Fetched, String> {
    let client = client(pull)?;
    let mut req = client.get(pull.url.clone());
    if let Some(p) = previous {
        if let Some(etag) = &p.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &p.last_modified {
            req = req.header(IF_MODIFIED_SINCE, modified);
        }
    }
    req = match &pull.auth {
        Auth::None => req,
        Auth::Bearer { token_file } => req.bearer_auth(read_secret(token_file)?),
        Auth::Basic {
            user,
            password_file,
        } => req.basic_auth(user, Some(read_secret(password_file)?)),
    };
    let host = pull.url.host_str().unwrap_or("").to_owned();
    let mut resp = req
        .send()
        .await
        .map_err(|e| describe(&e, &host, pull.timeout))?;
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED && previous.is_some() {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(format!(
            "{host} answered HTTP {status} to the pull's GET; nothing was imported"
        ));
    }
    let too_large = || {
        format!(
            "the body from {host} is larger than the upload limit of {} MiB \
             (--upload-limit-mb); nothing was imported",
            limit >> 20
        )
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
    let mut file = temp_file(scratch, "rosterhub-pull-", ".download")
        .map_err(|e| format!("cannot write a temporary file: {e}"))?;
    let mut hash = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| describe(&e, &host, pull.timeout))?
    {
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large());
        }
        hash.update(&chunk);
        file.write_all(&chunk)
            .map_err(|e| format!("cannot write a temporary file: {e}"))?;
    }
    file.flush()
        .map_err(|e| format!("cannot write a temporary file: {e}"))?;
    Ok(Fetched::Body {
        file,
        body: PulledBody {
            etag,
            last_modified,
            sha256: hex::encode(hash.finalize()),
        },
    })
}

fn client(pull: &Pull) -> Result<reqwest::Client, String> {
    // Redirects stay on HTTPS (or on this machine); reqwest drops the credentials when one
    // leads to another host.
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 5 {
            attempt.error("more than 5 redirects")
        } else if attempt.url().scheme() == "https" || is_loopback(attempt.url()) {
            attempt.follow()
        } else {
            attempt.error("a redirect away from https")
        }
    });
    let mut builder = reqwest::Client::builder()
        .timeout(pull.timeout)
        .connect_timeout(pull.timeout.min(Duration::from_secs(30)))
        .redirect(redirects)
        .user_agent(format!("RosterHub-Pull/{}", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &pull.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// A failed request in words, without its URL's query.
fn describe(e: &reqwest::Error, host: &str, timeout: Duration) -> String {
    let what = if e.is_timeout() {
        format!("no complete answer within {} s", timeout.as_secs())
    } else if e.is_connect() {
        "cannot connect (address, port or TLS certificate)".to_owned()
    } else if e.is_redirect() {
        "refused redirect (more than 5, or away from https)".to_owned()
    } else {
        "the transfer failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    let mut cause = String::new();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        format!("{host}: {what}; nothing was imported")
    } else {
        format!("{host}: {what} ({cause}); nothing was imported")
    }
}
