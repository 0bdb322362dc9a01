//! `rosterhub import undo ID [--dry-run] [--force]`: reverts an applied import as a new import
//! (see `import::undo`), recorded in the import history and the audit log like an import.

use anyhow::Context as _;
use serde_json::json;

use super::db::{Missing, database_url, describe, runtime};
use super::{Format, keys::PiiArgs};
use crate::import::Channel;
use crate::import::undo::{Refusal, UndoOptions, UndoOutcome, add_to_history, undo};

/// The arguments of `import undo`.
#[derive(Debug, clap::Args)]
pub struct UndoArgs {
    /// The import to undo: the `import_id` of its report, or the id of its job in the import
    /// history.
    pub import: String,
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Show what would change (the report's `changes`); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Revert the records no later import changed, and leave (and list) the others.
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub pii: PiiArgs,
    #[command(flatten)]
    pub db: super::DbArgs,
}

/// Runs `import undo`: exit 0 undone (or dry run), 1 refused (nothing written).
pub fn run(a: UndoArgs) -> anyhow::Result<i32> {
    let url = database_url(&a.db, Missing::Refuse)?;
    let rt = runtime()?;
    rt.block_on(async {
        let store = super::keys::open(&url, &a.pii).await?;
        // A job id from the history names its import.
        let import_id = match store.job(&a.tenant, &a.import).await? {
            Some(job) => job.import_id.unwrap_or(a.import.clone()),
            None => a.import.clone(),
        };
        let actor = super::audit::actor();
        let opts = UndoOptions {
            tenant: a.tenant.clone(),
            import_id: import_id.clone(),
            dry_run: a.dry_run,
            force: a.force,
            actor: Some(actor.clone()),
            channel: Channel::Cli,
        };
        let outcome = undo(&store, &opts)
            .await
            .context("the undo failed and was rolled back")?;
        let (status, code) = match &outcome {
            UndoOutcome::Done(_) => (200, 0),
            UndoOutcome::Refused(Refusal::NotFound) => (404, 1),
            UndoOutcome::Refused(_) => (409, 1),
        };
        let mut job = None;
        if let UndoOutcome::Done(report) = &outcome
            && !a.dry_run
        {
            job = add_to_history(&store, &a.tenant, &actor, report).await;
        }
        if !a.dry_run {
            let action = super::audit::Action {
                tenants: vec![a.tenant.clone()],
                action: "imports.undo",
                command: "rosterhub import undo",
                target: Some(job.unwrap_or(import_id.clone())),
                status,
            };
            super::audit::record(&store, action).await;
        }
        match (&outcome, a.format) {
            (UndoOutcome::Done(report), Format::Json) => {
                let mut v = serde_json::to_value(report)?;
                v["database"] = describe(&url).into();
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            (UndoOutcome::Done(report), Format::Text) => print!("{}", report.to_text()),
            (UndoOutcome::Refused(r), Format::Json) => {
                let mut v =
                    json!({"error": r.code(), "message": r.message(&import_id, Channel::Cli)});
                if let Refusal::Conflicts { listed, total } = r {
                    v["conflicts"] = serde_json::to_value(listed)?;
                    v["conflict_count"] = (*total).into();
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            (UndoOutcome::Refused(r), Format::Text) => {
                eprintln!("{}", r.message(&import_id, Channel::Cli));
                if let Refusal::Conflicts { listed, total } = r {
                    for c in listed {
                        eprintln!(
                            "  {:<13} {}  changed later by {}",
                            c.entity, c.sourced_id, c.later_import_id
                        );
                    }
                    if *total > listed.len() as u64 {
                        eprintln!("  … and {} more", *total - listed.len() as u64);
                    }
                }
            }
        }
        Ok(code)
    })
}
