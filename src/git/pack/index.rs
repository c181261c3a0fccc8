//! Pack index files (`pack-*.idx`, version 2): where in its pack each object lies.
//!
//! The 256-entry fan-out narrows an id to a bucket of the sorted id table, which an
//! interpolation search then probes; after many lookups a hash table over the ids
//! replaces the search (see [`Index::find`]).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use git2::Oid;
use memmap2::Mmap;

use super::{map_file, PackError};
use crate::git::bytes::{be32, be64};
use crate::git::idmap::OidKey;

/// Lookups after which an index builds its hash table: a history walk makes hundreds
/// of thousands, a cache refresh a handful.
const TABLE_AFTER_LOOKUPS: usize = if cfg!(test) { 1 } else { 4096 };

/// Where the 20-byte ids start: after the 8-byte header and the 256 fan-out words.
const NAMES_AT: usize = 8 + 256 * 4;

/// One mapped version 2 pack index.
pub(super) struct Index {
    map: Mmap,
    count: usize,
    /// Where the 4-byte offsets start (after the ids and their CRCs).
    offsets32: usize,
    /// Where the 8-byte offsets of objects past 2 GiB start.
    offsets64: usize,
    /// Lookups so far, and the hash table built once they are many (see `find`).
    lookups: AtomicUsize,
    /// Whether a worker has taken on building `table`.
    building: AtomicBool,
    table: OnceLock<Option<IdTable>>,
}

impl Index {
    /// Map and check the index at `path`.
    pub(super) fn open(path: &Path) -> Result<Self, PackError> {
        let map = map_file(path)?;
        let corrupt = |detail: &str| PackError::Corrupt {
            path: path.to_path_buf(),
            detail: detail.to_owned(),
        };
        if map.get(0..8) != Some(&[0xff, b't', b'O', b'c', 0, 0, 0, 2][..]) {
            return Err(corrupt("not a version 2 pack index"));
        }
        let count = be32(&map, 8 + 255 * 4).ok_or_else(|| corrupt("truncated fan-out"))?;
        let count = usize::try_from(count).map_err(|_| corrupt("too many objects"))?;
        // Each object has a 20-byte id, a 4-byte CRC and a 4-byte offset; the index
        // ends with two 20-byte checksums.
        let offsets32 = count
            .checked_mul(24)
            .and_then(|ids| ids.checked_add(NAMES_AT))
            .ok_or_else(|| corrupt("too many objects"))?;
        let offsets64 = offsets32
            .checked_add(count * 4)
            .ok_or_else(|| corrupt("too many objects"))?;
        if map.len() < offsets64 + 40 {
            return Err(corrupt("truncated index"));
        }
        Ok(Index {
            map,
            count,
            offsets32,
            offsets64,
            lookups: AtomicUsize::new(0),
            building: AtomicBool::new(false),
            table: OnceLock::new(),
        })
    }

    /// How many objects the index lists.
    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// The id of the object at `index` in the index's (sorted) order.
    pub(super) fn raw_id(&self, index: usize) -> Option<OidKey> {
        self.name(index)?.try_into().ok()
    }

    fn name(&self, index: usize) -> Option<&[u8]> {
        let at = NAMES_AT + index * 20;
        self.map.get(at..at + 20)
    }

    /// The 8 bytes after the first of an object id, as a number: object ids are
    /// uniform, so this locates an id within its fan-out bucket.
    fn key(name: &[u8]) -> u64 {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&name[1..9]);
        u64::from_be_bytes(raw)
    }

    /// The pack offset of `oid`, if the index lists it.
    pub(super) fn find(&self, oid: &Oid) -> Option<u64> {
        let id = oid.as_bytes();
        // Once built, the table is read without touching the shared counter: two
        // workers incrementing it on every lookup fight over its cache line.
        if let Some(Some(table)) = self.table.get() {
            return table.find(self, id);
        }
        if self.lookups.fetch_add(1, Ordering::Relaxed) >= TABLE_AFTER_LOOKUPS
            && !self.building.swap(true, Ordering::Relaxed)
        {
            // One worker builds the table that all share, while the others go on
            // searching (waiting for it left a core idle for the whole build). A
            // build that fails (a damaged index) is remembered, and the search below
            // is used instead.
            if let Some(table) = self.table.get_or_init(|| IdTable::build(self)) {
                return table.find(self, id);
            }
        }
        let first = usize::from(*id.first()?);
        let hi = usize::try_from(be32(&self.map, 8 + first * 4)?).ok()?;
        let lo = if first == 0 {
            0
        } else {
            usize::try_from(be32(&self.map, 8 + (first - 1) * 4)?).ok()?
        };
        let (mut lo, mut hi) = (lo, hi.min(self.count));
        // Interpolation search: ids are uniformly distributed, so a guess from the
        // key lands a few entries away, where a binary search over a whole bucket
        // would touch a dozen cold cache lines.
        let key = Self::key(id);
        while hi - lo > 16 {
            let (low_key, high_key) = (Self::key(self.name(lo)?), Self::key(self.name(hi - 1)?));
            if key < low_key || key > high_key {
                return None;
            }
            let span = u128::from(high_key - low_key).max(1);
            let width = u128::try_from(hi - 1 - lo).ok()?;
            let guess = lo + usize::try_from(u128::from(key - low_key) * width / span).ok()?;
            match self.name(guess)?.cmp(id) {
                std::cmp::Ordering::Equal => return self.offset(guess),
                std::cmp::Ordering::Less => lo = guess + 1,
                std::cmp::Ordering::Greater => hi = guess,
            }
        }
        while lo < hi {
            let mid = lo.midpoint(hi);
            match self.name(mid)?.cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.offset(mid),
            }
        }
        None
    }

    /// The pack offset of the object at `index` in the index's order.
    pub(super) fn offset(&self, index: usize) -> Option<u64> {
        self.offset_of_entry(be32(&self.map, self.offsets32 + index * 4)?)
    }

    /// The pack offset an entry of the 32-bit offset table stands for: the offset
    /// itself, or (high bit set) the position of a 64-bit one.
    fn offset_of_entry(&self, small: u32) -> Option<u64> {
        if small & 0x8000_0000 == 0 {
            return Some(u64::from(small));
        }
        let large = usize::try_from(small & 0x7fff_ffff).ok()?;
        be64(&self.map, self.offsets64 + large * 8)
    }

    /// Whether the hash table has been built (tests check that both lookups run).
    #[cfg(test)]
    pub(super) fn has_table(&self) -> bool {
        self.table.get().is_some_and(Option::is_some)
    }
}

/// An open-addressing hash table over an index's ids, built once per index and
/// shared by every reader: one probe, usually within one cache line, instead of a
/// search through the index's sorted ids (each step a cache miss).
struct IdTable {
    slots: Vec<Slot>,
}

/// One slot of an [`IdTable`]: the whole id, so that a lookup reads nothing else
/// (with a shorter tag, the index's copy of the id had to be read to confirm each
/// hit, a second cache miss per lookup), and the entry of the index's 32-bit offset
/// table.
#[derive(Clone, Copy, Default)]
struct Slot {
    id: [u8; 20],
    /// The index's offset entry ([`Index::offset_of_entry`]); 0 marks an empty slot
    /// (no entry is 0: a pack's first object follows its 12-byte header).
    offset: u32,
}

impl IdTable {
    /// A table of `4/3` slots per id (three quarters full at most), not rounded up
    /// to a power of two: rounding left the 3.7 million ids of a 250k-commit history
    /// in 8 million slots, 190 MiB.
    fn build(index: &Index) -> Option<IdTable> {
        let size = index.count + index.count / 3 + 16;
        let mut slots = vec![Slot::default(); size];
        for position in 0..index.count {
            let name = index.name(position)?;
            let offset = be32(&index.map, index.offsets32 + position * 4)?;
            if offset == 0 {
                return None;
            }
            let mut slot = Self::home(size, name);
            while slots[slot].offset != 0 {
                slot = if slot + 1 == size { 0 } else { slot + 1 };
            }
            slots[slot] = Slot {
                id: name.try_into().ok()?,
                offset,
            };
        }
        Some(IdTable { slots })
    }

    /// The slot where the probe for `id` starts: its first 8 bytes, scaled to the
    /// table's `size`. Ids are uniform, so this spreads them as well as any hash;
    /// and as the index lists ids sorted, the build fills the table front to back,
    /// where a hash of other bytes wrote it in random order, a cache miss per id
    /// (3.5% of a walk's time on nova).
    fn home(size: usize, id: &[u8]) -> usize {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&id[..8]);
        let scaled = (u128::from(u64::from_be_bytes(prefix)) * size as u128) >> 64;
        usize::try_from(scaled).unwrap_or(0)
    }

    /// The pack offset of `id`, if the index lists it.
    fn find(&self, index: &Index, id: &[u8]) -> Option<u64> {
        let size = self.slots.len();
        let mut slot = Self::home(size, id);
        loop {
            let entry = &self.slots[slot];
            if entry.offset == 0 {
                return None;
            }
            if entry.id == id {
                return index.offset_of_entry(entry.offset);
            }
            slot = if slot + 1 == size { 0 } else { slot + 1 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 2 index of `ids` (sorted here), the `n`th at pack offset `12 + n`.
    fn index_of(dir: &Path, mut ids: Vec<[u8; 20]>) -> (Index, Vec<[u8; 20]>) {
        ids.sort_unstable();
        ids.dedup();
        let mut raw = vec![0xff, b't', b'O', b'c', 0, 0, 0, 2];
        for bucket in 0..=255u8 {
            let below = ids.iter().filter(|id| id[0] <= bucket).count();
            raw.extend_from_slice(&u32::try_from(below).unwrap().to_be_bytes());
        }
        for id in &ids {
            raw.extend_from_slice(id);
        }
        raw.extend(std::iter::repeat_n(0u8, 4 * ids.len()));
        for n in 0..ids.len() {
            raw.extend_from_slice(&u32::try_from(12 + n).unwrap().to_be_bytes());
        }
        raw.extend_from_slice(&[0u8; 40]);
        let path = dir.join("pack-test.idx");
        std::fs::write(&path, raw).unwrap();
        (Index::open(&path).unwrap(), ids)
    }

    /// Through the search and through the table alike, every listed id gives its
    /// offset and an absent one nothing, also where ids crowd one region of the
    /// table and its probes wrap around from the last slot to the first.
    #[test]
    fn table_and_search_agree_when_ids_crowd_and_wrap() {
        let dir = tempfile::tempdir().unwrap();
        let mut ids = Vec::new();
        for n in 0..300u32 {
            let mut id = [0u8; 20];
            // Most ids share their first bytes (the last slots, so probes wrap);
            // the rest spread out.
            id[0] = if n % 5 == 0 { (n % 251) as u8 } else { 0xff };
            id[1] = if n % 5 == 0 { 0x10 } else { 0xff };
            id[12..16].copy_from_slice(&n.to_be_bytes());
            ids.push(id);
        }
        let (index, ids) = index_of(dir.path(), ids);
        let absent: Vec<[u8; 20]> = (0..50u32)
            .map(|n| {
                let mut id = [0xffu8; 20];
                id[16..].copy_from_slice(&n.to_be_bytes());
                id
            })
            .collect();
        for round in 0..2 {
            for (n, id) in ids.iter().enumerate() {
                let oid = Oid::from_bytes(id).unwrap();
                assert_eq!(index.find(&oid), Some(12 + n as u64), "round {round}");
            }
            for id in &absent {
                assert_eq!(index.find(&Oid::from_bytes(id).unwrap()), None);
            }
        }
        assert!(index.has_table());
        let table = index.table.get().unwrap().as_ref().unwrap();
        // The crowd did wrap: some id of the last slots' region sits at the front.
        assert!(table.slots[..8].iter().any(|slot| slot.id[0] == 0xff));
    }
}
