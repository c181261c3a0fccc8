//! Arbitrary bytes through the object-level readers of the history walk:
//! `git::pack::apply_delta` and the tree reading of `git::tree` that the tree diff
//! (`git::diff`) runs on every tree.
//!
//! Input layout: a little-endian `u16` `n`, then the base (the next `n % len` bytes)
//! and the delta (the rest). The seeds are real trees and deltas (see
//! `fuzz/README.md`). Nothing may panic, and every answer must be bounded by its
//! input: the delta's declared target size alone must never be trusted
//! (`fuzz/regressions/tree_and_delta/` holds deltas that once made `apply_delta`
//! pre-allocate it).
#![no_main]

use alembic_git_revisions_core::git::{pack, tree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let split = usize::from(u16::from_le_bytes(*head)) % (rest.len() + 1);
    let (base, delta) = rest.split_at(split);

    check_tree(base);
    check_tree(rest);
    let _ = tree::shared_prefix(base, delta);

    if let Some(out) = pack::apply_delta(base, delta) {
        // Each delta byte produces at most 0x10000 bytes (a copy op of size 0 means
        // 64 KiB); a larger result means the size was taken on trust.
        assert!(out.len() <= delta.len().saturating_mul(0x10000));
        // A tree delta applied to a tree is read as a tree next.
        check_tree(&out);
        let shared = tree::shared_prefix(&out, base);
        assert!(shared <= out.len().min(base.len()));
        assert_eq!(out[..shared], base[..shared]);
    }
});

/// The walk's reading of one tree: entries well formed, in bounds, and the shared
/// prefix of a tree with itself is all of its well-formed entries.
fn check_tree(data: &[u8]) {
    let entries = tree::entries(data);
    let shared = tree::shared_prefix(data, data);
    assert!(shared <= data.len());
    if let Some(entries) = entries {
        let mut consumed = 0;
        for tree::TreeEntry { name, id, .. } in &entries {
            assert!(!name.is_empty());
            assert_eq!(id.len(), 20);
            assert!(!name.contains(&0));
            consumed += name.len() + id.len() + 2;
        }
        assert!(consumed <= data.len());
        assert_eq!(shared, data.len());
    }
}
