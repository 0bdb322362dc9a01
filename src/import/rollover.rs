//! The April rollover (年次更新): the first bulk of a new 年度 replaces last year's classes and
//! enrollments and no longer lists the students who graduated. In rollover mode those
//! tombstones are expected and do not count towards the safety threshold; withdrawals of other
//! students still do, so a file that also loses half of the second grade is still held.

use std::collections::HashSet;

use crate::domain::Entity;
use crate::domain::ids::GradeCode;
use crate::storage::{FileMode, Store};

use super::context::Context;
use super::pipeline::ImportError;

/// The grades whose students leave at the end of a 年度 unless told otherwise: the last grade
/// of 小学校, 中学校 and 高等学校 (a 定時制 school's H4 is given with `--rollover P6,J3,H4`).
pub const DEFAULT_GRADUATING: &str = "P6,J3,H3";

/// Rollover mode of one import: the graduating grades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollover {
    pub graduating: Vec<GradeCode>,
}

impl Rollover {
    /// `P6,J3,H3` (MEXT grade codes, comma-separated); empty means the default.
    pub fn parse(list: &str) -> Result<Rollover, String> {
        let list = if list.trim().is_empty() {
            DEFAULT_GRADUATING
        } else {
            list
        };
        let graduating = list
            .split(',')
            .map(|g| {
                GradeCode::parse(g.trim()).ok_or_else(|| {
                    format!(
                        "{:?} is not a MEXT grade code: give the graduating grades as a list \
                         such as {DEFAULT_GRADUATING} (P1–P6, J1–J3, H1–H4, E1–E3)",
                        g.trim()
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rollover { graduating })
    }

    /// The grades as written, for messages and job parameters.
    pub fn grades(&self) -> String {
        self.graduating
            .iter()
            .map(GradeCode::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The active students of the graduating grades, read before the import's transaction opens.
/// Blocking: the pipeline runs on a blocking thread of the runtime.
pub(super) fn graduating_students(
    store: &Store,
    tenant: &str,
    rollover: &Rollover,
) -> Result<HashSet<String>, ImportError> {
    let handle = tokio::runtime::Handle::try_current().map_err(|e| {
        ImportError::Store(crate::storage::StoreError::Io(std::io::Error::other(e)))
    })?;
    let grades: Vec<&str> = rollover.graduating.iter().map(GradeCode::as_str).collect();
    Ok(handle.block_on(store.active_users_in_grades(tenant, &grades))?)
}

/// How many tombstones of `entity` the rollover expects: every enrollment (last year's classes
/// go), and the users of `graduating` the bundle drops — absent from a bulk file, or listed as
/// `tobedeleted`.
pub(super) fn expected_tombstones(
    ctx: &Context,
    entity: Entity,
    mode: FileMode,
    tombstoned: u64,
    graduating: &HashSet<String>,
) -> u64 {
    match entity {
        Entity::Enrollments => tombstoned,
        Entity::Users => {
            let seen = &ctx.ids[entity.index()];
            let dropped = &ctx.tombstoned[entity.index()];
            let bulk = mode == FileMode::Bulk;
            let n = graduating
                .iter()
                .filter(|id| (bulk && !seen.contains(id)) || dropped.contains(id))
                .count() as u64;
            n.min(tombstoned)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graduating_grades_parse_with_a_default() {
        assert_eq!(Rollover::parse("").unwrap().grades(), "P6,J3,H3");
        assert_eq!(Rollover::parse(" P6 , H4").unwrap().grades(), "P6,H4");
        let e = Rollover::parse("P6,小6").unwrap_err();
        assert!(e.contains("\"小6\" is not a MEXT grade code"), "{e}");
    }
}
