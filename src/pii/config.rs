//! Where the keys come from: the environment (`ROSTERHUB_PII_KEY`, `ROSTERHUB_PII_KEY_FILE`,
//! `ROSTERHUB_PII_KEY_PREVIOUS`, `ROSTERHUB_PII_PREVIOUS_KEY_FILE`, `ROSTERHUB_PII_COLUMNS`) or
//! the matching command-line flags. Encryption is on when a current key is configured.

use std::path::PathBuf;

use super::{Columns, Key, PiiError};

/// The columns encrypted by default.
pub const DEFAULT_COLUMNS: &str =
    "users.email,users.phone,users.sms,users.password,demographics.birthDate";

/// Keys and columns as configured, before they are read. `Debug` shows whether a key is set,
/// never the key.
#[derive(Clone, Default)]
pub struct PiiSettings {
    /// The current key itself (base64; `ROSTERHUB_PII_KEY`).
    pub key: Option<String>,
    /// A file holding the current key (base64 text).
    pub key_file: Option<PathBuf>,
    /// The previous key of a rotation (decrypt only; `ROSTERHUB_PII_KEY_PREVIOUS`).
    pub previous_key: Option<String>,
    pub previous_key_file: Option<PathBuf>,
    /// `entity.column` list; `None`: [`DEFAULT_COLUMNS`].
    pub columns: Option<String>,
}

impl std::fmt::Debug for PiiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |k: &Option<String>| if k.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("PiiSettings")
            .field("key", &set(&self.key))
            .field("key_file", &self.key_file)
            .field("previous_key", &set(&self.previous_key))
            .field("previous_key_file", &self.previous_key_file)
            .field("columns", &self.columns)
            .finish()
    }
}

impl PiiSettings {
    /// The settings in the environment.
    pub fn from_env() -> PiiSettings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        PiiSettings {
            key: var("ROSTERHUB_PII_KEY"),
            key_file: var("ROSTERHUB_PII_KEY_FILE").map(PathBuf::from),
            previous_key: var("ROSTERHUB_PII_KEY_PREVIOUS"),
            previous_key_file: var("ROSTERHUB_PII_PREVIOUS_KEY_FILE").map(PathBuf::from),
            columns: var("ROSTERHUB_PII_COLUMNS"),
        }
    }

    /// Reads the keys: `None` when no current key is configured (encryption off).
    pub fn load(&self) -> Result<Option<PiiConfig>, PiiError> {
        let current = read_key(
            self.key.as_deref(),
            self.key_file.as_ref(),
            "ROSTERHUB_PII_KEY",
            "ROSTERHUB_PII_KEY_FILE (--pii-key-file)",
        )?;
        let previous = read_key(
            self.previous_key.as_deref(),
            self.previous_key_file.as_ref(),
            "ROSTERHUB_PII_KEY_PREVIOUS",
            "ROSTERHUB_PII_PREVIOUS_KEY_FILE (--pii-previous-key-file)",
        )?;
        let Some(current) = current else {
            if previous.is_some() {
                return Err(PiiError::Config(
                    "a previous PII key is set but no current key: set ROSTERHUB_PII_KEY or \
                     ROSTERHUB_PII_KEY_FILE too"
                        .into(),
                ));
            }
            return Ok(None);
        };
        if previous.as_ref().is_some_and(|p| p.id() == current.id()) {
            return Err(PiiError::Config(
                "the previous PII key is the current key: set the new key as current".into(),
            ));
        }
        let columns = Columns::parse(self.columns.as_deref().unwrap_or(DEFAULT_COLUMNS))?;
        Ok(Some(PiiConfig {
            current,
            previous,
            columns,
        }))
    }
}

fn read_key(
    inline: Option<&str>,
    file: Option<&PathBuf>,
    inline_name: &str,
    file_name: &str,
) -> Result<Option<Key>, PiiError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(PiiError::Config(format!(
            "both {inline_name} and {file_name} are set: set one"
        ))),
        (Some(text), None) => Key::from_base64(text)
            .map(Some)
            .map_err(|e| PiiError::Config(format!("{inline_name}: {e}"))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                PiiError::Config(format!(
                    "cannot read the PII key file {}: {e}",
                    path.display()
                ))
            })?;
            Key::from_base64(&text)
                .map(Some)
                .map_err(|e| PiiError::Config(format!("{}: {e}", path.display())))
        }
        (None, None) => Ok(None),
    }
}

/// Encryption settings with their keys read: what a store is opened with.
#[derive(Debug, Clone)]
pub struct PiiConfig {
    pub current: Key,
    pub previous: Option<Key>,
    pub columns: Columns,
}

impl PiiConfig {
    /// The default columns under `current`.
    pub fn new(current: Key) -> PiiConfig {
        PiiConfig {
            current,
            previous: None,
            columns: Columns::parse(DEFAULT_COLUMNS).expect("the default columns are valid"),
        }
    }

    pub fn with_previous(mut self, previous: Key) -> PiiConfig {
        self.previous = Some(previous);
        self
    }

    pub fn with_columns(mut self, columns: Columns) -> PiiConfig {
        self.columns = columns;
        self
    }
}
