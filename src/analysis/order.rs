//! How a migration got before another one in git's order: for commit pairs, the
//! merge whose parent order decided it ([`crate::git::reorder`]), and whether that
//! merge is on the tip's first-parent line or came in through a later merge.

use std::collections::HashMap;
use std::path::Path;

use git2::Oid;

use super::cached::cache_folder;
use super::{git_start_dir, AnalysisError};
use crate::git::describe;
use crate::git::graph::CommitGraph;
use crate::git::reorder::{self, OrderReason, Releases};
use crate::git::{self, Repository, Tip};
use crate::store::{self, CacheMode};

/// How a commit listed first in git's order got ahead of another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCause {
    /// It is an ancestor of the other one.
    Ancestor,
    /// A merge joined their lines of history with its side first.
    Merge(MergeOrder),
}

/// The merge that put one commit before another in `git log --reverse --topo-order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOrder {
    /// The deciding merge.
    pub merge: Oid,
    /// Its subject line.
    pub merge_subject: String,
    /// How many parents it has.
    pub merge_parents: usize,
    /// The parent index (0 = first) through which the commit listed first came.
    pub earlier_parent: usize,
    /// The parent index through which the other came.
    pub later_parent: usize,
    /// The commit of the tip's first-parent line that brought the merge in (the
    /// merge itself when it is on that line).
    pub landing: Oid,
    /// Its subject line.
    pub landing_subject: String,
}

/// For each `(first, second)` pair of full commit ids, why `git log --reverse
/// --topo-order` at `rev` (`HEAD` when `None`) in the repository of `versions_dir`
/// lists `first` before `second`; `None` where it does not, or where either commit is
/// not in that history. The commit graph is loaded once (from the history cache
/// where it has the commits).
///
/// # Errors
///
/// The repository cannot be found or read, `rev` names no commit, or the graph loops.
pub fn explain_order(
    versions_dir: &Path,
    rev: Option<&str>,
    pairs: &[(String, String)],
    cache: &CacheMode,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Option<OrderCause>>, AnalysisError> {
    let repo = Repository::discover(&git_start_dir(versions_dir)?)?;
    repo.require_complete()?;
    let tip = match rev {
        None => repo.resolve(&Tip::Head)?,
        Some(spec) => repo.resolve(&Tip::Rev(spec.to_owned()))?,
    };
    let Some(tip) = tip else {
        return Ok(vec![None; pairs.len()]);
    };
    let known = cache_folder(&repo, cache)
        .map(|folder| store::history::load(&store::history::path(&folder)))
        .unwrap_or_default();
    let graph = CommitGraph::load(
        &repo,
        tip,
        &|oid| known.get(oid).map(|hit| hit.header.clone()),
        crate::parallel::available_threads(),
        interrupted,
    )?;
    let walk =
        Releases::walk(&graph.parents, CommitGraph::TIP).map_err(|source| git::Error::Topo {
            git_dir: repo.git_dir().to_path_buf(),
            source,
        })?;
    let node_of: HashMap<Oid, u32> = graph
        .ids
        .iter()
        .zip(0u32..)
        .map(|(oid, node)| (*oid, node))
        .collect();
    let node = |hex: &str| {
        Oid::from_str(hex)
            .ok()
            .and_then(|oid| node_of.get(&oid).copied())
    };
    let landing = reorder::first_parent_landing(&graph.parents, CommitGraph::TIP);
    Ok(pairs
        .iter()
        .map(|(first, second)| {
            let (a, b) = (node(first)?, node(second)?);
            Some(match walk.why_first(&graph.parents, a, b)? {
                OrderReason::Ancestor => OrderCause::Ancestor,
                OrderReason::Merge {
                    merge,
                    earlier_parent,
                    later_parent,
                } => {
                    let merge_oid = graph.ids[merge as usize];
                    let landing_oid =
                        landing[merge as usize].map_or(merge_oid, |n| graph.ids[n as usize]);
                    OrderCause::Merge(MergeOrder {
                        merge: merge_oid,
                        merge_subject: describe::subject(&repo, merge_oid),
                        merge_parents: graph.parents[merge as usize].len(),
                        earlier_parent,
                        later_parent,
                        landing: landing_oid,
                        landing_subject: describe::subject(&repo, landing_oid),
                    })
                }
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::pin::tests::update_branch_history;

    #[test]
    fn explains_the_update_branch_merge() {
        let (repo, f, m) = update_branch_history();
        let versions = repo.path().join("m/versions");
        let explain = |rev: Option<&str>, pairs: &[(String, String)]| {
            explain_order(&versions, rev, pairs, &CacheMode::Off, &|| false).unwrap()
        };
        let causes = explain(None, &[(f.clone(), m.clone()), (m.clone(), f.clone())]);
        let update = Oid::from_str(&repo.rev("feat")).unwrap();
        let head = Oid::from_str(&repo.rev("HEAD")).unwrap();
        assert_eq!(
            causes,
            vec![
                Some(OrderCause::Merge(MergeOrder {
                    merge: update,
                    merge_subject: "Update branch".into(),
                    merge_parents: 2,
                    earlier_parent: 0,
                    later_parent: 1,
                    landing: head,
                    landing_subject: "PR".into(),
                })),
                None
            ]
        );
        // An ancestor, and ids that are not commits of this history.
        let base = repo.rev("main~1~1");
        assert_eq!(
            explain(
                None,
                &[
                    (base, f.clone()),
                    ("0".repeat(40), f.clone()),
                    ("x".into(), f.clone())
                ]
            ),
            vec![Some(OrderCause::Ancestor), None, None]
        );
        // At the deployed tag, f is not in the history at all.
        assert_eq!(explain(Some("deployed"), &[(f, m)]), vec![None]);
    }

    #[test]
    fn an_unborn_head_explains_nothing() {
        let repo = crate::testutil::TestRepo::new();
        std::fs::create_dir(repo.path().join("versions")).unwrap();
        let causes = explain_order(
            &repo.path().join("versions"),
            None,
            &[("a".into(), "b".into())],
            &CacheMode::Off,
            &|| false,
        )
        .unwrap();
        assert_eq!(causes, vec![None]);
    }
}
