//! One request end to end: find the repository, walk its history once for every
//! versions directory asked about, read the migration files, build each chain.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use git2::Oid;
use thiserror::Error;

use crate::cache::{self, CacheMode, CachedCommit, CachedFile, DirCache, Stamp};
use crate::chain::{self, Chain, ChainError, Migration};
use crate::history::{self, CommitAdds, CommitGraph, FirstAdd, HistoryError, Tip};
use crate::parser::{DownRevision, PyVersion};
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
pub fn git_start_dir(versions_dir: &Path) -> Result<PathBuf, VersionsError> {
    let resolved = versions_dir
        .canonicalize()
        .map_err(|source| VersionsError::ListDir {
            path: versions_dir.to_path_buf(),
            source,
        })?;
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
    let history_file = cache_folder.map(cache::history_path);
    let mut cached = history_file
        .as_deref()
        .map(cache::load_history)
        .unwrap_or_default();
    let graph: CommitGraph = history::load_graph(repo, tip_oid, &cached, interrupted)?;
    let order = graph.log_order(repo.path())?;
    let adds = history::commit_adds(repo, &graph, &order, &cached, threads, interrupted)?;
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
    if std::env::var_os("AGR_STATS").is_some() {
        eprintln!(
            "tree reads {}",
            history::TREE_READS.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    Ok(RepoHistory { commits, adds })
}

/// Where each file name was first added: log position, index in the commit, commit.
pub type FoundAdds = HashMap<Vec<u8>, (FirstAdd, Oid)>;

/// First adds of `names` in `history`.
pub fn find_first_adds(history: &RepoHistory, names: &[OsString]) -> FoundAdds {
    let wanted: HashSet<&[u8]> = names.iter().map(|n| n.as_encoded_bytes()).collect();
    history::first_adds(&history.adds, &wanted)
        .into_iter()
        .map(|(name, add)| (name.to_vec(), (add, history.commits[add.position as usize])))
        .collect()
}

/// Turn declared files plus their first adds into sorted migrations and a chain.
pub fn assemble(
    dir: &Path,
    declared: Vec<Declared>,
    found: &FoundAdds,
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

    let mut histories: HashMap<PathBuf, RepoHistory> = HashMap::new();
    let mut results = Vec::with_capacity(plans.len());
    for plan in plans {
        if let Some((declared, found)) = plan.final_hit() {
            results.push(assemble(&plan.dir, declared, &found)?);
            continue;
        }
        if !histories.contains_key(&plan.repo_key) {
            let (repo, head, folder) = &repos[&plan.repo_key];
            let walked = walk(repo, *head, folder.as_deref(), request.threads, interrupted)?;
            histories.insert(plan.repo_key.clone(), walked);
        }
        let history = histories
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
        let found = find_first_adds(history, &plan.names);
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
        results.push(assemble(&plan.dir, declared, &found)?);
    }
    Ok(results)
}
