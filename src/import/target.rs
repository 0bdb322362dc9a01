//! Holding a bundle to a national model (`validate --target`, `import --target`): the manifest
//! version and profile the model expects, the columns it requires, and the name and title
//! columns that must be full-width. Breaches are errors (the bundle is refused) unless the check
//! is `warn_only`. The rules themselves are data in `csv::target`.

use crate::csv::profile::Profile;
use crate::csv::target::{Target, TargetCheck, has_half_width_kana};
use crate::storage::{Store, StoreError};

use super::reader::{FileReader, Row, finding, push};
use super::report::{Finding, Findings, Severity};

/// A finding about the manifest as a whole (no line).
fn manifest_finding(
    c: &TargetCheck,
    code: &'static str,
    column: Option<&str>,
    value: &str,
    message: String,
) -> Finding {
    Finding {
        severity: severity(c),
        code,
        file: Some("manifest.csv".into()),
        line: None,
        column: column.map(str::to_owned),
        value: Some(value.to_owned()),
        message,
    }
}

/// The check an import into `tenant` gets when it names no target: the tenant's default
/// (`rosterhub tenant set-target`), breaches refusing the bundle.
pub async fn tenant_default(
    store: &Store,
    tenant: &str,
) -> Result<Option<TargetCheck>, StoreError> {
    Ok(store
        .tenant_target(tenant)
        .await?
        .as_deref()
        .and_then(Target::parse)
        .map(TargetCheck::new))
}

fn severity(c: &TargetCheck) -> Severity {
    if c.warn_only {
        Severity::Warning
    } else {
        Severity::Error
    }
}

/// The bundle as a whole: the manifest's `oneroster.version` and the profile it was read in.
pub(super) fn check_bundle(
    c: &TargetCheck,
    profile: Profile,
    version: &str,
    findings: &mut Findings,
) {
    let t = c.target;
    if version != t.oneroster_version() {
        findings.push(manifest_finding(
            c,
            "target_version",
            Some("oneroster.version"),
            version,
            format!(
                "{} expects oneroster.version `{}`, not `{version}`; export the bundle for this \
                 model (rosterhub export --target {}) or set the manifest's version",
                t.title(),
                t.oneroster_version(),
                t.name()
            ),
        ));
    }
    if !t.profiles().contains(&profile) {
        let wanted: Vec<&str> = t.profiles().iter().map(|p| p.name()).collect();
        findings.push(manifest_finding(
            c,
            "target_profile",
            None,
            profile.name(),
            format!(
                "{} is layered on {}; this bundle is {} (check the metadata.jp.* columns and the \
                 users.csv shape)",
                t.title(),
                wanted.join(" or "),
                profile.name()
            ),
        ));
    }
}

/// A file's header: each required column it lacks is one finding for the whole file.
pub(super) fn check_header(fr: &FileReader<'_>, c: &TargetCheck, findings: &mut Findings) {
    for col in c.required(fr.entity.name()) {
        if !fr.layout.header.iter().any(|h| h == col) {
            findings.push(finding(
                severity(c),
                "target_column_missing",
                fr.file,
                1,
                Some(col),
                None,
                format!(
                    "{} requires the column `{col}` in {}; add it and fill it for every row",
                    c.target.title(),
                    fr.file
                ),
            ));
        }
    }
}

/// One active (not tombstoned) row.
pub(super) fn check_row(
    fr: &FileReader<'_>,
    row: &Row<'_>,
    c: &TargetCheck,
    findings: &mut Findings,
) {
    let file = fr.entity.name();
    let required = c.required(file);
    let full_width = c.target.full_width(file);
    for (i, name) in fr.layout.header.iter().enumerate() {
        let cell = row.record.get(i).unwrap_or("");
        if cell.is_empty() && required.contains(&name.as_str()) {
            push(
                fr,
                row,
                findings,
                severity(c),
                "target_required",
                name,
                cell,
                format!(
                    "{} requires `{name}` on every row; fill it",
                    c.target.title()
                ),
            );
        } else if full_width.contains(&name.as_str()) && has_half_width_kana(cell) {
            push(
                fr,
                row,
                findings,
                severity(c),
                "target_half_width_kana",
                name,
                cell,
                format!(
                    "{} does not allow half-width katakana in `{name}`; write it in full-width \
                     katakana (an export with --target converts it)",
                    c.target.title()
                ),
            );
        }
    }
}
