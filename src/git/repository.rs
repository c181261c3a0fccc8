//! The repository handle: found once per analysis, as `git` run in a directory would
//! find it, and holding what every walk of it shares.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use git2::{ErrorClass, ErrorCode, Oid, RepositoryOpenFlags};

use super::commitgraph::CommitGraphFile;
use super::odb::ObjectStore;
use super::rewrites::Rewrites;
use super::Error;

/// Which commit history is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tip {
    /// `HEAD`, as `git log` with no revision argument.
    Head,
    /// Any revision `git rev-parse` accepts (a tag, branch, commit id, `HEAD~3`...).
    Rev(String),
}

/// One open repository.
///
/// Replace refs and grafts are read when it opens; the object store (packs mapped
/// once) and the commit-graph file when first needed. Not `Sync` (libgit2's handle is
/// not); worker threads share [`Repository::store`] instead.
pub struct Repository {
    libgit2: git2::Repository,
    git_dir: PathBuf,
    common_dir: PathBuf,
    rewrites: Rewrites,
    store: OnceCell<ObjectStore>,
    commit_graph: OnceCell<Option<CommitGraphFile>>,
}

impl Repository {
    /// Open the repository that `git` run with its working directory set to `dir`
    /// would use: `$GIT_DIR` if set (relative to `dir`), else the nearest enclosing
    /// repository below `$GIT_CEILING_DIRECTORIES`, following a `.git` file to a
    /// linked worktree or submodule.
    ///
    /// # Errors
    ///
    /// [`Error::NotARepository`], [`Error::BadGitDir`], [`Error::NotOwned`],
    /// [`Error::UnsupportedFormat`] or [`Error::Git`].
    pub fn discover(dir: &Path) -> Result<Self, Error> {
        let libgit2 = match std::env::var_os("GIT_DIR") {
            Some(git_dir) if !git_dir.is_empty() => {
                let path = dir.join(&git_dir);
                git2::Repository::open_ext(&path, RepositoryOpenFlags::NO_SEARCH, &[] as &[&Path])
                    .map_err(|error| match classify_open_error(&path, error) {
                    Error::NotARepository { .. } => Error::BadGitDir { git_dir: path },
                    other => other,
                })?
            }
            _ => {
                let ceilings: Vec<PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
                    .map(|value| std::env::split_paths(&value).collect())
                    .unwrap_or_default();
                git2::Repository::open_ext(dir, RepositoryOpenFlags::empty(), &ceilings)
                    .map_err(|error| classify_open_error(dir, error))?
            }
        };
        Ok(Self::from_libgit2(libgit2))
    }

    fn from_libgit2(libgit2: git2::Repository) -> Self {
        Repository {
            git_dir: libgit2.path().to_path_buf(),
            common_dir: libgit2.commondir().to_path_buf(),
            rewrites: Rewrites::read(&libgit2),
            store: OnceCell::new(),
            commit_graph: OnceCell::new(),
            libgit2,
        }
    }

    /// The git directory (`.git`, or `.git/worktrees/<name>` for a linked worktree).
    #[must_use]
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The directory shared by all worktrees: objects, refs, config.
    #[must_use]
    pub fn common_dir(&self) -> &Path {
        &self.common_dir
    }

    /// The top of the working tree, or `None` for a bare repository.
    #[must_use]
    pub fn work_tree(&self) -> Option<&Path> {
        self.libgit2.workdir()
    }

    /// libgit2's handle, for the few reads done through it (refs, revisions,
    /// signatures, blobs).
    pub(crate) fn libgit2(&self) -> &git2::Repository {
        &self.libgit2
    }

    /// The replace refs and grafts `git log` would apply.
    #[must_use]
    pub fn rewrites(&self) -> &Rewrites {
        &self.rewrites
    }

    /// Whether replace refs or grafts rewrite history: facts keyed by commit id do
    /// not hold then.
    #[must_use]
    pub fn rewrites_history(&self) -> bool {
        !self.rewrites.is_empty()
    }

    /// The object store, opened (packs mapped) on first use.
    pub fn store(&self) -> &ObjectStore {
        self.store.get_or_init(|| {
            ObjectStore::open(
                &self.git_dir,
                &self.common_dir.join("objects"),
                self.rewrites.clone(),
                is_partial_clone(&self.libgit2),
            )
        })
    }

    /// The commit-graph file, where `git log` would use one: not when history is
    /// rewritten, nor with `core.commitGraph=false`.
    pub fn commit_graph(&self) -> Option<&CommitGraphFile> {
        self.commit_graph
            .get_or_init(|| {
                let enabled = self
                    .libgit2
                    .config()
                    .and_then(|config| config.get_bool("core.commitGraph"))
                    .unwrap_or(true);
                (enabled && self.rewrites.is_empty())
                    .then(|| CommitGraphFile::open(&self.common_dir.join("objects")))
                    .flatten()
            })
            .as_ref()
    }

    /// Refuse a shallow clone: its history is truncated, so any order derived from it
    /// would be wrong.
    ///
    /// # Errors
    ///
    /// [`Error::Shallow`].
    pub fn require_complete(&self) -> Result<(), Error> {
        if self.libgit2.is_shallow() {
            return Err(Error::Shallow {
                git_dir: self.git_dir.clone(),
            });
        }
        Ok(())
    }

    /// Resolve the tip to a commit id. `Ok(None)` means `HEAD` is unborn: the
    /// repository has no commits yet, and `git log` prints nothing.
    ///
    /// # Errors
    ///
    /// [`Error::BadRevision`] for a revision that names no commit, [`Error::Git`] when
    /// `HEAD` cannot be read.
    pub fn resolve(&self, tip: &Tip) -> Result<Option<Oid>, Error> {
        let git_dir = || self.git_dir.clone();
        match tip {
            // HEAD's target id is taken without reading the object, so that a missing
            // or damaged tip commit is reported by the walk, naming it.
            Tip::Head => match self
                .libgit2
                .head()
                .and_then(|reference| reference.resolve())
            {
                Ok(reference) => match reference.target() {
                    Some(oid) => Ok(Some(oid)),
                    None => Err(Error::BadRevision {
                        git_dir: git_dir(),
                        spec: "HEAD".into(),
                        detail: "HEAD does not point at a commit".into(),
                    }),
                },
                Err(error)
                    if error.code() == ErrorCode::UnbornBranch
                        || (error.code() == ErrorCode::NotFound
                            && error.class() == ErrorClass::Reference) =>
                {
                    Ok(None)
                }
                Err(error) => Err(Error::Git {
                    git_dir: git_dir(),
                    action: "reading HEAD",
                    source: error,
                }),
            },
            Tip::Rev(spec) => self
                .libgit2
                .revparse_single(spec)
                .and_then(|object| object.peel_to_commit())
                .map(|commit| Some(commit.id()))
                .map_err(|error| Error::BadRevision {
                    git_dir: git_dir(),
                    spec: spec.clone(),
                    detail: error.message().to_owned(),
                }),
        }
    }

    /// `path` (absolute, symlinks resolved) relative to the top of the working tree.
    ///
    /// # Errors
    ///
    /// [`Error::NoWorkTree`] for a bare repository, [`Error::OutsideWorkTree`].
    pub fn relative_to_work_tree(&self, path: &Path) -> Result<PathBuf, Error> {
        let work_tree = self
            .work_tree()
            .and_then(|w| w.canonicalize().ok())
            .ok_or_else(|| Error::NoWorkTree {
                git_dir: self.git_dir.clone(),
                path: path.to_path_buf(),
            })?;
        path.strip_prefix(&work_tree)
            .map(Path::to_path_buf)
            .map_err(|_| Error::OutsideWorkTree {
                path: path.to_path_buf(),
                work_tree,
            })
    }
}

fn classify_open_error(dir: &Path, error: git2::Error) -> Error {
    let message = error.message().to_owned();
    let lower = message.to_ascii_lowercase();
    if error.code() == ErrorCode::Owner || lower.contains("not owned by current user") {
        return Error::NotOwned {
            path: dir.to_path_buf(),
        };
    }
    if lower.contains("refstorage") || lower.contains("reftable") {
        return Error::UnsupportedFormat {
            path: dir.to_path_buf(),
            detail: "it stores refs in the reftable format; convert it with \
                     `git refs migrate --ref-format=files`, or ship a revision_chain.json"
                .into(),
        };
    }
    if lower.contains("extension")
        || lower.contains("objectformat")
        || lower.contains("sha256")
        || lower.contains("unsupported repository version")
    {
        return Error::UnsupportedFormat {
            path: dir.to_path_buf(),
            detail: message,
        };
    }
    if error.code() == ErrorCode::NotFound {
        return Error::NotARepository {
            path: dir.to_path_buf(),
        };
    }
    Error::Git {
        git_dir: dir.to_path_buf(),
        action: "opening the repository",
        source: error,
    }
}

/// Whether the repository is a partial clone, whose missing objects are expected
/// rather than damage.
fn is_partial_clone(repo: &git2::Repository) -> bool {
    let Ok(config) = repo.config() else {
        return false;
    };
    if config.get_string("extensions.partialclone").is_ok() {
        return true;
    }
    let Ok(entries) = config.entries(Some("remote\\..*\\.(promisor|partialclonefilter)")) else {
        return false;
    };
    let mut found = false;
    let _ = entries.for_each(|_| found = true);
    found
}
