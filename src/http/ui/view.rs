//! Jobs and reports as the pages show them: plain strings and numbers for the templates.

use serde_json::Value;

use super::zone::Zone;
use crate::jobs::{Job, JobState};
use crate::web::form::pairs_lossy;

/// One import or export in a list or on its page.
pub struct JobView {
    pub id: String,
    pub kind: &'static str,
    /// The state's name: the CSS class, and `state.<name>` its words.
    pub state: &'static str,
    pub created: String,
    pub started: String,
    pub finished: String,
    pub file_name: String,
    pub dry_run: bool,
    pub errors: u64,
    pub warnings: u64,
    pub error: String,
    pub profile: String,
    /// The bundle was refused for its errors (the findings say why).
    pub rejected: bool,
}

impl JobView {
    pub fn of(job: &Job, zone: &Zone) -> JobView {
        let report = job.report.as_ref();
        let num = |k: &str| {
            report
                .and_then(|r| r.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let when = |t: Option<i64>| t.map(|t| zone.datetime(t)).unwrap_or_default();
        JobView {
            id: job.id.clone(),
            kind: job.kind.as_str(),
            state: job.state.as_str(),
            created: zone.datetime(job.created_at),
            started: when(job.started_at),
            finished: when(job.finished_at),
            file_name: job.params.file_name.clone().unwrap_or_default(),
            dry_run: job.params.dry_run,
            errors: num("error_count"),
            warnings: num("warning_count"),
            error: job.error.clone().unwrap_or_default(),
            profile: report
                .and_then(|r| r.get("profile"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            rejected: report.and_then(|r| r.get("status")).and_then(Value::as_str)
                == Some("rejected"),
        }
    }

    /// The catalogue key of the state's words.
    pub fn state_key(&self) -> String {
        format!("state.{}", self.state)
    }

    /// Whether the job is still moving (the page follows it live).
    pub fn live(&self) -> bool {
        matches!(self.state, "queued" | "running")
    }

    pub fn is_held(&self) -> bool {
        self.state == JobState::Held.as_str()
    }
}

/// One entity's line of an import report.
pub struct EntityLine {
    pub name: String,
    /// The catalogue key of the entity's words.
    pub label: String,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub tombstoned: u64,
}

/// The per-entity counts of a report, in its order.
pub fn entity_lines(report: Option<&Value>) -> Vec<EntityLine> {
    let Some(Value::Object(map)) = report.and_then(|r| r.get("entities")) else {
        return Vec::new();
    };
    map.iter()
        .map(|(name, c)| {
            let n = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
            EntityLine {
                label: format!("entity.{name}"),
                name: name.clone(),
                inserted: n("inserted"),
                updated: n("updated"),
                unchanged: n("unchanged"),
                tombstoned: n("tombstoned"),
            }
        })
        .collect()
}

/// A page's query string, read leniently (a page never fails on a stray parameter): the first
/// value of each name, `""` when absent.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new(raw: Option<&str>) -> Params {
        Params(raw.map(|r| pairs_lossy(r).collect()).unwrap_or_default())
    }

    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// `?page=`: 1 when absent or not a number, at most `last` (a deep page is a bound read,
    /// not an unbounded offset).
    pub fn page(&self, last: u64) -> u64 {
        self.get("page").parse().unwrap_or(1).clamp(1, last)
    }

    /// A keyset page's position: after the row `(at, id)`, as `?after=<at>_<id>`.
    pub fn after(&self) -> Option<(i64, String)> {
        let (at, id) = self.get("after").split_once('_')?;
        Some((at.parse().ok()?, id.to_owned()))
    }
}
