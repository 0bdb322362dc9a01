//! The `rosterhub` command line: parses arguments and calls the library.

mod admin;
mod audit;
mod backup;
mod client;
mod commands;
mod config_file;
mod config_show;
mod db;
mod doctor;
mod keys;
mod mail;
mod map;
mod progress;
mod serve;
mod target;
mod undo;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rosterhub",
    version,
    about = "OneRoster 1.2 roster hub (Japan Profile)"
)]
pub struct Cli {
    /// A TOML file of settings (keys: the ROSTERHUB_* names in lower case without the prefix);
    /// the environment and flags override it. See docs/configuration.md.
    #[arg(long, global = true, env = "ROSTERHUB_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB. Default: sqlite://./data/rosterhub.db,
    /// relative to the working directory; only `serve` and `migrate` create it when missing.
    #[arg(long, env = "ROSTERHUB_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// Show the layout found per file, the first records and every finding (by source file,
    /// line and column). Exit 0 if no errors, 1 otherwise.
    Check {
        /// A mapping profile (JSON) or `auto`.
        profile: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// How many records of each OneRoster file to show (at most 20).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=20))]
        rows: u8,
        #[command(flatten)]
        args: map::MapArgs,
    },
    /// Write the lists as a standard OneRoster bundle ZIP (checked first; nothing is written
    /// when there are errors).
    Convert {
        profile: String,
        /// The list files, then the ZIP to write.
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        args: map::MapArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Revert an applied import as a new import: what it inserted becomes tombstones, what it
    /// changed or tombstoned gets back what it was, all stamped now (delta consumers see it).
    /// Refused, writing nothing, when later imports changed some of the same records (listed)
    /// unless --force; an undo can be undone. Exit 0 undone (or dry run), 1 refused, 2 other
    /// errors. See docs/undo.md.
    Undo(undo::UndoArgs),
}

// Parsed once per process: the variants' sizes (serve's settings are the most) do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a bundle (ZIP or folder) without a database. Exit 0 if it has no errors, 1 otherwise,
    /// 2 if it cannot be read.
    Validate {
        bundle: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// utf-8 (default), cp932 (convert Shift_JIS files) or auto.
        #[arg(long, default_value = "utf-8")]
        encoding: String,
        #[command(flatten)]
        target: target::TargetArgs,
    },
    /// Validate, plan and apply a bundle. Exit 0 applied (or dry run fine), 1 rejected, 3 held,
    /// 2 other errors (a bundle that cannot be read, no database). `import undo ID` reverts an
    /// applied import.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Import {
        #[command(subcommand)]
        action: Option<ImportCommand>,
        /// A bundle (ZIP or folder); with --mapping, the school's list files (CSV).
        #[arg(required = true, value_name = "BUNDLE|FILES")]
        bundle: Vec<PathBuf>,
        /// Import a school's own lists (児童生徒名簿, 教職員名簿) through a mapping profile (a JSON
        /// file) or `auto` (the built-in layouts, chosen per file by its header).
        #[arg(long)]
        mapping: Option<String>,
        /// With --mapping: the school, CODE or CODE:NAME, when the lists have no 学校コード column.
        #[arg(long, requires = "mapping")]
        school: Option<String>,
        /// With --mapping: the 年度 (e.g. 2025); default the profile's, else today's (April–March).
        #[arg(long, requires = "mapping")]
        school_year: Option<i32>,
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
        /// The April rollover (年次更新), a new 年度's first bulk: last year's enrollments and the
        /// students of the graduating grades (default P6,J3,H3; `--rollover P6,J3,H4`) may go
        /// without counting towards the threshold; other withdrawals still count.
        #[arg(long, value_name = "GRADES", num_args = 0..=1, default_missing_value = "")]
        rollover: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        target: target::TargetArgs,
        #[command(flatten)]
        pii: keys::PiiArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// School lists through a mapping profile: check them, or convert them to a bundle.
    Map {
        #[command(subcommand)]
        command: MapCommand,
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
        /// Write the district's daily delta instead: 1 % of the students changed, 0.1 %
        /// withdrawn; import it after the bulk bundle of the same --students and --seed.
        #[arg(long)]
        delta: bool,
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
        /// Write a bundle that meets a national model (eportal-3, eportal-4, interop-5,
        /// interop-6): its profile and manifest version, half-width katakana converted; the
        /// records that still fall short are listed. Overrides --profile.
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        pii: keys::PiiArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// The configuration `serve` would run with.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check a set-up: configuration, database and migrations, keys, disk space, clock and the
    /// workers' heartbeats. One line per check: OK, WARN or FAIL and what to do. Exit 0 all
    /// OK, 1 a warning, 2 a failure.
    Doctor {
        /// en or ja; default from LC_ALL / LC_MESSAGES / LANG (ja… → Japanese), else English.
        #[arg(long)]
        lang: Option<String>,
        /// The flags `serve` is given (after the configuration file and the environment).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "SERVE FLAGS"
        )]
        serve: Vec<std::ffi::OsString>,
    },
    /// Copy a SQLite database (the main and the operational file) into the folder OUT, while
    /// `serve` runs: a consistent snapshot of each file, checked, with a manifest. PostgreSQL:
    /// refused with the pg_dump command to use.
    Backup {
        out: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Restore a `rosterhub backup` folder into a database location that holds no database
    /// (--force replaces one; stop every rosterhub process using it first).
    Restore {
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
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
    /// Manage admin users of the web UI (passwords from ROSTERHUB_ADMIN_PASSWORD or stdin).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Rotate or list the keys that sign access tokens.
    SigningKey {
        #[command(subcommand)]
        command: SigningKeyCommand,
    },
    /// PII encryption keys: generate one, show which keys encrypt what, rotate.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
}

/// The settings of `serve`: each flag has its `ROSTERHUB_*` variable and configuration-file key.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[arg(long, env = "ROSTERHUB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The public base URL (e.g. https://roster.example.jp) for hrefs and Link headers
    /// behind a proxy; default: from each request's Host header.
    #[arg(long, env = "ROSTERHUB_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The largest page size served; larger `limit`s are capped.
    #[arg(long, env = "ROSTERHUB_MAX_LIMIT", default_value_t = crate::http::DEFAULT_MAX_LIMIT)]
    pub max_limit: u64,
    /// Emit Japan Profile metadata nested ({"jp": {...}}) instead of flat "jp.*" keys.
    #[arg(long, env = "ROSTERHUB_NESTED_METADATA")]
    pub nested_metadata: bool,
    /// The time zone the web UI shows dates in: Asia/Tokyo, UTC, … (zones without daylight
    /// saving time) or an offset like +09:00.
    #[arg(long, env = "ROSTERHUB_TIME_ZONE", default_value = "Asia/Tokyo",
          value_parser = crate::http::ui::zone::Zone::parse)]
    pub time_zone: crate::http::ui::zone::Zone,
    /// OpenTelemetry collector (OTLP over HTTP, e.g. http://jaeger:4318) that request, job and
    /// import spans are sent to; needs a build with `--features otel`, which also reads
    /// OTEL_EXPORTER_OTLP_ENDPOINT when this is unset (docs/operations.md).
    #[arg(long, env = "ROSTERHUB_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// A PostgreSQL read replica (postgres://…) that the OneRoster API's roster reads go to;
    /// tokens, the admin API, the web UI and every write stay on --database-url, which must be
    /// PostgreSQL too. Default: none.
    #[arg(long, env = "ROSTERHUB_READ_DATABASE_URL", value_name = "URL")]
    pub read_database_url: Option<String>,
    #[command(flatten)]
    pub jobs: JobArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub pii: keys::PiiArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub mail: mail::MailArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Optional TLS for `serve` (both or neither).
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// PEM certificate chain: serve HTTPS (with --tls-key). Responses then carry HSTS and the
    /// session cookie is `Secure`.
    #[arg(long, env = "ROSTERHUB_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "ROSTERHUB_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
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
    /// Directory of temporary files (uploads, imports and exports in progress), mode 0700;
    /// what stopped processes left there is removed at start. Default: `tmp` in the data
    /// directory (beside the SQLite database, else ./data).
    #[arg(long, env = "ROSTERHUB_TEMP_DIR")]
    pub temp_dir: Option<PathBuf>,
    /// Audit entries queued for the writer at most; with the queue full, OneRoster reads are
    /// recorded as per-minute aggregates and other entries wait for room.
    #[arg(long, env = "ROSTERHUB_AUDIT_QUEUE", default_value_t = 10_000)]
    pub audit_queue: usize,
    /// Days the change log of an applied import is kept (0: forever): until then the import can
    /// be undone and shows in record histories. Older logs are deleted by the workers'
    /// maintenance (docs/undo.md).
    #[arg(long, env = "ROSTERHUB_CHANGELOG_DAYS", default_value_t = 90.0)]
    pub changelog_days: f64,
    /// Days audit log entries are kept (0: forever); older ones are deleted every hour.
    #[arg(long, env = "ROSTERHUB_AUDIT_RETENTION_DAYS", default_value_t = 365.0)]
    pub audit_retention_days: f64,
    /// Drop folder: OneRoster ZIPs put in `DIR/<tenant>/` are imported unattended (see
    /// docs/operations-intake.md).
    #[arg(long, env = "ROSTERHUB_INTAKE_DIR")]
    pub intake_dir: Option<PathBuf>,
    /// Seconds between two looks at the drop folder; a file is read once it is unchanged
    /// across two looks (or has a `<name>.done` marker).
    #[arg(long, env = "ROSTERHUB_INTAKE_POLL_SECS", default_value_t = 5.0)]
    pub intake_poll_secs: f64,
    /// Days (in --time-zone) in which dropped files are imported but held for an admin's
    /// approval: MM-DD..MM-DD, comma-separated (e.g. 03-25..04-07 for 年次更新). Default none.
    #[arg(long, env = "ROSTERHUB_INTAKE_BLACKOUT", value_name = "MM-DD..MM-DD,…")]
    pub intake_blackout: Option<String>,
    /// The first dropped file applied in a new 年度 runs as the April rollover (see `import
    /// --rollover`): its graduating grades, default P6,J3,H3.
    #[arg(long, env = "ROSTERHUB_INTAKE_ROLLOVER", value_name = "GRADES", num_args = 0..=1, default_missing_value = "")]
    pub intake_rollover: Option<String>,
    /// Scheduled pulls: a TOML file of `[[pull]]` entries (tenant, cron schedule, https URL,
    /// credentials from files), each bundle imported as a dropped file would be (see
    /// docs/operations-intake.md). Blackout windows and the rollover apply to them too.
    #[arg(long, env = "ROSTERHUB_INTAKE_PULLS", value_name = "FILE")]
    pub intake_pulls: Option<PathBuf>,
}

/// How `serve` limits API clients (per-client settings: `rosterhub client update`).
#[derive(Debug, Clone, clap::Args)]
pub struct GuardArgs {
    /// Requests per minute of a client without a limit of its own (a token bucket per client
    /// and replica).
    #[arg(long, env = "ROSTERHUB_RATE_LIMIT_PER_MIN", default_value_t = crate::http::guard::DEFAULT_RATE_LIMIT_PER_MIN)]
    pub rate_limit_per_min: u32,
    /// Proxies (CIDR ranges, comma-separated) whose X-Forwarded-For is believed; from any other
    /// peer the header is ignored.
    #[arg(long, env = "ROSTERHUB_TRUSTED_PROXIES", value_name = "CIDR,CIDR")]
    pub trusted_proxies: Option<String>,
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
        /// Allow calls only from this CIDR range or address (IPv4 or IPv6); repeatable.
        /// Default: any address.
        #[arg(long = "allow-ip", value_name = "CIDR")]
        allow_ip: Vec<String>,
        /// The client's rate limit (requests per minute); default: the server's
        /// --rate-limit-per-min.
        #[arg(long, value_name = "N")]
        rate_limit_per_min: Option<i64>,
        /// Limit the client to these orgs (sourcedIds, comma-separated) and what is attached to
        /// them. Default: every org of the tenant.
        #[arg(long, value_name = "ID,ID")]
        orgs: Option<String>,
        /// Bind the client to a national model (eportal-3, eportal-4, interop-5, interop-6):
        /// the JSON it reads has the model's full-width names.
        #[arg(long, value_name = "T")]
        target: Option<String>,
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
    /// Revoke an API client: it gets no new tokens and its tokens are refused from the next
    /// request. Exit 1 if there is no such client.
    Revoke {
        client_id: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Change a client's name, scopes or restrictions; prints the client as JSON. Exit 1 if
    /// there is no such client.
    Update {
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        scopes: Option<String>,
        /// Replace the allow-list with these ranges (repeatable).
        #[arg(long = "allow-ip", value_name = "CIDR", conflicts_with = "any_ip")]
        allow_ip: Vec<String>,
        /// Remove the allow-list: any address.
        #[arg(long)]
        any_ip: bool,
        #[arg(long, value_name = "N", conflicts_with = "default_rate_limit")]
        rate_limit_per_min: Option<i64>,
        /// Use the server's default rate limit.
        #[arg(long)]
        default_rate_limit: bool,
        #[arg(long, value_name = "ID,ID", conflicts_with = "all_orgs")]
        orgs: Option<String>,
        /// Remove the org scope: every org of the tenant.
        #[arg(long)]
        all_orgs: bool,
        /// Bind to a national model, or `none` to unbind.
        #[arg(long, value_name = "T|none")]
        target: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Give a client a new secret, printed once as JSON; the old one keeps working for the
    /// overlap. Exit 1 if there is no such active client.
    RotateSecret {
        client_id: String,
        /// Hours the old secret keeps working (0 to 720).
        #[arg(long, default_value_t = 24.0)]
        overlap_hours: f64,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// The keys that sign access tokens (not the PII encryption keys: `rosterhub keys`).
#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Sign new tokens with a new key; the old ones verify until their tokens expire. Prints
    /// {"kid", "retired", "deleted"}.
    Rotate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// List the keys as JSON: kid, created_at, retired_at, verifies_until (never secrets).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective `serve` configuration as TOML lines `key = value  # source` (default,
    /// file PATH, env VAR or flag), secrets masked. Give `serve`'s flags after `show` to see
    /// their effect.
    Show {
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "SERVE FLAGS"
        )]
        serve: Vec<std::ffi::OsString>,
    },
    /// Print the example configuration file: every key, commented, with its default.
    Example,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// List the tenants as JSON: [{"id", "name", "target"}].
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set the national model (eportal-3, eportal-4, interop-5, interop-6, or none) that imports
    /// into the tenant are held to when they name no --target.
    SetTarget {
        id: String,
        target: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create a tenant. No-op if it exists; exit 1 (nothing changed) if it exists with
    /// another --name.
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
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = match config_file::apply(&args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let cli = Cli::parse_from(args);
    let json_logs = std::env::var("ROSTERHUB_LOG_FORMAT").is_ok_and(|v| v == "json");
    if let Err(e) = crate::telemetry::init(json_logs, otlp_endpoint(&cli.command).as_deref()) {
        eprintln!("error: {e}");
        return 2;
    }
    let code = match commands::dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    };
    crate::telemetry::shutdown();
    code
}

/// Where `serve` sends its spans: `--otlp-endpoint`, else (in a build that can send them) the
/// standard OTEL_EXPORTER_OTLP_ENDPOINT — which a build without `otel` ignores, as deployment
/// files set it for every image.
fn otlp_endpoint(command: &Command) -> Option<String> {
    let Command::Serve(args) = command else {
        return None;
    };
    let standard = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|v| cfg!(feature = "otel") && !v.trim().is_empty());
    args.otlp_endpoint.clone().or(standard)
}
