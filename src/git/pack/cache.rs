//! The caches of one pack reader: resolved objects by pack offset (git's
//! `delta_base_cache`, every intermediate base of a chain kept) and recent reads by id.

use git2::Oid;

use super::Object;
use crate::git::idmap::IdMap;

/// Bytes of resolved objects kept per reader before the oldest are dropped.
const CACHE_BUDGET_BYTES: usize = 48 << 20;

/// Slots of the recent-reads cache.
const RECENT_SLOTS: usize = 1 << 12;

/// Where an entry lies: pack number in its set, offset in that pack.
pub(super) type EntryKey = (usize, u64);

/// Resolved objects by pack offset, in two generations: when the young one fills
/// half the budget it becomes the old one, and the old one is dropped. Hits in the
/// old generation are promoted, so hot delta bases survive.
#[derive(Default)]
pub(super) struct DeltaCache {
    young: IdMap<EntryKey, Object>,
    old: IdMap<EntryKey, Object>,
    young_bytes: usize,
}

impl DeltaCache {
    pub(super) fn get(&mut self, key: EntryKey) -> Option<Object> {
        if let Some(object) = self.young.get(&key) {
            return Some(object.clone());
        }
        let object = self.old.remove(&key)?;
        self.remember(key, object.clone());
        Some(object)
    }

    pub(super) fn remember(&mut self, key: EntryKey, object: Object) {
        let len = object.1.len();
        if self.young_bytes + len > CACHE_BUDGET_BYTES / 2 {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes += len;
        self.young.insert(key, object);
    }
}

/// Direct-mapped cache of recent reads by id: a tree read as a commit's new side is
/// read again as the next commit's old side, without an index search.
pub(super) struct RecentReads {
    slots: Vec<Option<(Oid, Object)>>,
}

impl Default for RecentReads {
    fn default() -> Self {
        RecentReads {
            slots: vec![None; RECENT_SLOTS],
        }
    }
}

impl RecentReads {
    fn slot(oid: &Oid) -> usize {
        let id = oid.as_bytes();
        usize::from(u16::from_le_bytes([id[0], id[1]])) % RECENT_SLOTS
    }

    pub(super) fn get(&self, oid: &Oid) -> Option<Object> {
        match &self.slots[Self::slot(oid)] {
            Some((id, object)) if id == oid => Some(object.clone()),
            _ => None,
        }
    }

    pub(super) fn put(&mut self, oid: &Oid, object: Object) {
        self.slots[Self::slot(oid)] = Some((*oid, object));
    }
}
