//! The bundle rows the mapping engine makes of one entity, in the bundle file's column order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::domain::Entity;
use crate::generate::{GenProfile, header};

/// Where a bundle row came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub file: usize,
    pub line: u64,
}

/// The bundle rows of one entity, each in the order of the bundle file's CSV header (so it is
/// written as it is), and each row's origin.
///
/// A row is one `StringRecord` (one buffer for its cells): at 100,000 students the tables hold
/// half a million rows, and a map per row cost more to build, write and free than the rest of
/// the mapping.
#[derive(Debug)]
pub struct Table {
    /// The bundle file's columns.
    pub columns: Vec<String>,
    pub rows: Vec<csv::StringRecord>,
    pub origins: Vec<Origin>,
    /// Column → position in `columns`.
    slots: HashMap<String, usize>,
    /// The cell orders the engine has pushed rows in, each with the cell of every column
    /// (`None`: empty): a row's cells are placed by comparing their names' addresses with
    /// a known order instead of hashing each name.
    layouts: Vec<Layout>,
    /// sourcedId → row.
    index: HashMap<String, usize, Fast>,
}

/// One order of cell names, and for each bundle column the position of its cell.
#[derive(Debug)]
struct Layout {
    names: Vec<&'static str>,
    cells: Vec<Option<usize>>,
}

/// sourcedIds hashed with xxh3 rather than SipHash: every row of a list is looked up here, and
/// SipHash was a tenth of the mapping's time. (An upload that makes its own ids collide only
/// slows its own mapping.)
type Fast = BuildHasherDefault<IdHasher>;

#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Table {
    pub(super) fn new(entity: Entity) -> Table {
        let columns: Vec<String> = header(entity, GenProfile::JpV121)
            .split(',')
            .map(str::to_owned)
            .collect();
        Table {
            slots: columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i))
                .collect(),
            columns,
            rows: Vec::new(),
            origins: Vec::new(),
            layouts: Vec::new(),
            index: HashMap::default(),
        }
    }

    /// Adds a row once per sourcedId (the first cell); a repeat (a teacher listed twice) keeps
    /// the first.
    pub(super) fn add(&mut self, origin: Origin, cells: Vec<(&'static str, String)>) {
        match self.index.entry(cells[0].1.clone()) {
            std::collections::hash_map::Entry::Occupied(_) => return,
            std::collections::hash_map::Entry::Vacant(v) => v.insert(self.rows.len()),
        };
        let layout = self.layout(&cells);
        let bytes = cells.iter().map(|(_, v)| v.len()).sum();
        let mut record = csv::StringRecord::with_capacity(bytes, self.columns.len());
        for cell in &self.layouts[layout].cells {
            record.push_field(cell.map_or("", |i| cells[i].1.as_str()));
        }
        self.rows.push(record);
        self.origins.push(origin);
    }

    /// The index in `layouts` of the order of these cells, added when new.
    fn layout(&mut self, cells: &[(&'static str, String)]) -> usize {
        let same = |l: &Layout| {
            l.names.len() == cells.len()
                && l.names
                    .iter()
                    .zip(cells)
                    .all(|(a, (b, _))| std::ptr::eq(*a, *b))
        };
        if let Some(i) = self.layouts.iter().position(same) {
            return i;
        }
        let mut by_column = vec![None; self.columns.len()];
        for (i, (column, _)) in cells.iter().enumerate() {
            match self.slots.get(*column) {
                Some(slot) => by_column[*slot] = Some(i),
                None => debug_assert!(false, "{column} is not a column of the bundle file"),
            }
        }
        self.layouts.push(Layout {
            names: cells.iter().map(|(n, _)| *n).collect(),
            cells: by_column,
        });
        self.layouts.len() - 1
    }

    /// Takes the rows and their index out (what a finding's provenance does not need), leaving
    /// the origins: once the bundle is written they are only memory to free.
    pub(super) fn take_rows(&mut self) -> (Vec<csv::StringRecord>, HashMap<String, usize, Fast>) {
        (
            std::mem::take(&mut self.rows),
            std::mem::take(&mut self.index),
        )
    }

    /// The source line of the row with this sourcedId.
    pub(super) fn line_of(&self, id: &str) -> Option<u64> {
        self.index.get(id).map(|i| self.origins[*i].line)
    }

    /// The cell of row `row` in `column` ("" for an empty one); `None` for no such row or
    /// column.
    pub fn get(&self, row: usize, column: &str) -> Option<&str> {
        self.rows.get(row)?.get(*self.slots.get(column)?)
    }
}
