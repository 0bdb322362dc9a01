//! Fixture bundles: the fixtures of `tests/fixtures/`, copies of them to edit, and ZIP files.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The fixture bundles (`tests/fixtures/`, see its README).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A copy of a fixture bundle in a temporary folder, to edit.
pub struct TempBundle {
    dir: tempfile::TempDir,
}

impl TempBundle {
    pub fn from_fixture(name: &str) -> TempBundle {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(fixtures().join(name)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
        TempBundle { dir }
    }

    /// The Japan Profile fixture keeping 5 of its 36 users (their roles, enrollments and
    /// demographics): 31 tombstones, past the 30 % threshold, so its import is held.
    pub fn shrinking() -> TempBundle {
        let b = TempBundle::from_fixture("jp-profile-v1.2.1");
        let keep: Vec<String> = b
            .read("users.csv")
            .lines()
            .skip(1)
            .take(5)
            .map(|l| l[..36].to_owned())
            .collect();
        for f in [
            "users.csv",
            "roles.csv",
            "enrollments.csv",
            "demographics.csv",
        ] {
            b.drop_rows(f, |l| !keep.iter().any(|k| l.contains(k.as_str())));
        }
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn has(&self, file: &str) -> bool {
        self.dir.path().join(file).is_file()
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap()
    }

    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.path().join(file), text).unwrap();
    }

    pub fn remove(&self, file: &str) {
        std::fs::remove_file(self.dir.path().join(file)).unwrap();
    }

    /// Drops the data rows for which `drop` is true (the header stays).
    pub fn drop_rows(&self, file: &str, drop: impl Fn(&str) -> bool) {
        let text = self.read(file);
        let mut lines = text.lines();
        let mut out = String::from(lines.next().unwrap());
        out.push('\n');
        for l in lines.filter(|l| !drop(l)) {
            out.push_str(l);
            out.push('\n');
        }
        self.write(file, &out);
    }

    /// Removes a user from every file that lists her: users, roles, enrollments, demographics.
    pub fn remove_user(&self, id: &str) {
        for f in [
            "users.csv",
            "roles.csv",
            "enrollments.csv",
            "demographics.csv",
        ] {
            self.drop_rows(f, |l| l.contains(id));
        }
    }

    pub fn replace(&self, file: &str, from: &str, to: &str) {
        let text = self.read(file);
        assert!(text.contains(from), "{file} does not contain {from:?}");
        self.write(file, &text.replacen(from, to, 1));
    }

    /// `file` as rows of cells, the header first.
    fn cells(&self, file: &str) -> Vec<Vec<String>> {
        let text = self.read(file);
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    /// Writes rows of cells (the header first) as `file`.
    fn write_cells(&self, file: &str, rows: &[Vec<String>]) {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in rows {
            writer.write_record(row).unwrap();
        }
        self.write(
            file,
            &String::from_utf8(writer.into_inner().unwrap()).unwrap(),
        );
    }

    /// Rewrites every data row of `file` through `edit(index, row)`, the row as header → cell
    /// (a column missing from the header and set by `edit` is not written: use `drop_column`
    /// and the header to change columns).
    pub fn edit_rows(
        &self,
        file: &str,
        mut edit: impl FnMut(usize, &mut BTreeMap<String, String>),
    ) {
        let mut rows = self.cells(file);
        let header = rows[0].clone();
        for (i, cells) in rows.iter_mut().skip(1).enumerate() {
            let mut row: BTreeMap<String, String> =
                header.iter().cloned().zip(cells.drain(..)).collect();
            edit(i, &mut row);
            *cells = header.iter().map(|h| row[h].clone()).collect();
        }
        self.write_cells(file, &rows);
    }

    /// Removes a column (header and cells) from `file`.
    pub fn drop_column(&self, file: &str, column: &str) {
        let mut rows = self.cells(file);
        let at = rows[0]
            .iter()
            .position(|h| h == column)
            .expect("the column exists");
        for row in &mut rows {
            row.remove(at);
        }
        self.write_cells(file, &rows);
    }

    /// Sets `file.<name>` in the manifest.
    pub fn set_mode(&self, name: &str, mode: &str) {
        let text = self.read("manifest.csv");
        let out: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with(&format!("file.{name},")) {
                    format!("file.{name},{mode}")
                } else {
                    l.to_owned()
                }
            })
            .collect();
        self.write("manifest.csv", &(out.join("\n") + "\n"));
    }
}

/// Every entry of a ZIP file: name → text.
pub fn read_zip(path: &Path) -> BTreeMap<String, String> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        out.insert(f.name().unwrap().into_owned(), text);
    }
    out
}
