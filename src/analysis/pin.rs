//! What `alembic-git-revisions pin` writes: the chain of a versions directory at a
//! commit, appended to the pin file beside it in the working tree.

use std::path::PathBuf;

use git2::Oid;

use super::{analyze_at, git_start_dir, AnalysisError, Location, Request};
use crate::git::{self, Repository, Tip};
use crate::migrations::declaration::Fallback;
use crate::migrations::pins::{self, Pin};
use crate::migrations::repin;

/// What re-pinning a versions directory at a commit would write.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Plan the re-pin of a location's directory at commit `rev`: its chain there (computed from
/// git objects, honouring the pin file committed at `rev`) appended to the working
/// tree's pin file. Nothing is written.
///
/// # Errors
///
/// As [`analyze_at`]; [`AnalysisError::Pins`] for an unreadable or malformed pin file
/// and when the re-pin would not be a pure append.
pub fn plan_pins(
    location: &Location,
    rev: &str,
    request: &Request,
    fallback: &dyn Fallback,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<PinPlan, AnalysisError> {
    let versions_dir = location.dir.as_path();
    let file = pins::path_beside(versions_dir);
    let existing = pins::beside(versions_dir)?;
    let at = analyze_at(location, rev, request, fallback, interrupted)?;
    let repo = Repository::discover(&git_start_dir(versions_dir)?)?;
    let commit =
        repo.resolve(&Tip::Rev(rev.to_owned()))?
            .ok_or_else(|| git::Error::BadRevision {
                git_dir: repo.git_dir().to_path_buf(),
                spec: rev.to_owned(),
                detail: "it names no commit".into(),
            })?;
    let all = repin::extend(
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

#[cfg(test)]
pub(super) mod tests {
    use std::path::Path;

    use super::*;
    use crate::analysis::analyze;
    use crate::migrations::chain::ChainError;
    use crate::migrations::declaration::NoFallback;
    use crate::migrations::parser::PyVersion;
    use crate::migrations::pins::{PinError, FILENAME};
    use crate::store::CacheMode;
    use crate::testutil::TestRepo;

    fn request(dir: &Path) -> Request {
        Request {
            dirs: vec![Location::flat(dir)],
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

    /// The issue's scenario: a static root and `b` on main; the feature adds `f`; main
    /// adds `m` (tagged `deployed`); the feature merges main ("Update branch"); main
    /// merges the feature with a merge commit. Git's order is now r, b, f, m.
    pub(crate) fn update_branch_history() -> (TestRepo, String, String) {
        let repo = TestRepo::new();
        repo.write(
            "m/versions/r_root.py",
            "revision = 'r'\ndown_revision = None\n",
        );
        repo.write("m/versions/b_base.py", &dynamic("b"));
        repo.commit("base");
        repo.git(&["checkout", "-q", "-b", "feat"]);
        repo.write("m/versions/f_feat.py", &dynamic("f"));
        let f = repo.commit("feat");
        repo.git(&["checkout", "-q", "main"]);
        repo.write("m/versions/m_main.py", &dynamic("m"));
        let m = repo.commit("main");
        repo.git(&["tag", "deployed"]);
        repo.git(&["checkout", "-q", "feat"]);
        repo.git(&["merge", "-q", "-m", "Update branch", "main"]);
        repo.git(&["checkout", "-q", "main"]);
        repo.git(&["merge", "-q", "--no-ff", "-m", "PR", "feat"]);
        (repo, f, m)
    }

    fn links(chain: &[(String, Option<String>)]) -> Vec<(&str, Option<&str>)> {
        chain
            .iter()
            .map(|(r, p)| (r.as_str(), p.as_deref()))
            .collect()
    }

    /// (revision, pinned parent, commit) of each pin a plan writes.
    fn pin_rows(plan: &PinPlan) -> Vec<(&str, Option<&str>, &str)> {
        plan.pins
            .iter()
            .map(|p| {
                (
                    p.revision.as_str(),
                    p.down_revision.as_deref(),
                    p.pinned_at.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn pins_are_planned_read_beside_the_directory_and_at_a_commit() {
        let (repo, ..) = update_branch_history();
        let versions = repo.path().join("m/versions");
        let plan_at = |rev: &str| {
            plan_pins(
                &Location::flat(&versions),
                rev,
                &request(&versions),
                &NoFallback,
                &|| false,
            )
        };
        let analyse = || analyze(&request(&versions), &NoFallback, &|| false).unwrap();
        let analyse_at = |rev: &str| {
            analyze_at(
                &Location::flat(&versions),
                rev,
                &request(&versions),
                &NoFallback,
                &|| false,
            )
        };
        assert_eq!(pins::beside(&versions).unwrap(), None);
        assert_eq!(
            links(&analyse()[0].chain.links),
            vec![("b", Some("r")), ("f", Some("b")), ("m", Some("f"))]
        );

        // Pinned at the deployed tag: b after the root, m after b.
        let plan = plan_at("deployed").unwrap();
        let deployed = repo.rev("deployed");
        assert_eq!(plan.file, repo.path().join("m").join(FILENAME));
        assert_eq!((plan.added, plan.exists), (2, false));
        assert_eq!(plan.commit.to_string(), deployed);
        assert_eq!(
            pin_rows(&plan),
            vec![
                ("b", Some("r"), deployed.as_str()),
                ("m", Some("b"), deployed.as_str())
            ]
        );
        std::fs::write(&plan.file, &plan.text).unwrap();

        // The working tree honours the pins: f goes after m.
        let pinned = vec![("b", Some("r")), ("m", Some("b")), ("f", Some("m"))];
        assert_eq!(links(&analyse()[0].chain.links), pinned);
        // At HEAD's commit, where no pin file is committed yet, git's order rules.
        let at_head = analyse_at("HEAD").unwrap();
        assert_eq!(at_head.chain.links[1], ("f".into(), Some("b".into())));

        repo.commit("pin");
        assert_eq!(links(&analyse_at("HEAD").unwrap().chain.links), pinned);

        // Re-pinning at HEAD appends f and keeps the rest byte for byte.
        let again = plan_at("HEAD").unwrap();
        assert_eq!((again.added, again.exists), (1, true));
        assert!(again
            .text
            .starts_with(plan.text.trim_end_matches("  ]\n}\n")));

        // At the deployed tag, before the pin file existed: re-pinning there is fine
        // (nothing new), and an older commit would drop a pin.
        assert_eq!(plan_at("deployed").unwrap().added, 0);
        let older = plan_at("deployed~1").unwrap_err();
        assert!(
            matches!(&older, AnalysisError::Pins(e) if matches!(**e, PinError::WouldDrop { .. })),
            "{older}"
        );

        // A deleted pinned migration names the pin file, in the working tree and at a
        // commit (`REF:path`).
        std::fs::remove_file(versions.join("m_main.py")).unwrap();
        let error = analyze(&request(&versions), &NoFallback, &|| false).unwrap_err();
        assert!(
            matches!(
                &error,
                AnalysisError::Chain {
                    source: ChainError::PinnedMigrationGone { .. },
                    ..
                }
            ),
            "{error}"
        );
        repo.commit("drop m");
        let error = analyse_at("HEAD").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("HEAD:m/revision_pins.json pins migration \"m\" (m_main.py"),
            "{error}"
        );

        // A pin file that is a directory: an OS error in the working tree, a git error
        // at a commit, each naming it.
        std::fs::remove_file(&plan.file).unwrap();
        std::fs::create_dir(&plan.file).unwrap();
        std::fs::write(plan.file.join("x"), "x").unwrap();
        repo.commit("oops");
        assert!(matches!(
            pins::beside(&versions),
            Err(PinError::Read { .. })
        ));
        let error = analyse_at("HEAD").unwrap_err();
        assert!(
            matches!(error, AnalysisError::Git(git::Error::ReadAt { .. })),
            "{error}"
        );
        assert!(
            error.to_string().contains("HEAD:m/revision_pins.json"),
            "{error}"
        );
    }

    #[test]
    fn a_versions_directory_at_the_top_has_no_pin_file() {
        let repo = TestRepo::new();
        repo.write("versions/a_a.py", &dynamic("a"));
        repo.write(FILENAME, "not read");
        repo.commit("a");
        let top = Repository::discover(repo.path()).unwrap();
        let head = top.resolve(&Tip::Head).unwrap().unwrap();
        // Beside `versions` is the top of the tree: read there.
        assert!(matches!(
            pins::at(&top, head, "HEAD", Path::new("versions")),
            Err(PinError::Malformed { .. })
        ));
        // A directory that is the top itself has no "beside".
        assert_eq!(pins::at(&top, head, "HEAD", Path::new("")).unwrap(), None);
        // A parent that is a file at that commit: no pins there.
        repo.write("f", "");
        repo.commit("f");
        let head = top.resolve(&Tip::Head).unwrap().unwrap();
        assert_eq!(
            pins::at(&top, head, "HEAD", Path::new("f/versions")).unwrap(),
            None
        );
    }
}
