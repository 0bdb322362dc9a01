//! The body of each command.

use anyhow::{Context as _, bail};

use super::db::{Missing, database_url, describe, open, opened, runtime};
use super::progress::TerminalProgress;
use super::{Command, Format, TenantCommand};
use crate::csv::EncodingChoice;
use crate::generate::{GenProfile, GenerateOptions};
use crate::import::{self, ImportOptions, Report};
use crate::storage::Store;

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

/// What `export --target` converted and which records still fall short, so the board of
/// education can fix them at the source.
fn print_target_report(t: &crate::export::target::TargetReport) {
    eprintln!(
        "target {}: {} cells converted from half-width katakana; {} records fall short",
        t.target, t.converted_cells, t.shortfall_count
    );
    for s in &t.shortfalls {
        eprintln!(
            "  {:<18} {}  missing: {}",
            s.file,
            s.sourced_id,
            s.missing.join(", ")
        );
    }
    if t.shortfall_count > t.shortfalls.len() as u64 {
        eprintln!(
            "  … and {} more",
            t.shortfall_count - t.shortfalls.len() as u64
        );
    }
}

pub fn dispatch(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Validate {
            bundle,
            format,
            encoding: enc,
            target,
        } => {
            let opts = ImportOptions {
                encoding: encoding(&enc)?,
                target: target.check()?,
                ..ImportOptions::default()
            };
            let progress = TerminalProgress::new(format == Format::Text);
            let report = import::validate(&bundle, &opts, &progress);
            progress.finish();
            print_report(&report, format);
            Ok(exit_code(&report))
        }
        Command::Map { command } => super::map::dispatch(command),
        Command::Import {
            action: Some(super::ImportCommand::Undo(args)),
            ..
        } => super::undo::run(args),
        Command::Import {
            action: None,
            bundle,
            mapping,
            school,
            school_year,
            tenant,
            dry_run,
            force,
            encoding: enc,
            threshold,
            rollover,
            format,
            target,
            pii,
            db,
        } => {
            if !(0.0..=1.0).contains(&threshold) {
                bail!("--threshold must be between 0 and 1 (a share, e.g. 0.3 for 30 %)");
            }
            let rollover = rollover
                .map(|g| crate::import::rollover::Rollover::parse(&g))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--rollover: {e}"))?;
            let params = crate::storage::ops::jobs::JobParams {
                dry_run,
                force,
                encoding: Some(enc.clone()),
                rollover: rollover.as_ref().map(|r| r.grades()),
                ..Default::default()
            };
            let mut opts = ImportOptions {
                tenant: tenant.clone(),
                dry_run,
                force,
                encoding: encoding(&enc)?,
                threshold,
                target: target.check()?,
                rollover,
                actor: Some(super::audit::actor()),
                ..ImportOptions::default()
            };
            // A bundle is one path; lists through a mapping may be several files.
            let mapped = match &mapping {
                Some(spec) => Some((
                    super::map::load_profile(spec)?,
                    super::map::read_files(&bundle)?,
                    crate::mapping::run::options(&tenant, school.as_deref(), school_year),
                )),
                None if bundle.len() == 1 => None,
                None => bail!(
                    "give one bundle (a ZIP or a folder); to import several list files, add \
                     --mapping auto or --mapping PROFILE"
                ),
            };
            let bundle = bundle[0].clone();
            let url = database_url(&db, Missing::Refuse)?;
            let rt = runtime()?;
            let store = rt.block_on(super::keys::open(&url, &pii))?;
            if opts.target.is_none() {
                opts.target = rt.block_on(import::tenant_default(&store, &tenant))?;
            }
            let progress = TerminalProgress::new(format == Format::Text);
            let report = rt.block_on(async {
                let store = store.clone();
                let bundle = bundle.clone();
                tokio::task::spawn_blocking(move || match mapped {
                    Some((profile, files, map_opts)) => crate::mapping::run::import(
                        &store, &profile, &files, &map_opts, &opts, &progress,
                    ),
                    None => import::import(&store, &bundle, &opts, &progress),
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
            delta,
        } => {
            let profile = GenProfile::parse(&profile).with_context(|| {
                format!("unknown --profile {profile:?}: use jp-1.2.1 or jp-k12")
            })?;
            let opts = GenerateOptions {
                students,
                seed,
                profile,
                delta,
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
            target,
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
            let target = target.as_deref().map(super::target::parse).transpose()?;
            let opts = crate::export::ExportOptions {
                tenant,
                since,
                profile,
                target,
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
            if let Some(t) = &summary.target {
                print_target_report(t);
            }
            eprintln!("wrote {}", out.display());
            Ok(0)
        }
        Command::Serve(args) => super::serve::run(args),
        Command::Config { command } => super::config_show::run(command),
        Command::Doctor { lang, serve } => super::doctor::run(lang.as_deref(), &serve),
        Command::Backup { out, db } => super::backup::backup(&out, &db),
        Command::Restore { input, force, db } => super::backup::restore(&input, force, &db),
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
            let list = rt.block_on(async {
                let store = open(&db).await?;
                let mut list = Vec::new();
                for (id, name) in store.tenants().await? {
                    let target = store.tenant_target(&id).await?;
                    list.push(serde_json::json!({"id": id, "name": name, "target": target}));
                }
                Ok::<_, anyhow::Error>(list)
            })?;
            println!("{}", serde_json::Value::Array(list));
            Ok(0)
        }
        Command::Tenant {
            command: TenantCommand::SetTarget { id, target, db },
        } => {
            // `none` clears it; anything else must be a known model.
            let target = match target.as_str() {
                "none" => None,
                name => Some(super::target::parse(name)?.name()),
            };
            let rt = runtime()?;
            rt.block_on(async {
                let store = open(&db).await?;
                if !store.set_tenant_target(&id, target).await? {
                    bail!("there is no tenant {id:?}; `rosterhub tenant list` shows them");
                }
                eprintln!(
                    "tenant {id}: imports are held to {} unless they name another --target",
                    target.unwrap_or("no national model")
                );
                Ok(0)
            })
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
