//! One request end to end: find each repository once, walk its history at most once
//! for every versions directory asked about (or not at all when the persistent
//! cache answers), read the migration files, build each chain.
//!
//! This is the only module that combines the layers: [`crate::git`] reads the
//! repository, [`crate::walk`] turns history into first adds, [`crate::migrations`]
//! reads the files and builds chains, and [`crate::store`] keeps what can be reused
//! between processes; the policy of when a cached fact applies lives here.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::Oid;
use thiserror::Error;

use crate::git::{self, describe, snapshot, Repository, Tip};
use crate::migrations::chain::{self, Chain, ChainError, Migration};
use crate::migrations::declaration::{self, Fallback, FileSource, InMemory, WorkTree};
use crate::migrations::listing::{self, name_from_bytes};
use crate::migrations::parser::{DownRevision, PyVersion};
use crate::migrations::{self, Declared};
use crate::parallel;
use crate::store::dirs::{CachedFile, DirCache};
use crate::store::{self, CacheMode, Stamp};
use crate::trace::Trace;
use crate::walk::{self, extend, memo, FirstAddIndex, FoundAdds, History, KnownCommits};

/// Commits a `HEAD` may move forward by and still be answered from the saved index.
const LINEAR_EXTENSION_LIMIT: usize = 1000;

/// Errors of an analysis, by the layer that failed.
#[derive(Debug, Error)]
pub enum AnalysisError {
    /// Reading the repository failed.
    #[error(transparent)]
    Git(git::Error),
    /// Reading a versions directory or a migration file failed.
    #[error(transparent)]
    Migrations(#[from] migrations::Error),
    /// The migrations of a directory cannot be chained.
    #[error("{dir}: {source}")]
    Chain {
        /// The versions directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: ChainError,
    },
    /// A count exceeds what the first-add index's 32-bit numbers hold.
    #[error("{what} exceed {}, more than this tool supports", u32::MAX)]
    TooLarge {
        /// What overflowed.
        what: &'static str,
    },
    /// The caller asked to stop (for example on Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// The operating system refused to start a worker thread.
    #[error("could not start a worker thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A bug: an invariant does not hold.
    #[error("{0}")]
    Internal(String),
}

impl From<git::Error> for AnalysisError {
    fn from(error: git::Error) -> Self {
        match error {
            git::Error::Interrupted => AnalysisError::Interrupted,
            other => AnalysisError::Git(other),
        }
    }
}

impl From<walk::Error> for AnalysisError {
    fn from(error: walk::Error) -> Self {
        match error {
            walk::Error::Git(error) => error.into(),
            walk::Error::Interrupted => AnalysisError::Interrupted,
            walk::Error::Spawn(error) => AnalysisError::Spawn(error),
            walk::Error::TooLarge { what } => AnalysisError::TooLarge { what },
            walk::Error::Internal(detail) => AnalysisError::Internal(detail),
        }
    }
}

impl From<parallel::Error<migrations::Error>> for AnalysisError {
    fn from(error: parallel::Error<migrations::Error>) -> Self {
        match error {
            parallel::Error::Task(error) => AnalysisError::Migrations(error),
            parallel::Error::Interrupted => AnalysisError::Interrupted,
            parallel::Error::Spawn(error) => AnalysisError::Spawn(error),
            lost @ parallel::Error::Lost { .. } => AnalysisError::Internal(lost.to_string()),
        }
    }
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

/// The directory git is run from for `versions_dir`: its parent, with symlinks
/// resolved so that a symlinked versions directory finds the repository it lives in.
///
/// A versions directory that does not exist (inside an existing parent) is looked
/// for from that parent, as `git -C <parent>` would.
///
/// # Errors
///
/// [`git::Error::NotARepository`] when not even the parent exists,
/// [`migrations::Error::ListDir`] when the directory cannot be resolved.
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
                .map_err(|_| git::Error::NotARepository {
                    path: versions_dir.to_path_buf(),
                })?;
            return Ok(parent);
        }
        Err(source) => {
            return Err(migrations::Error::ListDir {
                path: versions_dir.to_path_buf(),
                source,
            }
            .into())
        }
    };
    Ok(resolved.parent().map(Path::to_path_buf).unwrap_or(resolved))
}

/// The cache folder of `repo`, unless history is rewritten (facts keyed by commit
/// id do not hold then) or the cache is off.
fn cache_folder(repo: &Repository, mode: &CacheMode) -> Option<PathBuf> {
    if repo.rewrites_history() {
        return None;
    }
    mode.folder(repo.common_dir())
}

/// The history of `repo` from `tip`, reusing and growing the history cache of
/// `folder` (if any).
fn walk_history(
    repo: &Repository,
    tip: Option<Oid>,
    folder: Option<&Path>,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<History, AnalysisError> {
    let Some(folder) = folder.filter(|_| tip.is_some()) else {
        return Ok(walk::history::walk(repo, tip, None, threads, interrupted)?);
    };
    let trace = Trace::start();
    let path = store::history::path(folder);
    let mut known: KnownCommits = store::history::load(&path);
    let before = known.len();
    trace.step("load history cache");
    let history = walk::history::walk(repo, tip, Some(&mut known), threads, interrupted)?;
    if known.len() != before {
        store::history::save(&path, &known);
    }
    trace.step("save history cache");
    Ok(history)
}

/// The first-add index of `repo` at `head`: from the cache when it describes this
/// `HEAD`, extended when `HEAD` only moved forward through single-parent commits, and
/// otherwise from a full history walk (which itself reuses the history cache).
fn first_add_index(
    repo: &Repository,
    head: Option<Oid>,
    folder: Option<&Path>,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<FirstAddIndex, AnalysisError> {
    let Some(head_oid) = head else {
        return Ok(FirstAddIndex::default());
    };
    let path = folder.map(store::first_adds::path);
    if let Some(mut index) = path.as_deref().and_then(store::first_adds::load) {
        if index.head == head {
            return Ok(index);
        }
        if let Some(old) = index.head {
            if let Some(extension) =
                extend::linear_extension(repo, old, head_oid, LINEAR_EXTENSION_LIMIT)?
            {
                index.extend(
                    extension
                        .iter()
                        .map(|(commit, adds)| (*commit, adds.as_slice())),
                    head,
                )?;
                if let Some(path) = &path {
                    store::first_adds::save(path, &index);
                }
                return Ok(index);
            }
        }
    }
    let history = walk_history(repo, head, folder, threads, interrupted)?;
    let mut index = FirstAddIndex::default();
    index.extend(history.iter(), head)?;
    if let Some(path) = &path {
        store::first_adds::save(path, &index);
    }
    Ok(index)
}

/// Turn declared files plus their first adds into sorted migrations and a chain.
///
/// # Errors
///
/// [`AnalysisError::Chain`] when the migrations cannot be chained.
pub fn assemble(
    dir: &Path,
    declared: Vec<Declared>,
    found: &FoundAdds,
) -> Result<DirAnalysis, AnalysisError> {
    // The reference's git_sequence is the index in the deduplicated add order of the
    // names that exist now; files never added share the next index.
    let mut added: Vec<(usize, walk::FirstAdd)> = declared
        .iter()
        .enumerate()
        .filter_map(|(at, d)| found.get(d.name.as_encoded_bytes()).map(|add| (at, *add)))
        .collect();
    added.sort_by_key(|(_, add)| *add);
    let too_many = || AnalysisError::TooLarge {
        what: "migration files",
    };
    let mut sequence: Vec<Option<(u32, Oid)>> = vec![None; declared.len()];
    for (position, (at, add)) in added.iter().enumerate() {
        let position = u32::try_from(position).map_err(|_| too_many())?;
        sequence[*at] = Some((position, add.commit));
    }
    let never_added = u32::try_from(added.len()).map_err(|_| too_many())?;

    let mut rows: Vec<(Migration, Option<Oid>)> = declared
        .into_iter()
        .zip(sequence)
        .map(|(d, hit)| {
            let (is_dynamic, parents) = match d.down_revision {
                DownRevision::Dynamic => (true, Vec::new()),
                DownRevision::Static(parents) => (false, parents),
            };
            let migration = Migration {
                revision: d.revision,
                filename: d.name.into_encoded_bytes(),
                git_sequence: hit.map_or(never_added, |(position, _)| position),
                is_dynamic,
                static_down_revisions: parents,
            };
            (migration, hit.map(|(_, commit)| commit))
        })
        .collect();
    chain::sort_by_add_order(&mut rows, |(migration, _)| migration);
    let (files, first_add_commits): (Vec<Migration>, Vec<Option<Oid>>) = rows.into_iter().unzip();
    let chain = chain::build(&files).map_err(|source| AnalysisError::Chain {
        dir: dir.to_path_buf(),
        source,
    })?;
    Ok(DirAnalysis {
        dir: dir.to_path_buf(),
        files,
        first_add_commits,
        chain,
    })
}

/// One open repository of a request, with what is decided about it once.
struct RepoState {
    repo: Repository,
    head: Option<Oid>,
    cache: Option<PathBuf>,
    index: Option<Arc<FirstAddIndex>>,
}

impl RepoState {
    fn index(
        &mut self,
        request: &Request,
        interrupted: &(dyn Fn() -> bool + Sync),
    ) -> Result<Arc<FirstAddIndex>, AnalysisError> {
        if let Some(index) = &self.index {
            return Ok(Arc::clone(index));
        }
        let index = memo::remembered(&self.repo, self.head, || {
            first_add_index(
                &self.repo,
                self.head,
                self.cache.as_deref(),
                request.threads,
                interrupted,
            )
        })?;
        self.index = Some(Arc::clone(&index));
        Ok(index)
    }
}

/// One directory's state before history is consulted.
struct DirPlan {
    dir: PathBuf,
    repo_key: PathBuf,
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
    fn final_hit(&self, head: Option<Oid>) -> Option<(Vec<Declared>, FoundAdds)> {
        if head.is_none() || self.cached.head != head || self.cached.order.len() != self.names.len()
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
        let order: HashMap<&OsString, &Option<walk::FirstAdd>> =
            self.cached.order.iter().map(|(n, add)| (n, add)).collect();
        let mut found = FoundAdds::new();
        for name in &self.names {
            if let Some(add) = order.get(name)? {
                found.insert(name.as_encoded_bytes().to_vec(), *add);
            }
        }
        Some((declared, found))
    }

    /// Save what was computed for this directory.
    fn save(&self, head: Option<Oid>, declared: &[Declared], found: &FoundAdds) {
        let Some(path) = &self.cache_file else {
            return;
        };
        let files = declared
            .iter()
            .zip(&self.stamps)
            .filter_map(|(d, stamp)| {
                stamp.map(|stamp| CachedFile {
                    stamp,
                    declared: d.clone(),
                })
            })
            .collect();
        let order = self
            .names
            .iter()
            .map(|n| (n.clone(), found.get(n.as_encoded_bytes()).copied()))
            .collect();
        let all_stamped = self.stamps.iter().all(Option::is_some);
        store::dirs::save(
            path,
            &DirCache {
                head: if all_stamped { head } else { None },
                files,
                order,
            },
        );
    }
}

/// Analyse every directory of `request` from the working tree at `HEAD`, walking
/// each repository's history at most once however many directories it holds, and
/// not at all when the persistent cache already answers for this exact `HEAD`.
///
/// # Errors
///
/// The first failing directory's error, repository problems first (the reference
/// consults git before it reads any file).
pub fn analyze(
    request: &Request,
    fallback: &dyn Fallback,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<DirAnalysis>, AnalysisError> {
    let mut repos: HashMap<PathBuf, RepoState> = HashMap::new();
    let mut plans = Vec::with_capacity(request.dirs.len());
    for dir in &request.dirs {
        let start = git_start_dir(dir)?;
        let repo = Repository::discover(&start)?;
        let key = repo.git_dir().to_path_buf();
        if !repos.contains_key(&key) {
            repo.require_complete()?;
            let head = repo.resolve(&Tip::Head)?;
            let cache = cache_folder(&repo, &request.cache);
            repos.insert(
                key.clone(),
                RepoState {
                    repo,
                    head,
                    cache,
                    index: None,
                },
            );
        }
        let names = listing::list_migration_names(dir)?;
        let stamps: Vec<Option<Stamp>> = names.iter().map(|n| Stamp::of(&dir.join(n))).collect();
        let cache_file = repos[&key].cache.as_ref().map(|folder| {
            store::dirs::path(
                folder,
                &start.join(dir.file_name().unwrap_or_default()),
                request.python,
            )
        });
        let cached = cache_file
            .as_deref()
            .map(store::dirs::load)
            .unwrap_or_default();
        plans.push(DirPlan {
            dir: dir.clone(),
            repo_key: key,
            cache_file,
            names,
            stamps,
            cached,
        });
    }

    let mut results = Vec::with_capacity(plans.len());
    for plan in plans {
        let Some(state) = repos.get_mut(&plan.repo_key) else {
            return Err(AnalysisError::Internal(format!(
                "no repository opened for {}",
                plan.dir.display()
            )));
        };
        let head = state.head;
        if let Some((declared, found)) = plan.final_hit(head) {
            results.push(assemble(&plan.dir, declared, &found)?);
            continue;
        }
        let index = state.index(request, interrupted)?;
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
        let parsed = declaration::declare_all(
            &WorkTree { dir: &plan.dir },
            &missing,
            request.python,
            fallback,
            request.threads,
            interrupted,
        )?;
        let mut parsed = parsed.into_iter();
        for slot in declared.iter_mut().filter(|d| d.is_none()) {
            *slot = parsed.next();
        }
        let declared: Vec<Declared> = declared.into_iter().flatten().collect();
        let found = index.lookup(&plan.names);
        plan.save(head, &declared, &found);
        results.push(assemble(&plan.dir, declared, &found)?);
    }
    Ok(results)
}

/// Canonical form of `path`, resolving the deepest part that exists (the rest may
/// exist only in history).
fn canonical_prefix(path: &Path) -> Result<PathBuf, migrations::Error> {
    let absolute = std::path::absolute(path).map_err(|source| migrations::Error::ListDir {
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
                return Err(migrations::Error::ListDir {
                    path: path.to_path_buf(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                })
            }
        }
    }
}

/// Analyse `dir` as it is at commit `rev`, from git objects alone (no checkout): the
/// files come from the tree at `rev`, the add order from the history up to `rev`
/// (`git log ... <rev>`).
///
/// # Errors
///
/// As [`analyze`], plus [`git::Error::BadRevision`] for a `rev` that names no
/// commit and the errors of locating `dir` in the working tree.
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
        .map_or_else(|| resolved.clone(), Path::to_path_buf);
    let repo = Repository::discover(&canonical_prefix(&start)?)?;
    repo.require_complete()?;
    let relative = repo.relative_to_work_tree(&resolved)?;
    let tip = repo.resolve(&Tip::Rev(rev.to_owned()))?;
    let mut files = HashMap::new();
    if let Some(tip) = tip {
        // A directory that does not exist yet at `rev` holds no migrations there.
        let at = snapshot::files_at(&repo, tip, rev, &relative, listing::is_migration_name)?;
        for file in at.into_iter().flatten() {
            files.insert(name_from_bytes(&file.name), file.contents);
        }
    }
    let mut names: Vec<OsString> = files.keys().cloned().collect();
    names.sort();
    let source = InMemory {
        label: PathBuf::from(format!("{rev}:{}", relative.display())),
        files,
    };
    let declared = declaration::declare_all(
        &source as &dyn FileSource,
        &names,
        request.python,
        fallback,
        request.threads,
        interrupted,
    )?;
    let folder = cache_folder(&repo, &request.cache);
    let history = walk_history(&repo, tip, folder.as_deref(), request.threads, interrupted)?;
    let mut index = FirstAddIndex::default();
    index.extend(history.iter(), tip)?;
    assemble(dir, declared, &index.lookup(&names))
}

/// Describe commits (full hex ids) of the repository holding `dir`, for display.
///
/// # Errors
///
/// The repository cannot be found.
pub fn describe_commits(
    dir: &Path,
    ids: &[String],
) -> Result<Vec<describe::Description>, AnalysisError> {
    let start = canonical_prefix(dir)?;
    let repo = Repository::discover(start.parent().unwrap_or(&start))?;
    Ok(describe::describe(&repo, ids))
}
