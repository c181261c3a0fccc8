//! The caches of one pack reader: resolved objects by pack offset (git's
//! `delta_base_cache`, every intermediate base of a chain kept) and recent reads by id.

use std::collections::HashMap;

use git2::Oid;

use super::Object;

/// Bytes of resolved objects kept per reader before the oldest are dropped.
const CACHE_BUDGET_BYTES: usize = 48 << 20;

/// Slots of the recent-reads cache.
const RECENT_SLOTS: usize = 1 << 12;

/// A hasher for keys that are small integers (pack numbers and offsets): far cheaper
/// than `SipHash` on the hot path.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8).take(1) {
            let mut raw = [0u8; 8];
            raw[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(raw))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_usize(&mut self, value: usize) {
        // Lossless on every target this builds for (usize is at most 64 bits).
        self.write_u64(u64::try_from(value).unwrap_or(u64::MAX));
    }
}

/// `HashMap` hashing with [`IdHasher`].
type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

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
