//! The tree diff of `git diff-tree -r --diff-filter=A --no-renames`, reduced to what
//! the history walk needs: the paths one tree adds to another, in git's order.
//!
//! What an added path means is the caller's business: the diff reports each one to a
//! [`Visit`]or and records nothing itself.

use git2::Oid;

use super::odb::ObjectReader;
use super::tree::{base_name_cmp, shared_prefix, TreeIter};
use super::{Error, ObjectKind};

/// Deepest tree nesting followed, as git's own `core.maxTreeDepth` default.
pub const MAX_TREE_DEPTH: usize = 4096;

/// Receives the paths a diff finds added.
pub trait Visit {
    /// `path` (relative to the root tree, `/`-separated, never a tree) is in the new
    /// tree and not in the old one.
    fn added(&mut self, path: &[u8]);
}

/// Report to `visit`, in git's output order, every path that
/// `git diff-tree -r --diff-filter=A --no-renames <old> <new>` lists as added (with
/// no `old`, every path of `new`, as for a root commit).
///
/// Equal subtree ids are skipped without being read. A path that is a tree on one
/// side and not on the other is a delete plus an add, as in git's tree diff; a
/// blob/symlink/submodule type change at the same path is not an add.
///
/// # Errors
///
/// A tree cannot be read, holds malformed entries or nests deeper than
/// [`MAX_TREE_DEPTH`].
pub fn added_paths<V: Visit>(
    reader: &mut ObjectReader<'_>,
    old: Option<Oid>,
    new: Oid,
    visit: &mut V,
) -> Result<(), Error> {
    let mut prefix = Vec::new();
    diff_trees(reader, old, new, &mut prefix, visit, 0)
}

fn diff_trees<V: Visit>(
    reader: &mut ObjectReader<'_>,
    old: Option<Oid>,
    new: Oid,
    prefix: &mut Vec<u8>,
    visit: &mut V,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_TREE_DEPTH {
        return Err(reader.store().corrupt(
            ObjectKind::Tree,
            new,
            "trees nested deeper than core.maxTreeDepth",
        ));
    }
    let new_data = reader.tree(new)?;
    let old_data = match old {
        Some(old) => Some(reader.tree(old)?),
        None => None,
    };
    let new_bytes: &[u8] = &new_data;
    let old_bytes: &[u8] = old_data.as_deref().map_or(&[][..], Vec::as_slice);
    // Entries lying wholly in the common byte prefix are identical on both sides and
    // cannot add anything: skip them without comparing. Large directories that gain
    // one file (a versions directory) are mostly prefix and suffix.
    let skip = if old_bytes.is_empty() {
        0
    } else {
        shared_prefix(new_bytes, old_bytes)
    };
    let mut new_iter = TreeIter::new(&new_bytes[skip..]);
    let mut old_iter = TreeIter::new(old_bytes.get(skip..).unwrap_or(&[]));
    let mut old_rest = old_iter.rest;
    let mut old_next = old_iter.next();
    while let Some(entry) = new_iter.next() {
        let mut matched = None;
        while let Some(old_entry) = old_next {
            match base_name_cmp(&old_entry, &entry) {
                std::cmp::Ordering::Less => {
                    old_rest = old_iter.rest;
                    old_next = old_iter.next();
                }
                std::cmp::Ordering::Equal => {
                    matched = Some(old_entry);
                    old_rest = old_iter.rest;
                    old_next = old_iter.next();
                    break;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        let identical = matches!(matched, Some(o) if o.id == entry.id && o.mode == entry.mode);
        if identical {
            continue;
        }
        let base_len = prefix.len();
        prefix.extend_from_slice(entry.name);
        let result = match matched {
            Some(old_entry) if entry.is_tree() => {
                // Both sides are trees here: base_name_cmp only matches like with like.
                prefix.push(b'/');
                let old_oid = entry_oid(reader, old.unwrap_or(new), old_entry.id)?;
                let new_oid = entry_oid(reader, new, entry.id)?;
                diff_trees(reader, Some(old_oid), new_oid, prefix, visit, depth + 1)
            }
            Some(_) => Ok(()),
            None if entry.is_tree() => {
                prefix.push(b'/');
                let new_oid = entry_oid(reader, new, entry.id)?;
                diff_trees(reader, None, new_oid, prefix, visit, depth + 1)
            }
            None => {
                visit.added(prefix);
                Ok(())
            }
        };
        prefix.truncate(base_len);
        result?;
        // After a difference, the rest may be the common suffix: if the remaining
        // bytes match exactly (old_next included), nothing else can differ.
        if old.is_some() && new_iter.rest.len() == old_rest.len() && new_iter.rest == old_rest {
            return Ok(());
        }
    }
    // A malformed entry on either side would silently hide adds: refuse instead.
    if new_iter.malformed {
        return Err(reader
            .store()
            .corrupt(ObjectKind::Tree, new, "malformed tree entries"));
    }
    while old_next.is_some() {
        old_next = old_iter.next();
    }
    if let (Some(old), true) = (old, old_iter.malformed) {
        return Err(reader
            .store()
            .corrupt(ObjectKind::Tree, old, "malformed tree entries"));
    }
    Ok(())
}

/// The id of an entry of tree `owner`.
fn entry_oid(reader: &ObjectReader<'_>, owner: Oid, id: &[u8]) -> Result<Oid, Error> {
    Oid::from_bytes(id).map_err(|_| {
        reader
            .store()
            .corrupt(ObjectKind::Tree, owner, "bad entry id")
    })
}
