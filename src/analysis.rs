//! One request end to end: find the repository, walk its history once for every
//! versions directory asked about, read the migration files, build each chain.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use git2::Oid;
use thiserror::Error;

use crate::chain::{self, Chain, ChainError, Migration};
use crate::history::{self, CommitAdds, CommitGraph, HistoryError, Tip};
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
    Ok(resolved
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(resolved))
}

/// Walk the history of `repo` from `tip`: the reference's `git log` for it, with
/// every commit's `.py` adds.
pub fn walk(
    repo: &git2::Repository,
    tip: &Tip,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<RepoHistory, HistoryError> {
    history::check_complete(repo)?;
    let Some(tip_oid) = history::resolve_tip(repo, tip)? else {
        return Ok(RepoHistory::empty());
    };
    let graph: CommitGraph = history::load_graph(repo, tip_oid)?;
    let order = graph.log_order(repo.path())?;
    let adds = history::commit_adds(repo, &graph, &order, &HashMap::new(), threads, interrupted)?;
    let commits = order.iter().map(|&node| graph.ids[node as usize]).collect();
    Ok(RepoHistory { commits, adds })
}

/// Turn declared files plus history into sorted migrations and a chain.
pub fn assemble(
    dir: &Path,
    declared: Vec<Declared>,
    history: &RepoHistory,
) -> Result<DirAnalysis, AnalysisError> {
    let all_names: Vec<Vec<u8>> = declared.iter().map(|d| d.name.as_encoded_bytes().to_vec()).collect();
    let names: HashSet<&[u8]> = all_names.iter().map(Vec::as_slice).collect();
    let found = history::first_adds(&history.adds, &names);
    // The reference's git_sequence is the index in the deduplicated add order of the
    // names that exist now; files never added share the next index.
    let mut ordered: Vec<(&[u8], history::FirstAdd)> = found.iter().map(|(n, a)| (*n, *a)).collect();
    ordered.sort_by_key(|(_, add)| *add);
    let sequence: HashMap<&[u8], (u32, Oid)> = ordered
        .iter()
        .enumerate()
        .map(|(index, (name, add))| (*name, (index as u32, history.commits[add.position as usize])))
        .collect();
    let uncommitted = ordered.len() as u32;

    let mut rows: Vec<(Migration, Option<Oid>)> = declared
        .into_iter()
        .map(|d| {
            let hit = sequence.get(d.name.as_encoded_bytes()).copied();
            let (is_dynamic, parents) = match d.down_revision {
                DownRevision::Dynamic => (true, Vec::new()),
                DownRevision::Static(parents) => (false, parents),
            };
            (
                Migration {
                    revision: d.revision,
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

/// Analyse every directory of `request` from the working tree at `HEAD`, walking
/// each repository's history once however many directories it holds.
pub fn analyze(
    request: &Request,
    fallback: &dyn Fallback,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<DirAnalysis>, AnalysisError> {
    // History first: the reference consults git before it reads any file, so a
    // repository problem is what gets reported even when a file is bad too.
    let mut histories: HashMap<PathBuf, RepoHistory> = HashMap::new();
    let mut repo_of_dir: Vec<PathBuf> = Vec::with_capacity(request.dirs.len());
    for dir in &request.dirs {
        let start = git_start_dir(dir)?;
        let repo = history::discover(&start)?;
        let key = repo.path().to_path_buf();
        if !histories.contains_key(&key) {
            let walked = walk(&repo, &Tip::Head, request.threads, interrupted)?;
            histories.insert(key.clone(), walked);
        }
        repo_of_dir.push(key);
    }
    let mut results = Vec::with_capacity(request.dirs.len());
    for (dir, key) in request.dirs.iter().zip(&repo_of_dir) {
        let names: Vec<OsString> = versions::list_migration_names(dir)?;
        let declared = versions::declare_all(&WorkTree { dir }, &names, request.python, fallback, request.threads)?;
        let history = histories.get(key).ok_or(HistoryError::Interrupted)?;
        results.push(assemble(dir, declared, history)?);
    }
    Ok(results)
}
