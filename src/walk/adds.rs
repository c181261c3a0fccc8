//! The `.py` basenames each commit adds: the reference's filter of `--name-only`
//! lines, applied to the paths git's tree diff reports.

use git2::Oid;

use super::{Error, KnownCommits};
use crate::git::diff::{self, Visit};
use crate::git::graph::CommitGraph;
use crate::git::odb::ObjectReader;
use crate::git::{self, Repository};
use crate::parallel::{self, Plan};

/// Walk workers at most: each keeps its own object caches (see `git::pack`), so more
/// would cost memory for little gain on the memory-bound walk.
const MAX_WALK_WORKERS: usize = 8;
/// Commits handed to a worker at a time, at least: consecutive commits in log order
/// share most of their trees and delta bases, so long runs keep each worker's caches
/// warm (a quarter of the work per worker and batch measured 20% faster than 256).
const MIN_BATCH: usize = 256;

/// The `.py` basenames one commit adds, in git's order.
pub type PyAdds = Vec<Vec<u8>>;

/// Would `git log` quote this path (with the default `core.quotePath`)?
fn git_would_quote(path: &[u8]) -> bool {
    path.iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f || b >= 0x80)
}

/// The basename the reference keeps from a `--name-only` line for this path, if any.
///
/// It strips the line, keeps it only if it ends in `.py`, and takes the final path
/// component. Paths git prints quoted never end in `.py` there; we keep them under
/// their real name instead (a documented difference).
#[must_use]
pub fn py_basename(path: &[u8]) -> Option<&[u8]> {
    let line = if git_would_quote(path) {
        path
    } else {
        let start = path.iter().position(|&b| b != b' ').unwrap_or(path.len());
        let end = path
            .iter()
            .rposition(|&b| b != b' ')
            .map_or(start, |i| i + 1);
        &path[start..end]
    };
    if !line.ends_with(b".py") {
        return None;
    }
    let base = match line.iter().rposition(|&b| b == b'/') {
        Some(slash) => &line[slash + 1..],
        None => line,
    };
    (!base.is_empty()).then_some(base)
}

/// Records the `.py` basenames of the added paths a diff reports.
struct PyAddRecorder<'a> {
    adds: &'a mut PyAdds,
}

impl Visit for PyAddRecorder<'_> {
    fn added(&mut self, path: &[u8]) {
        if let Some(base) = py_basename(path) {
            self.adds.push(base.to_vec());
        }
    }
}

/// The `.py` basenames tree `new` adds to tree `old` (to nothing, for a root
/// commit), as `git log --diff-filter=A --no-renames --name-only` lists them.
///
/// # Errors
///
/// A tree cannot be read.
pub fn adds_between(
    reader: &mut ObjectReader<'_>,
    old: Option<Oid>,
    new: Oid,
) -> Result<PyAdds, git::Error> {
    let mut adds = Vec::new();
    diff::added_paths(reader, old, new, &mut PyAddRecorder { adds: &mut adds })?;
    Ok(adds)
}

/// For each commit of `order` (node numbers of `graph`), the `.py` basenames it adds,
/// as `git log --diff-filter=A --no-renames --name-only` lists them: a root commit
/// adds its whole tree, a single-parent commit what its parent lacks, and a merge
/// commit nothing (git log shows no diff for merges by default).
///
/// Commits in `known` are not compared again. The rest is computed on the worker pool
/// (up to `threads` workers); `interrupted` is polled while it runs.
///
/// # Errors
///
/// A tree cannot be read, [`Error::Interrupted`], or no worker thread.
pub fn commit_adds(
    repo: &Repository,
    graph: &CommitGraph,
    order: &[u32],
    known: &KnownCommits,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<PyAdds>, Error> {
    let mut results: Vec<Option<PyAdds>> = order
        .iter()
        .map(|&node| {
            let node = node as usize;
            if graph.parents[node].len() > 1 {
                Some(Vec::new())
            } else {
                known.get(&graph.ids[node]).map(|hit| hit.adds.clone())
            }
        })
        .collect();
    let todo: Vec<usize> = (0..order.len())
        .filter(|&position| results[position].is_none())
        .collect();
    let workers = threads
        .clamp(1, MAX_WALK_WORKERS)
        .min(todo.len().div_ceil(MIN_BATCH).max(1));
    let plan = Plan {
        workers,
        batch: todo.len().div_ceil(workers * 4).max(MIN_BATCH),
    };
    let store = repo.store();
    let computed = parallel::run(
        todo.len(),
        plan,
        || Ok(store.reader()),
        |reader, item| {
            let node = order[todo[item]] as usize;
            let old = graph.parents[node]
                .first()
                .map(|&parent| graph.trees[parent as usize]);
            adds_between(reader, old, graph.trees[node])
        },
        interrupted,
    )?;
    for (position, adds) in todo.into_iter().zip(computed) {
        results[position] = Some(adds);
    }
    results
        .into_iter()
        .enumerate()
        .map(|(position, adds)| {
            adds.ok_or_else(|| Error::Internal(format!("no adds for log position {position}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basenames_follow_the_reference_line_filter() {
        assert_eq!(py_basename(b"a/b/c_x.py"), Some(&b"c_x.py"[..]));
        assert_eq!(py_basename(b"top.py"), Some(&b"top.py"[..]));
        assert_eq!(py_basename(b"a/b.txt"), None);
        assert_eq!(py_basename(b"x.pyc"), None);
        // The reference strips the line: a trailing space still counts as `.py`.
        assert_eq!(py_basename(b"x.py "), Some(&b"x.py"[..]));
        // Quoted by git: kept under the real name (a documented difference).
        assert_eq!(
            py_basename("d/\u{e9}t\u{e9}.py".as_bytes()),
            Some("\u{e9}t\u{e9}.py".as_bytes())
        );
        assert_eq!(py_basename(b"d/"), None);
    }
}
