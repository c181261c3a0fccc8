//! The repository handle: found once per analysis, as `git` run in a directory would
//! find it, and holding what every walk of it shares.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use git2::{ErrorClass, ErrorCode, Oid, RepositoryOpenFlags};

use super::commitgraph::CommitGraphFile;
use super::environment::{non_empty, resolve, Environment};
use super::odb::{ObjectDirs, ObjectStore};
use super::rewrites::{self, ReplaceRefs, Rewrites};
use super::{tag, Error, ObjectKind};

/// Annotated tags peeled in a row at most before giving up: far beyond any real
/// chain, and a stop for the loops replace refs could fake.
const MAX_TAG_CHAIN: usize = 1000;

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
/// Replace refs, grafts and the object directories are found when it opens; the
/// object store (packs mapped once) and the commit-graph file are read when first
/// needed. Not `Sync` (libgit2's handle is not); worker threads share
/// [`Repository::store`] instead.
pub struct Repository {
    libgit2: git2::Repository,
    git_dir: PathBuf,
    common_dir: PathBuf,
    rewrites: Rewrites,
    object_dirs: ObjectDirs,
    shallow_file: PathBuf,
    store: OnceCell<ObjectStore>,
    commit_graph: OnceCell<Option<CommitGraphFile>>,
}

impl Repository {
    /// Open the repository that `git` run with its working directory set to `dir`
    /// would use, reading the environment of this process (see
    /// [`Repository::discover_with`]).
    ///
    /// # Errors
    ///
    /// As [`Repository::discover_with`].
    pub fn discover(dir: &Path) -> Result<Self, Error> {
        Self::discover_with(dir, &Environment::from_process())
    }

    /// Open the repository that `git` run with its working directory set to `dir`
    /// and the environment `env` would use: `$GIT_DIR` if set (relative to `dir`),
    /// else the nearest enclosing repository below `$GIT_CEILING_DIRECTORIES`,
    /// following a `.git` file to a linked worktree or submodule. Then, as git:
    /// objects from `$GIT_OBJECT_DIRECTORY` and `$GIT_ALTERNATE_OBJECT_DIRECTORIES`
    /// as well as `info/alternates`; replace refs under `$GIT_REPLACE_REF_BASE`
    /// unless `$GIT_NO_REPLACE_OBJECTS` is set or `core.useReplaceRefs` is false;
    /// grafts from `$GIT_GRAFT_FILE` or `info/grafts` in any case.
    ///
    /// # Errors
    ///
    /// [`Error::NotARepository`], [`Error::BadGitDir`], [`Error::NotOwned`],
    /// [`Error::UnsupportedFormat`], [`Error::UnsupportedEnvironment`] (a
    /// `$GIT_COMMON_DIR` other than the repository's own), [`Error::BadConfig`],
    /// [`Error::DuplicateReplaceRef`], [`Error::BadGrafts`] or [`Error::Git`].
    pub fn discover_with(dir: &Path, env: &Environment) -> Result<Self, Error> {
        let (libgit2, base) = if let Some(git_dir) = env.explicit_git_dir() {
            let path = dir.join(git_dir);
            let libgit2 =
                git2::Repository::open_ext(&path, RepositoryOpenFlags::NO_SEARCH, &[] as &[&Path])
                    .or_else(|error| past_grafts(error, &path, None))
                    .map_err(|error| match classify_open_error(&path, error) {
                        Error::NotARepository { .. } => Error::BadGitDir { git_dir: path },
                        other => other,
                    })?;
            // With $GIT_DIR set, git treats the directory it started in as the
            // top of the working tree and stays there.
            (libgit2, dir.to_path_buf())
        } else {
            let ceilings: Vec<PathBuf> = env
                .ceiling_directories
                .as_ref()
                .map(|value| std::env::split_paths(value).collect())
                .unwrap_or_default();
            let libgit2 = git2::Repository::open_ext(dir, RepositoryOpenFlags::empty(), &ceilings)
                .or_else(|error| past_grafts(error, dir, Some(&ceilings)))
                .map_err(|error| classify_open_error(dir, error))?;
            // Having found the repository, git changes into the top of its
            // working tree (into the git directory of a bare one); relative paths
            // in the environment are read from there.
            let base = libgit2.workdir().unwrap_or(libgit2.path()).to_path_buf();
            (libgit2, base)
        };
        Self::from_libgit2(libgit2, &base, env)
    }

    fn from_libgit2(
        libgit2: git2::Repository,
        base: &Path,
        env: &Environment,
    ) -> Result<Self, Error> {
        let git_dir = libgit2.path().to_path_buf();
        let common_dir = libgit2.commondir().to_path_buf();
        check_common_dir(env, base, &git_dir, &common_dir)?;
        let git_error = |action| {
            let git_dir = git_dir.clone();
            move |source| Error::Git {
                git_dir,
                action,
                source,
            }
        };
        let config = libgit2
            .config()
            .map_err(git_error("reading the configuration"))?;
        // git reads core.useReplaceRefs (and dies on a bad value) even when
        // GIT_NO_REPLACE_OBJECTS switches replace refs off.
        let use_replace_refs = config_bool(&config, "core.useReplaceRefs", &git_dir)?;
        let replace_refs = if env.replace_objects_disabled() || use_replace_refs == Some(false) {
            ReplaceRefs::Disabled
        } else {
            ReplaceRefs::Under(env.replace_ref_base())
        };
        let rewrites = Rewrites::read(
            &libgit2,
            &replace_refs,
            &rewrites::graft_file(&common_dir, base, env),
        )?;
        let object_dirs = ObjectDirs::locate(&common_dir, base, env);
        object_dirs
            .attach(&libgit2)
            .map_err(git_error("opening the object directories"))?;
        let shallow_file = match non_empty(env.shallow_file.as_deref()) {
            Some(path) => resolve(base, path),
            // Shared by linked worktrees (libgit2 looks in the worktree's own).
            None => common_dir.join("shallow"),
        };
        Ok(Repository {
            git_dir,
            common_dir,
            rewrites,
            object_dirs,
            shallow_file,
            store: OnceCell::new(),
            commit_graph: OnceCell::new(),
            libgit2,
        })
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

    /// The object directories objects are read from.
    #[must_use]
    pub fn object_dirs(&self) -> &ObjectDirs {
        &self.object_dirs
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
                self.object_dirs.clone(),
                self.rewrites.clone(),
                is_partial_clone(&self.libgit2),
            )
        })
    }

    /// The commit-graph file, where `git log` would use one: the first object
    /// directory's that has one (alternates included, as git's
    /// `prepare_commit_graph`), but not when history is rewritten, nor with
    /// `core.commitGraph=false`.
    pub fn commit_graph(&self) -> Option<&CommitGraphFile> {
        self.commit_graph
            .get_or_init(|| {
                let enabled = self
                    .libgit2
                    .config()
                    .and_then(|config| config.get_bool("core.commitGraph"))
                    .unwrap_or(true);
                if !enabled || !self.rewrites.is_empty() {
                    return None;
                }
                self.object_dirs.all().find_map(CommitGraphFile::open)
            })
            .as_ref()
    }

    /// Refuse a shallow clone (`shallow`, or `$GIT_SHALLOW_FILE`, lists commits whose
    /// parents are cut off): its history is truncated, so any order derived from it
    /// would be wrong.
    ///
    /// # Errors
    ///
    /// [`Error::Shallow`].
    pub fn require_complete(&self) -> Result<(), Error> {
        // git's `is_repository_shallow`: `$GIT_SHALLOW_FILE` in place of `shallow`,
        // shallow when it lists anything.
        let listed = std::fs::metadata(&self.shallow_file).is_ok_and(|m| m.len() > 0);
        if listed {
            return Err(Error::Shallow {
                git_dir: self.git_dir.clone(),
            });
        }
        Ok(())
    }

    /// Resolve the tip to a commit id, annotated tags peeled (with replace refs
    /// applied) as `git log` peels them. `Ok(None)` means `HEAD` is unborn: the
    /// repository has no commits yet, and `git log` prints nothing.
    ///
    /// # Errors
    ///
    /// [`Error::BadRevision`] for a revision that names no commit (also for a `HEAD`
    /// at a tree or blob, where `git log` silently lists nothing), [`Error::Git`]
    /// when `HEAD` cannot be read.
    pub fn resolve(&self, tip: &Tip) -> Result<Option<Oid>, Error> {
        let (spec, named) = match tip {
            Tip::Head => match self
                .libgit2
                .head()
                .and_then(|reference| reference.resolve())
            {
                Ok(reference) => match reference.target() {
                    Some(oid) => ("HEAD", oid),
                    None => {
                        return Err(self.bad_revision("HEAD", "HEAD does not point at a commit"))
                    }
                },
                Err(error)
                    if error.code() == ErrorCode::UnbornBranch
                        || (error.code() == ErrorCode::NotFound
                            && error.class() == ErrorClass::Reference) =>
                {
                    return Ok(None)
                }
                Err(error) => {
                    return Err(Error::Git {
                        git_dir: self.git_dir.clone(),
                        action: "reading HEAD",
                        source: error,
                    })
                }
            },
            // libgit2 follows its own idea of parents (no replace refs, no grafts
            // file but `info/grafts`, and only when it can parse it).
            Tip::Rev(spec) if self.rewrites_history() && walks_parents(spec) => {
                return Err(self.bad_revision(
                    spec,
                    "replace refs or grafts rewrite this repository's history, and `~` or \
                     `^` would not follow them here; name the commit itself (its id, a \
                     branch or a tag)",
                ))
            }
            Tip::Rev(spec) => match self.libgit2.revparse_single(spec) {
                Ok(object) => (spec.as_str(), object.id()),
                Err(error) => return Err(self.bad_revision(spec, error.message())),
            },
        };
        self.peel_to_commit(spec, named).map(Some)
    }

    /// `oid` with annotated tags peeled off, as git's `deref_tag`. A missing object
    /// is returned as it is, for the walk to report as a missing commit.
    fn peel_to_commit(&self, spec: &str, oid: Oid) -> Result<Oid, Error> {
        let odb = self.libgit2.odb().map_err(|source| Error::Git {
            git_dir: self.git_dir.clone(),
            action: "opening the object database",
            source,
        })?;
        let mut current = oid;
        for _ in 0..MAX_TAG_CHAIN {
            let actual = self
                .rewrites
                .object(current)
                .ok_or_else(|| Error::ReplaceDepth {
                    git_dir: self.git_dir.clone(),
                    oid: current,
                })?;
            let Ok((_, kind)) = odb.read_header(actual) else {
                return Ok(current);
            };
            match kind {
                git2::ObjectType::Commit => return Ok(current),
                git2::ObjectType::Tag => {
                    let object = odb.read(actual).map_err(|error| Error::Corrupt {
                        git_dir: self.git_dir.clone(),
                        kind: ObjectKind::Tag,
                        oid: actual,
                        detail: error.message().to_owned(),
                    })?;
                    current =
                        tag::parse_target(object.data()).map_err(|detail| Error::Corrupt {
                            git_dir: self.git_dir.clone(),
                            kind: ObjectKind::Tag,
                            oid: actual,
                            detail: detail.to_owned(),
                        })?;
                }
                other => {
                    return Err(self.bad_revision(
                        spec,
                        &format!(
                            "it names {} {current}, not a commit (git log lists no history there)",
                            match other {
                                git2::ObjectType::Tree => "a tree",
                                git2::ObjectType::Blob => "a blob",
                                _ => "an object",
                            }
                        ),
                    ))
                }
            }
        }
        Err(self.bad_revision(spec, "annotated tags nested too deeply"))
    }

    fn bad_revision(&self, spec: &str, detail: &str) -> Error {
        Error::BadRevision {
            git_dir: self.git_dir.clone(),
            spec: spec.to_owned(),
            detail: detail.to_owned(),
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

/// Whether revision `spec` moves to parents (`~`, `^` and `^<n>`; a `^{...}` peel or
/// `@{...}` reflog entry does not) or searches history (`:/text`).
fn walks_parents(spec: &str) -> bool {
    let mut rest = spec;
    while let Some(at) = rest.find(['~', '^', ':']) {
        let after = &rest[at + 1..];
        match rest.as_bytes()[at] {
            b'^' if after.starts_with('{') => {
                rest = after.find('}').map_or("", |close| &after[close + 1..]);
            }
            b':' if !after.starts_with('/') => return false,
            _ => return true,
        }
    }
    false
}

/// libgit2 (1.9) parses `info/grafts` (and `shallow`) when it opens a repository,
/// and refuses the whole repository over any line that is not `<id> <id>...`:
/// comments, blank lines, tabs, CRLF, all of which git accepts. This crate reads
/// grafts itself ([`Rewrites`]), so when `open_ext` fails over them (`error`), the
/// repository is opened as libgit2 opens a bare one, which reads no grafts, and what
/// `open_ext` adds to that is done here: finding the repository (from `start`,
/// searching below `ceilings`, or at `start` itself when `ceilings` is `None`), its
/// working tree and the ownership check.
fn past_grafts(
    error: git2::Error,
    start: &Path,
    ceilings: Option<&[PathBuf]>,
) -> Result<git2::Repository, git2::Error> {
    if !error.message().contains("OID at line") {
        return Err(error);
    }
    let (git_dir, found_in) = match ceilings {
        Some(ceilings) => (
            git2::Repository::discover_path(start, ceilings)?,
            enclosing_dot_git(start),
        ),
        None => (
            gitfile_target(start).unwrap_or_else(|| start.to_path_buf()),
            None,
        ),
    };
    let repo = git2::Repository::open_bare(&git_dir).or_else(|_| {
        // $GIT_DIR may name the top of a working tree, as `open_ext` accepts.
        git2::Repository::open_bare(git_dir.join(".git"))
    })?;
    let gitlink = found_in
        .as_deref()
        .map(|dir| dir.join(".git"))
        .filter(|dot_git| dot_git.is_file());
    if let Some(work_tree) = libgit2_work_tree(&repo, found_in.as_deref())? {
        repo.set_workdir(&work_tree, false)?;
    }
    if !ownership::is_safe(&repo, gitlink.as_deref()) {
        return Err(git2::Error::new(
            ErrorCode::Owner,
            ErrorClass::Config,
            "repository path is not owned by current user",
        ));
    }
    Ok(repo)
}

/// The directory at or above `start` that holds the `.git` (directory or file)
/// libgit2's search stops at.
fn enclosing_dot_git(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

/// Where a `.git` file (`gitdir: <path>`) at `path` points, relative paths read from
/// its directory.
fn gitfile_target(path: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(path).ok()?;
    let target = text.strip_prefix("gitdir:")?.trim();
    Some(path.parent().unwrap_or(Path::new(".")).join(target))
}

/// The working tree libgit2's `open_ext` gives the repository `repo` (opened bare):
/// none for `core.bare`; a linked worktree's from its `gitdir` file; else
/// `core.worktree` (relative to the git directory); else the directory holding the
/// `.git` found (`found_in`); else the git directory's parent.
fn libgit2_work_tree(
    repo: &git2::Repository,
    found_in: Option<&Path>,
) -> Result<Option<PathBuf>, git2::Error> {
    let git_dir = repo.path();
    let is_worktree = repo.commondir() != git_dir && git_dir.join("gitdir").is_file();
    if is_worktree {
        let link = std::fs::read_to_string(git_dir.join("gitdir"))
            .map_err(|error| git2::Error::from_str(&error.to_string()))?;
        return Ok(Path::new(link.trim()).parent().map(Path::to_path_buf));
    }
    let config = repo.config()?;
    if config.get_bool("core.bare").unwrap_or(false) {
        return Ok(None);
    }
    if let Ok(value) = config.get_path("core.worktree") {
        return Ok(Some(git_dir.join(value)));
    }
    Ok(Some(match found_in {
        Some(dir) => dir.to_path_buf(),
        None => git_dir.parent().unwrap_or(git_dir).to_path_buf(),
    }))
}

/// libgit2's check that a repository belongs to the user running this process
/// (`validate_ownership`), for repositories opened past their grafts file.
mod ownership {
    use std::path::Path;

    /// Whether the working tree, the `.git` file (if any) and the git directory all
    /// belong to the current user (or to root, or to the user running `sudo`), or
    /// `safe.directory` allows the repository.
    pub(super) fn is_safe(repo: &git2::Repository, gitlink: Option<&Path>) -> bool {
        let work_tree = repo.workdir();
        let paths = work_tree.into_iter().chain(gitlink).chain([repo.path()]);
        if paths.into_iter().all(owned_by_user) {
            return true;
        }
        allowed(work_tree.unwrap_or(repo.path()))
    }

    /// `safe.directory` in the system and global configuration: `*`, or the path
    /// itself; an empty value resets the list.
    fn allowed(path: &Path) -> bool {
        let Ok(config) = git2::Config::open_default() else {
            return false;
        };
        let key = path.to_string_lossy();
        let key = key.trim_end_matches('/');
        let mut safe = false;
        if let Ok(mut entries) = config.multivar("safe.directory", None) {
            while let Some(Ok(entry)) = entries.next() {
                let value = entry.value().unwrap_or("");
                let value = value
                    .strip_prefix("%(prefix)/")
                    .filter(|v| v.starts_with('/'))
                    .unwrap_or(value);
                if value.is_empty() {
                    safe = false;
                } else if value == "*" || (!value.ends_with('/') && value == key) {
                    safe = true;
                }
            }
        }
        safe
    }

    #[cfg(unix)]
    fn owned_by_user(path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(metadata) = std::fs::symlink_metadata(path) else {
            // libgit2 counts a path that does not exist as safe.
            return true;
        };
        let owner = metadata.uid();
        // SAFETY: geteuid has no preconditions and cannot fail.
        #[allow(unsafe_code)]
        let user = unsafe { libc::geteuid() };
        let sudo_user = std::env::var("SUDO_UID")
            .ok()
            .and_then(|uid| uid.parse::<u32>().ok());
        owner == user || owner == 0 || (user == 0 && sudo_user == Some(owner))
    }

    /// libgit2 compares Windows security identifiers here; this rare path leaves
    /// that to the filesystem's own permissions.
    #[cfg(not(unix))]
    fn owned_by_user(_path: &Path) -> bool {
        true
    }
}

/// Refuse a `$GIT_COMMON_DIR` that is not the repository's own common directory:
/// git would then take some files (refs, objects, configuration) from one directory
/// and the rest from the other, which libgit2 cannot reproduce.
fn check_common_dir(
    env: &Environment,
    base: &Path,
    git_dir: &Path,
    common_dir: &Path,
) -> Result<(), Error> {
    let Some(value) = non_empty(env.common_dir.as_deref()) else {
        return Ok(());
    };
    let wanted = resolve(base, value).canonicalize();
    if wanted.is_ok() && wanted.ok() == common_dir.canonicalize().ok() {
        return Ok(());
    }
    Err(Error::UnsupportedEnvironment {
        variable: "GIT_COMMON_DIR",
        value: value.to_string_lossy().into_owned(),
        detail: format!(
            "the repository {} has {} as its common directory; a repository split across \
             two directories this way is not supported. Unset GIT_COMMON_DIR (a linked \
             worktree names its common directory itself)",
            git_dir.display(),
            common_dir.display()
        ),
    })
}

/// A boolean configuration value, `None` when unset.
fn config_bool(
    config: &git2::Config,
    key: &'static str,
    git_dir: &Path,
) -> Result<Option<bool>, Error> {
    match config.get_bool(key) {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.code() == ErrorCode::NotFound => Ok(None),
        Err(_) => Err(Error::BadConfig {
            git_dir: git_dir.to_path_buf(),
            key,
            value: config.get_string(key).unwrap_or_default(),
        }),
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

#[cfg(test)]
mod tests {
    use super::walks_parents;

    #[test]
    fn revisions_that_walk_parents() {
        for spec in [
            "HEAD~",
            "HEAD~3",
            "main^",
            "main^2",
            "v1^{commit}~1",
            ":/fix",
            "@~1",
        ] {
            assert!(walks_parents(spec), "{spec}");
        }
        for spec in [
            "main",
            "v1",
            "v1^{commit}",
            "v1^{}",
            "@{-1}",
            "main@{1}",
            "0123abc",
            "HEAD:v",
        ] {
            assert!(!walks_parents(spec), "{spec}");
        }
    }
}
