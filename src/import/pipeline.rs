//! The import pipeline: open → manifest → profile → read and stage every file → resolve
//! references → plan → (threshold) → apply, all in one transaction.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use crate::csv::bundle::{Bundle, BundleError};
use crate::csv::decode::{self, Detected, EncodingChoice};
use crate::csv::limits::{ReadLimits, RecordTooLong};
use crate::csv::manifest::{Manifest, Mode};
use crate::csv::profile::{self, Profile};
use crate::csv::target::TargetCheck;
use crate::domain::Entity;
use crate::domain::datetime::now_ms;
use crate::domain::entity::FILE_NAMES;
use crate::storage::{FileMode, ImportRecord, ImportStamp, ImportTx, JobRef, Store, StoreError};

use super::context::Context;
use super::layout::{self, Layout};
use super::reader::FileReader;
use super::report::{DEFAULT_FINDINGS_PER_CODE, Finding, Findings, Outcome, Report, Severity};
use super::rollover::{self, Rollover};
use super::rows::{self, RowProgress};
use super::{changes, hold, resolve};

/// What the caller wants from an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub tenant: String,
    pub dry_run: bool,
    /// Apply even when the plan crosses the safety threshold.
    pub force: bool,
    pub encoding: EncodingChoice,
    /// Hold the import when it would tombstone more than this share of the tenant's active
    /// users or enrollments.
    pub threshold: f64,
    pub findings_per_code: usize,
    /// Tests only: fail right after applying this entity, to prove nothing remains.
    pub fail_after: Option<Entity>,
    /// The job running this import (HTTP uploads), recorded with it and fencing its commit.
    pub job: Option<JobRef>,
    /// Sizes of records, cells and headers past which a file is rejected (memory stays flat).
    pub limits: ReadLimits,
    /// Who reads the messages: they name CLI flags or HTTP operations accordingly.
    pub channel: Channel,
    /// Hold the bundle to a national model (`--target`).
    pub target: Option<TargetCheck>,
    /// April rollover: the graduating grades' withdrawals and every enrollment's tombstone are
    /// expected and do not count towards the threshold (`--rollover`).
    pub rollover: Option<Rollover>,
    /// Hold the import for approval whatever its plan, saying why (an unattended import in a
    /// blackout window). `force` applies it.
    pub hold: Option<String>,
    /// Who runs it (`cli:<user>`, the job's creator), kept in the change log for histories.
    pub actor: Option<String>,
}

/// Where an import was started, so that messages tell a person what to do *there*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    #[default]
    Cli,
    Http,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            tenant: "default".into(),
            dry_run: false,
            force: false,
            encoding: EncodingChoice::Utf8,
            threshold: 0.30,
            findings_per_code: DEFAULT_FINDINGS_PER_CODE,
            fail_after: None,
            job: None,
            limits: ReadLimits::default(),
            channel: Channel::Cli,
            target: None,
            rollover: None,
            hold: None,
            actor: None,
        }
    }
}

/// Where progress goes (a terminal bar, a job row, nowhere).
pub trait Progress: RowProgress {
    fn phase(&self, phase: &str);
}

impl Progress for () {
    fn phase(&self, _: &str) {}
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(super) fn bundle_finding(
    code: &'static str,
    file: Option<&str>,
    message: String,
    severity: Severity,
) -> Finding {
    Finding {
        severity,
        code,
        file: file.map(str::to_owned),
        line: None,
        column: None,
        value: None,
        message,
    }
}

/// A bundle opened, its manifest read and its profile known: ready to read rows.
struct Prepared {
    bundle: Bundle,
    profile: Profile,
    /// The files to read, in dependency order, with their mode.
    files: Vec<(Entity, FileMode)>,
    layouts: HashMap<Entity, (Layout, Detected)>,
    /// Files the manifest declares but that could not be read (already reported).
    unreadable: Vec<Entity>,
}

fn read_text(bundle: &mut Bundle, name: &str, opts: &ImportOptions) -> Result<String, String> {
    let input = bundle.open_file(name).map_err(|e| e.to_string())?;
    let decoded = decode::decode(input, opts.encoding, opts.limits.max_record_bytes)
        .map_err(|e| e.to_string())?;
    let mut text = String::new();
    let mut r = decoded.reader;
    r.read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}

/// Reads just the header row of a file; a problem is a finding on the file.
fn read_header(
    bundle: &mut Bundle,
    name: &str,
    opts: &ImportOptions,
) -> Result<(Vec<String>, Detected), Box<Finding>> {
    let problem = |code, line, message| {
        Box::new(Finding {
            line,
            ..bundle_finding(code, Some(name), message, Severity::Error)
        })
    };
    let input = bundle
        .open_file(name)
        .map_err(|e| problem("file_unreadable", None, e.to_string()))?;
    let decoded = decode::decode(input, opts.encoding, opts.limits.max_record_bytes)
        .map_err(|e| problem(decode_code(&e), None, decode_message(&e, opts.channel)))?;
    let detected = decoded.detected;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(decoded.reader);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) if record.len() > opts.limits.max_columns => Err(problem(
            "too_many_columns",
            Some(1),
            format!(
                "the header has {} columns; at most {} are read (the binding's columns plus \
                 metadata.* extensions) — check that this is the right file",
                record.len(),
                opts.limits.max_columns
            ),
        )),
        Ok(true) => Ok((record.iter().map(str::to_owned).collect(), detected)),
        Ok(false) => Err(problem(
            "empty_file",
            None,
            format!("{name} is empty: it has no header row"),
        )),
        Err(e) => match RecordTooLong::in_csv(&e) {
            Some(long) => Err(problem(
                "record_too_long",
                Some(long.line),
                long.to_string(),
            )),
            None => Err(problem(
                "file_unreadable",
                None,
                format!("the header cannot be read: {e}"),
            )),
        },
    }
}

/// What a person is told about a file that cannot be decoded: the CLI names its flag, an upload
/// names the query parameter.
fn decode_message(e: &decode::DecodeError, channel: Channel) -> String {
    match (e, channel) {
        (decode::DecodeError::ShiftJis { line }, Channel::Http) => format!(
            "the file is encoded in Shift_JIS (CP932), not UTF-8 (first non-UTF-8 byte on line \
             {line}); save it as UTF-8, or upload again with ?encoding=cp932 to convert it"
        ),
        _ => e.to_string(),
    }
}

/// The finding code of a file that cannot be decoded.
fn decode_code(e: &decode::DecodeError) -> &'static str {
    match e {
        decode::DecodeError::ShiftJis { .. } => "encoding_shift_jis",
        decode::DecodeError::Invalid { .. } => "encoding_invalid",
        decode::DecodeError::Io(_) => "file_unreadable",
    }
}

fn prepare(path: &Path, opts: &ImportOptions, findings: &mut Findings) -> Option<Prepared> {
    let mut bundle = match Bundle::open(path) {
        Ok(b) => b,
        Err(e) => {
            let code = match e {
                BundleError::NotZip { .. } => "not_a_zip",
                BundleError::DuplicateEntries { .. } => "duplicate_entries",
                BundleError::Io { .. } => "bundle_unreadable",
                _ => "bundle_damaged",
            };
            findings.push(bundle_finding(code, None, e.to_string(), Severity::Error));
            return None;
        }
    };
    if let Some(folder) = bundle.nested_folder() {
        findings.push(bundle_finding(
            "nested_folder",
            None,
            format!("the files are inside the folder `{folder}`; the binding puts them at the root of the ZIP"),
            Severity::Warning,
        ));
    }
    let manifest_text = match read_text(&mut bundle, "manifest.csv", opts) {
        Ok(t) => t,
        Err(e) => {
            findings.push(bundle_finding(
                "manifest_unreadable",
                Some("manifest.csv"),
                e,
                Severity::Error,
            ));
            return None;
        }
    };
    let manifest = Manifest::parse(&manifest_text);
    for p in &manifest.problems {
        findings.push(Finding {
            severity: if p.is_error {
                Severity::Error
            } else {
                Severity::Warning
            },
            code: p.code,
            file: Some("manifest.csv".into()),
            line: (p.line > 0).then_some(p.line),
            column: (!p.column.is_empty()).then(|| p.column.to_owned()),
            value: Some(p.value.clone()),
            message: p.message.clone(),
        });
    }
    // Files present vs declared.
    for name in bundle.names().to_vec() {
        if name == "manifest.csv" {
            continue;
        }
        let Some(stem) = name.strip_suffix(".csv") else {
            findings.push(bundle_finding(
                "unexpected_file",
                Some(&name),
                format!("`{name}` is not a CSV file of the binding; ignored"),
                Severity::Warning,
            ));
            continue;
        };
        if !FILE_NAMES.contains(&stem) {
            let hint = FILE_NAMES.iter().find(|f| f.eq_ignore_ascii_case(stem));
            let message = match hint {
                Some(h) => format!(
                    "`{name}` is not a file of the binding; file names are case-sensitive: did you mean `{h}.csv`?"
                ),
                None => format!("`{name}` is not a file of the binding; ignored"),
            };
            findings.push(bundle_finding(
                "unexpected_file",
                Some(&name),
                message,
                Severity::Error,
            ));
            continue;
        }
        match manifest.mode(stem) {
            Mode::Absent => findings.push(bundle_finding(
                "file_not_in_manifest",
                Some(&name),
                format!("`{name}` is in the bundle but the manifest says file.{stem} is absent"),
                Severity::Error,
            )),
            _ if Entity::from_name(stem).is_none() => findings.push(bundle_finding(
                "file_not_rostering",
                Some(&name),
                format!("`{name}` belongs to the resources or gradebook service; RosterHub imports rostering files only, so it is ignored"),
                Severity::Warning,
            )),
            _ => {}
        }
    }
    let mut files = Vec::new();
    for entity in Entity::ALL {
        let mode = match manifest.mode(entity.name()) {
            Mode::Absent => continue,
            Mode::Bulk => FileMode::Bulk,
            Mode::Delta => FileMode::Delta,
        };
        if !bundle.has(entity.file_name()) {
            findings.push(bundle_finding(
                "file_missing",
                Some(entity.file_name()),
                format!(
                    "the manifest says file.{} is {} but {} is not in the bundle",
                    entity.name(),
                    mode.as_str(),
                    entity.file_name()
                ),
                Severity::Error,
            ));
            continue;
        }
        files.push((entity, mode));
    }
    // Headers first: the profile depends on them.
    let mut headers = HashMap::new();
    for (entity, _) in &files {
        match read_header(&mut bundle, entity.file_name(), opts) {
            Ok(h) => {
                headers.insert(*entity, h);
            }
            Err(f) => findings.push(*f),
        }
    }
    let has_jp = headers
        .values()
        .any(|(h, _)| h.iter().any(|c| c.starts_with("metadata.jp.")));
    let users_1_2 = headers
        .get(&Entity::Users)
        .is_some_and(|(h, _)| layout::users_header_is_1_2(h));
    let version = manifest.oneroster_version.clone().unwrap_or_default();
    if version.is_empty() {
        return None;
    }
    let profile = match profile::detect(&version, has_jp, users_1_2) {
        Ok(p) => p,
        Err(e) => {
            findings.push(Finding {
                severity: Severity::Error,
                code: "unsupported_version",
                file: Some("manifest.csv".into()),
                line: None,
                column: Some("oneroster.version".into()),
                value: Some(version),
                message: e.0,
            });
            return None;
        }
    };
    if let Some(c) = &opts.target {
        super::target::check_bundle(c, profile, &version, findings);
    }
    let mut layouts = HashMap::new();
    for (entity, _) in &files {
        if let Some((header, detected)) = headers.remove(entity) {
            let mut out = Vec::new();
            let l = layout::layout(*entity, &header, profile, entity.file_name(), &mut out);
            out.into_iter().for_each(|f| findings.push(f));
            if detected == Detected::Cp932 {
                findings.push(bundle_finding(
                    "encoding_converted",
                    Some(entity.file_name()),
                    format!(
                        "{} was Shift_JIS (CP932) and was converted to UTF-8",
                        entity.file_name()
                    ),
                    Severity::Warning,
                ));
            }
            layouts.insert(*entity, (l, detected));
        }
    }
    let unreadable = files
        .iter()
        .map(|(e, _)| *e)
        .filter(|e| !layouts.contains_key(e))
        .collect();
    files.retain(|(e, _)| layouts.contains_key(e));
    Some(Prepared {
        bundle,
        profile,
        files,
        layouts,
        unreadable,
    })
}

/// Reads every file row by row, staging rows into `tx` when given.
fn read_files(
    prep: &mut Prepared,
    opts: &ImportOptions,
    ctx: &mut Context,
    findings: &mut Findings,
    mut tx: Option<&mut (dyn ImportTx + Send + '_)>,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<(), StoreError> {
    progress.phase("validate");
    for (entity, mode) in prep.files.clone() {
        let (layout, detected) = &prep.layouts[&entity];
        let name = entity.file_name();
        let file_started = Instant::now();
        tracing::debug!(file = name, "reading");
        let rows_read = if layout.usable {
            if let Some(tx) = tx.as_deref_mut().filter(|_| mode == FileMode::Delta)
                && let Some(ids) = super::ahead::delta_ids(&mut prep.bundle, name, opts)
            {
                tx.expect_ids(entity, &ids)?;
            }
            let input = match prep.bundle.open_file(name) {
                Ok(i) => i,
                Err(e) => {
                    findings.push(bundle_finding(
                        "file_unreadable",
                        Some(name),
                        e.to_string(),
                        Severity::Error,
                    ));
                    ctx.unreadable.push(entity);
                    continue;
                }
            };
            let decoded = match decode::decode(input, opts.encoding, opts.limits.max_record_bytes) {
                Ok(d) => d,
                Err(e) => {
                    findings.push(bundle_finding(
                        decode_code(&e),
                        Some(name),
                        decode_message(&e, opts.channel),
                        Severity::Error,
                    ));
                    ctx.unreadable.push(entity);
                    continue;
                }
            };
            let fr = FileReader {
                entity,
                mode,
                file: name,
                layout,
                converted: *detected == Detected::Cp932,
                limits: opts.limits,
                target: opts.target,
            };
            rows::read_rows(
                &fr,
                decoded.reader,
                ctx,
                findings,
                tx.as_deref_mut(),
                progress,
            )?
        } else {
            0
        };
        if rows_read == 0 && layout.usable && !ctx.unreadable.contains(&entity) {
            let severity = if mode == FileMode::Bulk {
                Severity::Error
            } else {
                Severity::Warning
            };
            findings.push(bundle_finding(
                "empty_file",
                Some(name),
                format!("{name} has a header but no rows; the binding wants such a file marked absent in the manifest (a bulk file with no rows would delete every {})", entity.name()),
                severity,
            ));
        }
        report
            .rows
            .insert(entity.name().to_owned(), rows_read.into());
        if let Some(tx) = tx.as_deref_mut().filter(|_| !findings.has_errors()) {
            let ids = &ctx.ids[entity.index()];
            let absent = tx.finish_staging(entity, mode, &|id| ids.contains(id))?;
            ctx.changes.tombstoned(entity, absent);
        }
        ctx.forget_unreferenced(entity);
        report.add_timing(entity, "read", file_started.elapsed().as_millis() as u64);
    }
    Ok(())
}

pub(super) fn empty_report() -> Report {
    Report {
        import_id: None,
        status: Outcome::Rejected,
        profile: None,
        entities: serde_json::Map::new(),
        rows: serde_json::Map::new(),
        error_count: 0,
        warning_count: 0,
        findings: Vec::new(),
        findings_by_code: Vec::new(),
        changes: None,
        timings_ms: serde_json::Map::new(),
        duration_ms: 0,
        undo: None,
    }
}

fn finish(mut report: Report, findings: Findings, started: Instant) -> Report {
    report.error_count = findings.error_count();
    report.warning_count = findings.warning_count();
    report.findings_by_code = findings.by_code();
    report.findings = findings.into_vec();
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// `rosterhub validate`: checks a bundle without a database.
pub fn validate(path: &Path, opts: &ImportOptions, progress: &dyn Progress) -> Report {
    let started = Instant::now();
    let mut findings = Findings::new(opts.findings_per_code);
    let mut report = empty_report();
    if let Some(mut prep) = prepare(path, opts, &mut findings) {
        report.profile = Some(prep.profile.name().to_owned());
        let modes = prep.files.iter().copied().collect();
        let mut ctx = Context::new(prep.profile, modes);
        ctx.unreadable = prep.unreadable.clone();
        // Without a store nothing can fail but the bundle itself.
        let _ = read_files(
            &mut prep,
            opts,
            &mut ctx,
            &mut findings,
            None,
            progress,
            &mut report,
        );
        let _ = resolve::resolve_deferred(&mut ctx, &mut findings, None);
    }
    report.status = if findings.has_errors() {
        Outcome::Rejected
    } else {
        Outcome::Valid
    };
    finish(report, findings, started)
}

/// `rosterhub import`: validates, plans and applies a bundle in one transaction. Blocking.
pub fn import(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Report, ImportError> {
    let started = Instant::now();
    let started_ms = now_ms();
    let import_id = uuid::Uuid::now_v7().to_string();
    let mut findings = Findings::new(opts.findings_per_code);
    let mut report = empty_report();
    report.import_id = Some(import_id.clone());
    let stamp = ImportStamp {
        import_id: import_id.clone(),
        now: started_ms,
    };
    let graduating = match &opts.rollover {
        Some(r) => Some(rollover::graduating_students(store, &opts.tenant, r)?),
        None => None,
    };
    // Spans of the import and its phases (exported with the `otel` feature): ids and counts only.
    let _import =
        tracing::info_span!("import", import.id = %import_id, dry_run = opts.dry_run).entered();
    let mut tx = store.begin_import(&opts.tenant, &stamp)?;
    let Some(mut prep) = prepare(path, opts, &mut findings) else {
        drop(tx);
        return record(store, opts, report, findings, started, started_ms);
    };
    report.profile = Some(prep.profile.name().to_owned());
    let modes: HashMap<Entity, FileMode> = prep.files.iter().copied().collect();
    let mut ctx = Context::new(prep.profile, modes);
    ctx.unreadable = prep.unreadable.clone();
    tracing::info_span!("import.validate").in_scope(|| {
        read_files(
            &mut prep,
            opts,
            &mut ctx,
            &mut findings,
            Some(tx.as_mut()),
            progress,
            &mut report,
        )
    })?;
    phase_done("validate", started);
    progress.phase("references");
    tracing::info_span!("import.references")
        .in_scope(|| resolve::resolve_deferred(&mut ctx, &mut findings, Some(tx.as_mut())))?;
    if findings.has_errors() {
        drop(tx);
        report.status = Outcome::Rejected;
        return record(store, opts, report, findings, started, started_ms);
    }
    phase_done("references", started);
    progress.phase("plan");
    let planning = tracing::info_span!("import.plan").entered();
    let held = hold::plan(
        tx.as_mut(),
        &ctx,
        &prep.files,
        graduating.as_ref(),
        opts,
        &mut report,
        &mut findings,
    )?;
    drop(planning);
    phase_done("plan", started);
    if held {
        drop(tx);
        report.status = if opts.dry_run {
            Outcome::DryRun
        } else {
            Outcome::Held
        };
        report.changes = changes::resolve_blocking(store, &opts.tenant, ctx.changes);
        return record(store, opts, report, findings, started, started_ms);
    }
    if opts.dry_run {
        drop(tx);
        report.status = Outcome::DryRun;
        report.changes = changes::resolve_blocking(store, &opts.tenant, ctx.changes);
        return record(store, opts, report, findings, started, started_ms);
    }
    progress.phase("apply");
    let _apply = tracing::info_span!("import.apply").entered();
    for (entity, mode) in &prep.files {
        let apply_started = Instant::now();
        let counts = tx.apply(*entity, *mode)?;
        report.set_counts(*entity, counts);
        report.add_timing(*entity, "apply", apply_started.elapsed().as_millis() as u64);
        if opts.fail_after == Some(*entity) {
            return Err(StoreError::Injected("fail_after").into());
        }
    }
    phase_done("apply", started);
    report.status = Outcome::Applied;
    let report = finish(report, findings, started);
    tx.save_import(&import_record(&report, started_ms, opts))?;
    tx.commit()?;
    Ok(report)
}

/// Logs at debug level (`RUST_LOG=rosterhub::import=debug`) when a phase of the import ended,
/// in milliseconds since it started: where an import's time goes, without a profiler.
fn phase_done(phase: &str, started: Instant) {
    tracing::debug!(
        phase,
        ms = started.elapsed().as_millis() as u64,
        "import phase done"
    );
}

fn import_record(report: &Report, started_ms: i64, opts: &ImportOptions) -> ImportRecord {
    ImportRecord {
        id: report.import_id.clone().unwrap_or_default(),
        status: report.status.as_str().to_owned(),
        profile: report.profile.clone(),
        started_at: started_ms,
        finished_at: now_ms(),
        report_json: serde_json::to_string(report).unwrap_or_default(),
        job: opts.job.clone(),
        actor: opts.actor.clone(),
    }
}

/// Keeps the report of an import that wrote no data (rejected, held, dry run), in a
/// transaction of its own after the data transaction was rolled back.
fn record(
    store: &Store,
    opts: &ImportOptions,
    report: Report,
    findings: Findings,
    started: Instant,
    started_ms: i64,
) -> Result<Report, ImportError> {
    let report = finish(report, findings, started);
    let stamp = ImportStamp {
        import_id: report.import_id.clone().unwrap_or_default(),
        now: started_ms,
    };
    let mut tx = store.begin_import(&opts.tenant, &stamp)?;
    tx.save_import(&import_record(&report, started_ms, opts))?;
    tx.commit()?;
    Ok(report)
}
