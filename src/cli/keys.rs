//! `rosterhub keys …` (PII encryption keys) and the PII flags of `serve`, `import`, `export`.

use std::path::PathBuf;

use clap::Subcommand;

use super::DbArgs;
use super::db::{Missing, database_url, opened, runtime};
use crate::pii::{DEFAULT_COLUMNS, Key, PiiSettings};
use crate::storage::Store;

/// PII encryption at rest. The keys themselves are never flags (a command line is visible to
/// every user of the machine): `ROSTERHUB_PII_KEY` / `ROSTERHUB_PII_KEY_PREVIOUS` (base64 of 32
/// bytes) or the key files below.
#[derive(Debug, Clone, clap::Args)]
pub struct PiiArgs {
    /// A file holding the PII encryption key (base64 of 32 bytes, e.g. from `rosterhub keys
    /// generate`); or the key itself in ROSTERHUB_PII_KEY. With a key, the --pii-columns are
    /// encrypted at rest (AES-256-GCM); a database holding encrypted PII needs its key.
    #[arg(long, env = "ROSTERHUB_PII_KEY_FILE")]
    pub pii_key_file: Option<PathBuf>,
    /// During a key rotation: a file holding the previous key (decrypt only); or
    /// ROSTERHUB_PII_KEY_PREVIOUS.
    #[arg(long, env = "ROSTERHUB_PII_PREVIOUS_KEY_FILE")]
    pub pii_previous_key_file: Option<PathBuf>,
    /// The columns encrypted at rest (entity.csvColumn, comma-separated): text, date and
    /// userIds columns of users and demographics.
    #[arg(long, env = "ROSTERHUB_PII_COLUMNS", default_value = DEFAULT_COLUMNS)]
    pub pii_columns: String,
}

impl PiiArgs {
    /// The flags, with the keys from the environment.
    pub fn settings(&self) -> PiiSettings {
        let env = PiiSettings::from_env();
        PiiSettings {
            key: env.key,
            key_file: self.pii_key_file.clone(),
            previous_key: env.previous_key,
            previous_key_file: self.pii_previous_key_file.clone(),
            columns: Some(self.pii_columns.clone()),
        }
    }
}

/// Opens the database at `url` (from [`database_url`]) with the PII keys of `pii`.
pub(super) async fn open(url: &str, pii: &PiiArgs) -> anyhow::Result<Store> {
    let config = pii.settings().load()?;
    opened(url, Store::open_with_pii(url, config).await)
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new random PII key (base64 of 32 bytes) on stdout; its id goes to stderr.
    Generate,
    /// Show the keys the database's PII is encrypted under and how many values each encrypts,
    /// as JSON. Needs no key; with keys, also counts plaintext values of the configured columns.
    Status {
        #[command(flatten)]
        pii: PiiArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Re-encrypt every PII value of every tenant under the current key (ROSTERHUB_PII_KEY),
    /// reading the old one from ROSTERHUB_PII_KEY_PREVIOUS; also encrypts plaintext left in
    /// configured columns. One transaction per batch; safe to interrupt and rerun. When no
    /// value uses the old key any more it is retired and no longer needed. Prints JSON.
    Rotate {
        /// Rows per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[command(flatten)]
        pii: PiiArgs,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn run(command: KeysCommand) -> anyhow::Result<i32> {
    match command {
        KeysCommand::Generate => {
            let key = Key::generate();
            println!("{}", key.to_base64());
            eprintln!("key id {}", key.id());
            Ok(0)
        }
        KeysCommand::Status { pii, db } => runtime()?.block_on(async {
            let config = pii.settings().load()?;
            let url = database_url(&db, Missing::Refuse)?;
            let store = match &config {
                Some(_) => Store::open_with_pii(&url, config.clone()).await,
                None => Store::open_unchecked(&url).await,
            };
            let store = opened(&url, store)?;
            let status = store.pii_status().await?;
            let time = |ms: Option<i64>| ms.map(crate::domain::datetime::format_ms);
            let keys: Vec<serde_json::Value> = status
                .keys
                .iter()
                .map(|k| {
                    serde_json::json!({
                        "id": k.id,
                        "created_at": time(k.created_at),
                        "retired_at": time(k.retired_at),
                        "values": k.values,
                    })
                })
                .collect();
            let out = match &config {
                Some(c) => serde_json::json!({
                    "encryption": "on",
                    "current_key": c.current.id(),
                    "previous_key": c.previous.as_ref().map(|k| k.id()),
                    "columns": c.columns.names(),
                    "keys": keys,
                    "plaintext_values": status.plaintext_values,
                }),
                None => {
                    let encrypted: u64 = status.keys.iter().map(|k| k.values).sum();
                    eprintln!("{}", off_message(encrypted));
                    serde_json::json!({"encryption": "off", "keys": keys})
                }
            };
            println!("{out}");
            Ok(0)
        }),
        KeysCommand::Rotate { batch, pii, db } => runtime()?.block_on(async {
            let store = open(&database_url(&db, Missing::Refuse)?, &pii).await?;
            let report = store.rotate_pii(batch).await?;
            let action = super::audit::Action {
                tenants: super::audit::all_tenants(&store).await,
                action: "pii_keys.rotate",
                command: "rosterhub keys rotate",
                target: Some(report.current_key.clone()),
                status: 200,
            };
            super::audit::record(&store, action).await;
            println!("{}", serde_json::to_string(&report)?);
            if report.remaining > 0 {
                eprintln!(
                    "{} values still use another key (written by a process still configured \
                     with it): restart every process with the new key and run rotate again",
                    report.remaining
                );
                return Ok(1);
            }
            Ok(0)
        }),
    }
}

/// How to turn encryption on; said by `serve` at start and by `keys status` when no key is
/// configured (it is off by default, and nothing else would tell).
pub(super) const TURN_ON: &str = "to turn it on, create a key with `rosterhub keys generate` \
     and give it to every rosterhub command as ROSTERHUB_PII_KEY (or a file: --pii-key-file); \
     see SECURITY.md";

/// `keys status` without a key: encryption is off for this command, and the values already
/// encrypted in the database need the key to be read.
fn off_message(encrypted: u64) -> String {
    if encrypted == 0 {
        format!("encryption is off: personal data is stored in plaintext; {TURN_ON}")
    } else {
        format!(
            "encryption is off for this command (no key configured), but {encrypted} values in \
             this database are encrypted: give every command their key as ROSTERHUB_PII_KEY (or \
             --pii-key-file)"
        )
    }
}
