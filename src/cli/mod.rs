//! The `rosterhub` command line: parses arguments and calls the library.

mod client;
mod commands;
mod progress;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::storage::DEFAULT_DATABASE_URL;

#[derive(Debug, Parser)]
#[command(
    name = "rosterhub",
    version,
    about = "OneRoster 1.2 roster hub (Japan Profile)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// sqlite://PATH (default) or postgres://USER@HOST/DB.
    #[arg(long, env = "ROSTERHUB_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a bundle (ZIP or folder) without a database. Exit 0 if it has no errors, 1 otherwise.
    Validate {
        bundle: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// utf-8 (default), cp932 (convert Shift_JIS files) or auto.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
    },
    /// Validate, plan and apply a bundle. Exit 0 applied (or dry run fine), 1 rejected, 3 held.
    Import {
        bundle: PathBuf,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Validate and plan only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply even if the import crosses the safety threshold.
        #[arg(long)]
        force: bool,
        /// utf-8 (default), cp932 (convert Shift_JIS files) or auto.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
        /// Hold imports that would tombstone more than this share of active users or enrollments.
        #[arg(long, env = "ROSTERHUB_IMPORT_THRESHOLD", default_value_t = 0.30)]
        threshold: f64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Write a realistic, deterministic Japan Profile district bundle (ZIP, or a folder if OUT
    /// does not end in .zip).
    Generate {
        out: PathBuf,
        #[arg(long, default_value_t = 1000)]
        students: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// jp-1.2.1 (default) or jp-k12.
        #[arg(long, default_value = "jp-1.2.1")]
        profile: String,
    },
    /// Export a tenant as a OneRoster CSV ZIP: bulk (active records), or delta with --since.
    Export {
        out: PathBuf,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Delta export of the records changed after this DateTime (e.g. 2025-04-01T00:00:00.000Z).
        #[arg(long)]
        since: Option<String>,
        /// jp-1.2.1 (default), jp-k12 or oneroster-1.2.1.
        #[arg(long, default_value = "jp-1.2.1")]
        profile: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Run the HTTP server.
    Serve {
        #[arg(long, env = "ROSTERHUB_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// The public base URL (e.g. https://roster.example.jp) for hrefs and Link headers
        /// behind a proxy; default: from each request's Host header.
        #[arg(long, env = "ROSTERHUB_PUBLIC_URL")]
        public_url: Option<String>,
        /// The largest page size served; larger `limit`s are capped.
        #[arg(long, env = "ROSTERHUB_MAX_LIMIT", default_value_t = crate::http::DEFAULT_MAX_LIMIT)]
        max_limit: u64,
        /// Emit Japan Profile metadata nested ({"jp": {...}}) instead of flat "jp.*" keys.
        #[arg(long, env = "ROSTERHUB_NESTED_METADATA")]
        nested_metadata: bool,
        #[command(flatten)]
        jobs: JobArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create or upgrade the database schema.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage API clients of the token endpoint (OAuth 2.0 client credentials).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
}

/// How `serve` runs jobs and webhook deliveries.
#[derive(Debug, Clone, clap::Args)]
pub struct JobArgs {
    /// Import/export workers in this process (0: serve the API only).
    #[arg(long, env = "ROSTERHUB_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Seconds a worker's claim on a job lasts without a heartbeat; after that another replica
    /// takes the job over.
    #[arg(long, env = "ROSTERHUB_JOB_LEASE_SECS", default_value_t = 30.0)]
    pub job_lease_secs: f64,
    /// Largest accepted upload, in MiB.
    #[arg(long, env = "ROSTERHUB_UPLOAD_LIMIT_MB", default_value_t = 2048)]
    pub upload_limit_mb: u64,
    /// Days uploaded and exported files are kept after their job ended (reports stay).
    #[arg(long, env = "ROSTERHUB_RETENTION_DAYS", default_value_t = 7.0)]
    pub retention_days: f64,
    /// Attempts per webhook delivery before it is given up.
    #[arg(long, env = "ROSTERHUB_WEBHOOK_ATTEMPTS", default_value_t = 8)]
    pub webhook_attempts: u32,
    /// Seconds before the first webhook retry; each further retry waits twice as long.
    #[arg(long, env = "ROSTERHUB_WEBHOOK_RETRY_SECS", default_value_t = 10.0)]
    pub webhook_retry_secs: f64,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create an API client; prints {"client_id", "client_secret", "tenant", "scopes"} as JSON.
    /// The secret is shown only this once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Scopes the client may be granted, space- or comma-separated: full URIs or
        /// roster-core.readonly, roster.readonly, roster-demographics.readonly (default: these
        /// three), and the admin API's rosterhub.import, rosterhub.export, rosterhub.admin.
        #[arg(long)]
        scopes: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List API clients as a JSON array (never secrets).
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke an API client: it gets no new tokens. Exit 1 if there is no such client.
    Revoke {
        client_id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// List the tenants as JSON: [{"id", "name"}].
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create a tenant (no-op if it exists).
    Create {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let json_logs = std::env::var("ROSTERHUB_LOG_FORMAT").is_ok_and(|v| v == "json");
    crate::telemetry::init(json_logs);
    match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}
