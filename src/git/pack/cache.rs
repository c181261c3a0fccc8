//! The caches of one pack reader: resolved objects by pack offset (git's
//! `delta_base_cache`, every intermediate base of a chain kept), recent reads by id,
//! and the buffers of evicted objects, reused for the next ones.

use std::sync::Arc;

use git2::Oid;

use super::Object;
use crate::git::idmap::IdMap;

/// Bytes of resolved objects kept per reader before the oldest are dropped (their
/// lengths; [`BufferPool`] rounds capacities up to powers of two). A cache smaller than
/// the walk's working set of delta bases thrashes: on a 40k-commit history packed by
/// `git fast-import` (deep directory trees, long delta chains in import order) the
/// tree comparisons took 18 s with 24 MiB, 25 s with 12 MiB counted by capacity, and
/// 2.8 s with this budget (64 MiB: 2.0-2.6 s; 96 MiB: 2.5-2.7 s). Real server-made
/// clones need far less (nova: 12 MiB was as fast) but pay only memory for it.
/// git's own `core.deltaBaseCacheLimit` is 96 MiB.
const CACHE_BUDGET_BYTES: usize = 48 << 20;

/// Objects smaller than this get a buffer of the next power of two, pooled when
/// evicted; larger ones (rare, huge trees) go to and from the allocator.
const POOLED_BELOW: usize = 1 << 20;

/// Smallest pooled buffer.
const MIN_POOLED: usize = 64;

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
    pub(super) fn get(&mut self, key: EntryKey, pool: &mut BufferPool) -> Option<Object> {
        if let Some(object) = self.young.get(&key) {
            return Some(object.clone());
        }
        let object = self.old.remove(&key)?;
        self.remember(key, object.clone(), pool);
        Some(object)
    }

    /// Keep `object`; the generation dropped to make room gives its buffers to
    /// `pool`.
    pub(super) fn remember(&mut self, key: EntryKey, object: Object, pool: &mut BufferPool) {
        let size = object.1.len();
        if self.young_bytes + size > CACHE_BUDGET_BYTES / 2 {
            let young = std::mem::take(&mut self.young);
            for (_, (_, dropped)) in std::mem::replace(&mut self.old, young).drain() {
                pool.give(dropped);
            }
            self.young_bytes = 0;
        }
        self.young_bytes += size;
        if let Some((_, replaced)) = self.young.insert(key, object) {
            pool.give(replaced);
        }
    }
}

/// Buffers of objects no cache holds any more, by power-of-two capacity, handed out
/// again for the next objects. A history walk resolves hundreds of thousands of
/// small objects while the caches drop as many: without the pool, the allocator
/// returns each dropped generation to the system and takes it back page by page
/// (a third of a worker's time on a real clone, in page faults and `mprotect`).
#[derive(Default)]
pub(super) struct BufferPool {
    /// `classes[c]` holds empty buffers of capacity `1 << c`.
    classes: Vec<Vec<Vec<u8>>>,
    bytes: usize,
}

impl BufferPool {
    /// An empty buffer with room for `size` bytes.
    pub(super) fn take(&mut self, size: usize) -> Vec<u8> {
        if size >= POOLED_BELOW {
            return Vec::with_capacity(size);
        }
        let capacity = size.max(MIN_POOLED).next_power_of_two();
        let class = capacity.trailing_zeros() as usize;
        match self.classes.get_mut(class).and_then(Vec::pop) {
            Some(mut buffer) => {
                self.bytes -= capacity;
                buffer.clear();
                buffer
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Take back `object`'s buffer if nothing else holds it, up to half the cache
    /// budget (one generation's worth).
    pub(super) fn give(&mut self, object: Arc<Vec<u8>>) {
        let Ok(buffer) = Arc::try_unwrap(object) else {
            return;
        };
        let capacity = buffer.capacity();
        if !capacity.is_power_of_two()
            || !(MIN_POOLED..POOLED_BELOW).contains(&capacity)
            || self.bytes + capacity > CACHE_BUDGET_BYTES / 2
        {
            return;
        }
        let class = capacity.trailing_zeros() as usize;
        if self.classes.len() <= class {
            self.classes.resize_with(class + 1, Vec::new);
        }
        self.bytes += capacity;
        self.classes[class].push(buffer);
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

    /// Remember `object` as `oid`, giving the one it replaces to `pool`.
    pub(super) fn put(&mut self, oid: &Oid, object: Object, pool: &mut BufferPool) {
        if let Some((_, (_, replaced))) = self.slots[Self::slot(oid)].replace((*oid, object)) {
            pool.give(replaced);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buffers nothing else holds come back for objects of their size class; shared
    /// ones, odd capacities and more than the pool's budget go to the allocator.
    #[test]
    fn the_pool_reuses_unshared_buffers() {
        let mut pool = BufferPool::default();
        let first = pool.take(100);
        assert_eq!(first.capacity(), 128);
        let address = first.as_ptr();
        pool.give(Arc::new(first));
        let again = pool.take(70);
        assert_eq!(
            (again.as_ptr(), again.capacity(), again.len()),
            (address, 128, 0)
        );
        // Still held elsewhere: not pooled.
        let shared = Arc::new(again);
        let holder = Arc::clone(&shared);
        pool.give(shared);
        assert_eq!(pool.bytes, 0);
        drop(holder);
        pool.give(Arc::new(Vec::with_capacity(100)));
        assert_eq!(pool.bytes, 0);
        // Large objects are allocated exactly and never pooled.
        let large = pool.take(POOLED_BELOW + 1);
        assert_eq!(large.capacity(), POOLED_BELOW + 1);
        // The pool holds at most one cache generation.
        for _ in 0..(CACHE_BUDGET_BYTES / 2 / 4096 + 10) {
            pool.give(Arc::new(Vec::with_capacity(4096)));
        }
        assert!(pool.bytes <= CACHE_BUDGET_BYTES / 2);
    }
}
