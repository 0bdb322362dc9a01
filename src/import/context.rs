//! What validation remembers across the files of one bundle: the ids each file defined (to
//! resolve references and find duplicates) and references that must wait for the store.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64;

use crate::csv::Profile;
use crate::domain::Entity;
use crate::storage::FileMode;

/// A set of sourcedIds, kept as 64-bit hashes with the line that defined each, so that memory
/// stays at ~16 bytes per record however long the ids are. (Two distinct ids of one file would
/// have to collide in 64 bits to be confused: about one chance in 10^7 for five million ids.)
#[derive(Debug, Default)]
pub struct IdSet {
    lines: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
}

/// The keys are xxh3 hashes already: hashing them again would only cost time.
#[derive(Debug, Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl IdSet {
    pub fn hash(id: &str) -> u64 {
        xxh3_64(id.as_bytes())
    }

    /// Records `id` at `line`; returns the earlier line if it was already there.
    pub fn insert(&mut self, id: &str, line: u64) -> Option<u64> {
        match self.lines.entry(Self::hash(id)) {
            std::collections::hash_map::Entry::Occupied(e) => Some(u64::from(*e.get())),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(line.min(u64::from(u32::MAX)) as u32);
                None
            }
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.lines.contains_key(&Self::hash(id))
    }

    /// The line that defined `id`, if it is in the set.
    pub fn line(&self, id: &str) -> Option<u64> {
        self.lines.get(&Self::hash(id)).map(|l| u64::from(*l))
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// A reference that the bundle alone could not resolve when its row was read.
#[derive(Debug, Clone)]
pub struct Deferred {
    pub target: Entity,
    pub id: String,
    pub file: Entity,
    pub line: u64,
    pub column: &'static str,
    /// The referenced org must be a `school`.
    pub must_be_school: bool,
}

/// Bundle-wide validation state.
#[derive(Debug)]
pub struct Context {
    pub profile: Profile,
    pub modes: HashMap<Entity, FileMode>,
    /// Indexed by [`Entity::index`].
    pub ids: [IdSet; 9],
    /// Types of the orgs and academic sessions of the bundle (few: kept as text).
    pub org_types: HashMap<String, String>,
    pub session_types: HashMap<String, String>,
    pub deferred: Vec<Deferred>,
    /// Japan Profile: `userMasterIdentifier` must be unique.
    pub user_master_ids: HashSet<u64, BuildHasherDefault<PassThrough>>,
    /// (user, org) pairs that already have a primary role.
    pub primary_roles: HashSet<u64, BuildHasherDefault<PassThrough>>,
    /// Files that could not be read at all: references to them are not reported again.
    pub unreadable: Vec<Entity>,
    /// Ids a delta file tombstones, per entity ([`Entity::index`]): an active row may not
    /// reference them.
    pub tombstoned: [IdSet; 9],
    /// The same tombstones with their ids, checked against the store after the bundle is read
    /// (a tombstone of an unknown id; active stored records still referencing it).
    pub tombstones: Vec<(Entity, String, u64)>,
    /// The bundle's active orgs: org → (parent, line), for parent-cycle checks.
    pub org_parents: HashMap<String, (String, u64)>,
    /// The sample of what the import changes (a dry run's or a held import's report shows it).
    pub changes: super::changes::Collector,
}

impl Context {
    pub fn new(profile: Profile, modes: HashMap<Entity, FileMode>) -> Context {
        Context {
            profile,
            modes,
            ids: Default::default(),
            org_types: HashMap::new(),
            session_types: HashMap::new(),
            deferred: Vec::new(),
            user_master_ids: HashSet::default(),
            primary_roles: HashSet::default(),
            unreadable: Vec::new(),
            tombstoned: Default::default(),
            tombstones: Vec::new(),
            org_parents: HashMap::new(),
            changes: Default::default(),
        }
    }

    pub fn in_bundle(&self, entity: Entity, id: &str) -> bool {
        self.ids[entity.index()].contains(id)
    }

    /// Whether the bundle replaces the whole set of `entity` (so references must resolve
    /// inside the bundle: stored records missing from a bulk file are about to be tombstoned).
    pub fn is_bulk(&self, entity: Entity) -> bool {
        self.modes.get(&entity) == Some(&FileMode::Bulk)
    }

    /// Drops id sets no later file can reference, to keep memory flat. A delta file's ids
    /// stay: stored records the delta rewrites are not reported as left pointing at its
    /// tombstones (a delta is small; a bulk file replaces its entity whole).
    pub fn forget_unreferenced(&mut self, done: Entity) {
        // Checks within one file: userMasterIdentifier is unique among users.csv's rows, a
        // primary role among roles.csv's. At five million students each set is ~75 MB.
        match done {
            Entity::Users => self.user_master_ids = HashSet::default(),
            Entity::Roles => self.primary_roles = HashSet::default(),
            _ => {}
        }
        if matches!(
            done,
            Entity::Roles | Entity::Enrollments | Entity::Demographics
        ) && self.is_bulk(done)
        {
            self.ids[done.index()] = IdSet::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_file_sets_are_dropped_when_their_file_ends() {
        let mut ctx = Context::new(Profile::OneRoster121, HashMap::new());
        ctx.user_master_ids.insert(1);
        ctx.primary_roles.insert(2);
        ctx.forget_unreferenced(Entity::Users);
        assert_eq!(ctx.user_master_ids.capacity(), 0);
        assert!(ctx.primary_roles.contains(&2), "roles.csv is not read yet");
        ctx.forget_unreferenced(Entity::Roles);
        assert_eq!(ctx.primary_roles.capacity(), 0);
    }
}
