//! Git-facing entry points of the deploy-safety features: pin files read from the
//! working tree or from a commit's tree, the `pin` plan (the append-only re-pin at a
//! commit), and the explanation of how a migration got ahead of deployed ones. The
//! logic itself lives in the pure modules `pins` and `reorder`; this module only
//! reads files and git objects for them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Tree};

use crate::analysis::{self, AnalysisError, Request};
use crate::cache;
use crate::history::{self, HistoryError, Tip};
use crate::pins::{self, Pin, PinError, PinSet, PINS_FILENAME};
use crate::reorder::{self, OrderReason};
use crate::versions::Fallback;

impl From<PinError> for AnalysisError {
    fn from(error: PinError) -> Self {
        // Boxed: pin errors carry several paths and ids, and every analysis result
        // would otherwise pay for their size.
        AnalysisError::Pins(Box::new(error))
    }
}

/// The pin file of a versions directory in the working tree: beside it, as
/// `revision_chain.json` is (the path as given, symlinks not resolved).
pub fn pins_path(versions_dir: &Path) -> PathBuf {
    versions_dir
        .parent()
        .unwrap_or(Path::new(""))
        .join(PINS_FILENAME)
}

/// The pins beside `versions_dir` in the working tree; `None` without a pin file.
pub fn pins_beside(versions_dir: &Path) -> Result<Option<PinSet>, PinError> {
    let file = pins_path(versions_dir);
    match std::fs::read(&file) {
        Ok(bytes) => pins::parse(&file, &bytes).map(Some),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PinError::Read { file, source }),
    }
}

/// The pins of the versions directory at `relative` (inside the repository) in the
/// tree `root` of commit `rev`: the pin file beside it in that tree, if any.
pub fn pins_in_tree(
    repo: &Repository,
    root: &Tree<'_>,
    relative: &Path,
    rev: &str,
) -> Result<Option<PinSet>, AnalysisError> {
    // A versions directory at the top of the repository has its pin file outside.
    let Some(parent) = relative
        .parent()
        .filter(|_| !relative.as_os_str().is_empty())
    else {
        return Ok(None);
    };
    let path = parent.join(PINS_FILENAME);
    let label = PathBuf::from(format!("{rev}:{}", path.display()));
    let entry = match root.get_path(&path) {
        Ok(entry) => entry,
        Err(error) if error.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(error) => {
            return Err(HistoryError::BadRevision {
                git_dir: repo.path().to_path_buf(),
                spec: rev.to_owned(),
                detail: format!("{}: {}", label.display(), error.message()),
            }
            .into())
        }
    };
    let blob = entry
        .to_object(repo)
        .and_then(|object| object.peel_to_blob())
        .map_err(|_| PinError::Malformed {
            file: label.clone(),
            detail: "it is not a file".into(),
        })?;
    Ok(Some(pins::parse(&label, blob.content())?))
}

/// What `alembic-git-revisions pin` would write.
#[derive(Debug, Clone)]
pub struct PinPlan {
    /// The pin file in the working tree.
    pub file: PathBuf,
    /// The commit pinned at.
    pub commit: Oid,
    /// Every pin, the existing ones first.
    pub pins: Vec<Pin>,
    /// How many pins are new (at the end of `pins`).
    pub added: usize,
    /// Whether the file exists already.
    pub exists: bool,
    /// The file's new text.
    pub text: String,
}

/// Plan the re-pin of `versions_dir` at commit `rev`: the chain there (honouring the
/// pin file at `rev`) appended to the working tree's pin file.
pub fn plan_pins(
    versions_dir: &Path,
    rev: &str,
    request: &Request,
    fallback: &dyn Fallback,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<PinPlan, AnalysisError> {
    let file = pins_path(versions_dir);
    let existing = pins_beside(versions_dir)?;
    let at = analysis::analyze_at(versions_dir, rev, request, fallback, interrupted)?;
    let repo = history::discover(&analysis::git_start_dir(versions_dir)?)?;
    let commit = history::resolve_tip(&repo, &Tip::Rev(rev.to_owned()))?.ok_or_else(|| {
        HistoryError::BadRevision {
            git_dir: repo.path().to_path_buf(),
            spec: rev.to_owned(),
            detail: "it names no commit".into(),
        }
    })?;
    let all = pins::extend(
        existing.as_ref(),
        &file,
        &at.files,
        &at.chain,
        &commit.to_string(),
        rev,
    )?;
    let before = existing.as_ref().map_or(0, |e| e.pins.len());
    Ok(PinPlan {
        added: all.len() - before,
        exists: existing.is_some(),
        text: pins::render(&all),
        file,
        commit,
        pins: all,
    })
}

/// How a commit listed first in git's order got ahead of another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderCause {
    /// It is an ancestor of the other one.
    Ancestor,
    /// A merge joined their lines of history with its side first.
    Merge {
        /// The deciding merge.
        merge: Oid,
        /// Its subject line.
        merge_subject: String,
        /// How many parents it has.
        merge_parents: usize,
        /// The parent index (0 = first) through which the commit listed first came.
        earlier_parent: u32,
        /// The parent index through which the other came.
        later_parent: u32,
        /// The commit of the tip's first-parent line that brought the merge in (the
        /// merge itself when it is on that line).
        landing: Oid,
        /// Its subject line.
        landing_subject: String,
    },
}

/// For each `(first, second)` pair of commit ids, why `git log --reverse
/// --topo-order` at `rev` (`HEAD` when `None`) lists `first` before `second`; `None`
/// where it does not, or where either commit is not in that history.
pub fn explain_order(
    versions_dir: &Path,
    rev: Option<&str>,
    pairs: &[(String, String)],
    request: &Request,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Option<OrderCause>>, AnalysisError> {
    let repo = history::discover(&analysis::git_start_dir(versions_dir)?)?;
    history::check_complete(&repo)?;
    let tip = match rev {
        None => history::resolve_tip(&repo, &Tip::Head)?,
        Some(spec) => history::resolve_tip(&repo, &Tip::Rev(spec.to_owned()))?,
    };
    let Some(tip) = tip else {
        return Ok(vec![None; pairs.len()]);
    };
    let cached = if history::has_replacements(&repo) {
        HashMap::new()
    } else {
        request
            .cache
            .folder(repo.commondir())
            .map(|folder| cache::load_history(&cache::history_path(&folder)))
            .unwrap_or_default()
    };
    let graph = history::load_graph(&repo, tip, &cached, interrupted)?;
    let node_of: HashMap<Oid, u32> = graph
        .ids
        .iter()
        .enumerate()
        .map(|(index, oid)| (*oid, index as u32))
        .collect();
    let landing = reorder::first_parent_landing(&graph.parents, 0);
    let subject = |oid: Oid| {
        repo.find_commit(oid)
            .ok()
            .and_then(|c| {
                c.summary_bytes()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
            })
            .unwrap_or_default()
    };
    let topo = |source| HistoryError::Topo {
        git_dir: repo.path().to_path_buf(),
        source,
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (first, second) in pairs {
        let nodes = Oid::from_str(first)
            .ok()
            .and_then(|a| node_of.get(&a))
            .zip(Oid::from_str(second).ok().and_then(|b| node_of.get(&b)));
        let Some((&a, &b)) = nodes else {
            out.push(None);
            continue;
        };
        let cause = match reorder::why_first(&graph.parents, 0, a, b).map_err(topo)? {
            None => None,
            Some(OrderReason::Ancestor) => Some(OrderCause::Ancestor),
            Some(OrderReason::Merge {
                merge,
                earlier_parent,
                later_parent,
            }) => {
                let merge_oid = graph.ids[merge as usize];
                let landing_oid = landing[merge as usize]
                    .map(|n| graph.ids[n as usize])
                    .unwrap_or(merge_oid);
                Some(OrderCause::Merge {
                    merge: merge_oid,
                    merge_subject: subject(merge_oid),
                    merge_parents: graph.parents[merge as usize].len(),
                    earlier_parent,
                    later_parent,
                    landing: landing_oid,
                    landing_subject: subject(landing_oid),
                })
            }
        };
        out.push(cause);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheMode;
    use crate::parser::PyVersion;
    use crate::testutil::git;
    use crate::versions::NoFallback;

    fn request(dir: &Path) -> Request {
        Request {
            dirs: vec![dir.to_path_buf()],
            python: PyVersion {
                major: 3,
                minor: 12,
            },
            threads: 2,
            cache: CacheMode::Off,
        }
    }

    fn dynamic(revision: &str) -> String {
        format!(
            "from alembic_git_revisions import get_down_revision\nrevision = {revision:?}\n\
             down_revision = get_down_revision(revision)\n"
        )
    }

    fn add(repo: &Path, name: &str, revision: &str, message: &str) -> String {
        std::fs::write(repo.join("m/versions").join(name), dynamic(revision)).unwrap();
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", message]);
        git(repo, &["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// root (static) and base on main; feature adds f; main adds m (tag deployed);
    /// the feature merges main ("Update branch"); main merges the feature (--no-ff).
    fn update_branch_history(repo: &Path) -> (String, String) {
        git(repo, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(repo.join("m/versions")).unwrap();
        std::fs::write(
            repo.join("m/versions/r_root.py"),
            "revision = 'r'\ndown_revision = None\n",
        )
        .unwrap();
        add(repo, "b_base.py", "b", "base");
        git(repo, &["checkout", "-q", "-b", "feat"]);
        let f = add(repo, "f_feat.py", "f", "feat");
        git(repo, &["checkout", "-q", "main"]);
        let m = add(repo, "m_main.py", "m", "main");
        git(repo, &["tag", "deployed"]);
        git(repo, &["checkout", "-q", "feat"]);
        git(repo, &["merge", "-q", "-m", "Update branch", "main"]);
        git(repo, &["checkout", "-q", "main"]);
        git(repo, &["merge", "-q", "--no-ff", "-m", "PR", "feat"]);
        (f, m)
    }

    #[test]
    fn explains_the_update_branch_merge() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path();
        let (f, m) = update_branch_history(repo);
        let versions = repo.join("m/versions");
        let causes = explain_order(
            &versions,
            None,
            &[(f.clone(), m.clone()), (m.clone(), f.clone())],
            &request(&versions),
            &|| false,
        )
        .unwrap();
        let update = git(repo, &["rev-parse", "feat"]).trim().to_owned();
        let head = git(repo, &["rev-parse", "HEAD"]).trim().to_owned();
        assert_eq!(
            causes,
            vec![
                Some(OrderCause::Merge {
                    merge: Oid::from_str(&update).unwrap(),
                    merge_subject: "Update branch".into(),
                    merge_parents: 2,
                    earlier_parent: 0,
                    later_parent: 1,
                    landing: Oid::from_str(&head).unwrap(),
                    landing_subject: "PR".into(),
                }),
                None
            ]
        );
        // At the deployed tag, f is not in the history at all.
        let at_tag = explain_order(
            &versions,
            Some("deployed"),
            &[(f, m)],
            &request(&versions),
            &|| false,
        )
        .unwrap();
        assert_eq!(at_tag, vec![None]);
    }

    #[test]
    fn pins_are_read_beside_the_directory_and_at_a_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path();
        update_branch_history(repo);
        let versions = repo.join("m/versions");
        assert_eq!(pins_beside(&versions).unwrap(), None);

        // Pin at the deployed tag: b after the root, m after b.
        let plan = plan_pins(
            &versions,
            "deployed",
            &request(&versions),
            &NoFallback,
            &|| false,
        )
        .unwrap();
        let deployed = git(repo, &["rev-parse", "deployed"]).trim().to_owned();
        assert_eq!(plan.file, repo.join("m").join(PINS_FILENAME));
        assert_eq!((plan.added, plan.exists), (2, false));
        let got: Vec<(&str, Option<&str>, &str)> = plan
            .pins
            .iter()
            .map(|p| {
                (
                    p.revision.as_str(),
                    p.down_revision.as_deref(),
                    p.pinned_at.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("b", Some("r"), deployed.as_str()),
                ("m", Some("b"), deployed.as_str())
            ]
        );
        std::fs::write(&plan.file, &plan.text).unwrap();

        // The working tree honours the pins: f goes after m.
        let analysed = analysis::analyze(&request(&versions), &NoFallback, &|| false).unwrap();
        let links: Vec<(String, Option<String>)> = analysed[0].chain.links.clone();
        assert_eq!(
            links,
            vec![
                ("b".into(), Some("r".into())),
                ("m".into(), Some("b".into())),
                ("f".into(), Some("m".into()))
            ]
        );
        // Not at HEAD's commit, where no pin file is committed yet.
        let at_head =
            analysis::analyze_at(&versions, "HEAD", &request(&versions), &NoFallback, &|| {
                false
            })
            .unwrap();
        assert_eq!(at_head.chain.links[1], ("f".into(), Some("b".into())));

        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "pin"]);
        let at_head =
            analysis::analyze_at(&versions, "HEAD", &request(&versions), &NoFallback, &|| {
                false
            })
            .unwrap();
        assert_eq!(at_head.chain.links, links);

        // Re-pinning at HEAD appends f and keeps the rest byte for byte.
        let again = plan_pins(&versions, "HEAD", &request(&versions), &NoFallback, &|| {
            false
        })
        .unwrap();
        assert_eq!((again.added, again.exists), (1, true));
        assert!(again
            .text
            .starts_with(plan.text.trim_end_matches("  ]\n}\n")));

        // A pin file that is not a file in the tree.
        std::fs::remove_file(&plan.file).unwrap();
        std::fs::create_dir(&plan.file).unwrap();
        std::fs::write(plan.file.join("x"), "x").unwrap();
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "oops"]);
        let error =
            analysis::analyze_at(&versions, "HEAD", &request(&versions), &NoFallback, &|| {
                false
            })
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("HEAD:m/revision_pins.json is not a valid pin file: it is not a file"),
            "{error}"
        );
        assert!(matches!(pins_beside(&versions), Err(PinError::Read { .. })));
    }
}
