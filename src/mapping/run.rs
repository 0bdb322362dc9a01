//! Mapped input through the ordinary import pipeline: map → write an intermediate bundle →
//! validate or import it unchanged → report findings in the source files' terms.

use std::path::Path;

use super::bundle::{remap, write_dir, write_zip};
use super::engine::{MapOptions, Mapped, SourceFile, map};
use super::profile::{MappingProfile, School};
use crate::import::report::Findings;
use crate::import::{self, ImportError, ImportOptions, Outcome, Progress, Report};
use crate::storage::Store;

/// Today in Japan (the 年度 changes on 1 April there, not in UTC).
pub fn today_jst() -> (i32, u32, u32) {
    let now = time::OffsetDateTime::now_utc() + time::Duration::hours(9);
    (now.year(), now.month() as u32, now.day() as u32)
}

/// A rejected report with one `mapping_unreadable` error about the input as a whole.
pub fn unreadable(message: String) -> Report {
    let mut m = Mapped::default();
    m.findings.push(import::Finding {
        severity: import::Severity::Error,
        code: "mapping_unreadable",
        file: None,
        line: None,
        column: None,
        value: None,
        message,
    });
    rejected(&m)
}

/// A report holding only the engine's findings (nothing reached the pipeline).
fn rejected(mapped: &Mapped) -> Report {
    let mut findings = Findings::new(import::report::DEFAULT_FINDINGS_PER_CODE);
    for f in &mapped.findings {
        findings.push(f.clone());
    }
    let mut report = Report {
        import_id: None,
        status: Outcome::Rejected,
        profile: None,
        entities: Default::default(),
        rows: Default::default(),
        error_count: 0,
        warning_count: 0,
        findings: Vec::new(),
        findings_by_code: Vec::new(),
        timings_ms: Default::default(),
        duration_ms: 0,
        changes: None,
        undo: None,
    };
    report.error_count = findings.error_count();
    report.warning_count = findings.warning_count();
    report.findings_by_code = findings.by_code();
    report.findings = findings.into_vec();
    report
}

fn translate(mut report: Report, mapped: &Mapped) -> Report {
    report.findings = report
        .findings
        .into_iter()
        .map(|f| remap(f, mapped))
        .collect();
    report
}

fn has_errors(mapped: &Mapped) -> bool {
    mapped
        .findings
        .iter()
        .any(|f| f.severity == import::Severity::Error)
}

/// The engine's output written as a bundle folder in a fresh temporary directory.
fn stage(mapped: &Mapped) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("rosterhub-map-")
        .tempdir()?;
    write_dir(mapped, dir.path())?;
    Ok(dir)
}

/// `map check`: the mapped records validated as a bundle would be, without a database.
pub fn check(
    profile: &MappingProfile,
    files: &[SourceFile],
    opts: &MapOptions,
    import_opts: &ImportOptions,
) -> std::io::Result<(Mapped, Report)> {
    let mapped = map(profile, files, opts);
    if has_errors(&mapped) {
        let report = rejected(&mapped);
        return Ok((mapped, report));
    }
    let dir = stage(&mapped)?;
    let report = import::validate(dir.path(), import_opts, &());
    let report = translate(report, &mapped);
    Ok((mapped, report))
}

/// `map convert`: a standard bundle ZIP, written only when the mapping has no errors.
pub fn convert(
    profile: &MappingProfile,
    files: &[SourceFile],
    opts: &MapOptions,
    import_opts: &ImportOptions,
    out: &Path,
) -> std::io::Result<(Mapped, Report)> {
    let (mapped, report) = check(profile, files, opts, import_opts)?;
    if report.status == Outcome::Valid {
        write_zip(&mapped, out)?;
    }
    Ok((mapped, report))
}

/// `import --mapping`: validated, planned, held and applied exactly as a bundle is.
pub fn import(
    store: &Store,
    profile: &MappingProfile,
    files: &[SourceFile],
    opts: &MapOptions,
    import_opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Report, ImportError> {
    let mut mapped = map(profile, files, opts);
    if has_errors(&mapped) {
        return Ok(rejected(&mapped));
    }
    let dir = match stage(&mapped) {
        Ok(d) => d,
        Err(e) => {
            return Ok(unreadable(format!(
                "cannot write the temporary bundle: {e}"
            )));
        }
    };
    mapped.release_rows();
    let report = import::import(store, dir.path(), import_opts, progress)?;
    Ok(translate(report, &mapped))
}

/// The options of a run: the school from `CODE[:NAME]` (`--school`, `?school=`), the 年度 if
/// given, today in Japan.
pub fn options(tenant: &str, school: Option<&str>, school_year: Option<i32>) -> MapOptions {
    MapOptions {
        tenant: tenant.to_owned(),
        school: school.map(|s| {
            let (code, name) = match s.split_once(':') {
                Some((c, n)) => (c, Some(n.to_owned())),
                None => (s, None),
            };
            School {
                code: Some(code.to_owned()),
                name,
                school_type: None,
            }
        }),
        school_year,
        today: today_jst(),
    }
}

/// An HTTP upload through a mapping (`?mapping=auto` or a stored profile): one CSV, or a ZIP
/// of CSVs (each a list).
#[allow(clippy::too_many_arguments)]
pub fn import_upload(
    store: &Store,
    profile: &MappingProfile,
    path: &Path,
    file_name: Option<String>,
    school: Option<String>,
    school_year: Option<i32>,
    import_opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Report, ImportError> {
    let files = match upload_files(path, file_name) {
        Ok(f) => f,
        Err(message) => return Ok(unreadable(message)),
    };
    let opts = options(&import_opts.tenant, school.as_deref(), school_year);
    import(store, profile, &files, &opts, import_opts, progress)
}

/// The list files of an upload: the CSV entries of a ZIP, or the upload itself. `Err` says
/// what is wrong with the upload.
pub fn upload_files(path: &Path, file_name: Option<String>) -> Result<Vec<SourceFile>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the upload: {e}"))?;
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok(vec![SourceFile {
            name: file_name.unwrap_or_else(|| "upload.csv".into()),
            bytes,
        }]);
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("the upload is a damaged ZIP archive: {e}"))?;
    let mut files = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let name = entry.name().map_err(|e| e.to_string())?.into_owned();
        if !name.to_ascii_lowercase().ends_with(".csv") || name.starts_with("__MACOSX/") {
            continue;
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(|e| e.to_string())?;
        files.push(SourceFile {
            name: name.rsplit('/').next().unwrap_or(&name).to_owned(),
            bytes,
        });
    }
    if files.is_empty() {
        return Err("the ZIP holds no .csv file: upload the lists as CSV files".into());
    }
    Ok(files)
}
