//! References the bundle alone could not resolve, checked once the whole bundle was read.

use std::collections::{HashMap, HashSet};

use crate::domain::Entity;
use crate::storage::{ImportTx, Referrer, StoreError};

use super::checks::tombstone_message;
use super::context::{Context, Deferred};
use super::report::{Finding, Findings, Severity};

/// Resolves, after the whole bundle was read, the references that were not found when their row
/// was: first in the bundle (forward references), then — for entities the bundle does not
/// replace in bulk — in the tenant's stored data. Without a store (`validate`), those become
/// warnings that say what the import will check.
pub fn resolve_deferred(
    ctx: &mut Context,
    findings: &mut Findings,
    mut store: Option<&mut (dyn ImportTx + '_)>,
) -> Result<(), StoreError> {
    let deferred = std::mem::take(&mut ctx.deferred);
    let mut to_store: Vec<&Deferred> = Vec::new();
    for d in deferred
        .iter()
        .filter(|d| !ctx.unreadable.contains(&d.target))
    {
        if ctx.in_bundle(d.target, &d.id) {
            if ctx.tombstoned[d.target.index()].contains(&d.id) {
                findings.push(deferred_finding(
                    d,
                    Severity::Error,
                    "reference_to_tombstone",
                    tombstone_message(d.target, &d.id),
                ));
            } else if let Some(t) = ctx
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
    check_org_cycles(ctx, findings, store.as_deref_mut().map(|s| s as _))?;
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
            let stored = tx.stored_status(target, &ids)?;
            let schools: Vec<&str> = chunk
                .iter()
                .filter(|d| d.must_be_school && stored.get(&d.id) == Some(&true))
                .map(|d| d.id.as_str())
                .collect();
            let types = if schools.is_empty() {
                Default::default()
            } else {
                tx.stored_org_types(&schools)?
            };
            for d in chunk {
                if stored.get(&d.id) == Some(&false) {
                    findings.push(deferred_finding(
                        d,
                        Severity::Error,
                        "reference_to_tombstone",
                        tombstone_message(d.target, &d.id),
                    ));
                } else if !stored.contains_key(&d.id) {
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
    check_tombstones(ctx, findings, tx)
}

/// How many stored records still referencing a tombstone are looked up per entity.
const REFERRER_LIMIT: usize = 10_000;

/// A delta's tombstones against the store: tombstoning an id that is not stored is a warning
/// (nothing to do; probably a wrong id), and tombstoning a record that active stored records
/// still reference — records this bundle does not rewrite — is an error: they would point at
/// a deleted record. (Bulk files need no such check: a record absent from a bulk file is
/// replaced whole, and the rows a bundle does hold are checked as they are read.)
fn check_tombstones(
    ctx: &mut Context,
    findings: &mut Findings,
    tx: &mut (dyn ImportTx + '_),
) -> Result<(), StoreError> {
    let tombstones = std::mem::take(&mut ctx.tombstones);
    for target in Entity::ALL {
        let of_target: Vec<&(Entity, String, u64)> =
            tombstones.iter().filter(|t| t.0 == target).collect();
        let file = target.file_name();
        let mut referrers = Vec::new();
        for chunk in of_target.chunks(10_000) {
            let ids: Vec<&str> = chunk.iter().map(|t| t.1.as_str()).collect();
            let stored = tx.stored_status(target, &ids)?;
            for (_, id, line) in chunk {
                if !stored.contains_key(id) {
                    findings.push(Finding {
                        severity: Severity::Warning,
                        code: "tombstone_unknown",
                        file: Some(file.to_owned()),
                        line: Some(*line),
                        column: Some("sourcedId".into()),
                        value: Some(id.clone()),
                        message: format!(
                            "`{id}` is not stored in {}: there is nothing to tombstone \
                             (check the id)",
                            target.name()
                        ),
                    });
                }
            }
            if referrers.len() < REFERRER_LIMIT {
                let limit = REFERRER_LIMIT - referrers.len();
                referrers.extend(tx.active_referrers(target, &ids, limit)?);
            }
        }
        // Records the bundle holds are checked as rows; records of a bulk file not in it are
        // tombstoned by it. What is left would point at a tombstone.
        referrers.retain(|r| !ctx.is_bulk(r.entity) && !ctx.in_bundle(r.entity, &r.sourced_id));
        let mut by_target: Vec<(String, Vec<Referrer>)> = Vec::new();
        for r in referrers {
            match by_target.iter_mut().find(|(id, _)| *id == r.target_id) {
                Some((_, list)) => list.push(r),
                None => by_target.push((r.target_id.clone(), vec![r])),
            }
        }
        for (id, list) in by_target {
            let examples: Vec<String> = list
                .iter()
                .take(3)
                .map(|r| format!("{} `{}` ({})", r.entity.name(), r.sourced_id, r.column))
                .collect();
            findings.push(Finding {
                severity: Severity::Error,
                code: "tombstone_still_referenced",
                file: Some(file.to_owned()),
                line: ctx.tombstoned[target.index()].line(&id),
                column: Some("status".into()),
                value: Some(id.clone()),
                message: format!(
                    "`{id}` is tombstoned here, but {} active stored record(s) still reference \
                     it: {}{}; tombstone them or point them elsewhere in this bundle",
                    list.len(),
                    examples.join(", "),
                    if list.len() > 3 { ", …" } else { "" }
                ),
            });
        }
    }
    Ok(())
}

/// An org may not be its own ancestor. The parents are the bundle's, over the stored ones when
/// the bundle's orgs file is a delta (or absent) and a store is at hand.
fn check_org_cycles(
    ctx: &Context,
    findings: &mut Findings,
    store: Option<&mut (dyn ImportTx + '_)>,
) -> Result<(), StoreError> {
    if ctx.org_parents.is_empty() {
        return Ok(());
    }
    let mut parents: HashMap<String, String> = match store {
        Some(tx) if !ctx.is_bulk(Entity::Orgs) => tx.stored_org_parents()?,
        _ => HashMap::new(),
    };
    parents.retain(|id, _| !ctx.tombstoned[Entity::Orgs.index()].contains(id));
    for (id, (parent, _)) in &ctx.org_parents {
        parents.insert(id.clone(), parent.clone());
    }
    let mut reported: HashSet<String> = HashSet::new();
    let mut starts: Vec<(&String, u64)> = ctx
        .org_parents
        .iter()
        .map(|(id, (_, line))| (id, *line))
        .collect();
    starts.sort_by_key(|(_, line)| *line);
    for (start, line) in starts {
        if reported.contains(start) {
            continue;
        }
        let mut path = vec![start.clone()];
        let mut at = start;
        while let Some(next) = parents.get(at) {
            if next == start {
                reported.extend(path.iter().cloned());
                path.push(start.clone());
                let chain: Vec<String> = path.iter().map(|p| format!("`{p}`")).collect();
                findings.push(Finding {
                    severity: Severity::Error,
                    code: "org_parent_cycle",
                    file: Some(Entity::Orgs.file_name().to_owned()),
                    line: Some(line),
                    column: Some("parentSourcedId".into()),
                    value: Some(parents[start].clone()),
                    message: format!(
                        "the parents form a cycle: {}; an org cannot be its own ancestor",
                        chain.join(" → ")
                    ),
                });
                break;
            }
            if path.len() > parents.len() || path.contains(next) {
                break; // a cycle that does not pass through `start`, or a very long chain
            }
            path.push(next.clone());
            at = next;
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
