//! `POST /mappings/{name}/preview` and `POST /mappings/preview`: a sample of a school's lists
//! (one CSV or a ZIP of CSVs, UTF-8 or Shift_JIS) mapped with a stored profile, with the
//! profile sent beside it (multipart field `profile`) or with the built-in layouts, and checked
//! as `rosterhub map check` checks them (`mapping::preview`, the same code): the layout and
//! encoding found per file, the first records of each OneRoster file with their source lines,
//! and every finding with its source file, line and column. Nothing is written: the check has
//! no database, as `map check` has none (references to stored records are warnings).
//!
//! The sample is a raw body (`text/csv`, `application/zip`, …) or the multipart field `file`;
//! `?rows=` (default 10, at most 20), `?school=CODE[:NAME]` and `?school_year=` as for an
//! import.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, RawQuery, Request, State};
use serde_json::Value;

use super::auth::Caller;
use super::common::{query, school_year, uint};
use super::error::AdminError;
use super::mappings::{find, parse_profile};
use super::upload::{Form, Spooled, spool_form};
use crate::auth::Scopes;
use crate::http::AppState;
use crate::import::{Channel, ImportOptions};
use crate::mapping::preview::{MAX_ROWS, to_json};
use crate::mapping::profile::{MappingProfile, School};
use crate::mapping::run;

/// The largest sample: the whole sample is mapped in memory, as an import's lists are.
const SAMPLE_LIMIT: u64 = 32 << 20;
const DEFAULT_ROWS: u64 = 10;

/// The multipart form of a preview: the sample in `file`, a profile in `profile` (the web
/// UI's form sends its other choices beside them).
pub(crate) const SAMPLE: Form = Form {
    file: "file",
    long_text: Some("profile"),
    csv: true,
};

/// With the stored profile `name`.
pub async fn named(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    q: RawQuery,
    req: Request,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let stored = find(&state, &caller.tenant, &name).await?;
    let profile = parse_profile(&stored.body)?;
    let spooled = spool_form(req, &state, limit(&state), &SAMPLE).await?;
    let asked = asked(&query(q))?;
    Ok(Json(
        check_sample(&state, &caller, profile, spooled, asked).await?,
    ))
}

/// With the profile in the form's `profile` field, else the built-in layouts.
pub async fn unnamed(
    State(state): State<AppState>,
    caller: Caller,
    q: RawQuery,
    req: Request,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::IMPORT)?;
    let spooled = spool_form(req, &state, limit(&state), &SAMPLE).await?;
    let text = spooled
        .fields
        .iter()
        .find(|(k, _)| k == "profile")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty());
    let profile = match text {
        Some(t) => parse_profile(t)?,
        None => MappingProfile::auto(School::default(), None),
    };
    let asked = asked(&query(q))?;
    Ok(Json(
        check_sample(&state, &caller, profile, spooled, asked).await?,
    ))
}

/// The largest sample a preview spools.
pub(crate) fn limit(state: &AppState) -> u64 {
    state.jobs.config.upload_limit_bytes.min(SAMPLE_LIMIT)
}

/// What a preview asks besides the sample: how many records per file, the school
/// (`CODE[:NAME]`) and the 年度, as an import takes them.
pub(crate) struct Asked {
    pub rows: usize,
    pub school: Option<String>,
    pub school_year: Option<i32>,
}

/// The preview's parameters (`rows`, `school`, `school_year`) from a query string or, in the
/// web UI, from the form's fields.
pub(crate) fn asked(q: &HashMap<String, String>) -> Result<Asked, AdminError> {
    Ok(Asked {
        rows: uint(q, "rows", DEFAULT_ROWS, MAX_ROWS as u64)? as usize,
        school_year: school_year(q)?,
        school: q.get("school").cloned(),
    })
}

/// The preview — the API's and the web UI's one rule: the sample mapped with `profile` and
/// checked as `map check` checks it, answered as `map check --format json` prints it. No
/// database is touched.
pub(crate) async fn check_sample(
    state: &AppState,
    caller: &Caller,
    profile: MappingProfile,
    spooled: Spooled,
    asked: Asked,
) -> Result<Value, AdminError> {
    caller.require(Scopes::IMPORT)?;
    caller.require_write()?;
    let Asked {
        rows,
        school,
        school_year: year,
    } = asked;
    let rows = rows.min(MAX_ROWS);
    if spooled.size == 0 {
        return Err(AdminError::bad_request(
            "empty_upload",
            "the sample is empty: send a list as CSV, or a ZIP of lists \
             (名簿の CSV か、その ZIP を送ってください)",
        ));
    }
    let import_opts = ImportOptions {
        tenant: caller.tenant.clone(),
        target: crate::import::tenant_default(&state.store, &caller.tenant).await?,
        channel: Channel::Http,
        ..ImportOptions::default()
    };
    let answer = tokio::task::spawn_blocking(move || {
        let files = run::upload_files(spooled.file.path(), spooled.file_name.clone())
            .map_err(|m| AdminError::bad_request("invalid_upload", m))?;
        let opts = run::options(&import_opts.tenant, school.as_deref(), year);
        let (mapped, report) = run::check(&profile, &files, &opts, &import_opts)
            .map_err(|e| AdminError::internal(format!("cannot check the sample: {e}")))?;
        drop(spooled);
        Ok::<_, AdminError>(to_json(&mapped, &report, rows))
    })
    .await
    .map_err(|e| AdminError::internal(e.to_string()))??;
    Ok(answer)
}
