//! Objects read from pack files, with git's delta-base cache.
//!
//! libgit2 caches only the deepest base of a delta chain, so reading the trees of
//! every commit re-applies whole chains (up to `pack.depth`, 50 by default) for each
//! object. git itself keeps every intermediate base (`delta_base_cache`); this reader
//! does the same, keyed by pack offset. Objects it cannot find (loose objects,
//! alternates, packs it cannot read) are left to libgit2 by [`crate::git::odb`].
//!
//! * `index`: `.idx` files, id to offset;
//! * `entry`: entry headers, zlib bodies and deltas;
//! * `cache`: the reader's caches;
//! * `scan`: every whole commit of the packs, read in pack order.

mod cache;
mod entry;
mod index;
mod scan;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::Oid;
use memmap2::Mmap;
use thiserror::Error;

use self::cache::{BufferPool, DeltaCache, RecentReads};
pub use self::entry::apply_delta;
use self::entry::Entry;
use self::index::Index;
pub use self::scan::{ScanStopped, STOP_AFTER};
use crate::git::mapped::map_readonly;
use crate::git::ObjectKind;

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

/// A resolved object: its kind and its bytes, shared with the caches.
pub type Object = (ObjectKind, Arc<Vec<u8>>);

/// Map a pack or index file.
fn map_file(path: &Path) -> Result<Mmap, PackError> {
    map_readonly(path).map_err(|source| PackError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One `.pack` file and its index.
struct PackFile {
    pack_path: PathBuf,
    index: Index,
    data: Mmap,
}

impl PackFile {
    fn open(idx_path: &Path) -> Result<Self, PackError> {
        let pack_path = idx_path.with_extension("pack");
        let index = Index::open(idx_path)?;
        let data = map_file(&pack_path)?;
        if data.get(0..4) != Some(&b"PACK"[..]) {
            return Err(PackError::Corrupt {
                path: pack_path,
                detail: "not a pack file".into(),
            });
        }
        Ok(PackFile {
            pack_path,
            index,
            data,
        })
    }
}

/// The pack files of one object directory, mapped once and shared by every reader.
pub struct PackSet {
    packs: Vec<PackFile>,
}

impl PackSet {
    /// Map every `*.idx`/`*.pack` pair in `objects_dir/pack`, in name order. A
    /// directory without packs gives an empty set; a pack this reader cannot use
    /// (index version 1, or damaged) is left out, for libgit2 to read.
    #[must_use]
    pub fn open(objects_dir: &Path) -> Arc<Self> {
        let mut packs = Vec::new();
        if let Ok(entries) = std::fs::read_dir(objects_dir.join("pack")) {
            let mut paths: Vec<PathBuf> = entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
                .collect();
            paths.sort();
            for path in paths {
                if path.with_extension("pack").exists() {
                    if let Ok(pack) = PackFile::open(&path) {
                        packs.push(pack);
                    }
                }
            }
        }
        Arc::new(PackSet { packs })
    }

    /// How many packs the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.packs.len()
    }

    /// Whether the set holds no pack.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.packs.is_empty()
    }
}

/// Reads objects from a [`PackSet`], caching resolved delta bases. One per thread.
pub struct PackReader {
    set: Arc<PackSet>,
    deltas: DeltaCache,
    recent: RecentReads,
    pool: BufferPool,
    inflaters: entry::Inflaters,
    scratch: Vec<u8>,
}

impl PackReader {
    /// A reader with empty caches.
    #[must_use]
    pub fn new(set: Arc<PackSet>) -> Self {
        PackReader {
            set,
            deltas: DeltaCache::default(),
            recent: RecentReads::default(),
            pool: BufferPool::default(),
            inflaters: entry::Inflaters::new(),
            scratch: Vec::new(),
        }
    }

    /// The object `oid`, if some pack holds it.
    ///
    /// # Errors
    ///
    /// [`PackError::Corrupt`] when the pack that lists the object cannot produce it.
    pub fn read(&mut self, oid: &Oid) -> Result<Option<Object>, PackError> {
        if let Some(object) = self.recent.get(oid) {
            return Ok(Some(object));
        }
        for pack in 0..self.set.packs.len() {
            if let Some(offset) = self.set.packs[pack].index.find(oid) {
                let object = self.resolve(pack, offset)?;
                self.recent.put(oid, object.clone(), &mut self.pool);
                return Ok(Some(object));
            }
        }
        Ok(None)
    }

    fn resolve(&mut self, pack: usize, offset: u64) -> Result<Object, PackError> {
        // Split borrows: the mapped pack is read while the caches and the inflaters
        // change, without touching the shared set's reference count per object.
        let PackReader {
            set,
            deltas,
            pool,
            inflaters,
            scratch,
            ..
        } = self;
        let file = &set.packs[pack];
        let corrupt = |detail: String| PackError::Corrupt {
            path: file.pack_path.clone(),
            detail,
        };
        let input = |data_at: usize, entry_offset: u64| {
            file.data
                .get(data_at..)
                .ok_or_else(|| corrupt(format!("truncated entry at offset {entry_offset}")))
        };
        // Walk down the chain (headers only) until a cached object or a base, then
        // apply the deltas back up, caching every intermediate result as git's
        // delta_base_cache does.
        let mut chain: Vec<(u64, usize, usize)> = Vec::new();
        let mut at = offset;
        let (kind, mut data) = loop {
            if let Some(object) = deltas.get((pack, at), pool) {
                break object;
            }
            if chain.len() > MAX_CHAIN {
                return Err(corrupt(format!(
                    "delta chain at offset {offset} is too long"
                )));
            }
            match entry::header(&file.data, at).map_err(corrupt)? {
                Entry::Base(kind, data_at, size) => {
                    let stream = input(data_at, at)?;
                    entry::check_size(stream, size, at).map_err(corrupt)?;
                    let mut data = pool.take(size);
                    let buffer = Arc::make_mut(&mut data);
                    entry::inflate(inflaters.for_stream(stream), stream, size, at, buffer)
                        .map_err(corrupt)?;
                    deltas.remember((pack, at), (kind, data.clone()), pool);
                    break (kind, data);
                }
                Entry::OfsDelta(base, data_at, size) => {
                    chain.push((at, data_at, size));
                    at = base;
                }
                Entry::RefDelta(base, data_at, size) => {
                    let Some(base_offset) = file.index.find(&base) else {
                        return Err(corrupt(format!(
                            "delta base {base} is not in the same pack"
                        )));
                    };
                    chain.push((at, data_at, size));
                    at = base_offset;
                }
            }
        };
        while let Some((entry_offset, data_at, size)) = chain.pop() {
            let stream = input(data_at, entry_offset)?;
            entry::inflate(
                inflaters.for_stream(stream),
                stream,
                size,
                entry_offset,
                scratch,
            )
            .map_err(corrupt)?;
            let bad = || corrupt(format!("bad delta at offset {entry_offset}"));
            let target_size = entry::delta_target_size(scratch).ok_or_else(bad)?;
            // A damaged size must not turn into a huge allocation before the delta
            // is checked against its base (see apply_delta).
            let most = scratch
                .len()
                .saturating_mul(data.len().max(127))
                .min(entry::MAX_OBJECT_BYTES);
            let mut applied = pool.take(target_size.min(most));
            entry::apply_delta_into(&data, scratch, Arc::make_mut(&mut applied)).ok_or_else(bad)?;
            data = applied;
            deltas.remember((pack, entry_offset), (kind, data.clone()), pool);
        }
        Ok((kind, data))
    }
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
        let set = PackSet::open(dir.path());
        assert_eq!(set.len(), 1);
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
        let set = PackSet::open(&root.join(".git/objects"));
        assert_eq!(set.len(), 1);
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
        assert!(set.packs[0].index.has_table());
    }
}
