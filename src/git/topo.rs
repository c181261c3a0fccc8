//! Git's topological commit order, as a pure function over a parent graph.
//!
//! `git log --topo-order` (and `git rev-list --topo-order`) without a date or
//! author-date sort orders commits with `sort_in_topological_order` in
//! `REV_SORT_IN_GRAPH_ORDER` mode: Kahn's algorithm over "all children emitted"
//! counts, with a LIFO work stack. The incremental walk git uses when a
//! commit-graph file provides generation numbers yields the same sequence. The
//! order depends only on the parent lists and their order, never on dates.

use thiserror::Error;

/// Errors of the topological sort.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TopoError {
    /// A parent index points outside the graph: the caller built it wrongly.
    #[error("commit #{commit} names parent #{parent}, outside the {len}-commit graph")]
    ParentOutOfRange {
        /// Index of the commit whose parent list is wrong.
        commit: usize,
        /// The out-of-range parent index.
        parent: usize,
        /// Number of commits in the graph.
        len: usize,
    },
    /// The tip is not a node of the graph.
    #[error("tip #{tip} is outside the {len}-commit graph")]
    TipOutOfRange {
        /// The tip index.
        tip: usize,
        /// Number of commits in the graph.
        len: usize,
    },
    /// Some reachable commits were never emitted: the graph has a cycle, which real
    /// history cannot have (grafts or replace refs can fake one).
    #[error("the commit graph has a cycle through {stuck} commits; grafts or replace refs?")]
    Cycle {
        /// How many reachable commits could not be ordered.
        stuck: usize,
    },
}

/// Order the commits reachable from `tip` as `git rev-list --topo-order <tip>` prints
/// them: newest first.
///
/// `parents[i]` lists the parent indices of commit `i` in stored order (first parent
/// first). Commits not reachable from `tip` are ignored. Reverse the result for
/// `git log --reverse --topo-order`.
///
/// The walk: every reachable commit starts with a count of one plus its number of
/// reachable children (a parent listed twice counts twice, as in git). The tip goes
/// on a stack. Popping a commit emits it after walking its parents in stored order,
/// decrementing each; a parent whose count falls back to one (all of its children
/// emitted) is pushed. The stack makes a merge's *last* parent the next one explored.
///
/// # Errors
///
/// [`TopoError`] for a tip or parent outside `parents`, and for a cycle.
pub fn topo_order(parents: &[Vec<u32>], tip: u32) -> Result<Vec<u32>, TopoError> {
    let len = parents.len();
    let tip_index = tip as usize;
    if tip_index >= len {
        return Err(TopoError::TipOutOfRange {
            tip: tip_index,
            len,
        });
    }
    for (commit, list) in parents.iter().enumerate() {
        if let Some(&parent) = list.iter().find(|&&p| p as usize >= len) {
            return Err(TopoError::ParentOutOfRange {
                commit,
                parent: parent as usize,
                len,
            });
        }
    }

    // Reachability first, so that unrelated nodes in `parents` cannot hold counts up.
    let mut reachable = vec![false; len];
    let mut reachable_count = 0usize;
    let mut stack = vec![tip];
    while let Some(node) = stack.pop() {
        let slot = &mut reachable[node as usize];
        if *slot {
            continue;
        }
        *slot = true;
        reachable_count += 1;
        stack.extend(parents[node as usize].iter().copied());
    }

    // git's "indegree" slab: 1 marks membership, each child edge adds one.
    let mut indegree = vec![0u32; len];
    for (node, &is_reachable) in reachable.iter().enumerate() {
        if is_reachable {
            indegree[node] = 1;
        }
    }
    for (node, list) in parents.iter().enumerate() {
        if !reachable[node] {
            continue;
        }
        for &parent in list {
            indegree[parent as usize] += 1;
        }
    }

    let mut order = Vec::with_capacity(reachable_count);
    let mut work = vec![tip];
    while let Some(node) = work.pop() {
        for &parent in &parents[node as usize] {
            let count = &mut indegree[parent as usize];
            if *count == 0 {
                // Every reachable commit is emitted only after all of its children, so
                // meeting an emitted parent again means the graph loops back on itself.
                return Err(TopoError::Cycle {
                    stuck: reachable_count - order.len(),
                });
            }
            *count -= 1;
            if *count == 1 {
                work.push(parent);
            }
        }
        indegree[node as usize] = 0;
        order.push(node);
    }

    if order.len() != reachable_count {
        return Err(TopoError::Cycle {
            stuck: reachable_count - order.len(),
        });
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[&[u32]]) -> Vec<Vec<u32>> {
        edges.iter().map(|list| list.to_vec()).collect()
    }

    #[test]
    fn linear_history_is_newest_first() {
        // 0 <- 1 <- 2
        let g = graph(&[&[], &[0], &[1]]);
        assert_eq!(topo_order(&g, 2).unwrap(), vec![2, 1, 0]);
    }

    #[test]
    fn merge_explores_last_parent_first() {
        // 0 root; 1 on main; 2 on feature; 3 = merge(1, 2).
        let g = graph(&[&[], &[0], &[0], &[1, 2]]);
        assert_eq!(topo_order(&g, 3).unwrap(), vec![3, 2, 1, 0]);
        // The same merge with the parents swapped explores main's side first.
        let g = graph(&[&[], &[0], &[0], &[2, 1]]);
        assert_eq!(topo_order(&g, 3).unwrap(), vec![3, 1, 2, 0]);
    }

    #[test]
    fn parent_waits_for_all_children() {
        // 0 root; 1, 2 children of 0; 3 child of 1; 4 = merge(3, 2).
        let g = graph(&[&[], &[0], &[0], &[1], &[3, 2]]);
        // Stack after 4: [3, 2]; 2 popped, 0 still has child 1 pending; then 3, 1, 0.
        assert_eq!(topo_order(&g, 4).unwrap(), vec![4, 2, 3, 1, 0]);
    }

    #[test]
    fn octopus_and_duplicate_parents() {
        let g = graph(&[&[], &[0], &[0], &[0], &[1, 2, 3]]);
        assert_eq!(topo_order(&g, 4).unwrap(), vec![4, 3, 2, 1, 0]);
        // A parent listed twice is counted twice and still emitted once.
        let g = graph(&[&[], &[0, 0]]);
        assert_eq!(topo_order(&g, 1).unwrap(), vec![1, 0]);
    }

    #[test]
    fn unrelated_roots_and_unreachable_nodes() {
        // 0 and 1 are roots of unrelated histories merged by 2; 3 is unreachable.
        let g = graph(&[&[], &[], &[0, 1], &[2]]);
        assert_eq!(topo_order(&g, 2).unwrap(), vec![2, 1, 0]);
    }

    #[test]
    fn bad_graphs_are_errors() {
        assert_eq!(
            topo_order(&graph(&[&[5]]), 0),
            Err(TopoError::ParentOutOfRange {
                commit: 0,
                parent: 5,
                len: 1
            })
        );
        assert_eq!(
            topo_order(&graph(&[&[]]), 3),
            Err(TopoError::TipOutOfRange { tip: 3, len: 1 })
        );
        assert_eq!(
            topo_order(&graph(&[&[1], &[0]]), 0),
            Err(TopoError::Cycle { stuck: 1 })
        );
        assert_eq!(
            topo_order(&graph(&[&[1], &[2], &[1]]), 0),
            Err(TopoError::Cycle { stuck: 2 })
        );
    }
}
