//! The caches of one pack reader: resolved objects by pack offset (git's
//! `delta_base_cache`, every intermediate base of a chain kept), recent reads by id,
//! and the buffers of evicted objects, reused for the next ones.

use std::sync::Arc;

use git2::Oid;

use super::Object;
use crate::git::idmap::{IdMap, IdSet};

/// Bytes of resolved objects a reader keeps at first (their lengths; [`BufferPool`]
/// rounds capacities up to powers of two). Packs written by `git pack-objects` (every
/// clone and fetch) store each tree as a delta against a recent version of the same
/// path, so a walk's working set of bases is small: on nova (62k commits) 4 MiB was
/// as fast as 48 MiB, and every megabyte more is memory the kernel has to fault in
/// and clear (48 MiB per reader cost 13% of the walk's CPU there).
const INITIAL_BUDGET_BYTES: usize = 8 << 20;

/// The most a reader's budget grows to. Packs written by `git fast-import` chain
/// deltas in import order, so the bases a walk needs again lie further back: on a
/// 40k-commit history with deep directory trees the tree comparisons took 18 s with
/// 24 MiB and 2.8 s with 48 MiB. Growing on to 64 MiB saved up to 10% of the walk on
/// the synthetic shapes (BENCHMARKS.md) and cost 45 to 80 MiB of peak memory. git's
/// own `core.deltaBaseCacheLimit` is 96 MiB.
const MAX_BUDGET_BYTES: usize = 48 << 20;

/// The budget doubles when more than `1 / THRASH_RATIO` of a generation's misses
/// were objects the cache had held and dropped (see [`DeltaCache`]).
const THRASH_RATIO: usize = 8;

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
///
/// The budget adapts to the pack (as an ARC cache's ghost lists do): the keys of the
/// last dropped generation are remembered, and when a generation's misses often
/// fall on them, the cache is too small for the pack's delta chains and the budget
/// doubles, up to [`MAX_BUDGET_BYTES`].
pub(super) struct DeltaCache {
    young: IdMap<EntryKey, Object>,
    old: IdMap<EntryKey, Object>,
    young_bytes: usize,
    budget: usize,
    /// Keys of the generation dropped last.
    ghosts: IdSet<EntryKey>,
    /// Misses since the last generation change, and how many of them were ghosts.
    misses: usize,
    ghost_hits: usize,
}

impl Default for DeltaCache {
    fn default() -> Self {
        DeltaCache {
            young: IdMap::default(),
            old: IdMap::default(),
            young_bytes: 0,
            budget: INITIAL_BUDGET_BYTES,
            ghosts: IdSet::default(),
            misses: 0,
            ghost_hits: 0,
        }
    }
}

impl DeltaCache {
    pub(super) fn get(&mut self, key: EntryKey, pool: &mut BufferPool) -> Option<Object> {
        if let Some(object) = self.young.get(&key) {
            return Some(object.clone());
        }
        let Some(object) = self.old.remove(&key) else {
            self.misses += 1;
            if self.ghosts.contains(&key) {
                self.ghost_hits += 1;
            }
            return None;
        };
        self.remember(key, object.clone(), pool);
        Some(object)
    }

    /// Keep `object`; the generation dropped to make room gives its buffers to
    /// `pool`.
    pub(super) fn remember(&mut self, key: EntryKey, object: Object, pool: &mut BufferPool) {
        let size = object.1.len();
        if self.young_bytes + size > self.budget / 2 {
            if self.ghost_hits * THRASH_RATIO > self.misses && self.budget < MAX_BUDGET_BYTES {
                self.budget = (self.budget * 2).min(MAX_BUDGET_BYTES);
                pool.limit = self.budget / 2;
            }
            self.misses = 0;
            self.ghost_hits = 0;
            let young = std::mem::take(&mut self.young);
            let dropped = std::mem::replace(&mut self.old, young);
            self.ghosts.clear();
            self.ghosts.reserve(dropped.len());
            for (key, (_, buffer)) in dropped {
                self.ghosts.insert(key);
                pool.give(buffer);
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
pub(super) struct BufferPool {
    /// `classes[c]` holds empty buffers of capacity `1 << c`.
    classes: Vec<Vec<Arc<Vec<u8>>>>,
    bytes: usize,
    /// Bytes held at most: one generation of the [`DeltaCache`] it serves, which
    /// raises it when its budget grows.
    limit: usize,
}

impl Default for BufferPool {
    fn default() -> Self {
        BufferPool {
            classes: Vec::new(),
            bytes: 0,
            limit: INITIAL_BUDGET_BYTES / 2,
        }
    }
}

impl BufferPool {
    /// An empty buffer with room for `size` bytes, held by nothing else (fill it
    /// through `Arc::make_mut`, which then never copies).
    pub(super) fn take(&mut self, size: usize) -> Arc<Vec<u8>> {
        if size >= POOLED_BELOW {
            return Arc::new(Vec::with_capacity(size));
        }
        let capacity = size.max(MIN_POOLED).next_power_of_two();
        let class = capacity.trailing_zeros() as usize;
        match self.classes.get_mut(class).and_then(Vec::pop) {
            Some(mut buffer) => {
                self.bytes -= capacity;
                Arc::make_mut(&mut buffer).clear();
                buffer
            }
            None => Arc::new(Vec::with_capacity(capacity)),
        }
    }

    /// Take back `object` if nothing else holds it, up to the pool's limit. The `Arc`
    /// is kept with its buffer, so that reusing it costs no allocation at all.
    pub(super) fn give(&mut self, mut object: Arc<Vec<u8>>) {
        let Some(buffer) = Arc::get_mut(&mut object) else {
            return;
        };
        let capacity = buffer.capacity();
        if !capacity.is_power_of_two()
            || !(MIN_POOLED..POOLED_BELOW).contains(&capacity)
            || self.bytes + capacity > self.limit
        {
            return;
        }
        let class = capacity.trailing_zeros() as usize;
        if self.classes.len() <= class {
            self.classes.resize_with(class + 1, Vec::new);
        }
        self.bytes += capacity;
        self.classes[class].push(object);
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
    use crate::git::ObjectKind;

    fn object(size: usize) -> Object {
        (ObjectKind::Tree, Arc::new(vec![0u8; size]))
    }

    /// Reads a working set `rounds` times in a cycle, as a walk re-reading delta
    /// bases does: each key is looked up, and resolved (remembered) on a miss.
    fn cycle(
        cache: &mut DeltaCache,
        pool: &mut BufferPool,
        keys: usize,
        size: usize,
        rounds: usize,
    ) {
        for _ in 0..rounds {
            for key in 0..keys {
                let key = (0, key as u64);
                if cache.get(key, pool).is_none() {
                    cache.remember(key, object(size), pool);
                }
            }
        }
    }

    /// A working set the cache holds keeps the first budget; one that does not fit
    /// (misses on what was just dropped) doubles it up to the maximum, and no
    /// further.
    #[test]
    fn the_budget_grows_only_when_the_cache_thrashes() {
        let mut pool = BufferPool::default();
        let mut cache = DeltaCache::default();
        // A quarter of the budget, read over and over: all hits after the first round.
        cycle(
            &mut cache,
            &mut pool,
            256,
            INITIAL_BUDGET_BYTES / 4 / 256,
            20,
        );
        assert_eq!(cache.budget, INITIAL_BUDGET_BYTES);
        // Never read again (a server pack's stream of new trees): no growth either.
        for key in 1000..1000 + 4 * INITIAL_BUDGET_BYTES / 4096 {
            let key = (1, key as u64);
            assert!(cache.get(key, &mut pool).is_none());
            cache.remember(key, object(4096), &mut pool);
        }
        assert_eq!(cache.budget, INITIAL_BUDGET_BYTES);
        // A little more than the budget, read in a cycle: misses fall on the
        // generation dropped last, and the budget doubles until it holds the set,
        // up to the maximum and no further.
        let mut budgets = vec![cache.budget];
        for _ in 0..8 {
            let keys = cache.budget * 5 / 4 / 4096;
            cycle(&mut cache, &mut pool, keys, 4096, 6);
            budgets.push(cache.budget);
        }
        assert!(budgets[1] > INITIAL_BUDGET_BYTES, "{budgets:?}");
        assert!(
            budgets.windows(2).all(|w| w[0] <= w[1]),
            "never shrinks: {budgets:?}"
        );
        assert_eq!(budgets.last(), Some(&MAX_BUDGET_BYTES), "{budgets:?}");
        // The pool keeps one generation of the grown cache.
        assert_eq!(pool.limit, MAX_BUDGET_BYTES / 2);
    }

    /// Buffers nothing else holds come back for objects of their size class; shared
    /// ones, odd capacities and more than the pool's budget go to the allocator.
    #[test]
    fn the_pool_reuses_unshared_buffers() {
        let mut pool = BufferPool::default();
        let first = pool.take(100);
        assert_eq!(first.capacity(), 128);
        let address = first.as_ptr();
        pool.give(first);
        let again = pool.take(70);
        assert_eq!(
            (again.as_ptr(), again.capacity(), again.len()),
            (address, 128, 0)
        );
        // Still held elsewhere: not pooled.
        let shared = again;
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
        for _ in 0..(pool.limit / 4096 + 10) {
            pool.give(Arc::new(Vec::with_capacity(4096)));
        }
        assert!(pool.bytes <= pool.limit);
    }
}
