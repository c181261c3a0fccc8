//! A `HEAD` that moved forward: the commits it adds to a log already known.

use git2::Oid;

use super::adds::{self, PyAdds};
use super::Error;
use crate::git::Repository;

/// The commits from `from` (exclusive) to `to` (inclusive), oldest first, with the
/// `.py` basenames each adds, when `to` descends from `from` through single-parent
/// commits only (at most `limit` of them). `None` otherwise, and whenever replace refs
/// or grafts rewrite history.
///
/// For such a history `git log --reverse --topo-order` from `to` is the listing from
/// `from` followed by these commits: the walk from `to` pops each of them before
/// reaching `from`, then proceeds exactly as it would from `from`.
///
/// # Errors
///
/// A commit or tree cannot be read.
pub fn linear_extension(
    repo: &Repository,
    from: Oid,
    to: Oid,
    limit: usize,
) -> Result<Option<Vec<(Oid, PyAdds)>>, Error> {
    if repo.rewrites_history() {
        return Ok(None);
    }
    let mut reader = repo.store().reader();
    let mut chain = Vec::new();
    let mut at = to;
    while at != from {
        if chain.len() >= limit {
            return Ok(None);
        }
        let header = reader.commit(at)?;
        let [parent] = header.parents.as_slice() else {
            return Ok(None);
        };
        chain.push((at, header.tree, *parent));
        at = *parent;
    }
    let mut out = Vec::with_capacity(chain.len());
    for &(commit, tree, parent) in chain.iter().rev() {
        let parent_tree = reader.commit(parent)?.tree;
        out.push((
            commit,
            adds::adds_between(&mut reader, Some(parent_tree), tree)?,
        ));
    }
    Ok(Some(out))
}
