//! Git history: which commit first added each file name, in the order of
//! `git log --reverse --diff-filter=A --no-renames --topo-order --format= --name-only`.
//!
//! Everything is read through libgit2 from the local object database; no `git`
//! binary is involved. Only commits and trees are read, never blobs, so a partial
//! clone made with `--filter=blob:none` works.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use git2::{ErrorClass, ErrorCode, ObjectType, Odb, Oid, Repository, RepositoryOpenFlags};
use thiserror::Error;

use crate::git::commitgraph::CommitGraphFile;
use crate::git::pack::{self, PackReader, PackSet};
use crate::git::topo::{self, TopoError};
use crate::store::CachedCommit;

/// Deepest tree nesting followed, as git's own `core.maxTreeDepth` default.
const MAX_TREE_DEPTH: usize = 4096;
/// Walk workers at most: each keeps its own object caches (see `pack`), so more
/// would cost memory for little gain on the memory-bound walk.
const MAX_WALK_WORKERS: usize = 8;
/// Commits handed to a worker at a time, at least: consecutive commits in log order
/// share most of their trees and delta bases, so long runs keep each worker's caches
/// warm (a quarter of the work per worker and batch measured 20% faster than 256).
const MIN_BATCH: usize = 256;
/// Stack for walk workers: tree recursion is bounded by `MAX_TREE_DEPTH`.
const WORKER_STACK_BYTES: usize = 64 << 20;

/// Errors of reading git history.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// No repository encloses the directory.
    #[error("{path} is not inside a git repository")]
    NotARepository {
        /// The directory the search started from.
        path: PathBuf,
    },
    /// `$GIT_DIR` is set but names no repository.
    #[error("GIT_DIR={git_dir} is not a git repository; unset GIT_DIR or point it at one")]
    BadGitDir {
        /// Where `$GIT_DIR` points (relative values taken from the versions directory's parent).
        git_dir: PathBuf,
    },
    /// The repository is a shallow clone: its history is truncated, so an order
    /// computed from it would be wrong.
    #[error(
        "{git_dir} is a shallow clone, so its history is incomplete and the migration \
         order cannot be derived from it. Fetch the full history (`git fetch --unshallow`, \
         or `fetch-depth: 0` in actions/checkout), or ship a revision_chain.json \
         generated from a full clone"
    )]
    Shallow {
        /// The repository's git directory.
        git_dir: PathBuf,
    },
    /// libgit2 refused the repository because another user owns it.
    #[error(
        "git refuses to read {path}: it is owned by another user. If you trust it, \
         run `git config --global --add safe.directory {path}`"
    )]
    NotOwned {
        /// The repository path.
        path: PathBuf,
    },
    /// The repository uses a format this build cannot read.
    #[error("{path}: unsupported repository format ({detail}); only SHA-1 repositories with files-based refs are supported")]
    UnsupportedFormat {
        /// The repository path.
        path: PathBuf,
        /// What libgit2 reported.
        detail: String,
    },
    /// An object that history needs is missing.
    #[error("{git_dir}: {kind} {oid} is missing from the object database{hint}")]
    MissingObject {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// `commit` or `tree`.
        kind: &'static str,
        /// The missing object's id.
        oid: Oid,
        /// Extra advice, for example for partial clones.
        hint: String,
    },
    /// An object could not be parsed.
    #[error("{git_dir}: {kind} {oid} is corrupt: {detail}")]
    Corrupt {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// `commit` or `tree`.
        kind: &'static str,
        /// The object's id.
        oid: Oid,
        /// What is wrong with it.
        detail: String,
    },
    /// A revision given by the user does not name a commit.
    #[error("{git_dir}: cannot resolve {spec:?} to a commit: {detail}")]
    BadRevision {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The revision as given.
        spec: String,
        /// What libgit2 reported.
        detail: String,
    },
    /// Any other libgit2 failure.
    #[error("{git_dir}: git error while {action}: {source}")]
    Git {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// What was being done.
        action: &'static str,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// The commit graph cannot be ordered.
    #[error("{git_dir}: {source}")]
    Topo {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The ordering failure.
        #[source]
        source: TopoError,
    },
    /// The caller asked to stop (for example on Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// The operating system refused to start a worker thread.
    #[error("could not start a worker thread")]
    ThreadSpawn,
}

/// Open the repository that `git` run with its working directory set to `dir`
/// would use: `$GIT_DIR` if set (relative to `dir`), else the nearest enclosing
/// repository, following a `.git` file to a linked worktree or submodule.
pub fn discover(dir: &Path) -> Result<Repository, HistoryError> {
    let result = match std::env::var_os("GIT_DIR") {
        Some(git_dir) if !git_dir.is_empty() => {
            let path = dir.join(&git_dir);
            return Repository::open_ext(&path, RepositoryOpenFlags::NO_SEARCH, &[] as &[&Path])
                .map_err(|error| match classify_open_error(&path, error) {
                    HistoryError::NotARepository { .. } => {
                        HistoryError::BadGitDir { git_dir: path }
                    }
                    other => other,
                });
        }
        _ => {
            let ceilings: Vec<PathBuf> = std::env::var_os("GIT_CEILING_DIRECTORIES")
                .map(|value| std::env::split_paths(&value).collect())
                .unwrap_or_default();
            Repository::open_ext(dir, RepositoryOpenFlags::empty(), &ceilings)
        }
    };
    result.map_err(|error| classify_open_error(dir, error))
}

fn classify_open_error(dir: &Path, error: git2::Error) -> HistoryError {
    let message = error.message().to_owned();
    let lower = message.to_ascii_lowercase();
    if error.code() == ErrorCode::Owner || lower.contains("not owned by current user") {
        return HistoryError::NotOwned {
            path: dir.to_path_buf(),
        };
    }
    if lower.contains("refstorage") || lower.contains("reftable") {
        return HistoryError::UnsupportedFormat {
            path: dir.to_path_buf(),
            detail: "it stores refs in the reftable format; convert it with \
                     `git refs migrate --ref-format=files`, or ship a revision_chain.json"
                .into(),
        };
    }
    if lower.contains("extension")
        || lower.contains("objectformat")
        || lower.contains("sha256")
        || lower.contains("reftable")
        || lower.contains("unsupported repository version")
    {
        return HistoryError::UnsupportedFormat {
            path: dir.to_path_buf(),
            detail: message,
        };
    }
    if error.code() == ErrorCode::NotFound {
        return HistoryError::NotARepository {
            path: dir.to_path_buf(),
        };
    }
    HistoryError::Git {
        git_dir: dir.to_path_buf(),
        action: "opening the repository",
        source: error,
    }
}

/// Which commit history is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tip {
    /// `HEAD`, as `git log` with no revision argument.
    Head,
    /// Any revision `git rev-parse` accepts (a tag, branch, commit id, `HEAD~3`...).
    Rev(String),
}

/// Resolve the tip to a commit id. `Ok(None)` means `HEAD` is unborn: the repository
/// has no commits yet, and `git log` prints nothing.
pub fn resolve_tip(repo: &Repository, tip: &Tip) -> Result<Option<Oid>, HistoryError> {
    let git_dir = repo.path().to_path_buf();
    match tip {
        // HEAD's target id is taken without reading the object, so that a missing or
        // damaged tip commit is reported by the walk, naming it.
        Tip::Head => match repo.head().and_then(|reference| reference.resolve()) {
            Ok(reference) => match reference.target() {
                Some(oid) => Ok(Some(oid)),
                None => Err(HistoryError::BadRevision {
                    git_dir,
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
            Err(error) => Err(HistoryError::Git {
                git_dir,
                action: "reading HEAD",
                source: error,
            }),
        },
        Tip::Rev(spec) => repo
            .revparse_single(spec)
            .and_then(|object| object.peel_to_commit())
            .map(|commit| Some(commit.id()))
            .map_err(|error| HistoryError::BadRevision {
                git_dir,
                spec: spec.clone(),
                detail: error.message().to_owned(),
            }),
    }
}

/// Refuse repositories whose history cannot be trusted as complete.
pub fn check_complete(repo: &Repository) -> Result<(), HistoryError> {
    if repo.is_shallow() {
        return Err(HistoryError::Shallow {
            git_dir: repo.path().to_path_buf(),
        });
    }
    Ok(())
}

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

    /// Commit node numbers, oldest first, as `git log --reverse --topo-order` lists them.
    pub fn log_order(&self, git_dir: &Path) -> Result<Vec<u32>, HistoryError> {
        if self.ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut order =
            topo::topo_order(&self.parents, Self::TIP).map_err(|source| HistoryError::Topo {
                git_dir: git_dir.to_path_buf(),
                source,
            })?;
        order.reverse();
        Ok(order)
    }
}

/// Does the repository rewrite history with replace refs (`refs/replace/*`) or a
/// grafts file? Cached facts keyed by commit id do not hold then.
pub fn has_replacements(repo: &Repository) -> bool {
    !replace_map(repo).is_empty() || !grafts(repo).is_empty()
}

fn commit_graph_enabled(repo: &Repository) -> bool {
    repo.config()
        .and_then(|config| config.get_bool("core.commitGraph"))
        .unwrap_or(true)
}

/// `info/grafts`: commits whose parents git log replaces, one
/// `<commit> <parent>...` line each.
fn grafts(repo: &Repository) -> HashMap<Oid, Vec<Oid>> {
    let mut map = HashMap::new();
    if std::env::var_os("GIT_NO_REPLACE_OBJECTS").is_some() {
        return map;
    }
    let Ok(text) = std::fs::read_to_string(repo.commondir().join("info").join("grafts")) else {
        return map;
    };
    for line in text.lines() {
        let mut ids = line
            .split_whitespace()
            .filter_map(|hex| Oid::from_str(hex).ok());
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(commit) = ids.next() {
            map.insert(commit, ids.collect());
        }
    }
    map
}

/// Replacement objects (`refs/replace/<oid>`), which git honours when it reads
/// commits and trees.
fn replace_map(repo: &Repository) -> HashMap<Oid, Oid> {
    let mut map = HashMap::new();
    if std::env::var_os("GIT_NO_REPLACE_OBJECTS").is_some() {
        return map;
    }
    if let Ok(references) = repo.references_glob("refs/replace/*") {
        for reference in references.flatten() {
            let name = reference.name_bytes();
            let Some(hex) = name.strip_prefix(b"refs/replace/") else {
                continue;
            };
            let (Ok(hex), Some(target)) = (std::str::from_utf8(hex), reference.target()) else {
                continue;
            };
            if let Ok(original) = Oid::from_str(hex) {
                map.insert(original, target);
            }
        }
    }
    map
}

/// Reads commits and trees from one object database, applying replace refs.
struct ObjectReader<'r> {
    odb: Odb<'r>,
    packs: RefCell<PackReader>,
    replace: &'r HashMap<Oid, Oid>,
    git_dir: &'r Path,
    partial_clone: bool,
}

impl<'r> ObjectReader<'r> {
    fn read(
        &self,
        oid: Oid,
        kind: &'static str,
        want: ObjectType,
    ) -> Result<Arc<Vec<u8>>, HistoryError> {
        let actual = self.replace.get(&oid).copied().unwrap_or(oid);
        let packed = self
            .packs
            .borrow_mut()
            .read(&actual)
            .map_err(|error| self.corrupt(kind, actual, &error.to_string()))?;
        if let Some((found, data)) = packed {
            let expected = match want {
                ObjectType::Commit => pack::Kind::Commit,
                _ => pack::Kind::Tree,
            };
            if found != expected {
                return Err(self.corrupt(
                    kind,
                    actual,
                    &format!("expected a {kind}, found a {found:?}"),
                ));
            }
            return Ok(data);
        }
        let object = self.odb.read(actual).map_err(|error| {
            if error.code() == ErrorCode::NotFound {
                HistoryError::MissingObject {
                    git_dir: self.git_dir.to_path_buf(),
                    kind,
                    oid: actual,
                    hint: if self.partial_clone {
                        ". This is a partial clone that omits trees or commits \
                         (e.g. --filter=tree:0); clone with --filter=blob:none or without a filter"
                            .into()
                    } else {
                        ". The repository is damaged; run `git fsck`".into()
                    },
                }
            } else {
                HistoryError::Corrupt {
                    git_dir: self.git_dir.to_path_buf(),
                    kind,
                    oid: actual,
                    detail: format!("{}; run `git fsck`", error.message()),
                }
            }
        })?;
        if object.kind() != want {
            return Err(self.corrupt(
                kind,
                actual,
                &format!("expected a {kind}, found {}", object.kind().str()),
            ));
        }
        Ok(Arc::new(object.data().to_vec()))
    }

    fn corrupt(&self, kind: &'static str, oid: Oid, detail: &str) -> HistoryError {
        HistoryError::Corrupt {
            git_dir: self.git_dir.to_path_buf(),
            kind,
            oid,
            detail: detail.to_owned(),
        }
    }

    /// Tree id and parent ids of a commit, from its header.
    fn commit(&self, oid: Oid) -> Result<(Oid, Vec<Oid>), HistoryError> {
        let data = self.read(oid, "commit", ObjectType::Commit)?;
        let mut tree = None;
        let mut parents = Vec::new();
        for line in data.split(|&b| b == b'\n') {
            if line.is_empty() {
                break;
            }
            if let Some(hex) = line.strip_prefix(b"tree ") {
                tree = Some(
                    parse_hex_oid(hex)
                        .ok_or_else(|| self.corrupt("commit", oid, "bad tree line"))?,
                );
            } else if let Some(hex) = line.strip_prefix(b"parent ") {
                parents.push(
                    parse_hex_oid(hex)
                        .ok_or_else(|| self.corrupt("commit", oid, "bad parent line"))?,
                );
            }
        }
        let tree = tree.ok_or_else(|| self.corrupt("commit", oid, "no tree line"))?;
        Ok((tree, parents))
    }

    fn tree(&self, oid: Oid) -> Result<Arc<Vec<u8>>, HistoryError> {
        self.read(oid, "tree", ObjectType::Tree)
    }
}

fn parse_hex_oid(hex: &[u8]) -> Option<Oid> {
    if hex.len() != 40 {
        return None;
    }
    Oid::from_str(std::str::from_utf8(hex).ok()?).ok()
}

/// One entry of a tree object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TreeEntry<'a> {
    mode: u32,
    name: &'a [u8],
    id: &'a [u8],
}

impl TreeEntry<'_> {
    fn is_tree(&self) -> bool {
        self.mode & 0o170000 == 0o040000
    }
}

/// Iterates raw tree bytes, `<octal mode> <name>\0<20-byte id>` repeated, without
/// allocating. A malformed entry ends the iteration and sets `malformed`.
struct TreeIter<'a> {
    rest: &'a [u8],
    malformed: bool,
}

impl<'a> TreeIter<'a> {
    fn new(data: &'a [u8]) -> Self {
        TreeIter {
            rest: data,
            malformed: false,
        }
    }

    fn parse_one(&mut self) -> Option<TreeEntry<'a>> {
        let data = self.rest;
        let space = data.iter().position(|&b| b == b' ')?;
        let mut mode = 0u32;
        for &digit in &data[..space] {
            if !(b'0'..=b'7').contains(&digit) {
                return None;
            }
            mode = mode.checked_mul(8)?.checked_add(u32::from(digit - b'0'))?;
        }
        let rest = &data[space + 1..];
        let nul = rest.iter().position(|&b| b == 0)?;
        let name = &rest[..nul];
        let id = rest.get(nul + 1..nul + 21)?;
        if name.is_empty() || space == 0 {
            return None;
        }
        self.rest = &rest[nul + 21..];
        Some(TreeEntry { mode, name, id })
    }
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = TreeEntry<'a>;

    fn next(&mut self) -> Option<TreeEntry<'a>> {
        if self.rest.is_empty() || self.malformed {
            return None;
        }
        let entry = self.parse_one();
        if entry.is_none() {
            self.malformed = true;
        }
        entry
    }
}

/// Parse a whole tree (used where all entries are needed at once).
#[cfg(test)]
fn parse_tree(data: &[u8]) -> Option<Vec<TreeEntry<'_>>> {
    let mut iter = TreeIter::new(data);
    let entries: Vec<TreeEntry<'_>> = iter.by_ref().collect();
    (!iter.malformed).then_some(entries)
}

/// A tree entry as `(mode, name, 20-byte id)`.
pub type RawTreeEntry<'a> = (u32, &'a [u8], &'a [u8]);

/// A raw tree object's entries as `(mode, name, 20-byte id)`, read as the walk reads
/// them, or `None` if an entry is malformed.
///
/// Public only so that the fuzz targets in `fuzz/` reach the tree reading of
/// [`commit_adds`] without a repository.
#[doc(hidden)]
#[must_use]
pub fn tree_entries(data: &[u8]) -> Option<Vec<RawTreeEntry<'_>>> {
    let mut iter = TreeIter::new(data);
    let entries = iter.by_ref().map(|e| (e.mode, e.name, e.id)).collect();
    (!iter.malformed).then_some(entries)
}

/// Byte length of the leading entries two raw trees share byte for byte: where the
/// walk starts comparing a tree with its parent's. Public for the fuzz targets only.
#[doc(hidden)]
#[must_use]
pub fn shared_tree_prefix(a: &[u8], b: &[u8]) -> usize {
    identical_prefix_entries(a, b)
}

/// git's `base_name_compare`: names compare bytewise, a tree as if it ended in `/`.
fn base_name_cmp(a: &TreeEntry, b: &TreeEntry) -> std::cmp::Ordering {
    let len = a.name.len().min(b.name.len());
    match a.name[..len].cmp(&b.name[..len]) {
        std::cmp::Ordering::Equal => {}
        other => return other,
    }
    let next = |entry: &TreeEntry| -> u8 {
        match entry.name.get(len) {
            Some(&byte) => byte,
            None if entry.is_tree() => b'/',
            None => 0,
        }
    };
    next(a).cmp(&next(b))
}

/// Load every commit reachable from `tip` (node 0), reading commit headers only.
///
/// Commits found in `cached` are taken from it instead of the object database.
pub fn load_graph(
    repo: &Repository,
    tip: Oid,
    cached: &HashMap<Oid, CachedCommit>,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<CommitGraph, HistoryError> {
    let replace = replace_map(repo);
    let grafted = grafts(repo);
    let packs = open_packs(repo)?;
    let reader = reader_for(repo, &replace, &packs)?;
    // git ignores the commit-graph when history is rewritten or it is switched off.
    let commit_graph = if replace.is_empty() && grafted.is_empty() && commit_graph_enabled(repo) {
        CommitGraphFile::open(&repo.commondir().join("objects"))
    } else {
        None
    };
    let mut graph = CommitGraph::default();
    let mut index: HashMap<Oid, u32> = HashMap::new();
    let mut pending_parents: Vec<Vec<Oid>> = Vec::new();
    index.insert(tip, 0);
    graph.ids.push(tip);
    let mut cursor = 0;
    while cursor < graph.ids.len() {
        let oid = graph.ids[cursor];
        if cursor % 4096 == 4095 && interrupted() {
            return Err(HistoryError::Interrupted);
        }
        let (tree, mut parents) = match cached.get(&oid) {
            Some(hit) => (hit.tree, hit.parents.clone()),
            None => match commit_graph.as_ref().and_then(|file| file.commit(&oid)) {
                Some(found) => found,
                None => reader.commit(oid)?,
            },
        };
        if let Some(graft) = grafted.get(&oid) {
            parents.clone_from(graft);
        }
        graph.trees.push(tree);
        for &parent in &parents {
            if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(parent) {
                slot.insert(graph.ids.len() as u32);
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

fn reader_for<'r>(
    repo: &'r Repository,
    replace: &'r HashMap<Oid, Oid>,
    packs: &Arc<PackSet>,
) -> Result<ObjectReader<'r>, HistoryError> {
    let odb = repo.odb().map_err(|source| HistoryError::Git {
        git_dir: repo.path().to_path_buf(),
        action: "opening the object database",
        source,
    })?;
    Ok(ObjectReader {
        odb,
        packs: RefCell::new(PackReader::new(Arc::clone(packs))),
        replace,
        git_dir: repo.path(),
        partial_clone: is_partial_clone(repo),
    })
}

/// Map the repository's pack files (shared by every worker).
fn open_packs(repo: &Repository) -> Result<Arc<PackSet>, HistoryError> {
    PackSet::open(&repo.commondir().join("objects")).map_err(|error| HistoryError::Corrupt {
        git_dir: repo.path().to_path_buf(),
        kind: "pack",
        oid: Oid::ZERO_SHA1,
        detail: error.to_string(),
    })
}

fn is_partial_clone(repo: &Repository) -> bool {
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

/// Would `git log` quote this path (with the default `core.quotePath`)?
fn git_would_quote(path: &[u8]) -> bool {
    path.iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f || b >= 0x80)
}

/// The basename the reference keeps from a `--name-only` line for this path, if any.
///
/// It strips the line, keeps it only if it ends in `.py`, and takes the final path
/// component. Paths git prints quoted never end in `.py` there; we keep them under
/// their real name instead (a documented difference).
pub fn py_basename(path: &[u8]) -> Option<&[u8]> {
    let line = if git_would_quote(path) {
        path
    } else {
        let start = path.iter().position(|&b| b != b' ').unwrap_or(path.len());
        let end = path
            .iter()
            .rposition(|&b| b != b' ')
            .map_or(start, |i| i + 1);
        &path[start..end]
    };
    if !line.ends_with(b".py") {
        return None;
    }
    let base = match line.iter().rposition(|&b| b == b'/') {
        Some(slash) => &line[slash + 1..],
        None => line,
    };
    (!base.is_empty()).then_some(base)
}

/// Collect, in git's output order, the `.py` basenames of the paths that
/// `git diff-tree -r --diff-filter=A --no-renames <old> <new>` reports as added.
///
/// Equal subtree ids are skipped without being read. A path that is a tree on one
/// side and not on the other is a delete plus an add, as in git's tree diff; a
/// blob/symlink/submodule type change at the same path is not an add.
fn added_py(
    reader: &ObjectReader<'_>,
    old: Option<Oid>,
    new: Oid,
    prefix: &mut Vec<u8>,
    out: &mut Vec<Vec<u8>>,
    depth: usize,
) -> Result<(), HistoryError> {
    if depth > MAX_TREE_DEPTH {
        return Err(reader.corrupt("tree", new, "trees nested deeper than core.maxTreeDepth"));
    }
    let new_data = reader.tree(new)?;
    let old_data = match old {
        Some(old) => Some(reader.tree(old)?),
        None => None,
    };
    let new_bytes: &[u8] = &new_data;
    let old_bytes: &[u8] = old_data.as_deref().map_or(&[][..], Vec::as_slice);
    // Entries lying wholly in the common byte prefix are identical on both sides and
    // cannot add anything: skip them without comparing. Large directories that gain
    // one file (a versions directory) are mostly prefix and suffix.
    let skip = if old_bytes.is_empty() {
        0
    } else {
        identical_prefix_entries(new_bytes, old_bytes)
    };
    let mut new_iter = TreeIter::new(&new_bytes[skip..]);
    let mut old_iter = TreeIter::new(old_bytes.get(skip..).unwrap_or(&[]));
    let mut old_rest = old_iter.rest;
    let mut old_next = old_iter.next();
    while let Some(entry) = new_iter.next() {
        let mut matched = None;
        while let Some(old_entry) = old_next {
            match base_name_cmp(&old_entry, &entry) {
                std::cmp::Ordering::Less => {
                    old_rest = old_iter.rest;
                    old_next = old_iter.next();
                }
                std::cmp::Ordering::Equal => {
                    matched = Some(old_entry);
                    old_rest = old_iter.rest;
                    old_next = old_iter.next();
                    break;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        let identical = matches!(matched, Some(o) if o.id == entry.id && o.mode == entry.mode);
        if identical {
            continue;
        }
        let base_len = prefix.len();
        prefix.extend_from_slice(entry.name);
        let result = match matched {
            Some(old_entry) if entry.is_tree() => {
                // Both sides are trees here: base_name_cmp only matches like with like.
                prefix.push(b'/');
                let old_oid = oid_of(reader, old, old_entry.id)?;
                let new_oid = oid_of(reader, Some(new), entry.id)?;
                added_py(reader, Some(old_oid), new_oid, prefix, out, depth + 1)
            }
            Some(_) => Ok(()),
            None if entry.is_tree() => {
                prefix.push(b'/');
                let new_oid = oid_of(reader, Some(new), entry.id)?;
                added_py(reader, None, new_oid, prefix, out, depth + 1)
            }
            None => {
                if let Some(base) = py_basename(prefix) {
                    out.push(base.to_vec());
                }
                Ok(())
            }
        };
        prefix.truncate(base_len);
        result?;
        // After a difference, the rest may be the common suffix: if the remaining
        // bytes match exactly (old_next included), nothing else can differ.
        if old.is_some() && new_iter.rest.len() == old_rest.len() && new_iter.rest == old_rest {
            return Ok(());
        }
    }
    // A malformed entry on either side would silently hide adds: refuse instead.
    if new_iter.malformed {
        return Err(reader.corrupt("tree", new, "malformed tree entries"));
    }
    while old_next.is_some() {
        old_next = old_iter.next();
    }
    if let (Some(old), true) = (old, old_iter.malformed) {
        return Err(reader.corrupt("tree", old, "malformed tree entries"));
    }
    Ok(())
}

/// Byte length of the leading entries that `a` and `b` share byte for byte.
fn identical_prefix_entries(a: &[u8], b: &[u8]) -> usize {
    let common = common_prefix_len(a, b);
    let mut iter = TreeIter::new(a);
    let mut boundary = 0;
    while iter.next().is_some() {
        let consumed = a.len() - iter.rest.len();
        if consumed > common {
            break;
        }
        boundary = consumed;
    }
    boundary
}

/// Length of the common prefix of two byte strings: whole blocks first (one
/// vectorised comparison each), then bytes.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let len = a.len().min(b.len());
    let mut at = 0;
    while at + BLOCK <= len && a[at..at + BLOCK] == b[at..at + BLOCK] {
        at += BLOCK;
    }
    while at < len && a[at] == b[at] {
        at += 1;
    }
    at
}

fn oid_of(reader: &ObjectReader<'_>, owner: Option<Oid>, id: &[u8]) -> Result<Oid, HistoryError> {
    Oid::from_bytes(id)
        .map_err(|_| reader.corrupt("tree", owner.unwrap_or(Oid::ZERO_SHA1), "bad entry id"))
}

/// The commits from `from` (exclusive) to `to` (inclusive), oldest first, with the
/// `.py` basenames each adds, when `to` descends from `from` through single-parent
/// commits only (at most `limit` of them). `None` otherwise.
///
/// For such a history `git log --reverse --topo-order` from `to` is the listing from
/// `from` followed by these commits: the walk from `to` pops each of them before
/// reaching `from`, then proceeds exactly as it would from `from`.
pub fn linear_extension(
    repo: &Repository,
    from: Oid,
    to: Oid,
    limit: usize,
) -> Result<Option<Vec<(Oid, PyAdds)>>, HistoryError> {
    if !grafts(repo).is_empty() {
        return Ok(None);
    }
    let replace = replace_map(repo);
    if !replace.is_empty() {
        return Ok(None);
    }
    let packs = open_packs(repo)?;
    let reader = reader_for(repo, &replace, &packs)?;
    let mut chain = Vec::new();
    let mut at = to;
    while at != from {
        if chain.len() >= limit {
            return Ok(None);
        }
        let (tree, parents) = reader.commit(at)?;
        let [parent] = parents.as_slice() else {
            return Ok(None);
        };
        chain.push((at, tree, *parent));
        at = *parent;
    }
    let mut out = Vec::with_capacity(chain.len());
    let mut prefix = Vec::new();
    for &(commit, tree, parent) in chain.iter().rev() {
        let (parent_tree, _) = reader.commit(parent)?;
        let mut adds = Vec::new();
        prefix.clear();
        added_py(&reader, Some(parent_tree), tree, &mut prefix, &mut adds, 0)?;
        out.push((commit, adds));
    }
    Ok(Some(out))
}

/// The `.py` basenames one commit adds, in git's order.
pub type PyAdds = Vec<Vec<u8>>;

/// Per-commit `.py` adds, indexed like the log order given to [`commit_adds`].
pub type CommitAdds = Vec<PyAdds>;

/// For each commit of `order`, the `.py` basenames it adds, as
/// `git log --diff-filter=A --no-renames --name-only` lists them: a root commit adds
/// its whole tree, a single-parent commit what its parent lacks, and a merge commit
/// nothing (git log shows no diff for merges by default).
///
/// `known` supplies results already computed (for example from a cache), by commit
/// id; the rest is computed on `threads` workers, each with its own repository handle.
/// `interrupted` is polled between batches.
pub fn commit_adds(
    repo: &Repository,
    graph: &CommitGraph,
    order: &[u32],
    known: &HashMap<Oid, CachedCommit>,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<CommitAdds, HistoryError> {
    let mut results: Vec<Option<Vec<Vec<u8>>>> = order
        .iter()
        .map(|&node| {
            known
                .get(&graph.ids[node as usize])
                .map(|hit| hit.adds.clone())
        })
        .collect();
    let todo: Vec<usize> = (0..order.len())
        .filter(|&position| {
            results[position].is_none() && graph.parents[order[position] as usize].len() <= 1
        })
        .collect();
    for (position, slot) in results.iter_mut().enumerate() {
        if slot.is_none() && graph.parents[order[position] as usize].len() > 1 {
            *slot = Some(Vec::new());
        }
    }
    if !todo.is_empty() {
        let git_dir = repo.path().to_path_buf();
        let replace = replace_map(repo);
        let packs = open_packs(repo)?;
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let failure: Mutex<Option<HistoryError>> = Mutex::new(None);
        let done: Mutex<Vec<(usize, Vec<Vec<u8>>)>> = Mutex::new(Vec::with_capacity(todo.len()));
        let workers = threads
            .clamp(1, MAX_WALK_WORKERS)
            .min(todo.len().div_ceil(MIN_BATCH).max(1));
        let batch = todo.len().div_ceil(workers * 4).max(MIN_BATCH);
        let work = |own_repo: Repository| {
            let outcome = (|| -> Result<(), HistoryError> {
                let reader = reader_for(&own_repo, &replace, &packs)?;
                let mut local = Vec::new();
                let mut prefix = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = next.fetch_add(batch, Ordering::Relaxed);
                    if start >= todo.len() {
                        break;
                    }
                    for &position in &todo[start..(start + batch).min(todo.len())] {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let node = order[position] as usize;
                        let old = graph.parents[node]
                            .first()
                            .map(|&p| graph.trees[p as usize]);
                        let mut adds = Vec::new();
                        prefix.clear();
                        added_py(&reader, old, graph.trees[node], &mut prefix, &mut adds, 0)?;
                        local.push((position, adds));
                    }
                }
                if let Ok(mut all) = done.lock() {
                    all.extend(local);
                }
                Ok(())
            })();
            if let Err(error) = outcome {
                stop.store(true, Ordering::Relaxed);
                if let Ok(mut slot) = failure.lock() {
                    slot.get_or_insert(error);
                }
            }
        };
        // A Repository is Send but not Sync: every worker opens its own, and this
        // thread only waits, polling for interruption.
        let mut repos = Vec::with_capacity(workers);
        for _ in 0..workers {
            repos.push(
                Repository::open(&git_dir).map_err(|source| HistoryError::Git {
                    git_dir: git_dir.clone(),
                    action: "opening the repository for a worker",
                    source,
                })?,
            );
        }
        std::thread::scope(|scope| {
            let mut handles = Vec::with_capacity(workers);
            for opened in repos {
                let work = &work;
                let spawned = std::thread::Builder::new()
                    .stack_size(WORKER_STACK_BYTES)
                    .spawn_scoped(scope, move || work(opened));
                match spawned {
                    Ok(handle) => handles.push(handle),
                    Err(_) => {
                        stop.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = failure.lock() {
                            slot.get_or_insert(HistoryError::ThreadSpawn);
                        }
                    }
                }
            }
            while handles.iter().any(|handle| !handle.is_finished()) {
                if interrupted() {
                    stop.store(true, Ordering::Relaxed);
                    if let Ok(mut slot) = failure.lock() {
                        slot.get_or_insert(HistoryError::Interrupted);
                    }
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        if let Some(error) = failure.into_inner().ok().flatten() {
            return Err(error);
        }
        for (position, adds) in done.into_inner().unwrap_or_default() {
            results[position] = Some(adds);
        }
    }
    results
        .into_iter()
        .map(|slot| slot.ok_or(HistoryError::Interrupted))
        .collect()
}

/// Where a file name was first added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FirstAdd {
    /// Position of the commit in log order (oldest first).
    pub position: u32,
    /// Index of the path among that commit's `.py` adds.
    pub index: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mode: u32, name: &str) -> TreeEntry<'_> {
        TreeEntry {
            mode,
            name: name.as_bytes(),
            id: &[0u8; 20],
        }
    }

    #[test]
    fn trees_sort_as_if_ending_in_slash() {
        use std::cmp::Ordering::*;
        assert_eq!(
            base_name_cmp(&entry(0o100644, "a.py"), &entry(0o040000, "a")),
            Less
        );
        assert_eq!(
            base_name_cmp(&entry(0o040000, "a"), &entry(0o100644, "a-b")),
            Greater
        );
        assert_eq!(
            base_name_cmp(&entry(0o100644, "a"), &entry(0o040000, "a")),
            Less
        );
        assert_eq!(
            base_name_cmp(&entry(0o100644, "a"), &entry(0o120000, "a")),
            Equal
        );
        assert_eq!(
            base_name_cmp(&entry(0o160000, "a"), &entry(0o100644, "a")),
            Equal
        );
    }

    #[test]
    fn basenames_follow_the_reference_line_filter() {
        assert_eq!(py_basename(b"a/b/c_x.py"), Some(&b"c_x.py"[..]));
        assert_eq!(py_basename(b"top.py"), Some(&b"top.py"[..]));
        assert_eq!(py_basename(b"a/b.txt"), None);
        assert_eq!(py_basename(b"x.pyc"), None);
        // The reference strips the line: a trailing space still counts as `.py`.
        assert_eq!(py_basename(b"x.py "), Some(&b"x.py"[..]));
        // Quoted by git: kept under the real name (a documented difference).
        assert_eq!(
            py_basename("d/\u{e9}t\u{e9}.py".as_bytes()),
            Some("\u{e9}t\u{e9}.py".as_bytes())
        );
        assert_eq!(py_basename(b"d/"), None);
    }

    #[test]
    fn tree_parsing_rejects_garbage() {
        let mut raw = b"100644 a.py\0".to_vec();
        raw.extend_from_slice(&[1u8; 20]);
        raw.extend_from_slice(b"40000 d\0");
        raw.extend_from_slice(&[2u8; 20]);
        let entries = parse_tree(&raw).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[1].is_tree());
        assert_eq!(parse_tree(b"100644 a.py\0short"), None);
        assert_eq!(parse_tree(b"10x644 a\0"), None);
        assert_eq!(parse_tree(b""), Some(Vec::new()));
    }
}
