//! Receiving an upload: the body (raw ZIP or the multipart field `bundle`) is spooled to a local
//! temporary file under the size limit, checked to be a readable bundle, and only then stored.
//! Memory holds one 1 MiB buffer whatever the upload's size.

use std::io::Write;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use futures_util::StreamExt;

use super::error::AdminError;
use crate::csv::bundle::{Bundle, BundleError};
use crate::http::AppState;

/// An upload spooled to disk, and what the request said about it.
pub struct Spooled {
    pub file: tempfile::NamedTempFile,
    pub size: u64,
    /// SHA-256 of the bytes, in hex.
    pub sha256: String,
    pub file_name: Option<String>,
    /// The short text fields of a multipart form sent before `bundle` (the web UI's form
    /// without script sends its encoding and dry-run choice so).
    pub fields: Vec<(String, String)>,
}

/// The longest text field kept from a multipart form.
const TEXT_FIELD_LIMIT: usize = 1024;

fn too_large(limit: u64) -> AdminError {
    AdminError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the upload is larger than the limit of {limit} bytes (set by --upload-limit-mb on the server)"
        ),
    )
}

/// Appends to the spool file, in 1 MiB writes on a blocking thread.
struct Spool {
    file: Option<tempfile::NamedTempFile>,
    buf: Vec<u8>,
    size: u64,
    limit: u64,
    hasher: sha2::Sha256,
}

impl Spool {
    fn new(state: &AppState, limit: u64) -> Result<Spool, AdminError> {
        let scratch = state.jobs.config.scratch.as_deref();
        let file = crate::jobs::scratch::temp_file(scratch, "rosterhub-upload-", ".zip")
            .map_err(|e| AdminError::internal(format!("cannot create a temporary file: {e}")))?;
        Ok(Spool {
            file: Some(file),
            buf: Vec::with_capacity(1 << 20),
            size: 0,
            limit,
            hasher: sha2::Sha256::default(),
        })
    }

    async fn push(&mut self, chunk: Bytes) -> Result<(), AdminError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(too_large(self.limit));
        }
        sha2::Digest::update(&mut self.hasher, &chunk);
        self.buf.extend_from_slice(&chunk);
        if self.buf.len() >= 1 << 20 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), AdminError> {
        let mut file = self.file.take().expect("spool file");
        let buf = std::mem::take(&mut self.buf);
        let (file, buf) = tokio::task::spawn_blocking(move || {
            let r = file.write_all(&buf);
            (r.map(|_| file), buf)
        })
        .await
        .map_err(|e| AdminError::internal(e.to_string()))?;
        let file =
            file.map_err(|e| AdminError::internal(format!("cannot spool the upload: {e}")))?;
        self.file = Some(file);
        self.buf = buf;
        self.buf.clear();
        Ok(())
    }

    async fn finish(mut self, file_name: Option<String>) -> Result<Spooled, AdminError> {
        self.flush().await?;
        Ok(Spooled {
            file: self.file.take().expect("spool file"),
            size: self.size,
            sha256: hex::encode(sha2::Digest::finalize(self.hasher)),
            file_name,
            fields: Vec::new(),
        })
    }
}

fn body_error(e: impl std::fmt::Display) -> AdminError {
    AdminError::bad_request(
        "upload_interrupted",
        format!("the upload could not be read: {e}"),
    )
}

/// The fields of a multipart upload: the file's, and one text field that may be long (sent as
/// text or as a file), such as a mapping profile beside a sample list.
pub struct Form {
    pub file: &'static str,
    pub long_text: Option<&'static str>,
    /// A raw `text/csv` body is taken too: a school's list for a mapping.
    pub csv: bool,
}

/// A bundle upload's form: the file in `bundle`.
pub const BUNDLE: Form = Form {
    file: "bundle",
    long_text: None,
    csv: false,
};

/// Spools the request body: `application/zip` (or `application/octet-stream`,
/// `application/x-zip-compressed`) as is, `multipart/form-data` from its `bundle` field.
pub async fn spool(req: Request, state: &AppState, limit: u64) -> Result<Spooled, AdminError> {
    spool_form(req, state, limit, &BUNDLE).await
}

/// Reads one text field, up to `max` bytes.
async fn text_field(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
    max: usize,
) -> Result<String, AdminError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(body_error)? {
        text.extend_from_slice(&chunk);
        if text.len() > max {
            return Err(AdminError::bad_request(
                "invalid_field",
                format!("the form field {name:?} is longer than {max} bytes"),
            ));
        }
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// [`spool`] with the fields of `form`: the file field spooled, short text fields (and the
/// long one) kept in [`Spooled::fields`], in any order; a `text/csv` body if `form` takes one.
pub async fn spool_form(
    req: Request,
    state: &AppState,
    limit: u64,
    form: &Form,
) -> Result<Spooled, AdminError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let spool = Spool::new(state, limit)?;
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| AdminError::bad_request("bad_multipart", e.body_text()))?;
        let mut fields = Vec::new();
        let mut spool = Some(spool);
        let mut spooled = None;
        while let Some(mut field) = multipart.next_field().await.map_err(body_error)? {
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            if name == form.file
                && let Some(mut file) = spool.take()
            {
                let file_name = field.file_name().map(str::to_owned);
                while let Some(chunk) = field.chunk().await.map_err(body_error)? {
                    file.push(chunk).await?;
                }
                spooled = Some(file.finish(file_name).await?);
            } else if Some(name.as_str()) == form.long_text {
                let text =
                    text_field(&mut field, &name, crate::http::hardening::MAX_BODY_BYTES).await?;
                fields.push((name, text));
            } else if field.file_name().is_none() && fields.len() < 16 {
                let text = text_field(&mut field, &name, TEXT_FIELD_LIMIT).await?;
                fields.push((name, text));
            }
        }
        let Some(mut spooled) = spooled else {
            return Err(AdminError::bad_request(
                "missing_bundle",
                format!("the multipart form has no field named `{}`", form.file),
            ));
        };
        spooled.fields = fields;
        return Ok(spooled);
    }
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let zip = matches!(
        mime,
        "application/zip" | "application/x-zip-compressed" | "application/octet-stream"
    );
    if !(zip || form.csv && mime == "text/csv") {
        return Err(AdminError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send {} as an application/zip{} body or as the field `{}` of a \
                 multipart/form-data form (Content-Type was {:?})",
                if form.csv { "the lists" } else { "the bundle" },
                if form.csv { " or text/csv" } else { "" },
                form.file,
                mime
            ),
        ));
    }
    let mut spool = spool;
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        spool.push(chunk.map_err(body_error)?).await?;
    }
    spool.finish(None).await
}

/// Refuses what the import could never read: not a ZIP, a damaged ZIP, no manifest.
pub async fn check_bundle(spooled: &Spooled) -> Result<(), AdminError> {
    if spooled.size == 0 {
        return Err(AdminError::bad_request(
            "empty_upload",
            "the upload is empty: send the bundle's ZIP as the request body",
        ));
    }
    let path = spooled.file.path().to_owned();
    tokio::task::spawn_blocking(move || {
        match Bundle::open(&path) {
            Ok(_) => Ok(()),
            Err(BundleError::NotZip { .. }) => Err(AdminError::bad_request(
                "not_a_zip",
                "the upload is not a ZIP archive: a OneRoster bundle is a ZIP of CSV files with manifest.csv",
            )),
            Err(BundleError::NoManifest) => Err(AdminError::bad_request(
                "no_manifest",
                "the ZIP has no manifest.csv (at its root or in one folder): it is not a OneRoster 1.2 bundle",
            )),
            Err(BundleError::BadZip { reason, .. }) => Err(AdminError::bad_request(
                "corrupt_zip",
                format!("the ZIP archive is damaged and cannot be read: {reason}"),
            )),
            Err(e @ BundleError::DuplicateEntries { .. }) => {
                Err(AdminError::bad_request("duplicate_entries", e.to_string()))
            }
            Err(e) => Err(AdminError::bad_request("corrupt_zip", e.to_string())),
        }
    })
    .await
    .map_err(|e| AdminError::internal(e.to_string()))?
}
