//! `rosterhub serve`: checks its settings, opens the database and runs the HTTP server with the
//! job workers, the drop folder, scheduled pulls, webhook deliveries, e-mail notices and the audit sweep beside
//! it.

use anyhow::{Context as _, bail};

use super::db::{Missing, database_url, describe, runtime};
use super::{GuardArgs, JobArgs, ServeArgs};
use crate::jobs::scratch::Scratch;
use crate::storage::redact_url;

/// The settings checks `serve` makes before it touches anything (`doctor` makes them too).
pub(super) fn check(a: &ServeArgs) -> anyhow::Result<()> {
    if a.max_limit == 0 {
        bail!("--max-limit must be at least 1");
    }
    if let (Some(cert), Some(key)) = (&a.tls.tls_cert, &a.tls.tls_key) {
        crate::http::tls::load_config(cert, key)?;
    }
    guard_config(&a.guard)?;
    super::mail::config(&a.mail, a.time_zone.offset_secs(), a.public_url.as_deref())?;
    check_replica(a)?;
    check_jobs(&a.jobs)
}

/// A read replica needs PostgreSQL on both sides (a SQLite file has no replicas).
fn check_replica(a: &ServeArgs) -> anyhow::Result<()> {
    let Some(replica) = &a.read_database_url else {
        return Ok(());
    };
    let pg = |u: &str| {
        matches!(
            crate::storage::BackendKind::from_url(u),
            Ok(crate::storage::BackendKind::Postgres)
        )
    };
    let primary = a.db.database_url.as_deref().unwrap_or("sqlite://");
    if !pg(primary) || !pg(replica) {
        bail!(
            "--read-database-url needs PostgreSQL for both --database-url and itself; a SQLite \
             file has no read replicas: unset it\n\
             --read-database-url は --database-url と共に PostgreSQL の場合だけ使えます。\
             SQLite では設定を外してください。"
        );
    }
    Ok(())
}

pub(super) fn run(args: ServeArgs) -> anyhow::Result<i32> {
    check(&args)?;
    let ServeArgs {
        listen,
        public_url,
        max_limit,
        nested_metadata,
        time_zone,
        // Read before the runtime starts (`cli::run`, the telemetry's exporter).
        otlp_endpoint: _,
        read_database_url,
        jobs,
        guard,
        pii,
        tls,
        mail,
        db,
    } = args;
    let tls = match (&tls.tls_cert, &tls.tls_key) {
        (Some(cert), Some(key)) => Some(crate::http::tls::load_config(cert, key)?),
        _ => None,
    };
    let guard = guard_config(&guard)?;
    let mail = super::mail::config(&mail, time_zone.offset_secs(), public_url.as_deref())?;
    let audit_days = jobs.audit_retention_days;
    let (blackout, intake_rollover) = intake_calendar(&jobs)?;
    let pulls = intake_pulls(&jobs)?;
    let rt = runtime()?;
    rt.block_on(async {
        let url = &database_url(&db, Missing::Create)?;
        let store = super::keys::open(url, &pii).await?;
        if store.pii().is_none() {
            tracing::warn!(
                "personal data encryption is off: e-mail addresses, phone numbers and \
                 birth dates are stored in plaintext; {}",
                super::keys::TURN_ON
            );
        }
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(database = %describe(url), "database ready");
        if store.list_clients(None).await?.is_empty() {
            eprintln!(
                "No API clients yet. Create one with:\n  rosterhub client create --name NAME \
                 --database-url {}\nthen get a token at POST /oauth/token and call \
                 {}/users.",
                redact_url(url),
                crate::http::oneroster::BASE_PATH
            );
        }
        let replica = match &read_database_url {
            Some(r) => Some(read_replica(&store, url, r).await?),
            None => None,
        };
        let mut state = crate::http::AppState::new(store).await?;
        state.replica = replica;
        state.public_url = public_url;
        state.max_limit = max_limit;
        state.nested_metadata = nested_metadata;
        state.ui_zone = time_zone;
        state.jobs = crate::jobs::JobsHandle::new(crate::jobs::JobsConfig {
            mail: mail.clone(),
            ..jobs_config(&jobs, url)?
        });
        state.audit = crate::audit::AuditLog::with_settings(
            state.store.clone(),
            crate::audit::WriterSettings {
                capacity: jobs.audit_queue.max(1),
                ..Default::default()
            },
        );
        state.guard = crate::http::guard::Guard::new(guard);
        state.tls = tls.is_some();
        state.secure_cookies |= tls.is_some();
        let workers = crate::jobs::spawn_workers(state.store.clone(), &state.jobs);
        let intake = jobs.intake_dir.clone().map(|dir| {
            crate::intake::spawn(
                state.store.clone(),
                state.jobs.clone(),
                state.audit.clone(),
                crate::intake::IntakeConfig {
                    dir,
                    poll: std::time::Duration::from_secs_f64(jobs.intake_poll_secs.max(0.05)),
                    owner: state.jobs.config.owner.clone(),
                    blackout: blackout.clone(),
                    rollover: intake_rollover.clone(),
                    zone: state.ui_zone.clone(),
                },
            )
        });
        // Every replica runs the pulls' loop: each run is claimed in the database.
        let pulls = (!pulls.is_empty()).then(|| {
            crate::intake::pull::spawn(
                crate::intake::Unattended {
                    store: state.store.clone(),
                    jobs: state.jobs.clone(),
                    audit: state.audit.clone(),
                },
                crate::intake::pull::PullConfig {
                    pulls,
                    owner: state.jobs.config.owner.clone(),
                    blackout: blackout.clone(),
                    rollover: intake_rollover.clone(),
                    zone: state.ui_zone.clone(),
                    since: crate::domain::datetime::now_ms(),
                },
            )
        });
        let deliveries =
            crate::webhooks::spawn_delivery_worker(state.store.clone(), webhook_config(&jobs));
        // The sender and the daily summary run on every replica: leases and the day's claim
        // keep each message single.
        let mailers = mail.map(|config| {
            tracing::info!(host = %config.smtp.host, port = config.smtp.port, "e-mail notices on");
            let owner = state.jobs.config.owner.clone();
            [
                crate::mail::spawn_sender(state.store.clone(), config.clone()),
                crate::mail::summary::spawn(state.store.clone(), config, owner),
            ]
        });
        let audit_sweep = crate::audit::spawn_retention(
            state.store.clone(),
            (audit_days > 0.0).then_some((audit_days * 86_400_000.0) as i64),
        );
        match tls {
            Some(config) => crate::http::serve_tls(listener, state, config).await?,
            None => crate::http::serve(listener, state).await?,
        }
        workers.iter().for_each(|w| w.abort());
        intake.iter().chain(&pulls).for_each(|t| t.abort());
        deliveries.abort();
        mailers.iter().flatten().for_each(|m| m.abort());
        audit_sweep.abort();
        Ok::<_, anyhow::Error>(0)
    })
}

fn guard_config(a: &GuardArgs) -> anyhow::Result<crate::http::guard::GuardConfig> {
    if a.rate_limit_per_min == 0 {
        bail!("--rate-limit-per-min must be at least 1");
    }
    let trusted_proxies = match a.trusted_proxies.as_deref() {
        None | Some("") => Vec::new(),
        Some(list) => crate::domain::restrict::parse_allowed_ips(list)
            .map_err(|e| anyhow::anyhow!("--trusted-proxies {e}"))?,
    };
    Ok(crate::http::guard::GuardConfig {
        default_rate_limit_per_min: a.rate_limit_per_min,
        trusted_proxies,
        ..Default::default()
    })
}

fn check_jobs(a: &JobArgs) -> anyhow::Result<()> {
    if a.job_lease_secs.is_nan() || a.job_lease_secs < 0.2 {
        bail!("--job-lease-secs must be at least 0.2");
    }
    if a.upload_limit_mb == 0 {
        bail!("--upload-limit-mb must be at least 1");
    }
    let audit_days = a.audit_retention_days;
    if audit_days.is_nan() || audit_days < 0.0 {
        bail!("--audit-retention-days must be 0 (keep forever) or more");
    }
    if a.changelog_days.is_nan() || a.changelog_days < 0.0 {
        bail!("--changelog-days must be 0 (keep forever) or more");
    }
    intake_calendar(a)?;
    intake_pulls(a)?;
    Ok(())
}

/// The pulls file (`--intake-pulls`), checked whole: empty without the flag.
fn intake_pulls(a: &JobArgs) -> anyhow::Result<Vec<crate::intake::pull::Pull>> {
    match &a.intake_pulls {
        None => Ok(Vec::new()),
        Some(path) => crate::intake::pull::file::load(path)
            .map_err(|e| anyhow::anyhow!("--intake-pulls: {e}")),
    }
}

/// The drop folder's blackout windows and rollover grades (`--intake-blackout`,
/// `--intake-rollover`).
type IntakeCalendar = (
    Vec<crate::intake::calendar::Window>,
    Option<crate::import::rollover::Rollover>,
);

fn intake_calendar(a: &JobArgs) -> anyhow::Result<IntakeCalendar> {
    let blackout =
        crate::intake::calendar::Window::parse_list(a.intake_blackout.as_deref().unwrap_or(""))
            .map_err(|e| anyhow::anyhow!("--intake-blackout: {e}"))?;
    let rollover = a
        .intake_rollover
        .as_deref()
        .map(crate::import::rollover::Rollover::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--intake-rollover: {e}"))?;
    Ok((blackout, rollover))
}

fn jobs_config(a: &JobArgs, database_url: &str) -> anyhow::Result<crate::jobs::JobsConfig> {
    let temp_root = a
        .temp_dir
        .clone()
        .unwrap_or_else(|| crate::storage::data_dir(database_url).join("tmp"));
    Ok(crate::jobs::JobsConfig {
        workers: a.workers,
        lease_ms: (a.job_lease_secs * 1000.0) as i64,
        retention_ms: (a.retention_days.max(0.0) * 86_400_000.0) as i64,
        changelog_retention_ms: (a.changelog_days > 0.0)
            .then_some((a.changelog_days * 86_400_000.0) as i64),
        upload_limit_bytes: a.upload_limit_mb << 20,
        scratch: Some(std::sync::Arc::new(
            Scratch::open(&temp_root).with_context(|| {
                format!(
                    "cannot use {} for temporary files (--temp-dir)",
                    temp_root.display()
                )
            })?,
        )),
        ..crate::jobs::JobsConfig::default()
    })
}

fn webhook_config(a: &JobArgs) -> crate::webhooks::WebhookConfig {
    let base = (a.webhook_retry_secs.max(0.0) * 1000.0) as u64;
    crate::webhooks::WebhookConfig {
        max_attempts: a.webhook_attempts.max(1),
        base_delay_ms: base,
        ..crate::webhooks::WebhookConfig::default()
    }
}

/// The read replica of `--read-database-url`, or why it cannot be used.
async fn read_replica(
    store: &crate::storage::Store,
    url: &str,
    replica: &str,
) -> anyhow::Result<crate::storage::Store> {
    let opened = store.read_replica(replica).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot open the read replica {} (--database-url {}): {e}\n\
             読み取りレプリカ {} を開けません: {e}",
            redact_url(replica),
            redact_url(url),
            redact_url(replica)
        )
    })?;
    tracing::info!(replica = %describe(replica), "read replica ready: OneRoster reads go there");
    Ok(opened)
}
