//! CSV export of a tenant as a OneRoster 1.2.1 ZIP bundle (ONEROSTER.md §1.5–§1.7, §1.9 item 7).
//!
//! * Bulk (no `since`): the `active` records, `status` and `dateLastModified` left empty.
//! * Delta (`since`): every record changed after `since` (active and tobedeleted), with both
//!   `status` and `dateLastModified` (`YYYY-MM-DDTHH:MM:SS.sssZ`).
//!
//! Each entity is read in keyset pages of [`PAGE`] records ordered by `sourcedId`, so memory stays
//! flat whatever the size of the tenant. A file with no rows is not written and is `absent` in
//! the manifest; the manifest is therefore written last in the archive, once every file's mode
//! is known (readers locate `manifest.csv` by name).
//!
//! Columns: the users file always has the 1.2.1 shape (no `resourceSourcedIds`). The metadata
//! columns are those of the target profile only: other stored metadata keys would need a second
//! pass over the records before the header could be written, so they are not exported.

mod cell;
pub mod target;

use std::io::{Seek, Write};

use anyhow::{Context as _, bail};

use crate::csv::target::Target;
use crate::domain::datetime::format_ms;
use crate::domain::entity::FILE_NAMES;
use crate::domain::entity::{Entity, LEADING};
use crate::generate::GenProfile;
use crate::storage::Store;
use crate::storage::read::Record;
use cell::push_cell;
use target::TargetReport;

/// Records read per query.
pub const PAGE: u64 = 5000;

/// The target of an export: which manifest version and metadata columns to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportProfile {
    /// OneRoster Japan Profile v.1.2.1: `metadata.jp.ShussekiNo`/`PublicFlg`, version `1.2`.
    Jp121,
    /// 1EdTech Japan K-12/Schools Profile v1.0: `metadata.jp.shussekiNo`/`publicFlg`,
    /// version `1.2_JP`.
    JpK12,
    /// Plain OneRoster 1.2.1: no metadata columns.
    OneRoster121,
}

impl ExportProfile {
    /// Accepts `jp-1.2.1`, `jp-k12` and `oneroster-1.2.1`.
    pub fn parse(s: &str) -> Option<ExportProfile> {
        match s {
            "jp-1.2.1" => Some(ExportProfile::Jp121),
            "jp-k12" => Some(ExportProfile::JpK12),
            "oneroster-1.2.1" => Some(ExportProfile::OneRoster121),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExportProfile::Jp121 => "jp-1.2.1",
            ExportProfile::JpK12 => "jp-k12",
            ExportProfile::OneRoster121 => "oneroster-1.2.1",
        }
    }

    fn oneroster_version(self) -> &'static str {
        match self {
            ExportProfile::JpK12 => "1.2_JP",
            _ => "1.2",
        }
    }

    fn generator_profile(self) -> Option<GenProfile> {
        match self {
            ExportProfile::Jp121 => Some(GenProfile::JpV121),
            ExportProfile::JpK12 => Some(GenProfile::JpK12),
            ExportProfile::OneRoster121 => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    pub tenant: String,
    /// Delta export of the records changed after this time (epoch ms); `None` = bulk.
    pub since: Option<i64>,
    pub profile: ExportProfile,
    /// Write a bundle that meets a national model; overrides `profile` (see [`target`]).
    pub target: Option<Target>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// (file name, data rows): the data files written, in manifest order, then `manifest.csv`.
    pub files: Vec<(String, u64)>,
    /// What meeting the target took, when there was one.
    pub target: Option<TargetReport>,
}

/// The CSV header of an entity's file for a profile.
fn header(entity: Entity, profile: ExportProfile) -> String {
    match profile.generator_profile() {
        // The generator writes exactly the Japan Profile headers (1.2.1 shape + JP columns).
        Some(p) => crate::generate::header(entity, p),
        None => LEADING
            .into_iter()
            .chain(
                entity
                    .columns()
                    .iter()
                    .filter(|c| !c.only_in_1_2)
                    .map(|c| c.csv),
            )
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// The metadata keys of a header (`metadata.jp.homeClass` → `jp.homeClass`), in order.
fn metadata_keys(header: &str) -> Vec<String> {
    header
        .split(',')
        .filter_map(|h| h.strip_prefix("metadata."))
        .map(str::to_owned)
        .collect()
}

/// The value of a metadata key; keys differing only in case match too, so enrollments
/// imported as `ShussekiNo` export as `shussekiNo` and back (ONEROSTER.md §5 gotcha 4).
fn meta_value<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Option<&'a serde_json::Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Appends one data row (with its line feed) to `buf`.
fn push_row(buf: &mut String, entity: Entity, rec: &Record, delta: bool, meta_keys: &[String]) {
    push_cell(buf, &rec.sourced_id);
    buf.push(',');
    if delta {
        push_cell(buf, &rec.status);
        buf.push(',');
        buf.push_str(&format_ms(rec.modified));
    } else {
        buf.push(',');
    }
    for (c, v) in entity.columns().iter().zip(&rec.values) {
        if c.only_in_1_2 {
            continue;
        }
        buf.push(',');
        push_cell(buf, v.as_deref().unwrap_or(""));
    }
    if !meta_keys.is_empty() {
        let map: serde_json::Map<String, serde_json::Value> = rec
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        for key in meta_keys {
            buf.push(',');
            match meta_value(&map, key) {
                Some(serde_json::Value::String(s)) => push_cell(buf, s),
                Some(serde_json::Value::Null) | None => {}
                Some(v) => push_cell(buf, &v.to_string()),
            }
        }
    }
    buf.push('\n');
}

/// One keyset page of an entity: records after `after` in sourcedId order.
async fn page(
    store: &Store,
    entity: Entity,
    opts: &ExportOptions,
    after: Option<&str>,
) -> anyhow::Result<Vec<Record>> {
    store
        .export_page(&opts.tenant, entity, opts.since, after, PAGE)
        .await
        .with_context(|| format!("reading {}", entity.name()))
}

/// The export time (UTC) as a ZIP entry date: without one every entry is dated 1980-01-01,
/// which hides when a roster file was made.
fn zip_time_now() -> zip::DateTime {
    let now = time::OffsetDateTime::now_utc();
    zip::DateTime::from_date_and_time(
        now.year().clamp(1980, 2107) as u16,
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
    )
    .unwrap_or_default()
}

/// Writes the tenant's records as a ZIP bundle into `out`.
pub async fn export_zip<W: Write + Seek + Send>(
    store: &Store,
    out: W,
    opts: &ExportOptions,
) -> anyhow::Result<ExportSummary> {
    let tenants = store.tenants().await?;
    if !tenants.iter().any(|(id, _)| *id == opts.tenant) {
        bail!("there is no tenant {:?}", opts.tenant);
    }
    let delta = opts.since.is_some();
    let profile = opts.target.map_or(opts.profile, target::profile_of);
    let mut report = opts.target.map(TargetReport::new);
    let mode = if delta { "delta" } else { "bulk" };
    let base = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .system(zip::System::Unix)
        .unix_permissions(0o644)
        .last_modified_time(zip_time_now());
    let mut zip = zip::ZipWriter::new(out);
    let mut files = Vec::new();
    let mut modes = Vec::with_capacity(FILE_NAMES.len());
    for name in FILE_NAMES {
        let Some(entity) = Entity::from_name(name) else {
            modes.push((name, "absent"));
            continue;
        };
        let mut records = page(store, entity, opts, None).await?;
        if records.is_empty() {
            modes.push((name, "absent"));
            continue;
        }
        // The size is unknown until the end, so the entry may need ZIP64.
        zip.start_file(entity.file_name(), base.large_file(true))?;
        let head = header(entity, profile);
        let meta_keys = metadata_keys(&head);
        let mut buf = head;
        buf.push('\n');
        let mut rows = 0u64;
        loop {
            // The next page is read while this one is written: the database works on one core
            // while the CSV is made and deflated on the other.
            let next = (records.len() as u64 == PAGE).then(|| {
                let (store, opts) = (store.clone(), opts.clone());
                let last = records.last().map(|r| r.sourced_id.clone());
                tokio::spawn(async move { page(&store, entity, &opts, last.as_deref()).await })
            });
            for rec in &mut records {
                if let (Some(t), Some(r)) = (opts.target, report.as_mut()) {
                    target::conform(entity, rec, t, r);
                }
                push_row(&mut buf, entity, rec, delta, &meta_keys);
            }
            rows += records.len() as u64;
            zip.write_all(buf.as_bytes())
                .with_context(|| format!("writing {}", entity.file_name()))?;
            buf.clear();
            let Some(next) = next else {
                break;
            };
            records = next
                .await
                .with_context(|| format!("reading {}", entity.name()))??;
            if records.is_empty() {
                break;
            }
        }
        files.push((entity.file_name().to_owned(), rows));
        modes.push((name, mode));
    }
    zip.start_file("manifest.csv", base)?;
    let mut manifest = format!(
        "propertyName,value\nmanifest.version,1.0\noneroster.version,{}\n",
        opts.target
            .map_or(profile.oneroster_version(), Target::oneroster_version)
    );
    for (name, mode) in &modes {
        manifest.push_str(&format!("file.{name},{mode}\n"));
    }
    manifest.push_str("source.systemName,RosterHub\n");
    zip.write_all(manifest.as_bytes())?;
    files.push(("manifest.csv".to_owned(), modes.len() as u64 + 3));
    let mut out = zip.finish()?;
    out.flush()?;
    Ok(ExportSummary {
        files,
        target: report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_the_profile() {
        let users = header(Entity::Users, ExportProfile::OneRoster121);
        assert!(users.ends_with(",primaryOrgSourcedId,pronouns"));
        assert!(!users.contains("resourceSourcedIds"));
        let e = header(Entity::Enrollments, ExportProfile::JpK12);
        assert_eq!(
            metadata_keys(&e),
            ["jp.shussekiNo".to_owned(), "jp.publicFlg".to_owned()]
        );
        let e = header(Entity::Enrollments, ExportProfile::Jp121);
        assert!(e.ends_with(",metadata.jp.ShussekiNo,metadata.jp.PublicFlg"));
    }

    #[test]
    fn rows_leave_status_empty_in_bulk_and_fill_it_in_delta() {
        let rec = Record {
            sourced_id: "e1".into(),
            status: "tobedeleted".into(),
            modified: 1_700_000_000_123,
            values: vec![
                Some("c1".into()),
                Some("s1".into()),
                Some("u1".into()),
                Some("student".into()),
                None,
                None,
                None,
            ],
            metadata: Some(r#"{"jp.ShussekiNo":"3","jp.PublicFlg":"true"}"#.into()),
        };
        let keys = metadata_keys(&header(Entity::Enrollments, ExportProfile::JpK12));
        let mut buf = String::new();
        push_row(&mut buf, Entity::Enrollments, &rec, false, &keys);
        assert_eq!(buf, "e1,,,c1,s1,u1,student,,,,3,true\n");
        buf.clear();
        push_row(&mut buf, Entity::Enrollments, &rec, true, &[]);
        assert_eq!(
            buf,
            "e1,tobedeleted,2023-11-14T22:13:20.123Z,c1,s1,u1,student,,,\n"
        );
    }

    #[test]
    fn profiles_parse() {
        for p in [
            ExportProfile::Jp121,
            ExportProfile::JpK12,
            ExportProfile::OneRoster121,
        ] {
            assert_eq!(ExportProfile::parse(p.name()), Some(p));
        }
        assert_eq!(ExportProfile::parse("jp"), None);
    }
}
