//! When what is already known answers: the in-process memo, the persistent cache of
//! first adds (extended when `HEAD` moved forward), of commits and of each versions
//! directory. Every rule about a cached fact's validity lives here.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::Oid;

use super::{AnalysisError, Request};
use crate::git::Repository;
use crate::migrations::{listing, Declared};
use crate::store::dirs::{CachedFile, DirCache};
use crate::store::{self, CacheMode, Stamp};
use crate::trace::Trace;
use crate::walk::{self, extend, memo, FirstAddIndex, FoundAdds, History, KnownCommits};

/// Commits a `HEAD` may add to the saved index's history (moving forward, or a pull
/// request's merge commit) and still be answered from it.
const EXTENSION_LIMIT: usize = 1000;

/// The cache folder of `repo`, unless history is rewritten (facts keyed by commit
/// id do not hold then) or the cache is off.
pub(super) fn cache_folder(repo: &Repository, mode: &CacheMode) -> Option<PathBuf> {
    if repo.rewrites_history() {
        return None;
    }
    mode.folder(repo.common_dir())
}

/// The history of `repo` from `tip`, reusing and growing the history cache of
/// `folder` (if any).
pub(super) fn walk_history(
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
/// `HEAD`, extended when git's order keeps the cached history as the start of
/// `HEAD`'s (see [`extend::extension`]), and otherwise from a full history walk
/// (which itself reuses the history cache).
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
        if let Some(extension) = extend::extension(repo, &index, head_oid, EXTENSION_LIMIT)? {
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
    let history = walk_history(repo, head, folder, threads, interrupted)?;
    let mut index = FirstAddIndex::default();
    index.extend(history.iter(), head)?;
    if let Some(path) = &path {
        store::first_adds::save(path, &index);
    }
    Ok(index)
}

/// One open repository of a request, with what is decided about it once.
pub(super) struct RepoState {
    pub(super) repo: Repository,
    pub(super) head: Option<Oid>,
    pub(super) cache: Option<PathBuf>,
    pub(super) index: Option<Arc<FirstAddIndex>>,
}

impl RepoState {
    pub(super) fn index(
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
pub(super) struct DirPlan {
    pub(super) dir: PathBuf,
    pub(super) repo_key: PathBuf,
    pub(super) cache_file: Option<PathBuf>,
    pub(super) names: Vec<OsString>,
    pub(super) stamps: Vec<Option<Stamp>>,
    pub(super) cached: DirCache,
}

impl DirPlan {
    /// The cached declaration of `names[index]`, if its stamp is unchanged.
    pub(super) fn cached_declaration(&self, index: usize) -> Option<&Declared> {
        let stamp = self.stamps[index]?;
        let name = &self.names[index];
        self.cached
            .files
            .iter()
            .find(|f| f.stamp == stamp && &f.declared.name == name)
            .map(|f| &f.declared)
    }

    /// Everything cached for exactly this `HEAD` and these files, if so.
    pub(super) fn final_hit(&self, head: Option<Oid>) -> Option<(Vec<Declared>, FoundAdds)> {
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
        // Keyed as the first-add index is: by basename (see `assemble`).
        let mut found = FoundAdds::new();
        for name in &self.names {
            if let Some(add) = order.get(name)? {
                found.insert(listing::basename(name.as_encoded_bytes()).to_vec(), *add);
            }
        }
        Some((declared, found))
    }

    /// Save what was computed for this directory.
    pub(super) fn save(&self, head: Option<Oid>, declared: &[Declared], found: &FoundAdds) {
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
            .map(|n| {
                let add = found.get(listing::basename(n.as_encoded_bytes()));
                (n.clone(), add.copied())
            })
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
