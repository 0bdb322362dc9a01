//! A OneRoster bundle on disk: a ZIP archive or a folder, with `manifest.csv` at its root or,
//! tolerated with a warning, inside one enclosing folder.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a ZIP file: a bundle is a ZIP of CSV files (or a folder of them)")]
    NotZip { path: String },
    #[error("{path} is a damaged ZIP archive: {reason}")]
    BadZip { path: String, reason: String },
    #[error("the bundle has no manifest.csv (OneRoster 1.1 and 1.2 bundles must have one)")]
    NoManifest,
    /// Two entries with one name: which one a reader takes differs between tools, so what
    /// was checked might not be what is imported.
    #[error(
        "{path} has two or more entries with the same name; a bundle holds each file once \
         (create the ZIP again from the folder of CSV files)"
    )]
    DuplicateEntries { path: String },
    #[error("cannot read {name} from the archive: {reason}")]
    Entry { name: String, reason: String },
}

/// The last component of a path, for messages.
fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

enum Source {
    Dir(PathBuf),
    Zip(Box<zip::ZipArchive<BufReader<File>>>),
}

pub struct Bundle {
    source: Source,
    /// The folder inside the bundle that holds manifest.csv ("" = the root).
    prefix: String,
    /// File names directly inside `prefix`.
    names: Vec<String>,
}

impl Bundle {
    pub fn open(path: &Path) -> Result<Bundle, BundleError> {
        let io = |source| BundleError::Io {
            path: path.display().to_string(),
            source,
        };
        if path.is_dir() {
            let mut prefix = String::new();
            if !path.join("manifest.csv").is_file() {
                // One enclosing folder is a common packaging slip; look one level down.
                let mut dirs: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(io)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.join("manifest.csv").is_file())
                    .collect();
                dirs.sort();
                let dir = dirs.into_iter().next().ok_or(BundleError::NoManifest)?;
                prefix = dir
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
            }
            let root = path.join(&prefix);
            let mut names: Vec<String> = std::fs::read_dir(&root)
                .map_err(io)?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            return Ok(Bundle {
                source: Source::Dir(path.to_owned()),
                prefix,
                names,
            });
        }
        let mut file = File::open(path).map_err(io)?;
        // Local file header, or the end record of an empty archive: anything else is not a ZIP
        // (the zip crate would say "Could not find EOCD", which helps nobody).
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(io)?;
        if n < 4 || !(magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06") {
            return Err(BundleError::NotZip {
                path: file_name(path),
            });
        }
        let archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| BundleError::BadZip {
                path: file_name(path),
                reason: e.to_string(),
            })?;
        if archive.has_duplicate_names() {
            return Err(BundleError::DuplicateEntries {
                path: file_name(path),
            });
        }
        let entries: Vec<String> = archive
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .filter(|n| !n.ends_with('/') && !n.starts_with("__MACOSX/"))
            .collect();
        let prefix = if entries.iter().any(|n| n == "manifest.csv") {
            String::new()
        } else {
            let mut candidates: Vec<&String> = entries
                .iter()
                .filter(|n| n.ends_with("/manifest.csv"))
                .collect();
            candidates.sort_by_key(|n| (n.matches('/').count(), n.len()));
            let found = candidates.first().ok_or(BundleError::NoManifest)?;
            found[..found.len() - "manifest.csv".len()].to_owned()
        };
        let mut names: Vec<String> = entries
            .iter()
            .filter_map(|n| n.strip_prefix(prefix.as_str()))
            .filter(|n| !n.contains('/'))
            .map(str::to_owned)
            .collect();
        names.sort();
        Ok(Bundle {
            source: Source::Zip(Box::new(archive)),
            prefix,
            names,
        })
    }

    /// The enclosing folder the files were found in, if they were not at the root.
    pub fn nested_folder(&self) -> Option<&str> {
        (!self.prefix.is_empty()).then_some(self.prefix.trim_end_matches('/'))
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The size in bytes of a file (uncompressed), for progress.
    pub fn size(&mut self, name: &str) -> Option<u64> {
        match &mut self.source {
            Source::Dir(root) => std::fs::metadata(root.join(&self.prefix).join(name))
                .ok()
                .map(|m| m.len()),
            Source::Zip(z) => {
                let full = format!("{}{}", self.prefix, name);
                z.by_name(&full).ok().map(|f| f.size())
            }
        }
    }

    pub fn open_file(&mut self, name: &str) -> Result<Box<dyn Read + '_>, BundleError> {
        match &mut self.source {
            Source::Dir(root) => {
                let path = root.join(&self.prefix).join(name);
                let f = File::open(&path).map_err(|source| BundleError::Io {
                    path: name.to_owned(),
                    source,
                })?;
                Ok(Box::new(f))
            }
            Source::Zip(z) => {
                let full = format!("{}{}", self.prefix, name);
                let f = z.by_name(&full).map_err(|e| BundleError::Entry {
                    name: name.to_owned(),
                    reason: e.to_string(),
                })?;
                Ok(Box::new(f))
            }
        }
    }
}
