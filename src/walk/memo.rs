//! First-add indexes remembered for the life of the process, by repository and
//! `HEAD`: a process that asks about its versions directories one call at a time
//! (Alembic loading each directory's migrations) walks the history once, with or
//! without the persistent cache.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use git2::Oid;

use super::FirstAddIndex;
use crate::git::Repository;

/// Indexes remembered at most (one per repository and `HEAD` seen).
const LIMIT: usize = 8;

static INDEXES: Mutex<Vec<(PathBuf, Oid, Arc<FirstAddIndex>)>> = Mutex::new(Vec::new());

/// The index of `repo` at `head` computed earlier in this process, or `compute()`'s,
/// then remembered. A `HEAD` fixes the history unless replace refs or grafts rewrite
/// it: nothing is remembered for such a repository, nor for an unborn `HEAD`.
///
/// # Errors
///
/// `compute`'s.
pub fn remembered<E>(
    repo: &Repository,
    head: Option<Oid>,
    compute: impl FnOnce() -> Result<FirstAddIndex, E>,
) -> Result<Arc<FirstAddIndex>, E> {
    let Some(head) = head.filter(|_| !repo.rewrites_history()) else {
        return compute().map(Arc::new);
    };
    let key = repo.common_dir().to_path_buf();
    if let Ok(known) = INDEXES.lock() {
        if let Some((_, _, index)) = known
            .iter()
            .find(|(dir, oid, _)| *dir == key && *oid == head)
        {
            return Ok(Arc::clone(index));
        }
    }
    let index = Arc::new(compute()?);
    if let Ok(mut known) = INDEXES.lock() {
        if known.len() >= LIMIT {
            known.remove(0);
        }
        known.push((key, head, Arc::clone(&index)));
    }
    Ok(index)
}
