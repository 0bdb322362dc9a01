//! The plan's safety checks: an import that would tombstone more than the threshold's share of
//! the tenant's active users or enrollments is held (the April rollover's expected tombstones
//! aside, `import::rollover`), and so is one the caller holds for a reason of its own (an
//! unattended file in a blackout window). A forced run applies either.

use std::collections::HashSet;

use crate::domain::Entity;
use crate::storage::{FileMode, ImportTx, StoreError};

use super::context::Context;
use super::pipeline::{Channel, ImportOptions, bundle_finding};
use super::report::{Findings, Report, Severity};
use super::rollover;

/// Plans every file into `report`'s counts; adds the findings of what holds the import and
/// says whether it is held (nothing is written then, unless `opts.force`).
pub(super) fn plan(
    tx: &mut dyn ImportTx,
    ctx: &Context,
    files: &[(Entity, FileMode)],
    graduating: Option<&HashSet<String>>,
    opts: &ImportOptions,
    report: &mut Report,
    findings: &mut Findings,
) -> Result<bool, StoreError> {
    let mut held = Vec::new();
    let mut expected = Vec::new();
    for (entity, mode) in files {
        let counts = tx.plan(*entity, *mode)?;
        report.set_counts(*entity, counts);
        if matches!(entity, Entity::Users | Entity::Enrollments) && counts.tombstoned > 0 {
            let excused = graduating.map_or(0, |g| {
                rollover::expected_tombstones(ctx, *entity, *mode, counts.tombstoned, g)
            });
            if excused > 0 {
                expected.push(format!("{excused} {}", entity.name()));
            }
            let counted = counts.tombstoned - excused;
            let active = tx.active_count(*entity)?;
            let share = counted as f64 / active.max(1) as f64;
            if share > opts.threshold {
                held.push(format!(
                    "{} of {} active {} ({:.0} %)",
                    counted,
                    active,
                    entity.name(),
                    share * 100.0
                ));
            }
        }
    }
    if let Some(r) = opts.rollover.as_ref().filter(|_| !expected.is_empty()) {
        findings.push(bundle_finding(
            "rollover_expected",
            None,
            format!(
                "rollover (年次更新): {} tombstoned as expected — last year's enrollments and the \
                 students of the graduating grades {} — not counted towards the safety threshold",
                expected.join(" and "),
                r.grades()
            ),
            Severity::Warning,
        ));
    }
    let mut holds: Vec<(&'static str, String)> = Vec::new();
    if !held.is_empty() {
        let besides = if graduating.is_some() {
            " besides the rollover's expected ones"
        } else {
            ""
        };
        holds.push((
            "threshold_exceeded",
            format!(
                "this import would tombstone {}{besides}, more than the {:.0} % safety threshold",
                held.join(" and "),
                opts.threshold * 100.0
            ),
        ));
    }
    if let Some(why) = &opts.hold {
        holds.push(("blackout_hold", why.clone()));
    }
    if holds.is_empty() || opts.force {
        return Ok(false);
    }
    for (code, what) in holds {
        findings.push(bundle_finding(
            code,
            None,
            held_message(&what, opts),
            Severity::Warning,
        ));
    }
    Ok(true)
}

/// A held import's finding: what holds it and what to do, in the channel it came from.
fn held_message(what: &str, opts: &ImportOptions) -> String {
    // A dry run never enters the held queue: it says what a real import would do.
    match (opts.dry_run, opts.channel) {
        (true, Channel::Cli) => {
            format!("would be held: {what}; a real import waits (re-run with --force to apply it)")
        }
        (true, Channel::Http) => {
            format!("would be held: {what}; a real upload waits for an admin's approval")
        }
        (false, Channel::Cli) => {
            format!("held: {what}; nothing was written (re-run with --force to apply it)")
        }
        (false, Channel::Http) => {
            // The job's own id when it runs as one, so the message is a request to copy.
            let id = opts.job.as_ref().map_or("{id}", |j| j.job_id.as_str());
            format!(
                "held: {what}; nothing was written until an admin approves it \
                 (POST /api/v1/imports/{id}/approve) or discards it"
            )
        }
    }
}
