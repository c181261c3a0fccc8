//! A reader for objects in pack files, with a delta cache.
//!
//! libgit2 caches only the deepest base of a delta chain, so reading the trees of
//! every commit re-applies whole chains (up to `pack.depth`, 50 by default) for each
//! object. git itself keeps every intermediate base (`delta_base_cache`); this reader
//! does the same, keyed by pack offset. Objects it cannot find (loose objects,
//! alternates) are left to libgit2 by the caller.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use flate2::{Decompress, FlushDecompress, Status};
use git2::Oid;
use memmap2::Mmap;
use thiserror::Error;

/// Bytes of resolved objects kept per reader before the cache is emptied.
const CACHE_BUDGET_BYTES: usize = 48 << 20;
/// Largest object this reader inflates: far above any real tree or commit.
const MAX_OBJECT_BYTES: usize = 1 << 30;
/// Longest delta chain followed, far above git's own `pack.depth` limits.
const MAX_CHAIN: usize = 10_000;

/// Errors of reading packs.
#[derive(Debug, Error)]
pub enum PackError {
    /// A pack or index file cannot be opened or mapped.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A pack or index file is malformed.
    #[error("{path} is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// Object kinds as stored in a pack entry header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A commit.
    Commit,
    /// A tree.
    Tree,
    /// A blob.
    Blob,
    /// An annotated tag.
    Tag,
}

/// A hasher for keys that are already uniformly random (object ids) or small
/// integers (pack offsets): far cheaper than SipHash on the hot path.
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
        self.write_u64(value as u64);
    }
}

/// `HashMap` hashing with [`IdHasher`].
pub type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

fn recent_slot(oid: &Oid) -> usize {
    let id = oid.as_bytes();
    usize::from(u16::from_le_bytes([id[0], id[1]])) % RECENT_SLOTS
}

/// A resolved object: its kind and its bytes, shared with the caches.
pub type Object = (Kind, Arc<Vec<u8>>);

struct PackFile {
    pack_path: PathBuf,
    idx: Mmap,
    pack: Mmap,
    count: usize,
    /// Where the 20-byte ids start in `idx`.
    names: usize,
    offsets32: usize,
    offsets64: usize,
    /// Lookups so far, and the hash table built once they are many (see `find`).
    lookups: AtomicUsize,
    table: OnceLock<Option<IdTable>>,
}

/// Lookups after which a pack builds its hash table: a history walk makes hundreds of
/// thousands, a cache refresh a handful.
const TABLE_AFTER_LOOKUPS: usize = if cfg!(test) { 1 } else { 4096 };

/// Open-addressing table from 4 bytes of an object id to its position in the index:
/// one probe where the index's own search touches a dozen cold cache lines.
struct IdTable {
    /// `(id bytes 4..8, position + 1)`; position 0 marks an empty slot.
    slots: Vec<(u32, u32)>,
    mask: usize,
}

impl IdTable {
    fn build(pack: &PackFile) -> Option<IdTable> {
        let size = (pack.count * 2).next_power_of_two().max(16);
        let mut slots = vec![(0u32, 0u32); size];
        let mask = size - 1;
        for position in 0..pack.count {
            let name = pack.name(position)?;
            let (hash, tag) = Self::split(name);
            let mut slot = hash & mask;
            while slots[slot].1 != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = (tag, u32::try_from(position + 1).ok()?);
        }
        Some(IdTable { slots, mask })
    }

    /// Slot hash from bytes 8..16 and tag from bytes 4..8 (ids are uniform).
    fn split(id: &[u8]) -> (usize, u32) {
        let mut hash = [0u8; 8];
        hash.copy_from_slice(&id[8..16]);
        let mut tag = [0u8; 4];
        tag.copy_from_slice(&id[4..8]);
        (u64::from_le_bytes(hash) as usize, u32::from_le_bytes(tag))
    }

    fn find(&self, pack: &PackFile, id: &[u8]) -> Option<usize> {
        let (hash, tag) = Self::split(id);
        let mut slot = hash & self.mask;
        loop {
            let (slot_tag, position) = self.slots[slot];
            if position == 0 {
                return None;
            }
            if slot_tag == tag && pack.name(position as usize - 1)? == id {
                return Some(position as usize - 1);
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl PackFile {
    fn open(idx_path: &Path) -> Result<Self, PackError> {
        let pack_path = idx_path.with_extension("pack");
        let map = |path: &Path| -> Result<Mmap, PackError> {
            let file = File::open(path).map_err(|source| PackError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            // SAFETY: pack and index files are immutable once written (git writes
            // them under temporary names and renames them into place).
            unsafe { Mmap::map(&file) }.map_err(|source| PackError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        let idx = map(idx_path)?;
        let pack = map(&pack_path)?;
        let corrupt = |detail: &str| PackError::Corrupt {
            path: idx_path.to_path_buf(),
            detail: detail.to_owned(),
        };
        if idx.get(0..8) != Some(&[0xff, b't', b'O', b'c', 0, 0, 0, 2][..]) {
            return Err(corrupt("not a version 2 pack index"));
        }
        let count = be32(&idx, 8 + 255 * 4).ok_or_else(|| corrupt("truncated fan-out"))? as usize;
        let names = 8 + 256 * 4;
        let offsets32 = names + count * 24;
        let offsets64 = offsets32 + count * 4;
        if idx.len() < offsets64 + 40 || pack.get(0..4) != Some(&b"PACK"[..]) {
            return Err(corrupt("truncated index or pack"));
        }
        Ok(PackFile {
            pack_path,
            idx,
            pack,
            count,
            names,
            offsets32,
            offsets64,
            lookups: AtomicUsize::new(0),
            table: OnceLock::new(),
        })
    }

    fn name(&self, index: usize) -> Option<&[u8]> {
        let at = self.names + index * 20;
        self.idx.get(at..at + 20)
    }

    /// The 8 bytes after the first of an object id, as a number: object ids are
    /// uniform, so this locates an id within its fan-out bucket.
    fn key(name: &[u8]) -> u64 {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&name[1..9]);
        u64::from_be_bytes(raw)
    }

    fn find(&self, oid: &Oid) -> Option<u64> {
        let id = oid.as_bytes();
        if self.lookups.fetch_add(1, Ordering::Relaxed) >= TABLE_AFTER_LOOKUPS {
            // Concurrent workers share one table; a build that fails (a damaged
            // index) is remembered, and the search below is used instead.
            if let Some(table) = self.table.get_or_init(|| IdTable::build(self)) {
                return self.offset(table.find(self, id)?);
            }
        }
        let first = usize::from(*id.first()?);
        let hi = be32(&self.idx, 8 + first * 4)? as usize;
        let lo = if first == 0 {
            0
        } else {
            be32(&self.idx, 8 + (first - 1) * 4)? as usize
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
            let guess = lo + (u128::from(key - low_key) * (hi - 1 - lo) as u128 / span) as usize;
            match self.name(guess)?.cmp(id) {
                std::cmp::Ordering::Equal => return self.offset(guess),
                std::cmp::Ordering::Less => lo = guess + 1,
                std::cmp::Ordering::Greater => hi = guess,
            }
        }
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.name(mid)?.cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return self.offset(mid),
            }
        }
        None
    }

    fn offset(&self, index: usize) -> Option<u64> {
        let small = be32(&self.idx, self.offsets32 + index * 4)?;
        if small & 0x8000_0000 == 0 {
            return Some(u64::from(small));
        }
        let at = self.offsets64 + (small & 0x7fff_ffff) as usize * 8;
        let bytes = self.idx.get(at..at + 8)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes);
        Some(u64::from_be_bytes(raw))
    }
}

/// The pack files of one object directory, shared by all readers.
pub struct PackSet {
    packs: Vec<PackFile>,
}

impl PackSet {
    /// Map every `*.idx`/`*.pack` pair in `objects_dir/pack`. A directory without
    /// packs gives an empty set.
    pub fn open(objects_dir: &Path) -> Result<Arc<Self>, PackError> {
        let pack_dir = objects_dir.join("pack");
        let mut packs = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&pack_dir) {
            let mut paths: Vec<PathBuf> = entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
                .collect();
            paths.sort();
            for path in paths {
                // An index this reader does not understand (version 1, or damaged) is
                // left to libgit2, which the caller falls back to for unknown objects.
                if path.with_extension("pack").exists() {
                    if let Ok(pack) = PackFile::open(&path) {
                        packs.push(pack);
                    }
                }
            }
        }
        Ok(Arc::new(PackSet { packs }))
    }
}

/// Reads objects from a [`PackSet`], caching resolved delta bases.
pub struct PackReader {
    set: Arc<PackSet>,
    /// Resolved objects by (pack, offset), in two generations: when the young one
    /// fills half the budget it becomes the old one, and the old one is dropped. Hits
    /// in the old generation are promoted, so hot delta bases survive.
    young: IdMap<(u32, u64), Object>,
    old: IdMap<(u32, u64), Object>,
    young_bytes: usize,
    /// Direct-mapped cache of recent reads by id: a tree read as a commit's new side
    /// is read again as the next commit's old side, without an index search.
    recent: Vec<Option<(Oid, Object)>>,
    inflater: Decompress,
    scratch: Vec<u8>,
}

const RECENT_SLOTS: usize = 1 << 12;

/// A pack entry's header: what it is and where its compressed data starts.
enum Entry {
    Base(Kind, usize, usize),
    OfsDelta(u64, usize, usize),
    RefDelta(Oid, usize, usize),
}

impl PackReader {
    /// A reader with an empty cache.
    pub fn new(set: Arc<PackSet>) -> Self {
        PackReader {
            set,
            young: IdMap::default(),
            old: IdMap::default(),
            young_bytes: 0,
            recent: vec![None; RECENT_SLOTS],
            inflater: Decompress::new(true),
            scratch: Vec::new(),
        }
    }

    /// The object `oid`, if some pack holds it.
    pub fn read(&mut self, oid: &Oid) -> Result<Option<Object>, PackError> {
        let slot = recent_slot(oid);
        if let Some((id, object)) = &self.recent[slot] {
            if id == oid {
                return Ok(Some(object.clone()));
            }
        }
        for pack in 0..self.set.packs.len() {
            if let Some(offset) = self.set.packs[pack].find(oid) {
                let object = self.resolve(pack, offset)?;
                self.recent[slot] = Some((*oid, object.clone()));
                return Ok(Some(object));
            }
        }
        Ok(None)
    }

    fn cached(&mut self, key: (u32, u64)) -> Option<Object> {
        if let Some(object) = self.young.get(&key) {
            return Some(object.clone());
        }
        let object = self.old.remove(&key)?;
        self.remember(key, object.clone());
        Some(object)
    }

    fn corrupt(&self, pack: usize, detail: String) -> PackError {
        PackError::Corrupt {
            path: self.set.packs[pack].pack_path.clone(),
            detail,
        }
    }

    fn resolve(&mut self, pack: usize, offset: u64) -> Result<Object, PackError> {
        // Walk down the chain (headers only) until a cached object or a base, then
        // apply the deltas back up, caching every intermediate result as git's
        // delta_base_cache does.
        let mut chain: Vec<(u64, usize, usize)> = Vec::new();
        let mut at = offset;
        let (kind, mut data) = loop {
            if let Some(object) = self.cached((pack as u32, at)) {
                break object;
            }
            if chain.len() > MAX_CHAIN {
                return Err(
                    self.corrupt(pack, format!("delta chain at offset {offset} is too long"))
                );
            }
            match self.entry(pack, at)? {
                Entry::Base(kind, data_at, size) => {
                    let mut data = Vec::new();
                    self.inflate(pack, data_at, size, at, &mut data)?;
                    let data = Arc::new(data);
                    self.remember((pack as u32, at), (kind, data.clone()));
                    break (kind, data);
                }
                Entry::OfsDelta(base, data_at, size) => {
                    chain.push((at, data_at, size));
                    at = base;
                }
                Entry::RefDelta(base, data_at, size) => {
                    let Some(base_offset) = self.set.packs[pack].find(&base) else {
                        return Err(self
                            .corrupt(pack, format!("delta base {base} is not in the same pack")));
                    };
                    chain.push((at, data_at, size));
                    at = base_offset;
                }
            }
        };
        let mut delta = std::mem::take(&mut self.scratch);
        while let Some((entry_offset, data_at, size)) = chain.pop() {
            delta.clear();
            self.inflate(pack, data_at, size, entry_offset, &mut delta)?;
            let applied = apply_delta(&data, &delta)
                .ok_or_else(|| self.corrupt(pack, format!("bad delta at offset {entry_offset}")))?;
            data = Arc::new(applied);
            self.remember((pack as u32, entry_offset), (kind, data.clone()));
        }
        self.scratch = delta;
        Ok((kind, data))
    }

    fn remember(&mut self, key: (u32, u64), object: Object) {
        let len = object.1.len();
        if self.young_bytes + len > CACHE_BUDGET_BYTES / 2 {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes += len;
        self.young.insert(key, object);
    }

    fn entry(&mut self, pack: usize, offset: u64) -> Result<Entry, PackError> {
        let bytes: &[u8] = &self.set.packs[pack].pack;
        let mut at =
            usize::try_from(offset).map_err(|_| self.corrupt(pack, "offset overflow".into()))?;
        let truncated =
            |reader: &Self| reader.corrupt(pack, format!("truncated entry at offset {offset}"));
        let mut byte = *bytes.get(at).ok_or_else(|| truncated(self))?;
        at += 1;
        let type_code = (byte >> 4) & 7;
        let mut size = u64::from(byte & 0x0f);
        let mut shift = 4;
        while byte & 0x80 != 0 {
            byte = *bytes.get(at).ok_or_else(|| truncated(self))?;
            at += 1;
            if shift > 60 {
                return Err(self.corrupt(pack, format!("entry size overflow at offset {offset}")));
            }
            size |= u64::from(byte & 0x7f) << shift;
            shift += 7;
        }
        let size = usize::try_from(size).map_err(|_| truncated(self))?;
        let header = match type_code {
            1 => Some(Kind::Commit),
            2 => Some(Kind::Tree),
            3 => Some(Kind::Blob),
            4 => Some(Kind::Tag),
            6 | 7 => None,
            other => {
                return Err(self.corrupt(
                    pack,
                    format!("unknown entry type {other} at offset {offset}"),
                ))
            }
        };
        let mut base_offset = 0u64;
        let mut base_oid = None;
        if type_code == 6 {
            let mut c = *bytes.get(at).ok_or_else(|| truncated(self))?;
            at += 1;
            let mut distance = u64::from(c & 0x7f);
            while c & 0x80 != 0 {
                c = *bytes.get(at).ok_or_else(|| truncated(self))?;
                at += 1;
                distance = distance
                    .checked_add(1)
                    .and_then(|d| d.checked_mul(128))
                    .map(|d| d | u64::from(c & 0x7f))
                    .ok_or_else(|| truncated(self))?;
            }
            base_offset = offset
                .checked_sub(distance)
                .filter(|_| distance > 0)
                .ok_or_else(|| {
                    self.corrupt(pack, format!("bad delta base distance at offset {offset}"))
                })?;
        } else if type_code == 7 {
            let raw = bytes.get(at..at + 20).ok_or_else(|| truncated(self))?;
            base_oid = Some(Oid::from_bytes(raw).map_err(|_| truncated(self))?);
            at += 20;
        }
        Ok(match (header, base_oid) {
            (Some(kind), _) => Entry::Base(kind, at, size),
            (None, Some(oid)) => Entry::RefDelta(oid, at, size),
            (None, None) => Entry::OfsDelta(base_offset, at, size),
        })
    }

    fn inflate(
        &mut self,
        pack: usize,
        at: usize,
        size: usize,
        offset: u64,
        out: &mut Vec<u8>,
    ) -> Result<(), PackError> {
        let set = Arc::clone(&self.set);
        let input = set.packs[pack]
            .pack
            .get(at..)
            .ok_or_else(|| self.corrupt(pack, format!("truncated entry at offset {offset}")))?;
        // A damaged header must not turn into a huge allocation: deflate expands at
        // most about 1032:1, and no tree or commit comes near the absolute cap.
        let plausible = input
            .len()
            .saturating_mul(1032)
            .saturating_add(64)
            .min(MAX_OBJECT_BYTES);
        if size > plausible {
            return Err(self.corrupt(
                pack,
                format!(
                    "entry at offset {offset} claims {size} bytes, more than its data can hold"
                ),
            ));
        }
        out.clear();
        out.reserve_exact(size);
        self.inflater.reset(true);
        let status = self
            .inflater
            .decompress_vec(input, out, FlushDecompress::Finish)
            .map_err(|error| {
                self.corrupt(pack, format!("zlib error at offset {offset}: {error}"))
            })?;
        if out.len() != size || !matches!(status, Status::StreamEnd) {
            // A full buffer can stop just short of the stream end; one more call with
            // no room left must then report the end.
            let mut probe = [0u8; 1];
            let consumed = self.inflater.total_in() as usize;
            let tail = input.get(consumed..).unwrap_or(&[]);
            let more = self
                .inflater
                .decompress(tail, &mut probe, FlushDecompress::Finish);
            if out.len() != size || !matches!(more, Ok(Status::StreamEnd)) {
                return Err(self.corrupt(
                    pack,
                    format!(
                        "entry at offset {offset} inflates to {} bytes, expected {size}",
                        out.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn delta_varint(delta: &[u8], at: &mut usize) -> Option<usize> {
    let mut value = 0usize;
    let mut shift = 0;
    loop {
        let byte = *delta.get(*at)?;
        *at += 1;
        if shift > 56 {
            return None;
        }
        value |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
}

/// Apply a git delta (`patch-delta.c`) to `base`.
pub fn apply_delta(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let mut at = 0;
    let source_size = delta_varint(delta, &mut at)?;
    let target_size = delta_varint(delta, &mut at)?;
    // Each instruction copies at most the whole base or inserts at most 127 bytes, so
    // a larger claimed size is damage (and must not become a huge allocation).
    let most = delta
        .len()
        .saturating_mul(base.len().max(127))
        .min(MAX_OBJECT_BYTES);
    if source_size != base.len() || target_size > most {
        return None;
    }
    // The header's size is only a hint until the result is checked against it.
    let mut out = Vec::with_capacity(target_size.min(base.len().saturating_add(delta.len()) * 2));
    while at < delta.len() {
        let op = delta[at];
        at += 1;
        if op & 0x80 != 0 {
            let mut offset = 0usize;
            let mut size = 0usize;
            for bit in 0..4 {
                if op & (1 << bit) != 0 {
                    offset |= usize::from(*delta.get(at)?) << (8 * bit);
                    at += 1;
                }
            }
            for bit in 0..3 {
                if op & (0x10 << bit) != 0 {
                    size |= usize::from(*delta.get(at)?) << (8 * bit);
                    at += 1;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            out.extend_from_slice(base.get(offset..offset.checked_add(size)?)?);
        } else if op != 0 {
            let len = usize::from(op);
            out.extend_from_slice(delta.get(at..at + len)?);
            at += len;
        } else {
            return None;
        }
        if out.len() > target_size {
            return None;
        }
    }
    (out.len() == target_size).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::git;

    /// A pack entry whose header claims an enormous size is reported as damage, with
    /// no attempt to allocate that much.
    #[test]
    fn implausible_sizes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let pack_dir = dir.path().join("pack");
        std::fs::create_dir_all(&pack_dir).unwrap();
        let id = [0x42u8; 20];
        let mut idx = vec![0xff, b't', b'O', b'c', 0, 0, 0, 2];
        for bucket in 0..256u32 {
            idx.extend_from_slice(&u32::from(bucket >= 0x42).to_be_bytes());
        }
        idx.extend_from_slice(&id);
        idx.extend_from_slice(&[0; 4]);
        idx.extend_from_slice(&12u32.to_be_bytes());
        idx.extend_from_slice(&[0; 40]);
        let mut pack = b"PACK\0\0\0\x02\0\0\0\x01".to_vec();
        // A blob "of" 2^60 bytes, then a tiny zlib stream.
        pack.extend_from_slice(&[0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        pack.extend_from_slice(&[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        pack.extend_from_slice(&[0; 20]);
        std::fs::write(pack_dir.join("pack-x.idx"), &idx).unwrap();
        std::fs::write(pack_dir.join("pack-x.pack"), &pack).unwrap();
        let set = PackSet::open(dir.path()).unwrap();
        let mut reader = PackReader::new(set);
        let error = reader.read(&Oid::from_bytes(&id).unwrap()).unwrap_err();
        assert!(
            error.to_string().contains("more than its data can hold"),
            "{error}"
        );
    }

    /// Every object of a repacked repository (deltas included) reads back as libgit2
    /// reads it, through the index search and through the hash table alike.
    #[test]
    fn reads_every_object_like_libgit2() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        for round in 0..30 {
            for file in 0..5 {
                let path = root.join(format!("d{}/f{file}.txt", file % 2));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, format!("line\n{}\n", "x".repeat(round * 7 + file))).unwrap();
            }
            git(root, &["add", "-A"]);
            git(root, &["commit", "-q", "-m", &format!("round {round}")]);
        }
        git(root, &["repack", "-adq", "--depth=10"]);
        let repo = git2::Repository::open(root).unwrap();
        let odb = repo.odb().unwrap();
        let set = PackSet::open(&root.join(".git/objects")).unwrap();
        assert_eq!(set.packs.len(), 1);
        for round in 0..2 {
            let mut reader = PackReader::new(Arc::clone(&set));
            let listing = git(root, &["rev-list", "--objects", "--all"]);
            for line in listing.lines() {
                let oid = Oid::from_str(&line[..40]).unwrap();
                let (_, data) = reader.read(&oid).unwrap().expect("packed");
                assert_eq!(
                    data.as_slice(),
                    odb.read(oid).unwrap().data(),
                    "{oid} round {round}"
                );
            }
            let absent = Oid::from_bytes(&[0xab; 20]).unwrap();
            assert!(reader.read(&absent).unwrap().is_none());
        }
        assert!(set.packs[0].table.get().is_some_and(Option::is_some));
    }

    #[test]
    fn delta_copy_and_insert() {
        let base = b"hello world";
        // sizes 11 -> 11; copy offset 0 size 6 ("hello "), insert "there".
        let delta = [11, 11, 0x90, 6, 5, b't', b'h', b'e', b'r', b'e'];
        assert_eq!(apply_delta(base, &delta).unwrap(), b"hello there");
        // Wrong source size and a zero opcode are rejected.
        assert_eq!(apply_delta(b"x", &delta), None);
        assert_eq!(apply_delta(base, &[11, 1, 0]), None);
        // A copy past the end of the base is rejected, not a panic.
        assert_eq!(apply_delta(base, &[11, 5, 0x91, 9, 5]), None);
        // An impossible target size is rejected before anything is allocated for it.
        assert_eq!(
            apply_delta(base, &[11, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x90, 6]),
            None
        );
    }
}
