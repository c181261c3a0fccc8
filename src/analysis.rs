//! One request end to end: find the repository, walk its history once for every
//! versions directory asked about, read the migration files, build each chain.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use git2::Oid;
use thiserror::Error;

use crate::cache::{self, CacheMode, CachedCommit, CachedFile, DirCache, FirstAddIndex, Stamp};
use crate::chain::{self, Chain, ChainError, Migration};
use crate::history::{self, CommitAdds, CommitGraph, FirstAdd, HistoryError, Tip};
use crate::parser::{DownRevision, PyVersion};
use crate::pins::{self, PinError, PinSet, PinnedBuildError};
use crate::versions::{self, Declared, Fallback, VersionsError, WorkTree};

/// Errors of an analysis, by the stage that failed.
#[derive(Debug, Error)]
pub enum AnalysisError {
    /// Reading git history failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// Reading a versions directory or a migration file failed.
    #[error(transparent)]
    Versions(#[from] VersionsError),
    /// The migrations of a directory cannot be chained.
    #[error("{dir}: {source}")]
    Chain {
        /// The versions directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: ChainError,
    },
    /// A pin file is malformed, or the migrations contradict it.
    #[error(transparent)]
    Pins(Box<PinError>),
}

/// What to analyse.
#[derive(Debug, Clone)]
pub struct Request {
    /// Versions directories, as the user gave them.
    pub dirs: Vec<PathBuf>,
    /// The interpreter whose syntax the files must parse under.
    pub python: PyVersion,
    /// Worker threads for the history walk and the parser.
    pub threads: usize,
    /// Where the persistent cache lives.
    pub cache: CacheMode,
}

/// The analysis of one versions directory.
#[derive(Debug, Clone)]
pub struct DirAnalysis {
    /// The directory, as given.
    pub dir: PathBuf,
    /// Its migrations, sorted by `(git_sequence, filename)`.
    pub files: Vec<Migration>,
    /// The commit that first added each file (aligned with `files`), if any.
    pub first_add_commits: Vec<Option<Oid>>,
    /// The derived chain.
    pub chain: Chain,
}

/// Phase timings on stderr when `ALEMBIC_GIT_REVISIONS_TRACE` is set.
struct Trace {
    last: Option<std::cell::Cell<std::time::Instant>>,
}

impl Trace {
    fn new() -> Self {
        let on = std::env::var_os("ALEMBIC_GIT_REVISIONS_TRACE").is_some();
        Trace {
            last: on.then(|| std::cell::Cell::new(std::time::Instant::now())),
        }
    }

    fn step(&self, what: &str) {
        if let Some(last) = &self.last {
            let now = std::time::Instant::now();
            eprintln!(
                "alembic-git-revisions: {what}: {:.1} ms",
                (now - last.get()).as_secs_f64() * 1e3
            );
            last.set(now);
        }
    }
}

/// The git history of one repository, reduced to per-commit `.py` adds.
pub struct RepoHistory {
    /// Commit ids in log order (oldest first).
    pub commits: Vec<Oid>,
    /// The `.py` basenames each commit adds, aligned with `commits`.
    pub adds: CommitAdds,
}

impl RepoHistory {
    /// A repository with no commits yet.
    pub fn empty() -> Self {
        RepoHistory {
            commits: Vec::new(),
            adds: Vec::new(),
        }
    }
}

/// The directory git is run from for `versions_dir`: its parent, with symlinks
/// resolved so that a symlinked versions directory finds the repository it lives in.
///
/// A versions directory that does not exist (inside an existing parent) is looked
/// for from that parent, as `git -C <parent>` would.
pub fn git_start_dir(versions_dir: &Path) -> Result<PathBuf, AnalysisError> {
    let resolved = match versions_dir.canonicalize() {
        Ok(resolved) => resolved,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let parent = versions_dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let parent = parent
                .canonicalize()
                .map_err(|_| HistoryError::NotARepository {
                    path: versions_dir.to_path_buf(),
                })?;
            return Ok(parent);
        }
        Err(source) => {
            return Err(VersionsError::ListDir {
                path: versions_dir.to_path_buf(),
                source,
            }
            .into())
        }
    };
    Ok(resolved.parent().map(Path::to_path_buf).unwrap_or(resolved))
}

/// Walk the history of `repo` from `tip`: the reference's `git log` for it, with
/// every commit's `.py` adds. With a cache folder, known commits come from the
/// history cache and new ones are added to it.
pub fn walk(
    repo: &git2::Repository,
    tip: Option<Oid>,
    cache_folder: Option<&Path>,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<RepoHistory, HistoryError> {
    let Some(tip_oid) = tip else {
        return Ok(RepoHistory::empty());
    };
    let trace = Trace::new();
    let history_file = cache_folder.map(cache::history_path);
    let mut cached = history_file
        .as_deref()
        .map(cache::load_history)
        .unwrap_or_default();
    trace.step("load history cache");
    let graph: CommitGraph = history::load_graph(repo, tip_oid, &cached, interrupted)?;
    trace.step("load commit graph");
    let order = graph.log_order(repo.path())?;
    trace.step("topological order");
    let adds = history::commit_adds(repo, &graph, &order, &cached, threads, interrupted)?;
    trace.step("tree comparisons");
    if let Some(path) = history_file {
        let before = cached.len();
        for (position, &node) in order.iter().enumerate() {
            let node = node as usize;
            cached
                .entry(graph.ids[node])
                .or_insert_with(|| CachedCommit {
                    tree: graph.trees[node],
                    parents: graph.parents[node]
                        .iter()
                        .map(|&p| graph.ids[p as usize])
                        .collect(),
                    adds: adds[position].clone(),
                });
        }
        if cached.len() != before {
            cache::save_history(&path, &cached);
        }
    }
    let commits = order.iter().map(|&node| graph.ids[node as usize]).collect();
    trace.step("save history cache");
    Ok(RepoHistory { commits, adds })
}

/// Where each file name was first added: log position, index in the commit, commit.
pub type FoundAdds = HashMap<Vec<u8>, (FirstAdd, Oid)>;

/// The first add of every `.py` basename in `history` (the reference's keep-first
/// deduplication of the whole `--name-only` stream).
pub fn index_from_history(history: &RepoHistory, head: Option<Oid>) -> FirstAddIndex {
    let mut firsts = HashMap::new();
    for (position, (commit, adds)) in history.commits.iter().zip(&history.adds).enumerate() {
        for (at, name) in adds.iter().enumerate() {
            firsts
                .entry(name.clone())
                .or_insert((position as u32, at as u32, *commit));
        }
    }
    FirstAddIndex {
        head,
        log_len: history.commits.len() as u32,
        firsts,
    }
}

/// First adds of `names` from an index.
pub fn found_in_index(index: &FirstAddIndex, names: &[OsString]) -> FoundAdds {
    names
        .iter()
        .filter_map(|name| {
            let bytes = name.as_encoded_bytes();
            index.firsts.get(bytes).map(|&(position, at, oid)| {
                (
                    bytes.to_vec(),
                    (
                        FirstAdd {
                            position,
                            index: at,
                        },
                        oid,
                    ),
                )
            })
        })
        .collect()
}

/// First-add indexes computed in this process, by repository and `HEAD`: a process
/// that asks about its versions directories one call at a time (Alembic loading each
/// directory's migrations) walks the history once, with or without the persistent
/// cache. A `HEAD` fixes the history, unless it is rewritten (replace refs, grafts),
/// in which case nothing is remembered.
static PROCESS_INDEXES: Mutex<Vec<(PathBuf, Oid, Arc<FirstAddIndex>)>> = Mutex::new(Vec::new());

/// Indexes remembered at most (one per repository and `HEAD` seen).
const PROCESS_INDEX_LIMIT: usize = 8;

fn remembered_index(
    repo: &git2::Repository,
    head: Option<Oid>,
    compute: impl FnOnce() -> Result<FirstAddIndex, HistoryError>,
) -> Result<Arc<FirstAddIndex>, HistoryError> {
    let Some(head) = head else {
        return compute().map(Arc::new);
    };
    if history::has_replacements(repo) {
        return compute().map(Arc::new);
    }
    let key = repo.commondir().to_path_buf();
    if let Ok(known) = PROCESS_INDEXES.lock() {
        if let Some((_, _, index)) = known
            .iter()
            .find(|(dir, oid, _)| *dir == key && *oid == head)
        {
            return Ok(Arc::clone(index));
        }
    }
    let index = Arc::new(compute()?);
    if let Ok(mut known) = PROCESS_INDEXES.lock() {
        if known.len() >= PROCESS_INDEX_LIMIT {
            known.remove(0);
        }
        known.push((key, head, Arc::clone(&index)));
    }
    Ok(index)
}

/// Commits a `HEAD` may move forward by and still be answered from the saved index.
const LINEAR_EXTENSION_LIMIT: usize = 1000;

/// The first-add index of `repo` at `head`: from the cache when it describes this
/// `HEAD`, extended when `HEAD` only moved forward through single-parent commits, and
/// otherwise from a full history walk (which itself reuses the history cache).
pub fn first_add_index(
    repo: &git2::Repository,
    head: Option<Oid>,
    cache_folder: Option<&Path>,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<FirstAddIndex, HistoryError> {
    let Some(head_oid) = head else {
        return Ok(FirstAddIndex::default());
    };
    let path = cache_folder.map(cache::first_adds_path);
    if let Some(mut index) = path.as_deref().and_then(cache::load_first_adds) {
        if index.head == head {
            return Ok(index);
        }
        if let Some(old) = index.head {
            if let Some(extension) =
                history::linear_extension(repo, old, head_oid, LINEAR_EXTENSION_LIMIT)?
            {
                for (offset, (commit, adds)) in extension.iter().enumerate() {
                    let position = index.log_len + offset as u32;
                    for (at, name) in adds.iter().enumerate() {
                        index
                            .firsts
                            .entry(name.clone())
                            .or_insert((position, at as u32, *commit));
                    }
                }
                index.log_len += extension.len() as u32;
                index.head = head;
                if let Some(path) = &path {
                    cache::save_first_adds(path, &index);
                }
                return Ok(index);
            }
        }
    }
    let history = walk(repo, head, cache_folder, threads, interrupted)?;
    let index = index_from_history(&history, head);
    if let Some(path) = &path {
        cache::save_first_adds(path, &index);
    }
    Ok(index)
}

/// Turn declared files plus their first adds into sorted migrations and a chain.
pub fn assemble(
    dir: &Path,
    declared: Vec<Declared>,
    found: &FoundAdds,
    pins: Option<&PinSet>,
) -> Result<DirAnalysis, AnalysisError> {
    // The reference's git_sequence is the index in the deduplicated add order of the
    // names that exist now; files never added share the next index.
    let mut ordered: Vec<(&[u8], FirstAdd, Oid)> = declared
        .iter()
        .filter_map(|d| {
            found
                .get(d.name.as_encoded_bytes())
                .map(|(add, oid)| (d.name.as_encoded_bytes(), *add, *oid))
        })
        .collect();
    ordered.sort_by_key(|(_, add, _)| *add);
    let sequence: HashMap<&[u8], (u32, Oid)> = ordered
        .iter()
        .enumerate()
        .map(|(index, (name, _, oid))| (*name, (index as u32, *oid)))
        .collect();
    let uncommitted = ordered.len() as u32;

    let mut rows: Vec<(Migration, Option<Oid>)> = declared
        .iter()
        .map(|d| {
            let hit = sequence.get(d.name.as_encoded_bytes()).copied();
            let (is_dynamic, parents) = match &d.down_revision {
                DownRevision::Dynamic => (true, Vec::new()),
                DownRevision::Static(parents) => (false, parents.clone()),
            };
            (
                Migration {
                    revision: d.revision.clone(),
                    filename: d.name.as_encoded_bytes().to_vec(),
                    git_sequence: hit.map_or(uncommitted, |(seq, _)| seq),
                    is_dynamic,
                    static_down_revisions: parents,
                },
                hit.map(|(_, oid)| oid),
            )
        })
        .collect();
    rows.sort_by_cached_key(|(m, _)| (m.git_sequence, chain::python_name_key(&m.filename)));
    let (files, first_add_commits): (Vec<Migration>, Vec<Option<Oid>>) = rows.into_iter().unzip();
    let chain = pins::build_chain(&files, pins).map_err(|error| match error {
        PinnedBuildError::Chain(source) => AnalysisError::Chain {
            dir: dir.to_path_buf(),
            source,
        },
        PinnedBuildError::Pins(source) => source.into(),
    })?;
    Ok(DirAnalysis {
        dir: dir.to_path_buf(),
        files,
        first_add_commits,
        chain,
    })
}

/// One directory's state before history is consulted.
struct DirPlan {
    dir: PathBuf,
    repo_key: PathBuf,
    head: Option<Oid>,
    cache_file: Option<PathBuf>,
    names: Vec<OsString>,
    stamps: Vec<Option<Stamp>>,
    cached: DirCache,
}

impl DirPlan {
    /// The cached declaration of `names[index]`, if its stamp is unchanged.
    fn cached_declaration(&self, index: usize) -> Option<&Declared> {
        let stamp = self.stamps[index]?;
        let name = &self.names[index];
        self.cached
            .files
            .iter()
            .find(|f| f.stamp == stamp && &f.declared.name == name)
            .map(|f| &f.declared)
    }

    /// Everything cached for exactly this `HEAD` and these files, if so.
    fn final_hit(&self) -> Option<(Vec<Declared>, FoundAdds)> {
        if self.head.is_none()
            || self.cached.head != self.head
            || self.cached.order.len() != self.names.len()
        {
            return None;
        }
        let by_name: HashMap<(&OsString, Stamp), &Declared> = self
            .cached
            .files
            .iter()
            .map(|f| ((&f.declared.name, f.stamp), &f.declared))
            .collect();
        let mut declared = Vec::with_capacity(self.names.len());
        for (name, stamp) in self.names.iter().zip(&self.stamps) {
            declared.push((*by_name.get(&(name, (*stamp)?))?).clone());
        }
        let order: HashMap<&OsString, &Option<(u32, u32, Oid)>> =
            self.cached.order.iter().map(|(n, hit)| (n, hit)).collect();
        let mut found = FoundAdds::new();
        for name in &self.names {
            if let Some((position, index, oid)) = order.get(name)? {
                found.insert(
                    name.as_encoded_bytes().to_vec(),
                    (
                        FirstAdd {
                            position: *position,
                            index: *index,
                        },
                        *oid,
                    ),
                );
            }
        }
        Some((declared, found))
    }
}

/// Analyse every directory of `request` from the working tree at `HEAD`, walking
/// each repository's history at most once however many directories it holds, and
/// not at all when the persistent cache already answers for this exact `HEAD`.
pub fn analyze(
    request: &Request,
    fallback: &dyn Fallback,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<DirAnalysis>, AnalysisError> {
    // Repository checks first: the reference consults git before it reads any file,
    // so a repository problem is what gets reported even when a file is bad too.
    let mut repos: HashMap<PathBuf, (git2::Repository, Option<Oid>, Option<PathBuf>)> =
        HashMap::new();
    let mut plans = Vec::with_capacity(request.dirs.len());
    for dir in &request.dirs {
        let start = git_start_dir(dir)?;
        let repo = history::discover(&start)?;
        let key = repo.path().to_path_buf();
        if !repos.contains_key(&key) {
            history::check_complete(&repo)?;
            let head = history::resolve_tip(&repo, &Tip::Head)?;
            let folder = if history::has_replacements(&repo) {
                None
            } else {
                request.cache.folder(repo.commondir())
            };
            repos.insert(key.clone(), (repo, head, folder));
        }
        let (_, head, folder) = &repos[&key];
        let names = versions::list_migration_names(dir)?;
        let stamps: Vec<Option<Stamp>> = names.iter().map(|n| Stamp::of(&dir.join(n))).collect();
        let cache_file = folder.as_ref().map(|f| {
            cache::dir_path(
                f,
                &start.join(dir.file_name().unwrap_or_default()),
                request.python,
            )
        });
        let cached = cache_file
            .as_deref()
            .map(cache::load_dir)
            .unwrap_or_default();
        plans.push(DirPlan {
            dir: dir.clone(),
            repo_key: key,
            head: *head,
            cache_file,
            names,
            stamps,
            cached,
        });
    }

    let mut indexes: HashMap<PathBuf, Arc<FirstAddIndex>> = HashMap::new();
    let mut results = Vec::with_capacity(plans.len());
    for plan in plans {
        let pins = crate::safety::pins_beside(&plan.dir)?;
        if let Some((declared, found)) = plan.final_hit() {
            results.push(assemble(&plan.dir, declared, &found, pins.as_ref())?);
            continue;
        }
        if !indexes.contains_key(&plan.repo_key) {
            let (repo, head, folder) = &repos[&plan.repo_key];
            let index = remembered_index(repo, *head, || {
                first_add_index(repo, *head, folder.as_deref(), request.threads, interrupted)
            })?;
            indexes.insert(plan.repo_key.clone(), index);
        }
        let index = indexes
            .get(&plan.repo_key)
            .ok_or(HistoryError::Interrupted)?;
        // Only files whose stamp changed go to the parser.
        let mut declared: Vec<Option<Declared>> = (0..plan.names.len())
            .map(|i| plan.cached_declaration(i).cloned())
            .collect();
        let missing: Vec<OsString> = plan
            .names
            .iter()
            .zip(&declared)
            .filter(|(_, d)| d.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        let parsed = versions::declare_all(
            &WorkTree { dir: &plan.dir },
            &missing,
            request.python,
            fallback,
            request.threads,
        )?;
        let mut parsed = parsed.into_iter();
        for slot in declared.iter_mut().filter(|d| d.is_none()) {
            *slot = parsed.next();
        }
        let declared: Vec<Declared> = declared.into_iter().flatten().collect();
        let found = found_in_index(index, &plan.names);
        if let Some(path) = &plan.cache_file {
            let files = declared
                .iter()
                .zip(&plan.stamps)
                .filter_map(|(d, stamp)| {
                    stamp.map(|stamp| CachedFile {
                        stamp,
                        declared: d.clone(),
                    })
                })
                .collect();
            let order = plan
                .names
                .iter()
                .map(|n| {
                    let hit = found
                        .get(n.as_encoded_bytes())
                        .map(|(add, oid)| (add.position, add.index, *oid));
                    (n.clone(), hit)
                })
                .collect();
            let all_stamped = plan.stamps.iter().all(Option::is_some);
            cache::save_dir(
                path,
                &DirCache {
                    head: if all_stamped { plan.head } else { None },
                    files,
                    order,
                },
            );
        }
        results.push(assemble(&plan.dir, declared, &found, pins.as_ref())?);
    }
    Ok(results)
}

/// Migration files read from a tree object instead of the working tree.
struct InMemory {
    label: PathBuf,
    files: HashMap<OsString, Vec<u8>>,
}

impl versions::FileSource for InMemory {
    fn read(&self, name: &OsString) -> Result<Vec<u8>, VersionsError> {
        self.files
            .get(name)
            .cloned()
            .ok_or_else(|| VersionsError::Read {
                path: self.label.join(name),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
    }

    fn display_path(&self, name: &OsString) -> PathBuf {
        self.label.join(name)
    }
}

/// Canonical form of `path`, resolving the deepest part that exists (the rest may
/// exist only in history).
fn canonical_prefix(path: &Path) -> Result<PathBuf, VersionsError> {
    let absolute = std::path::absolute(path).map_err(|source| VersionsError::ListDir {
        path: path.to_path_buf(),
        source,
    })?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(resolved) = existing.canonicalize() {
            let mut out = resolved;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Ok(out);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => {
                return Err(VersionsError::ListDir {
                    path: path.to_path_buf(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                })
            }
        }
    }
}

/// Analyse `dir` as it is at commit `rev`, from git objects alone (no checkout): the
/// files come from the tree at `rev`, the add order from the history up to `rev`.
pub fn analyze_at(
    dir: &Path,
    rev: &str,
    request: &Request,
    fallback: &dyn Fallback,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<DirAnalysis, AnalysisError> {
    let resolved = canonical_prefix(dir)?;
    let start = resolved
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| resolved.clone());
    let repo = history::discover(&canonical_prefix(&start)?)?;
    history::check_complete(&repo)?;
    let git_dir = repo.path().to_path_buf();
    let workdir = repo
        .workdir()
        .and_then(|w| w.canonicalize().ok())
        .ok_or_else(|| HistoryError::BadRevision {
            git_dir: git_dir.clone(),
            spec: rev.to_owned(),
            detail: "the repository has no working tree to locate the versions directory in".into(),
        })?;
    let relative = resolved
        .strip_prefix(&workdir)
        .map_err(|_| HistoryError::BadRevision {
            git_dir: git_dir.clone(),
            spec: rev.to_owned(),
            detail: format!(
                "{} is outside the working tree {}",
                resolved.display(),
                workdir.display()
            ),
        })?;
    let tip = history::resolve_tip(&repo, &Tip::Rev(rev.to_owned()))?;
    let label = PathBuf::from(format!("{rev}:{}", relative.display()));
    let bad = |detail: String| HistoryError::BadRevision {
        git_dir: git_dir.clone(),
        spec: rev.to_owned(),
        detail,
    };
    let mut files = HashMap::new();
    let mut pins = None;
    if let Some(tip_oid) = tip {
        let commit = repo
            .find_commit(tip_oid)
            .map_err(|e| bad(e.message().to_owned()))?;
        let root = commit.tree().map_err(|e| bad(e.message().to_owned()))?;
        pins = crate::safety::pins_in_tree(&repo, &root, relative, rev)?;
        // A directory that does not exist yet at `rev` holds no migrations there.
        let tree = if relative.as_os_str().is_empty() {
            Some(root)
        } else {
            match root.get_path(relative) {
                Err(error) if error.code() == git2::ErrorCode::NotFound => None,
                Err(error) => return Err(bad(error.message().to_owned()).into()),
                Ok(entry) => Some(
                    entry
                        .to_object(&repo)
                        .and_then(|object| object.peel_to_tree())
                        .map_err(|_| {
                            bad(format!(
                                "{} is not a directory at {rev}",
                                relative.display()
                            ))
                        })?,
                ),
            }
        };
        for entry in tree.iter().flat_map(|tree| tree.iter()) {
            let name = entry.name_bytes();
            if !name.ends_with(b".py") || name.starts_with(b"__init__") || name.starts_with(b".#") {
                continue;
            }
            let name = versions::name_from_bytes(name);
            let blob = entry
                .to_object(&repo)
                .and_then(|object| object.peel_to_blob())
                .map_err(|e| bad(format!("{}: {}", label.join(&name).display(), e.message())))?;
            files.insert(name, blob.content().to_vec());
        }
    }
    let mut names: Vec<OsString> = files.keys().cloned().collect();
    names.sort();
    let source = InMemory { label, files };
    let declared =
        versions::declare_all(&source, &names, request.python, fallback, request.threads)?;
    let folder = if history::has_replacements(&repo) {
        None
    } else {
        request.cache.folder(repo.commondir())
    };
    let history = walk(&repo, tip, folder.as_deref(), request.threads, interrupted)?;
    let found = found_in_index(&index_from_history(&history, tip), &names);
    assemble(dir, declared, &found, pins.as_ref())
}

/// Short id, author date (ISO 8601) and author name of each commit, for display.
pub fn describe_commits(
    dir: &Path,
    oids: &[String],
) -> Result<Vec<(String, String, String)>, AnalysisError> {
    let start = canonical_prefix(dir)?;
    let repo = history::discover(start.parent().unwrap_or(&start))?;
    let mut out = Vec::with_capacity(oids.len());
    for hex in oids {
        let described = Oid::from_str(hex)
            .ok()
            .and_then(|oid| repo.find_commit(oid).ok())
            .map(|commit| {
                let author = commit.author();
                let when = author.when();
                let seconds = when.seconds() + i64::from(when.offset_minutes()) * 60;
                (
                    hex.chars().take(10).collect(),
                    iso_date(seconds, when.offset_minutes()),
                    String::from_utf8_lossy(author.name_bytes()).into_owned(),
                )
            })
            .unwrap_or_else(|| (hex.chars().take(10).collect(), String::new(), String::new()));
        out.push(described);
    }
    Ok(out)
}

/// `YYYY-MM-DD HH:MM:SS +HHMM` from local seconds since the epoch and the offset.
fn iso_date(local_seconds: i64, offset_minutes: i32) -> String {
    let days = local_seconds.div_euclid(86_400);
    let secs = local_seconds.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let offset = offset_minutes.unsigned_abs();
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        offset / 60,
        offset % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_adds_keep_the_earliest() {
        let commits: Vec<Oid> = (1..=3u8)
            .map(|n| Oid::from_bytes(&[n; 20]).unwrap())
            .collect();
        let history = RepoHistory {
            commits: commits.clone(),
            adds: vec![
                vec![b"b.py".to_vec()],
                vec![b"a.py".to_vec(), b"b.py".to_vec()],
                vec![b"c.py".to_vec()],
            ],
        };
        let index = index_from_history(&history, Some(commits[2]));
        assert_eq!(index.log_len, 3);
        let found = found_in_index(&index, &["a.py".into(), "b.py".into(), "z.py".into()]);
        let at = |name: &str| found[name.as_bytes()];
        assert_eq!(
            at("b.py"),
            (
                FirstAdd {
                    position: 0,
                    index: 0
                },
                commits[0]
            )
        );
        assert_eq!(
            at("a.py"),
            (
                FirstAdd {
                    position: 1,
                    index: 0
                },
                commits[1]
            )
        );
        assert!(!found.contains_key(&b"z.py"[..]));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date(0, 0), "1970-01-01 00:00:00 +0000");
        assert_eq!(
            iso_date(1_700_000_000 + 3600, 60),
            "2023-11-14 23:13:20 +0100"
        );
        assert_eq!(iso_date(951_782_400, -330), "2000-02-29 00:00:00 -0530");
    }
}
