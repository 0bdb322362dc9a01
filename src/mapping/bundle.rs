//! Writing mapped rows as a standard OneRoster 1.2 Japan Profile bundle (a folder for the
//! import pipeline, a ZIP for `map convert`), and translating the pipeline's findings on that
//! bundle back to the source files.

use std::io::{self, Write};
use std::path::Path;

use super::engine::Mapped;
use super::profile::Kind;
use crate::domain::Entity;
use crate::domain::entity::FILE_NAMES;
use crate::generate::{GenProfile, header};
use crate::import::Finding;

/// The bundle files a mapping writes, every one in bulk mode.
const WRITTEN: [Entity; 8] = [
    Entity::Orgs,
    Entity::AcademicSessions,
    Entity::Courses,
    Entity::Classes,
    Entity::Users,
    Entity::Roles,
    Entity::Enrollments,
    Entity::Demographics,
];

/// The files a mapping writes: those with rows. An empty file stays absent, because a bulk file
/// with no rows would tombstone every record of its kind (lists without 性別 or 生年月日 leave
/// the tenant's demographics as they are).
fn written(mapped: &Mapped) -> Vec<Entity> {
    WRITTEN
        .into_iter()
        .filter(|e| mapped.tables.get(e).is_some_and(|t| !t.rows.is_empty()))
        .collect()
}

fn manifest(mapped: &Mapped) -> String {
    let written = written(mapped);
    let mut out = String::from("propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\n");
    for name in FILE_NAMES {
        let bulk = written.iter().any(|e| e.name() == name);
        out.push_str(&format!(
            "file.{name},{}\n",
            if bulk { "bulk" } else { "absent" }
        ));
    }
    out.push_str("source.systemName,RosterHub mapping\nsource.systemCode,rosterhub-map\n");
    out
}

fn file(mapped: &Mapped, entity: Entity) -> io::Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(header(entity, GenProfile::JpV121).split(','))?;
    if let Some(table) = mapped.tables.get(&entity) {
        // Rows are in the order of this header already.
        for row in &table.rows {
            w.write_record(row)?;
        }
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// Writes the bundle as a folder (what the import pipeline reads).
///
/// The files are written two at a time (users and enrollments are each a quarter of the rows):
/// the import that follows is what waits for them.
pub fn write_dir(mapped: &Mapped, dir: &Path) -> io::Result<()> {
    std::fs::write(dir.join("manifest.csv"), manifest(mapped))?;
    let entities = written(mapped);
    let (first, second): (Vec<_>, Vec<_>) =
        entities.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let write = |part: Vec<(usize, &Entity)>| -> io::Result<()> {
        for (_, entity) in part {
            std::fs::write(dir.join(entity.file_name()), file(mapped, *entity)?)?;
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let other = scope.spawn(|| write(second));
        let mine = write(first);
        other
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a writer panicked")))?;
        mine
    })
}

/// Writes the bundle as a ZIP (`map convert`).
pub fn write_zip(mapped: &Mapped, out: &Path) -> io::Result<()> {
    let f = std::fs::File::create(out)?;
    let mut zip = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("manifest.csv", opts)
        .map_err(io::Error::other)?;
    zip.write_all(manifest(mapped).as_bytes())?;
    for entity in written(mapped) {
        zip.start_file(entity.file_name(), opts)
            .map_err(io::Error::other)?;
        zip.write_all(&file(mapped, entity)?)?;
    }
    zip.finish().map_err(io::Error::other)?;
    Ok(())
}

/// A pipeline finding on the intermediate bundle, told in the source's terms: its file, line
/// and header. A bundle line is never shown — the school has no such file.
pub fn remap(mut f: Finding, mapped: &Mapped) -> Finding {
    let Some(entity) = f
        .file
        .as_deref()
        .and_then(|n| WRITTEN.into_iter().find(|e| e.file_name() == n))
    else {
        return f;
    };
    let origin = f.line.and_then(|l| {
        let table = mapped.tables.get(&entity)?;
        // Line 1 is the header; rows are written one per line.
        table.origins.get(l.checked_sub(2)? as usize).copied()
    });
    let bundle_column = f.column.take();
    match origin {
        Some(o) => {
            let kind = mapped.kinds[o.file];
            f.file = Some(mapped.files[o.file].clone());
            f.line = Some(o.line);
            f.column = bundle_column.as_deref().and_then(|c| {
                let field = field_of(entity, c, kind)?;
                mapped.columns[o.file].get(field).cloned()
            });
            f.message = match bundle_column {
                Some(c) => format!("{} ({}.{c})", f.message, entity.name()),
                None => format!("{} ({})", f.message, entity.name()),
            };
        }
        None => {
            f.file = None;
            f.line = None;
            f.message = format!("{} ({})", f.message, entity.name());
        }
    }
    f
}

/// The source field a bundle column came from, for findings (`users.givenName` → 氏名).
pub fn field_of(entity: Entity, column: &str, kind: Kind) -> Option<&'static str> {
    Some(match (entity, column) {
        (Entity::Orgs, "identifier") => "school_code",
        (Entity::Orgs, "name") => "school_name",
        (Entity::Courses | Entity::Classes, "grades" | "title") => "grade",
        (Entity::Classes, _) => "class",
        (Entity::Users, "givenName" | "familyName") => "name",
        (Entity::Users, c) if c.starts_with("metadata.jp.kana") => "kana",
        (Entity::Users, "grades") => "grade",
        (Entity::Users, "metadata.jp.homeClass") => "class",
        (Entity::Users, "email" | "username") => "email",
        (
            Entity::Users | Entity::Roles | Entity::Enrollments | Entity::Demographics,
            "sourcedId" | "identifier" | "userSourcedId",
        ) => match kind {
            Kind::Students => "student_id",
            Kind::Staff => "staff_id",
        },
        (Entity::Roles, "role") => "role",
        (Entity::Enrollments, "metadata.jp.ShussekiNo") => "number",
        (Entity::Enrollments, "classSourcedId") => "class",
        (Entity::Demographics, "birthDate") => "birth_date",
        (Entity::Demographics, "sex") => "sex",
        _ => return None,
    })
}
