//! One request end to end: find each repository once, walk its history at most once
//! for every versions directory asked about (or not at all when the persistent
//! cache answers), read the migration files, build each chain.
//!
//! This is the only module that combines the layers: [`crate::git`] reads the
//! repository, [`crate::walk`] turns history into first adds, [`crate::migrations`]
//! reads the files and builds chains, and [`crate::store`] keeps what can be reused
//! between processes. When a cached fact applies is decided in `cached`. Two
//! requests besides the chain: what re-pinning would write ([`plan_pins`]) and which
//! merge put one commit before another ([`explain_order`]).

mod cached;
mod error;
mod order;
mod pin;
#[cfg(test)]
mod recursive_tests;
mod tree_at;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use git2::Oid;

use self::cached::{cache_folder, walk_history, DirPlan, RepoState};
pub use self::error::AnalysisError;
pub use self::order::{explain_order, MergeOrder, OrderCause};
pub use self::pin::{plan_pins, PinPlan};
use crate::git::{self, describe, Repository, Tip};
use crate::migrations::chain::{self, Chain, Migration};
use crate::migrations::declaration::{self, Fallback, FileSource, InMemory, WorkTree};
use crate::migrations::listing::{self, name_from_bytes, Scope};
use crate::migrations::parser::{DownRevision, PyVersion};
use crate::migrations::pins::{self, PinSet};
use crate::migrations::{self, Declared};
use crate::store::{self, CacheMode, Stamp};
use crate::walk::{self, FirstAddIndex, FoundAdds};

/// A versions directory to analyse, and how far its migrations reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The directory, as the user gave it. Its `revision_chain.json` and
    /// `revision_pins.json` live beside it, whatever the scope.
    pub dir: PathBuf,
    /// [`Scope::Flat`] (the reference's) or [`Scope::Recursive`] (Alembic's
    /// `recursive_version_locations`: one chain over the directory and every directory
    /// below it).
    pub scope: Scope,
}

impl Location {
    /// `dir`, read as the reference reads a versions directory.
    pub fn flat(dir: impl Into<PathBuf>) -> Self {
        Location {
            dir: dir.into(),
            scope: Scope::Flat,
        }
    }

    /// `dir` as a recursive version location.
    pub fn recursive(dir: impl Into<PathBuf>) -> Self {
        Location {
            dir: dir.into(),
            scope: Scope::Recursive,
        }
    }
}

/// What to analyse.
#[derive(Debug, Clone)]
pub struct Request {
    /// Versions directories, as the user gave them, each with its scope.
    pub dirs: Vec<Location>,
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
    /// Its migrations, sorted by `(git_sequence, filename)`; a recursive location's
    /// file names are paths relative to it.
    pub files: Vec<Migration>,
    /// The commit that first added each file (aligned with `files`), if any.
    pub first_add_commits: Vec<Option<Oid>>,
    /// The derived chain.
    pub chain: Chain,
}

/// The directory git is run from for `versions_dir`: where the reference runs it,
/// `Path(versions_dir).parent` (pathlib's lexical parent), with symlinks resolved so
/// that a symlinked versions directory finds the repository it lives in.
///
/// pathlib's parent of `.` is `.` itself, and of a path ending in `..` that path
/// without its last part: there git runs in the versions directory itself (a nested
/// repository or submodule is then the repository read, as with git) or below it.
/// A versions directory that does not exist (inside an existing parent) is looked
/// for from that parent, as `git -C <parent>` would.
///
/// # Errors
///
/// [`git::Error::NotARepository`] when not even the parent exists,
/// [`migrations::Error::ListDir`] when the directory cannot be resolved.
pub fn git_start_dir(versions_dir: &Path) -> Result<PathBuf, AnalysisError> {
    if let Some(lexical) = lexical_parent_unless_named(versions_dir) {
        return lexical.canonicalize().map_err(|_| {
            git::Error::NotARepository {
                path: versions_dir.to_path_buf(),
            }
            .into()
        });
    }
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

/// pathlib's `Path(path).parent` when `path` does not end in a name (it is `.`, ends
/// in `..`, or is a root), `None` otherwise.
fn lexical_parent_unless_named(path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    // pathlib drops every `.` part, leading ones included.
    let parts: Vec<Component<'_>> = path
        .components()
        .filter(|part| *part != Component::CurDir)
        .collect();
    match parts.split_last() {
        Some((Component::Normal(_), _)) => None,
        Some((Component::ParentDir, rest)) if !rest.is_empty() => Some(rest.iter().collect()),
        Some((Component::ParentDir, _)) | None => Some(PathBuf::from(".")),
        Some(_) => Some(parts.iter().collect()),
    }
}

/// [`git_start_dir`] for a directory that may exist only in history: the parent of
/// its deepest existing part otherwise.
fn history_start_dir(dir: &Path) -> Result<PathBuf, AnalysisError> {
    if lexical_parent_unless_named(dir).is_some() {
        return git_start_dir(dir);
    }
    let resolved = canonical_prefix(dir)?;
    let parent = resolved
        .parent()
        .map_or_else(|| resolved.clone(), Path::to_path_buf);
    Ok(canonical_prefix(&parent)?)
}

/// Turn declared files plus their first adds into sorted migrations and a chain that
/// honours `pins` (the directory's pin file, if any).
///
/// # Errors
///
/// [`AnalysisError::Chain`] when the migrations cannot be chained.
pub fn assemble(
    dir: &Path,
    declared: Vec<Declared>,
    found: &FoundAdds,
    pins: Option<&PinSet>,
) -> Result<DirAnalysis, AnalysisError> {
    // The reference's git_sequence is the index in the deduplicated add order of the
    // names that exist now; files never added share the next index. A file's add is
    // its basename's (`found` is keyed so), in a subdirectory too.
    let mut added: Vec<(usize, walk::FirstAdd)> = declared
        .iter()
        .enumerate()
        .filter_map(|(at, d)| {
            found
                .get(listing::basename(d.name.as_encoded_bytes()))
                .map(|add| (at, *add))
        })
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
    let chain = chain::build(&files, pins).map_err(|source| AnalysisError::Chain {
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
    for Location { dir, scope } in &request.dirs {
        let start = git_start_dir(dir)?;
        let repo = Repository::discover(&start)?;
        let key = repo.git_dir().to_path_buf();
        let state = match repos.entry(key.clone()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                repo.require_complete()?;
                let head = repo.resolve(&Tip::Head)?;
                let cache = cache_folder(&repo, &request.cache);
                slot.insert(RepoState {
                    repo,
                    head,
                    cache,
                    index: None,
                })
            }
        };
        let names = listing::list_migrations(dir, *scope)?;
        let stamps: Vec<Option<Stamp>> = names.iter().map(|n| Stamp::of(&dir.join(n))).collect();
        let cache_file = state.cache.as_ref().map(|folder| {
            // Keyed by the directory itself: `start` is not its parent for `.`.
            let key = match dir.file_name() {
                Some(name) => start.join(name),
                None => dir.canonicalize().unwrap_or_else(|_| start.clone()),
            };
            store::dirs::path(folder, &key, request.python, *scope)
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
        let pins = pins::beside(&plan.dir)?;
        if let Some((declared, found)) = plan.final_hit(head) {
            results.push(assemble(&plan.dir, declared, &found, pins.as_ref())?);
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
        let found = index.lookup(&basenames(&plan.names));
        plan.save(head, &declared, &found);
        results.push(assemble(&plan.dir, declared, &found, pins.as_ref())?);
    }
    Ok(results)
}

/// The basenames of migration names, whose first adds [`FirstAddIndex`] knows.
fn basenames(names: &[OsString]) -> Vec<OsString> {
    names
        .iter()
        .map(|name| name_from_bytes(listing::basename(name.as_encoded_bytes())))
        .collect()
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

/// Analyse a location's directory as it is at commit `rev`, from git objects alone (no
/// checkout): the files (in its scope, listed from the tree at `rev` by Alembic's rules) and the pin
/// file come from the tree at `rev`, the add order from the history up to `rev`
/// (`git log ... <rev>`).
///
/// # Errors
///
/// As [`analyze`], plus [`git::Error::BadRevision`] for a `rev` that names no
/// commit and the errors of locating `dir` in the working tree.
pub fn analyze_at(
    location: &Location,
    rev: &str,
    request: &Request,
    fallback: &dyn Fallback,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<DirAnalysis, AnalysisError> {
    let Location { dir, scope } = location;
    let resolved = canonical_prefix(dir)?;
    let repo = Repository::discover(&history_start_dir(dir)?)?;
    repo.require_complete()?;
    let relative = repo.relative_to_work_tree(&resolved)?;
    let tip = repo.resolve(&Tip::Rev(rev.to_owned()))?;
    let mut files = HashMap::new();
    let mut pin_set = None;
    if let Some(tip) = tip {
        // A directory that does not exist yet at `rev` holds no migrations there.
        let at = tree_at::migrations_at(&repo, tip, rev, &relative, *scope)?;
        for file in at.into_iter().flatten() {
            files.insert(name_from_bytes(&file.name), file.contents);
        }
        pin_set = pins::at(&repo, tip, rev, &relative)?;
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
    assemble(
        dir,
        declared,
        &index.lookup(&basenames(&names)),
        pin_set.as_ref(),
    )
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
    let repo = Repository::discover(&history_start_dir(dir)?)?;
    Ok(describe::describe(&repo, ids))
}
