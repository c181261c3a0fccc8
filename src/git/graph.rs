//! The commits reachable from one tip, as numbered nodes with their trees and
//! parents: the input of `git log --topo-order`.

use std::collections::hash_map::Entry;
use std::hash::BuildHasherDefault;

use git2::Oid;

use super::commit::CommitHeader;
use super::idmap::{key, IdMap, OidKey};
use super::pack::ScanStopped;
use super::repository::Repository;
use super::topo;
use super::Error;

/// Commits polled between two checks for interruption while loading.
const INTERRUPT_CHECK_EVERY: usize = 4096;

/// Commits read one at a time before the packs are read for all of them in pack
/// order (see [`crate::git::pack::PackSet::scan_commits`]): a walk over a cached
/// history or a recent commit-graph meets a handful of unknown commits, a cold walk
/// thousands (reading 256 one at a time costs a cold walk about 2 ms). Tests scan at once, so that every walk test covers the scan.
const SCAN_AFTER_MISSES: usize = if cfg!(test) { 0 } else { 256 };

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
    /// are then not read. Once many commits remain to be read, the packs are read
    /// in pack order on up to `threads` workers. `interrupted` is polled every few
    /// thousand commits.
    ///
    /// # Errors
    ///
    /// A commit cannot be read, more than `u32::MAX` commits, or [`Error::Interrupted`].
    pub fn load(
        repo: &Repository,
        tip: Oid,
        known: &dyn Fn(&Oid) -> Option<CommitHeader>,
        threads: usize,
        interrupted: &(dyn Fn() -> bool + Sync),
    ) -> Result<CommitGraph, Error> {
        Self::load_scanning_after(repo, tip, known, threads, interrupted, SCAN_AFTER_MISSES)
    }

    /// [`CommitGraph::load`], scanning the packs once `scan_after` commits were read
    /// one at a time (never for `usize::MAX`).
    fn load_scanning_after(
        repo: &Repository,
        tip: Oid,
        known: &dyn Fn(&Oid) -> Option<CommitHeader>,
        threads: usize,
        interrupted: &(dyn Fn() -> bool + Sync),
        scan_after: usize,
    ) -> Result<CommitGraph, Error> {
        let store = repo.store();
        let mut reader = store.reader();
        let commit_graph = repo.commit_graph();
        let rewrites = repo.rewrites();
        let too_many = || Error::TooManyCommits {
            git_dir: repo.git_dir().to_path_buf(),
        };
        // Replace refs substitute other objects for commits: only the reader applies
        // them.
        let may_scan = !repo.rewrites_history();
        let mut misses = 0;
        let mut scan: Option<Scanned> = None;
        let mut graph = CommitGraph::default();
        // Nodes by id, for commits the scan does not hold (and all nodes numbered
        // before it ran).
        let mut index: IdMap<OidKey, u32> = IdMap::default();
        index.insert(key(&tip), Self::TIP);
        graph.ids.push(tip);
        let mut cursor = 0;
        while cursor < graph.ids.len() {
            let oid = graph.ids[cursor];
            if cursor % INTERRUPT_CHECK_EVERY == INTERRUPT_CHECK_EVERY - 1 && interrupted() {
                return Err(Error::Interrupted);
            }
            // A commit id fixes its header, so any source will do: the scan's first,
            // as it is at hand.
            let mut header = scan.as_mut().and_then(|scan| scan.take(cursor));
            if header.is_none() {
                header = known(&oid).or_else(|| commit_graph.and_then(|file| file.commit(&oid)));
            }
            if header.is_none() && may_scan && scan.is_none() && misses >= scan_after {
                // Alternates' packs too: a commit may live in any object directory.
                let mut commits = Vec::new();
                for set in store.packs() {
                    commits.extend(
                        set.scan_commits(threads, interrupted)
                            .map_err(|ScanStopped::Interrupted| Error::Interrupted)?,
                    );
                }
                header = scan.insert(Scanned::new(commits, &graph.ids)).take(cursor);
            }
            let header = if let Some(header) = header {
                header
            } else {
                misses += 1;
                reader.commit(oid)?
            };
            let mut parents = header.parents;
            if let Some(graft) = rewrites.grafted_parents(&oid) {
                graft.clone_into(&mut parents);
            }
            graph.trees.push(header.tree);
            let mut nodes = Vec::with_capacity(parents.len());
            for parent in parents {
                let parent_key = key(&parent);
                let next = u32::try_from(graph.ids.len()).map_err(|_| too_many())?;
                let node = match scan.as_mut() {
                    Some(scan) => scan.node_for(parent_key, next, &mut index),
                    None => *index.entry(parent_key).or_insert(next),
                };
                if node == next {
                    graph.ids.push(parent);
                }
                nodes.push(node);
            }
            graph.parents.push(nodes);
            cursor += 1;
        }
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

/// The commits a pack scan read, and which graph node each became.
struct Scanned {
    /// Slot of each scanned commit, by id.
    slots: IdMap<OidKey, u32>,
    /// Headers by slot, taken when their node is loaded.
    headers: Vec<Option<CommitHeader>>,
    /// Node of each slot, `NO_NODE` until numbered.
    nodes: Vec<u32>,
    /// Slot of every node (aligned with the graph's ids), `NO_NODE` for none.
    slot_of_node: Vec<u32>,
}

const NO_NODE: u32 = u32::MAX;

impl Scanned {
    /// The scan's commits, with the nodes `ids` numbered before it ran.
    fn new(commits: Vec<(OidKey, CommitHeader)>, ids: &[Oid]) -> Scanned {
        let mut slots =
            IdMap::with_capacity_and_hasher(commits.len(), BuildHasherDefault::default());
        let mut headers = Vec::with_capacity(commits.len());
        for (id, header) in commits {
            // A pack lists each id once; several packs may hold the same commit.
            let Ok(slot) = u32::try_from(headers.len()) else {
                break;
            };
            if let Entry::Vacant(free) = slots.entry(id) {
                free.insert(slot);
                headers.push(Some(header));
            }
        }
        let mut scanned = Scanned {
            nodes: vec![NO_NODE; headers.len()],
            slots,
            headers,
            slot_of_node: Vec::with_capacity(ids.len()),
        };
        for (node, id) in (0u32..).zip(ids) {
            let slot = scanned.slot(&key(id)).unwrap_or(NO_NODE);
            if slot != NO_NODE {
                scanned.nodes[slot as usize] = node;
            }
            scanned.slot_of_node.push(slot);
        }
        scanned
    }

    fn slot(&self, id: &OidKey) -> Option<u32> {
        self.slots.get(id).copied()
    }

    /// The node of `slot`, numbering it `next` if it has none yet.
    fn node_of(&mut self, slot: u32, next: u32) -> u32 {
        let node = &mut self.nodes[slot as usize];
        if *node == NO_NODE {
            *node = next;
            self.slot_of_node.push(slot);
        }
        *node
    }

    /// The node of commit `id`, numbering it `next` if it has none yet: in the scan's
    /// slots if it holds the commit, else in `index`.
    fn node_for(&mut self, id: OidKey, next: u32, index: &mut IdMap<OidKey, u32>) -> u32 {
        if let Some(slot) = self.slot(&id) {
            return self.node_of(slot, next);
        }
        let node = *index.entry(id).or_insert(next);
        if node == next {
            self.slot_of_node.push(NO_NODE);
        }
        node
    }

    /// The header of node `node`, if the scan read it.
    fn take(&mut self, node: usize) -> Option<CommitHeader> {
        let slot = *self.slot_of_node.get(node)?;
        self.headers.get_mut(slot as usize)?.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::Tip;
    use crate::testutil::TestRepo;

    fn never() -> bool {
        false
    }

    /// The graph is the same whether the packs are scanned at once, after a few
    /// commits, or never: on a history with merges, commits git stored as deltas,
    /// commits only other branches reach, and loose commits newer than the pack.
    #[test]
    fn scanning_does_not_change_the_graph() {
        let repo = TestRepo::new();
        let body = "A line of a message body that every commit shares.\n".repeat(40);
        let mut n = 0;
        let mut commit = |repo: &TestRepo, dir: &str| {
            n += 1;
            repo.write(&format!("{dir}/f{}.txt", n % 5), &format!("{n}\n"));
            repo.commit(&format!("commit {n}\n\n{body}"));
        };
        commit(&repo, "main");
        for round in 0..6 {
            let branch = format!("topic{round}");
            repo.git(&["checkout", "-q", "-b", &branch]);
            for _ in 0..8 {
                commit(&repo, &branch);
            }
            repo.git(&["checkout", "-q", "main"]);
            for _ in 0..5 {
                commit(&repo, "main");
            }
            if round % 3 != 2 {
                repo.git(&["merge", "-q", "--no-ff", "--no-edit", &branch]);
            }
        }
        repo.git(&["repack", "-adfq", "--window=250", "--depth=50"]);
        for _ in 0..3 {
            commit(&repo, "main");
        }
        let handle = Repository::discover(repo.path()).unwrap();
        let tip = handle.resolve(&Tip::Head).unwrap().unwrap();
        let load = |scan_after| {
            CommitGraph::load_scanning_after(&handle, tip, &|_| None, 2, &never, scan_after)
                .unwrap()
        };
        let unscanned = load(usize::MAX);
        assert_eq!(unscanned.ids.len(), 70);
        for scan_after in [0, 1, 7, 40] {
            let scanned = load(scan_after);
            assert_eq!(scanned.ids, unscanned.ids, "scan after {scan_after}");
            assert_eq!(scanned.trees, unscanned.trees, "scan after {scan_after}");
            assert_eq!(
                scanned.parents, unscanned.parents,
                "scan after {scan_after}"
            );
        }
    }

    /// A clone that borrows its history through `objects/info/alternates` (`git clone
    /// --shared`) and packs its own new commits: the scan reads both object
    /// directories' packs, and the graph is the one read commit by commit.
    #[test]
    fn scanning_reads_the_packs_of_alternates() {
        let origin = TestRepo::new();
        for n in 0..30 {
            origin.write(&format!("d/f{}.txt", n % 4), &format!("{n}\n"));
            origin.commit(&format!("origin {n}"));
        }
        origin.git(&["repack", "-adq"]);
        let top = tempfile::tempdir().unwrap();
        let borrower = top.path().join("borrower");
        crate::testutil::git(
            top.path(),
            &[
                "clone",
                "-q",
                "--shared",
                origin.path().to_str().unwrap(),
                borrower.to_str().unwrap(),
            ],
        );
        for n in 0..12 {
            std::fs::write(borrower.join(format!("own{n}.txt")), format!("{n}\n")).unwrap();
            crate::testutil::git(&borrower, &["add", "-A"]);
            crate::testutil::git(
                &borrower,
                &[
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "commit",
                    "-qm",
                    "own",
                ],
            );
        }
        crate::testutil::git(&borrower, &["repack", "-dq"]);
        let handle = Repository::discover(&borrower).unwrap();
        assert_eq!(handle.store().packs().len(), 2);
        let tip = handle.resolve(&Tip::Head).unwrap().unwrap();
        let load = |scan_after| {
            CommitGraph::load_scanning_after(&handle, tip, &|_| None, 2, &never, scan_after)
                .unwrap()
        };
        let unscanned = load(usize::MAX);
        assert_eq!(unscanned.ids.len(), 42);
        let scanned = load(0);
        assert_eq!(scanned.ids, unscanned.ids);
        assert_eq!(scanned.trees, unscanned.trees);
        assert_eq!(scanned.parents, unscanned.parents);
    }
}
