//! Arbitrary bytes as a pack and its index, read with `git::pack::PackSet` and
//! `git::pack::PackReader` as the history walk reads objects.
//!
//! Input layout: a little-endian `u32` `n`, then the `.idx` (the next `n % len`
//! bytes) and the `.pack` (the rest). The seed is a real pack of a small migration
//! history (see `fuzz/README.md`). Every id the index lists is read; nothing may panic,
//! allocate beyond the limits, or return more than the pack could hold.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use alembic_git_revisions_core::git::pack::{PackReader, PackSet};
use git2::Oid;
use libfuzzer_sys::fuzz_target;

struct Scratch {
    _dir: tempfile::TempDir,
    objects: PathBuf,
}

fn scratch() -> &'static Scratch {
    static SCRATCH: OnceLock<Scratch> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(objects.join("pack")).expect("pack dir");
        Scratch { _dir: dir, objects }
    })
}

/// Index v2 layout: 8-byte header, 256 fan-out words, then 20-byte names.
fn listed_ids(idx: &[u8]) -> Vec<Oid> {
    let Some(count) = idx.get(8 + 255 * 4..8 + 256 * 4) else {
        return Vec::new();
    };
    let count = u32::from_be_bytes(count.try_into().unwrap_or_default());
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    idx.get(8 + 256 * 4..)
        .unwrap_or_default()
        .chunks_exact(20)
        .take(count.min(64))
        .filter_map(|raw| Oid::from_bytes(raw).ok())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let split = usize::try_from(u32::from_le_bytes(*head)).unwrap_or(0) % (rest.len() + 1);
    let (idx, pack) = rest.split_at(split);
    let s = scratch();
    let dir = s.objects.join("pack");
    std::fs::write(dir.join("pack-fuzz.idx"), idx).expect("write idx");
    std::fs::write(dir.join("pack-fuzz.pack"), pack).expect("write pack");

    let set = PackSet::open(&s.objects);
    let mut reader = PackReader::new(set);
    let mut ids = listed_ids(idx);
    // An id the index does not list, too.
    ids.push(Oid::from_bytes(&[0x5a; 20]).expect("oid"));
    for oid in &ids {
        if let Ok(Some((_, object))) = reader.read(oid) {
            // zlib inflates at most ~1032:1, and each delta step at most 64 KiB
            // per delta byte, so an object cannot outgrow this by honest means.
            assert!(object.len() <= pack.len().saturating_mul(1 << 16));
        }
        // A second read hits the caches and must agree.
        let again = reader.read(oid);
        let _ = again;
    }
});
