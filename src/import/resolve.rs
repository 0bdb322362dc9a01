//! References the bundle alone could not resolve, checked once the whole bundle was read.

use std::collections::HashSet;

use crate::domain::Entity;
use crate::storage::{ImportTx, StoreError};

use super::context::{Context, Deferred};
use super::report::{Finding, Findings, Severity};

/// Resolves, after the whole bundle was read, the references that were not found when their row
/// was: first in the bundle (forward references), then — for entities the bundle does not
/// replace in bulk — in the tenant's stored data. Without a store (`validate`), those become
/// warnings that say what the import will check.
pub fn resolve_deferred(
    ctx: &mut Context,
    findings: &mut Findings,
    store: Option<&mut (dyn ImportTx + '_)>,
) -> Result<(), StoreError> {
    let deferred = std::mem::take(&mut ctx.deferred);
    let mut to_store: Vec<&Deferred> = Vec::new();
    for d in deferred
        .iter()
        .filter(|d| !ctx.unreadable.contains(&d.target))
    {
        if ctx.in_bundle(d.target, &d.id) {
            if let Some(t) = ctx
                .org_types
                .get(&d.id)
                .filter(|t| d.must_be_school && t.as_str() != "school")
            {
                {
                    findings.push(not_a_school(d, t));
                }
            }
        } else if ctx.is_bulk(d.target) {
            findings.push(deferred_finding(
                d,
                Severity::Error,
                "unresolved_reference",
                format!(
                    "`{}` is not in {}.csv, which this bundle replaces in bulk",
                    d.id,
                    d.target.name()
                ),
            ));
        } else {
            to_store.push(d);
        }
    }
    let Some(tx) = store else {
        for d in to_store {
            findings.push(deferred_finding(
                d,
                Severity::Warning,
                "reference_not_checked",
                format!(
                    "`{}` is not in this bundle; the import checks that it is stored already",
                    d.id
                ),
            ));
        }
        return Ok(());
    };
    for target in Entity::ALL {
        let group: Vec<&&Deferred> = to_store.iter().filter(|d| d.target == target).collect();
        for chunk in group.chunks(10_000) {
            let ids: Vec<&str> = chunk.iter().map(|d| d.id.as_str()).collect();
            let missing: HashSet<String> = tx.missing_ids(target, &ids)?.into_iter().collect();
            let schools: Vec<&str> = chunk
                .iter()
                .filter(|d| d.must_be_school && !missing.contains(&d.id))
                .map(|d| d.id.as_str())
                .collect();
            let types = if schools.is_empty() {
                Default::default()
            } else {
                tx.stored_org_types(&schools)?
            };
            for d in chunk {
                if missing.contains(&d.id) {
                    let message = if d.target == Entity::Users && d.column == "sourcedId" {
                        format!("demographics `{}` has no user with that sourcedId", d.id)
                    } else {
                        format!(
                            "`{}` is neither in this bundle nor stored in {}",
                            d.id,
                            d.target.name()
                        )
                    };
                    findings.push(deferred_finding(
                        d,
                        Severity::Error,
                        "unresolved_reference",
                        message,
                    ));
                } else if let Some(t) = types.get(&d.id).filter(|t| t.as_str() != "school") {
                    findings.push(not_a_school(d, t));
                }
            }
        }
    }
    Ok(())
}

fn deferred_finding(
    d: &Deferred,
    severity: Severity,
    code: &'static str,
    message: String,
) -> Finding {
    Finding {
        severity,
        code,
        file: Some(d.file.file_name().to_owned()),
        line: Some(d.line),
        column: Some(d.column.to_owned()),
        value: Some(d.id.clone()),
        message,
    }
}

fn not_a_school(d: &Deferred, org_type: &str) -> Finding {
    deferred_finding(
        d,
        Severity::Error,
        "reference_not_school",
        format!(
            "`{}` is an org of type `{org_type}`; {} must reference a school",
            d.id, d.column
        ),
    )
}
