//! The commits reachable from one tip, as numbered nodes with their trees and
//! parents: the input of `git log --topo-order`.

use std::collections::HashMap;

use git2::Oid;

use super::commit::CommitHeader;
use super::repository::Repository;
use super::topo;
use super::Error;

/// Commits polled between two checks for interruption while loading.
const INTERRUPT_CHECK_EVERY: usize = 4096;

/// The commits reachable from one tip, with their trees and parents.
#[derive(Debug, Clone, Default)]
pub struct CommitGraph {
    /// Commit ids; a commit's index is its node number.
    pub ids: Vec<Oid>,
    /// Root tree of each commit.
    pub trees: Vec<Oid>,
    /// Parent node numbers of each commit, in stored order.
    pub parents: Vec<Vec<u32>>,
}

impl CommitGraph {
    /// Node number of the tip (always node 0).
    pub const TIP: u32 = 0;

    /// Load every commit reachable from `tip` (node 0), as `git rev-list <tip>` sees
    /// them: commit headers only, grafts applied, the commit-graph file used where
    /// git would use it.
    ///
    /// `known(id)` supplies headers already known (for example from a cache), which
    /// are then not read. `interrupted` is polled every few thousand commits.
    ///
    /// # Errors
    ///
    /// A commit cannot be read, more than `u32::MAX` commits, or [`Error::Interrupted`].
    pub fn load(
        repo: &Repository,
        tip: Oid,
        known: &dyn Fn(&Oid) -> Option<CommitHeader>,
        interrupted: &(dyn Fn() -> bool + Sync),
    ) -> Result<CommitGraph, Error> {
        let mut reader = repo.store().reader();
        let commit_graph = repo.commit_graph();
        let rewrites = repo.rewrites();
        let mut graph = CommitGraph::default();
        let mut index: HashMap<Oid, u32> = HashMap::new();
        let mut pending_parents: Vec<Vec<Oid>> = Vec::new();
        index.insert(tip, Self::TIP);
        graph.ids.push(tip);
        let mut cursor = 0;
        while cursor < graph.ids.len() {
            let oid = graph.ids[cursor];
            if cursor % INTERRUPT_CHECK_EVERY == INTERRUPT_CHECK_EVERY - 1 && interrupted() {
                return Err(Error::Interrupted);
            }
            let header = match known(&oid) {
                Some(hit) => hit,
                None => match commit_graph.and_then(|file| file.commit(&oid)) {
                    Some(found) => found,
                    None => reader.commit(oid)?,
                },
            };
            let mut parents = header.parents;
            if let Some(graft) = rewrites.grafted_parents(&oid) {
                graft.clone_into(&mut parents);
            }
            graph.trees.push(header.tree);
            for &parent in &parents {
                if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(parent) {
                    let node =
                        u32::try_from(graph.ids.len()).map_err(|_| Error::TooManyCommits {
                            git_dir: repo.git_dir().to_path_buf(),
                        })?;
                    slot.insert(node);
                    graph.ids.push(parent);
                }
            }
            pending_parents.push(parents);
            cursor += 1;
        }
        graph.parents = pending_parents
            .into_iter()
            .map(|parents| parents.iter().map(|oid| index[oid]).collect())
            .collect();
        Ok(graph)
    }

    /// Commit node numbers, oldest first, as `git log --reverse --topo-order` lists
    /// them.
    ///
    /// # Errors
    ///
    /// [`Error::Topo`] when the graph loops (grafts or replace refs can fake that).
    pub fn log_order(&self, repo: &Repository) -> Result<Vec<u32>, Error> {
        if self.ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut order =
            topo::topo_order(&self.parents, Self::TIP).map_err(|source| Error::Topo {
                git_dir: repo.git_dir().to_path_buf(),
                source,
            })?;
        order.reverse();
        Ok(order)
    }

    /// The header of node `node`, with parents as ids.
    #[must_use]
    pub fn header(&self, node: u32) -> CommitHeader {
        let node = node as usize;
        CommitHeader {
            tree: self.trees[node],
            parents: self.parents[node]
                .iter()
                .map(|&parent| self.ids[parent as usize])
                .collect(),
        }
    }
}
