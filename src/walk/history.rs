//! The whole walk from one tip: commits in log order, each with the `.py` basenames
//! it adds.

use std::collections::HashMap;

use git2::Oid;

use super::adds::{self, PyAdds};
use super::Error;
use crate::git::commit::CommitHeader;
use crate::git::graph::CommitGraph;
use crate::git::Repository;
use crate::trace::Trace;

/// What is known about a commit for good: a commit id fixes its tree and parents,
/// and so what it adds (unless history is rewritten, see
/// [`Repository::rewrites_history`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownCommit {
    /// Root tree and parents.
    pub header: CommitHeader,
    /// `.py` basenames it adds, in git's order (empty for merges).
    pub adds: PyAdds,
}

/// Known commits by id.
pub type KnownCommits = HashMap<Oid, KnownCommit>;

/// One tip's history reduced to per-commit `.py` adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Commit ids in log order (oldest first).
    pub commits: Vec<Oid>,
    /// The `.py` basenames each commit adds, aligned with `commits`.
    pub adds: Vec<PyAdds>,
}

impl History {
    /// The commits with their adds, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (Oid, &[Vec<u8>])> {
        self.commits
            .iter()
            .copied()
            .zip(self.adds.iter().map(Vec::as_slice))
    }
}

/// The history of `repo` from `tip` as
/// `git log --reverse --diff-filter=A --no-renames --topo-order --format= --name-only <tip>`
/// lists it, with each commit's `.py` basenames. `None` (an unborn `HEAD`) has no
/// history.
///
/// With `known`, commits found there are neither read nor compared again, and the
/// commits walked are added to it.
///
/// # Errors
///
/// The repository cannot be read, [`Error::Interrupted`], or no worker thread.
pub fn walk(
    repo: &Repository,
    tip: Option<Oid>,
    known: Option<&mut KnownCommits>,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<History, Error> {
    let Some(tip) = tip else {
        return Ok(History::default());
    };
    let trace = Trace::start();
    let empty = KnownCommits::new();
    let facts: &KnownCommits = known.as_deref().unwrap_or(&empty);
    let graph = CommitGraph::load(
        repo,
        tip,
        &|oid| facts.get(oid).map(|hit| hit.header.clone()),
        threads,
        interrupted,
    )?;
    trace.step("load commit graph");
    let order = graph.log_order(repo)?;
    trace.step("topological order");
    let adds = adds::commit_adds(repo, &graph, &order, facts, threads, interrupted)?;
    trace.step("tree comparisons");
    if let Some(known) = known {
        for (position, &node) in order.iter().enumerate() {
            known
                .entry(graph.ids[node as usize])
                .or_insert_with(|| KnownCommit {
                    header: graph.header(node),
                    adds: adds[position].clone(),
                });
        }
    }
    let commits = order.iter().map(|&node| graph.ids[node as usize]).collect();
    Ok(History { commits, adds })
}
