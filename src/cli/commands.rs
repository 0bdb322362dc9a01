//! The body of each command.

use anyhow::{Context as _, bail};

use super::db::{Missing, database_url, describe, open, opened, runtime};
use super::progress::TerminalProgress;
use super::{Command, Format, TenantCommand};
use crate::csv::EncodingChoice;
use crate::generate::{GenProfile, GenerateOptions};
use crate::import::{self, ImportOptions, Report};
use crate::jobs::scratch::Scratch;
use crate::storage::{Store, redact_url};

fn encoding(s: &str) -> anyhow::Result<EncodingChoice> {
    EncodingChoice::parse(s)
        .with_context(|| format!("unknown --encoding {s:?}: use utf-8, cp932 or auto"))
}

fn print_report(report: &Report, format: Format) {
    match format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text => print!("{}", report.to_text()),
    }
}

/// The exit code of a validation or import: the report's, except that a bundle that cannot be
/// read at all (missing, a folder without permission) is a usage error (2), not a bundle the
/// checks rejected (1): a script must not tell the school its data is wrong when the path is.
fn exit_code(report: &Report) -> i32 {
    if report
        .findings
        .iter()
        .any(|f| f.code == "bundle_unreadable")
    {
        2
    } else {
        report.status.exit_code()
    }
}

pub fn dispatch(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Validate {
            bundle,
            format,
            encoding: enc,
        } => {
            let opts = ImportOptions {
                encoding: encoding(&enc)?,
                ..ImportOptions::default()
            };
            let progress = TerminalProgress::new(format == Format::Text);
            let report = import::validate(&bundle, &opts, &progress);
            progress.finish();
            print_report(&report, format);
            Ok(exit_code(&report))
        }
        Command::Import {
            bundle,
            tenant,
            dry_run,
            force,
            encoding: enc,
            threshold,
            format,
            pii,
            db,
        } => {
            if !(0.0..=1.0).contains(&threshold) {
                bail!("--threshold must be between 0 and 1 (a share, e.g. 0.3 for 30 %)");
            }
            let params = crate::storage::ops::jobs::JobParams {
                dry_run,
                force,
                encoding: Some(enc.clone()),
                ..Default::default()
            };
            let opts = ImportOptions {
                tenant: tenant.clone(),
                dry_run,
                force,
                encoding: encoding(&enc)?,
                threshold,
                ..ImportOptions::default()
            };
            let url = database_url(&db, Missing::Refuse)?;
            let rt = runtime()?;
            let store = rt.block_on(super::keys::open(&url, &pii))?;
            let progress = TerminalProgress::new(format == Format::Text);
            let report = rt.block_on(async {
                let store = store.clone();
                let bundle = bundle.clone();
                tokio::task::spawn_blocking(move || {
                    import::import(&store, &bundle, &opts, &progress)
                })
                .await
                .context("the import thread failed")
            })??;
            rt.block_on(super::audit::record_import(
                &store, &tenant, &bundle, params, &report,
            ));
            match format {
                // The database is part of the answer: an import into the wrong one is the
                // mistake this field lets a script catch.
                Format::Json => {
                    let mut json = serde_json::to_value(&report)?;
                    json["database"] = describe(&url).into();
                    println!("{}", serde_json::to_string_pretty(&json)?);
                }
                Format::Text => print_report(&report, format),
            }
            Ok(exit_code(&report))
        }
        Command::Generate {
            out,
            students,
            seed,
            profile,
        } => {
            let profile = GenProfile::parse(&profile).with_context(|| {
                format!("unknown --profile {profile:?}: use jp-1.2.1 or jp-k12")
            })?;
            let opts = GenerateOptions {
                students,
                seed,
                profile,
            };
            let summary = if out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
            {
                let file = std::fs::File::create(&out)
                    .with_context(|| format!("cannot create {}", out.display()))?;
                crate::generate::generate_zip(std::io::BufWriter::new(file), &opts)?
            } else {
                crate::generate::generate_dir(&out, &opts)?
            };
            for (file, rows) in &summary.files {
                eprintln!("{file:<22} {rows:>10} rows");
            }
            eprintln!("wrote {} ({} bytes)", out.display(), summary.bytes);
            Ok(0)
        }
        Command::Export {
            out,
            tenant,
            since,
            profile,
            pii,
            db,
        } => {
            let profile = crate::export::ExportProfile::parse(&profile).with_context(|| {
                format!("unknown --profile {profile:?}: use jp-1.2.1, jp-k12 or oneroster-1.2.1")
            })?;
            let since = match since {
                Some(s) => Some(
                    crate::domain::datetime::parse_datetime(&s)
                        .with_context(|| {
                            format!("--since {s:?} is not a DateTime like 2025-04-01T00:00:00.000Z")
                        })?
                        .ms,
                ),
                None => None,
            };
            let opts = crate::export::ExportOptions {
                tenant,
                since,
                profile,
            };
            let rt = runtime()?;
            let summary = rt.block_on(async {
                let store = super::keys::open(&database_url(&db, Missing::Refuse)?, &pii).await?;
                let file = std::fs::File::create(&out)
                    .with_context(|| format!("cannot create {}", out.display()))?;
                let result =
                    crate::export::export_zip(&store, std::io::BufWriter::new(file), &opts).await;
                if result.is_err() {
                    // Leave no half-written archive behind.
                    let _ = std::fs::remove_file(&out);
                }
                result
            })?;
            for (file, rows) in &summary.files {
                eprintln!("{file:<22} {rows:>10} rows");
            }
            eprintln!("wrote {}", out.display());
            Ok(0)
        }
        Command::Serve {
            listen,
            public_url,
            max_limit,
            nested_metadata,
            time_zone,
            jobs,
            guard,
            pii,
            tls,
            db,
        } => {
            if max_limit == 0 {
                bail!("--max-limit must be at least 1");
            }
            let tls = match (&tls.tls_cert, &tls.tls_key) {
                (Some(cert), Some(key)) => Some(crate::http::tls::load_config(cert, key)?),
                _ => None,
            };
            let guard = guard_config(&guard)?;
            let audit_days = jobs.audit_retention_days;
            if audit_days.is_nan() || audit_days < 0.0 {
                bail!("--audit-retention-days must be 0 (keep forever) or more");
            }
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
                let mut state = crate::http::AppState::new(store).await?;
                state.public_url = public_url;
                state.max_limit = max_limit;
                state.nested_metadata = nested_metadata;
                state.ui_zone = time_zone;
                state.jobs = crate::jobs::JobsHandle::new(jobs_config(&jobs, url)?);
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
                let deliveries =
                    crate::webhooks::spawn_delivery_worker(state.store.clone(), webhook_config(&jobs));
                let audit_sweep = crate::audit::spawn_retention(
                    state.store.clone(),
                    (audit_days > 0.0).then_some((audit_days * 86_400_000.0) as i64),
                );
                match tls {
                    Some(config) => crate::http::serve_tls(listener, state, config).await?,
                    None => crate::http::serve(listener, state).await?,
                }
                workers.iter().for_each(|w| w.abort());
                deliveries.abort();
                audit_sweep.abort();
                Ok::<_, anyhow::Error>(0)
            })
        }
        Command::Migrate { db } => {
            let rt = runtime()?;
            let url = database_url(&db, Missing::Create)?;
            rt.block_on(async { opened(&url, Store::open(&url).await) })?;
            eprintln!("database schema is up to date: {}", describe(&url));
            Ok(0)
        }
        Command::Tenant {
            command: TenantCommand::List { db },
        } => {
            let rt = runtime()?;
            let tenants = rt.block_on(async {
                let store = open(&db).await?;
                Ok::<_, anyhow::Error>(store.tenants().await?)
            })?;
            let list: Vec<serde_json::Value> = tenants
                .into_iter()
                .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
                .collect();
            println!("{}", serde_json::Value::Array(list));
            Ok(0)
        }
        Command::Tenant {
            command: TenantCommand::Create { id, name, db },
        } => {
            // The same rule as `POST /api/v1/tenants`: 1–64 characters of a–z, 0–9, _ and -.
            crate::users::check_tenant_id(&id)?;
            let rt = runtime()?;
            rt.block_on(async {
                let store = open(&db).await?;
                // An existing tenant is kept as it is: creating it again is a no-op, but a
                // different --name is refused rather than silently ignored (there is no
                // rename, and a name is what people recognise a tenant by).
                let existing = store.tenants().await?.into_iter().find(|(t, _)| *t == id);
                if let Some((_, stored)) = existing {
                    if name.as_ref().is_some_and(|n| *n != stored) {
                        eprintln!(
                            "tenant {id} exists already with the name {stored:?}; nothing was \
                             changed. Leave out --name to use it as it is, or choose another id.\n\
                             テナント {id} は名前 {stored:?} で既に存在します。何も変更していません。\
                             そのまま使う場合は --name を外し、別のテナントにする場合は別の ID を\
                             指定してください。"
                        );
                        return Ok(1);
                    }
                    eprintln!("tenant {id} exists already: {stored:?}");
                    return Ok(0);
                }
                store
                    .ensure_tenant(&id, name.as_deref().unwrap_or(&id))
                    .await?;
                let action = super::audit::Action {
                    tenants: vec![id.clone()],
                    action: "tenants.create",
                    command: "rosterhub tenant create",
                    target: Some(id.clone()),
                    status: 200,
                };
                super::audit::record(&store, action).await;
                eprintln!("tenant {id} is ready");
                Ok::<_, anyhow::Error>(0)
            })
        }
        Command::Client { command } => runtime()?.block_on(super::client::run(command)),
        Command::Admin { command } => runtime()?.block_on(super::admin::run(command)),
        Command::SigningKey { command } => {
            runtime()?.block_on(super::client::run_signing_key(command))
        }
        Command::Keys { command } => super::keys::run(command),
    }
}

fn guard_config(a: &super::GuardArgs) -> anyhow::Result<crate::http::guard::GuardConfig> {
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

fn jobs_config(a: &super::JobArgs, database_url: &str) -> anyhow::Result<crate::jobs::JobsConfig> {
    if a.job_lease_secs.is_nan() || a.job_lease_secs < 0.2 {
        bail!("--job-lease-secs must be at least 0.2");
    }
    if a.upload_limit_mb == 0 {
        bail!("--upload-limit-mb must be at least 1");
    }
    let temp_root = a
        .temp_dir
        .clone()
        .unwrap_or_else(|| crate::storage::data_dir(database_url).join("tmp"));
    Ok(crate::jobs::JobsConfig {
        workers: a.workers,
        lease_ms: (a.job_lease_secs * 1000.0) as i64,
        retention_ms: (a.retention_days.max(0.0) * 86_400_000.0) as i64,
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

fn webhook_config(a: &super::JobArgs) -> crate::webhooks::WebhookConfig {
    let base = (a.webhook_retry_secs.max(0.0) * 1000.0) as u64;
    crate::webhooks::WebhookConfig {
        max_attempts: a.webhook_attempts.max(1),
        base_delay_ms: base,
        ..crate::webhooks::WebhookConfig::default()
    }
}
