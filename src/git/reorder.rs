//! Why git's topological order lists one commit before another: the merge whose
//! parent order decided it, as a pure function over a parent graph (the
//! [`CommitGraph::parents`](super::graph::CommitGraph) that [`topo`] orders).
//!
//! `git log --reverse --topo-order` (see [`topo`]) emits commits newest first with
//! Kahn's algorithm on a LIFO stack, then reverses. A commit is pushed by the child
//! whose emission made it ready (its last child emitted): call that child its
//! *releaser*. Everything a commit releases is pushed onto the stack together and
//! explored, last parent first, before anything pushed earlier, so the emission order
//! is a pre-order walk of the tree the releases form. Two commits that are not
//! ancestors of one another are therefore ordered by the merge where their release
//! paths meet: after the reversal, the side that merge reached through its earlier
//! parent (first parent before second) is listed first, and the parent order of any
//! later merge that joins the same two lines of history no longer matters.
//!
//! With the first-parent line of the tip (what `git log --first-parent` shows: the
//! target branch's own history when it only ever merged branches into itself), this
//! tells how a migration got before deployed ones: through a merge made on the
//! target branch, or through one made on a feature branch ("Update branch", `git
//! merge main`) that a later merge brought in.

use super::topo::{self, TopoError};

/// How the commit listed first got before the other one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderReason {
    /// The first commit is an ancestor of the second.
    Ancestor,
    /// `merge` joins the two lines of history and decided the order: the commit
    /// listed first came through its parent number `earlier_parent` (0 = first
    /// parent), the other through `later_parent`, a later parent.
    Merge {
        /// The deciding merge.
        merge: u32,
        /// Index in the merge's parent list of the side of the commit listed first.
        earlier_parent: usize,
        /// Index in the merge's parent list of the side of the commit listed second.
        later_parent: usize,
    },
}

/// The commit that released a commit in the walk, and the parent slot it came by.
pub type Release = Option<(u32, usize)>;

/// git's `--topo-order` walk from one tip, remembering for each commit the commit
/// that released it and the parent slot it was released through. Computed once, it
/// answers [`Releases::why_first`] for any number of pairs.
#[derive(Debug, Clone)]
pub struct Releases {
    /// Commits in emission order (newest first), as [`topo::topo_order`] returns them.
    emitted: Vec<u32>,
    /// Index of each commit in `emitted`; `usize::MAX` for unreachable commits.
    position: Vec<usize>,
    /// The release of each commit; `None` for the tip and unreachable commits.
    released_by: Vec<Release>,
}

impl Releases {
    /// Walk `parents` from `tip` as [`topo::topo_order`] does.
    ///
    /// # Errors
    ///
    /// [`TopoError`] for a graph `topo_order` refuses.
    pub fn walk(parents: &[Vec<u32>], tip: u32) -> Result<Self, TopoError> {
        // `topo_order` validates the graph (ranges, cycles) and gives the reachable set.
        let order = topo::topo_order(parents, tip)?;
        let len = parents.len();
        let mut indegree = vec![0u32; len];
        for &node in &order {
            indegree[node as usize] += 1;
            for &parent in &parents[node as usize] {
                indegree[parent as usize] += 1;
            }
        }
        let mut released_by = vec![None; len];
        let mut emitted = Vec::with_capacity(order.len());
        let mut work = vec![tip];
        while let Some(node) = work.pop() {
            for (slot, &parent) in parents[node as usize].iter().enumerate() {
                let count = &mut indegree[parent as usize];
                *count = count.saturating_sub(1);
                if *count == 1 {
                    released_by[parent as usize] = Some((node, slot));
                    work.push(parent);
                }
            }
            emitted.push(node);
        }
        let mut position = vec![usize::MAX; len];
        for (index, &node) in emitted.iter().enumerate() {
            position[node as usize] = index;
        }
        Ok(Releases {
            emitted,
            position,
            released_by,
        })
    }

    /// Commits in emission order, newest first (reverse it for `git log --reverse`).
    #[must_use]
    pub fn emitted(&self) -> &[u32] {
        &self.emitted
    }

    /// The commit that released `node` and the parent slot it came by.
    #[must_use]
    pub fn released_by(&self, node: u32) -> Release {
        self.released_by.get(node as usize).copied().flatten()
    }

    /// Why `git log --reverse --topo-order <tip>` lists `first` before `second`;
    /// `None` when it does not (or either commit is not reachable from the tip).
    /// `parents` is the graph the walk was made on.
    #[must_use]
    pub fn why_first(&self, parents: &[Vec<u32>], first: u32, second: u32) -> Option<OrderReason> {
        let at = |node: u32| {
            self.position
                .get(node as usize)
                .copied()
                .filter(|&p| p != usize::MAX)
        };
        let (first_at, second_at) = (at(first)?, at(second)?);
        // Reversed: listed first means emitted later.
        if first == second || first_at < second_at {
            return None;
        }
        if is_ancestor(parents, first, second) {
            return Some(OrderReason::Ancestor);
        }
        // The release path of `first` up to the tip, each step with the slot it came by.
        let mut on_path: Vec<Option<usize>> = vec![None; parents.len()];
        let mut node = first;
        on_path[node as usize] = Some(usize::MAX);
        while let Some((by, slot)) = self.released_by(node) {
            on_path[by as usize] = Some(slot);
            node = by;
        }
        let mut node = second;
        let mut came_by = usize::MAX;
        loop {
            if let Some(first_slot) = on_path[node as usize] {
                if node == second || node == first {
                    // One would be the other's ancestor, which was ruled out above.
                    return None;
                }
                return Some(OrderReason::Merge {
                    merge: node,
                    earlier_parent: first_slot,
                    later_parent: came_by,
                });
            }
            let (by, slot) = self.released_by(node)?;
            came_by = slot;
            node = by;
        }
    }
}

/// Why `git log --reverse --topo-order <tip>` lists `first` before `second` (one
/// pair; [`Releases`] answers many from one walk).
///
/// # Errors
///
/// [`TopoError`] for a graph `topo_order` refuses.
pub fn why_first(
    parents: &[Vec<u32>],
    tip: u32,
    first: u32,
    second: u32,
) -> Result<Option<OrderReason>, TopoError> {
    Ok(Releases::walk(parents, tip)?.why_first(parents, first, second))
}

/// Is `ancestor` reachable from `descendant` (`git merge-base --is-ancestor`)?
#[must_use]
pub fn is_ancestor(parents: &[Vec<u32>], ancestor: u32, descendant: u32) -> bool {
    let mut seen = vec![false; parents.len()];
    let mut stack = vec![descendant];
    while let Some(node) = stack.pop() {
        if node == ancestor {
            return true;
        }
        match seen.get_mut(node as usize) {
            Some(slot) if !*slot => *slot = true,
            _ => continue,
        }
        stack.extend(parents[node as usize].iter().copied());
    }
    false
}

/// For each commit reachable from `tip`, the commit of the tip's first-parent line
/// through which it entered that line: itself if it is on the line, else the oldest
/// commit of the line it is an ancestor of (a merge that brought it in through a
/// later parent). `None` for unreachable commits.
#[must_use]
pub fn first_parent_landing(parents: &[Vec<u32>], tip: u32) -> Vec<Option<u32>> {
    let len = parents.len();
    let mut line = Vec::new();
    let mut on_line = vec![false; len];
    let mut node = Some(tip).filter(|&t| (t as usize) < len);
    while let Some(current) = node {
        if on_line[current as usize] {
            break;
        }
        on_line[current as usize] = true;
        line.push(current);
        node = parents[current as usize]
            .first()
            .copied()
            .filter(|&p| (p as usize) < len);
    }
    let mut landing: Vec<Option<u32>> = vec![None; len];
    // Oldest first: whatever an older line commit reaches is marked before a newer
    // one looks, so each commit is marked with the oldest line commit reaching it.
    for &commit in line.iter().rev() {
        landing[commit as usize] = Some(commit);
        let mut stack: Vec<u32> = parents[commit as usize].iter().skip(1).copied().collect();
        while let Some(next) = stack.pop() {
            let Some(slot) = landing.get_mut(next as usize) else {
                continue;
            };
            if slot.is_some() {
                continue;
            }
            *slot = Some(commit);
            stack.extend(parents[next as usize].iter().copied());
        }
    }
    landing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::topo::topo_order;

    fn graph(edges: &[&[u32]]) -> Vec<Vec<u32>> {
        edges.iter().map(|list| list.to_vec()).collect()
    }

    /// A small deterministic generator (no external crates): xorshift.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random histories: node i's parents are older nodes; some merges, some octopus.
    fn random_graph(rng: &mut Rng, len: u32) -> Vec<Vec<u32>> {
        let mut parents: Vec<Vec<u32>> = vec![vec![]];
        for node in 1..len {
            let count = match rng.below(10) {
                0..=5 => 1,
                6..=8 => 2,
                _ => 3,
            };
            let mut list = Vec::new();
            for _ in 0..count {
                let parent = node - 1 - u32::try_from(rng.below(u64::from(node.min(6)))).unwrap();
                if !list.contains(&parent) {
                    list.push(parent);
                }
            }
            parents.push(list);
        }
        // Reindex so that the tip is node 0, as the history loader numbers them.
        let last = len - 1;
        let map = |n: u32| last - n;
        (0..len)
            .map(|n| parents[map(n) as usize].iter().map(|&p| map(p)).collect())
            .collect()
    }

    fn ancestors(parents: &[Vec<u32>], node: u32) -> Vec<bool> {
        let mut seen = vec![false; parents.len()];
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut seen[n as usize], true) {
                stack.extend(parents[n as usize].iter().copied());
            }
        }
        seen
    }

    #[test]
    fn the_walk_is_topo_order() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let len = 2 + u32::try_from(rng.below(40)).unwrap();
            let g = random_graph(&mut rng, len);
            let walk = Releases::walk(&g, 0).unwrap();
            assert_eq!(walk.emitted(), topo_order(&g, 0).unwrap());
            // The releaser is a child, emitted before its parent.
            for node in 0..len {
                if let Some((child, slot)) = walk.released_by(node) {
                    assert_eq!(g[child as usize][slot], node);
                }
            }
        }
    }

    #[test]
    fn feature_first_merge_decides_even_under_a_main_first_merge() {
        // 0 root; 1 = b; 2 = f (feature, from b); 3 = m (main, from b);
        // 4 = "Update branch" merge(f, m); 5 = PR merge(m, 4). Tip is 5.
        let g = graph(&[&[], &[0], &[1], &[1], &[2, 3], &[3, 4]]);
        let mut order = topo_order(&g, 5).unwrap();
        order.reverse();
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5], "f before m");
        assert_eq!(
            why_first(&g, 5, 2, 3).unwrap(),
            Some(OrderReason::Merge {
                merge: 4,
                earlier_parent: 0,
                later_parent: 1
            })
        );
        assert_eq!(why_first(&g, 5, 3, 2).unwrap(), None);
        // The Update-branch merge is not on main's first-parent line; the PR merge
        // brought it in.
        let landing = first_parent_landing(&g, 5);
        assert_eq!(landing[4], Some(5));
        assert_eq!(landing[3], Some(3));
        assert_eq!(landing[2], Some(5));
    }

    #[test]
    fn main_moving_on_lets_the_main_first_merge_decide() {
        // As above, but main has a later commit 4' before the PR merge:
        // 0 root; 1 b; 2 f; 3 m; 4 = merge(f, m); 5 = m2 (from m); 6 = merge(m2, 4).
        let g = graph(&[&[], &[0], &[1], &[1], &[2, 3], &[3], &[5, 4]]);
        let mut order = topo_order(&g, 6).unwrap();
        order.reverse();
        let at = |n: u32| order.iter().position(|&x| x == n).unwrap();
        assert!(at(3) < at(2), "m before f: {order:?}");
        assert_eq!(
            why_first(&g, 6, 3, 2).unwrap(),
            Some(OrderReason::Merge {
                merge: 6,
                earlier_parent: 0,
                later_parent: 1
            })
        );
    }

    #[test]
    fn fast_forward_onto_a_feature_merge() {
        // 0 root; 1 a (main); 2 f (feature from 0); 3 = merge(f, a) on the feature,
        // main fast-forwarded to it. The merge is on the first-parent line.
        let g = graph(&[&[], &[0], &[0], &[2, 1]]);
        assert_eq!(
            why_first(&g, 3, 2, 1).unwrap(),
            Some(OrderReason::Merge {
                merge: 3,
                earlier_parent: 0,
                later_parent: 1
            })
        );
        assert_eq!(first_parent_landing(&g, 3)[3], Some(3));
        assert_eq!(first_parent_landing(&g, 3)[1], Some(3));
        assert_eq!(first_parent_landing(&g, 3)[2], Some(2));
    }

    #[test]
    fn ancestors_come_first_by_ancestry() {
        let g = graph(&[&[], &[0], &[1]]);
        assert_eq!(why_first(&g, 2, 0, 1).unwrap(), Some(OrderReason::Ancestor));
        assert_eq!(why_first(&g, 2, 1, 0).unwrap(), None);
        assert_eq!(why_first(&g, 2, 1, 1).unwrap(), None);
        // Unreachable or out of range.
        let g = graph(&[&[], &[0], &[]]);
        assert_eq!(why_first(&g, 1, 2, 0).unwrap(), None);
        assert_eq!(why_first(&g, 1, 7, 0).unwrap(), None);
    }

    #[test]
    fn octopus_merges_name_the_parent_slots() {
        // 0 root; 1, 2, 3 from root; 4 = octopus(1, 2, 3).
        let g = graph(&[&[], &[0], &[0], &[0], &[1, 2, 3]]);
        assert_eq!(
            why_first(&g, 4, 1, 3).unwrap(),
            Some(OrderReason::Merge {
                merge: 4,
                earlier_parent: 0,
                later_parent: 2
            })
        );
    }

    #[test]
    fn the_reason_agrees_with_the_order_on_random_histories() {
        let mut rng = Rng(42);
        let mut merges = 0;
        for _ in 0..150 {
            let len = 2 + u32::try_from(rng.below(30)).unwrap();
            let g = random_graph(&mut rng, len);
            let mut order = topo_order(&g, 0).unwrap();
            order.reverse();
            let landing = first_parent_landing(&g, 0);
            for (i, &a) in order.iter().enumerate() {
                assert!(landing[a as usize].is_some());
                for &b in &order[i + 1..] {
                    let reason = why_first(&g, 0, a, b).unwrap();
                    assert_eq!(why_first(&g, 0, b, a).unwrap(), None);
                    let a_below_b = ancestors(&g, b)[a as usize];
                    match reason {
                        Some(OrderReason::Ancestor) => assert!(a_below_b),
                        Some(OrderReason::Merge {
                            merge,
                            earlier_parent,
                            later_parent,
                        }) => {
                            merges += 1;
                            assert!(!a_below_b);
                            assert!(earlier_parent < later_parent);
                            let p = &g[merge as usize];
                            // Each side reaches its commit through that parent.
                            assert!(ancestors(&g, p[earlier_parent])[a as usize]);
                            assert!(ancestors(&g, p[later_parent])[b as usize]);
                        }
                        None => panic!("{a} is listed before {b}, but no reason"),
                    }
                }
            }
        }
        assert!(merges > 100, "the generator must produce merges: {merges}");
    }
}
