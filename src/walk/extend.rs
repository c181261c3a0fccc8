//! A `HEAD` that moved on from an indexed one: the commits it adds to a log already
//! known, when git's order provably keeps that log as its prefix.
//!
//! The case that matters is CI: the cache saved at the main branch's tip `B`, then a
//! pull request checked out as the merge commit `M` of its branch into `B`
//! (`actions/checkout`'s default), or a branch that moved forward.

use git2::Oid;

use super::adds::{self, PyAdds};
use super::{Error, FirstAddIndex};
use crate::git::idmap::{key, IdMap, OidKey};
use crate::git::Repository;

/// The commits `git log --reverse --topo-order <to>` lists after every commit of the
/// log `index` describes (at `index.head`, "`B`" below), oldest first, with the `.py`
/// basenames each adds; when that log is exactly the first part of `to`'s, and at
/// most `limit` commits follow it. `None` otherwise, and whenever replace refs or
/// grafts rewrite history.
///
/// Why the order holds: let `S` be the commits of `B`'s log and `P` those `to`
/// reaches outside `S`. Git's walk (see [`crate::git::topo`]) emits a commit once all
/// its children are emitted. Every commit of `S` but `B` has a child in `S` on its
/// way to `B`, so `B` is the first of `S` emitted, and until then only commits of
/// `P` are. If, when `B` is popped, every commit of `P` is emitted and the stack
/// holds nothing else, the walk goes on exactly as a walk from `B` would: each
/// commit of `S` has had its children in `P` counted down, so its count is what a
/// walk from `B` starts with. This function replays the walk over `P` alone and
/// checks just that; any other shape (`B` merged in below a commit of `P`, `B`
/// unreachable, more than `limit` new commits) gives `None`, and the caller walks
/// the whole history.
///
/// # Errors
///
/// A commit or tree cannot be read.
pub fn extension(
    repo: &Repository,
    index: &FirstAddIndex,
    to: Oid,
    limit: usize,
) -> Result<Option<Vec<(Oid, PyAdds)>>, Error> {
    let Some(from) = index.head else {
        return Ok(None);
    };
    if to == from {
        return Ok(Some(Vec::new()));
    }
    if repo.rewrites_history() || index.commits.contains(&to) {
        return Ok(None);
    }
    let mut reader = repo.store().reader();
    // P: every commit `to` reaches outside `S`, with its tree and parents.
    let mut new: IdMap<OidKey, (Oid, Vec<Oid>)> = IdMap::default();
    let mut pending = vec![to];
    while let Some(commit) = pending.pop() {
        if commit == from || index.commits.contains(&commit) || new.contains_key(&key(&commit)) {
            continue;
        }
        if new.len() >= limit {
            return Ok(None);
        }
        let header = reader.commit(commit)?;
        pending.extend(header.parents.iter().copied());
        new.insert(key(&commit), (header.tree, header.parents));
    }
    // Counts as git's walk keeps them: one plus each child edge (a parent listed
    // twice counts twice), over P and B only.
    let mut counts: IdMap<OidKey, u32> = new.keys().map(|id| (*id, 1)).collect();
    let mut from_count = 1u32;
    for (_, parents) in new.values() {
        for parent in parents {
            if *parent == from {
                from_count += 1;
            } else if let Some(count) = counts.get_mut(&key(parent)) {
                *count += 1;
            }
        }
    }
    let mut emitted = Vec::with_capacity(new.len());
    let mut stack = vec![to];
    let reached_from = loop {
        let Some(commit) = stack.pop() else {
            break false;
        };
        if commit == from {
            break true;
        }
        let Some((_, parents)) = new.get(&key(&commit)) else {
            return Ok(None);
        };
        for parent in parents {
            if *parent == from {
                from_count -= 1;
                if from_count == 1 {
                    stack.push(from);
                }
            } else if let Some(count) = counts.get_mut(&key(parent)) {
                if *count <= 1 {
                    // Counted down past its children: a cycle, which only a damaged
                    // repository has. The full walk reports it.
                    return Ok(None);
                }
                *count -= 1;
                if *count == 1 {
                    stack.push(*parent);
                }
            }
        }
        emitted.push(commit);
    };
    if !reached_from || !stack.is_empty() || emitted.len() != new.len() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(emitted.len());
    for &commit in emitted.iter().rev() {
        let (tree, parents) = &new[&key(&commit)];
        let added = match parents.as_slice() {
            // git log shows no diff for a merge.
            [_, _, ..] => Vec::new(),
            [parent] => {
                let parent_tree = reader.commit(*parent)?.tree;
                adds::adds_between(&mut reader, Some(parent_tree), *tree)?
            }
            [] => adds::adds_between(&mut reader, None, *tree)?,
        };
        out.push((commit, added));
    }
    Ok(Some(out))
}
