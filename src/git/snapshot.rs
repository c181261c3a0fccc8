//! A directory as it is in the tree of a commit, read from objects alone (no
//! checkout), as `git ls-tree <commit> <dir>/` and `git cat-file blob` would.

use std::path::Path;

use git2::Oid;

use super::repository::Repository;
use super::Error;

/// One file directly in a directory at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAt {
    /// The entry's name.
    pub name: Vec<u8>,
    /// The blob's contents.
    pub contents: Vec<u8>,
}

/// The files directly in directory `dir` (relative to the top of the tree; empty for
/// the root) of the tree of `commit`, whose names `keep` accepts, in tree order.
/// `Ok(None)` when the directory does not exist at that commit. `spec` is how the
/// user named the commit, for messages.
///
/// # Errors
///
/// [`Error::NotADirectoryAt`] when `dir` names a file there, [`Error::ReadAt`] when a
/// kept file cannot be read, [`Error::BadRevision`] when the commit cannot be read.
pub fn files_at(
    repo: &Repository,
    commit: Oid,
    spec: &str,
    dir: &Path,
    keep: impl Fn(&[u8]) -> bool,
) -> Result<Option<Vec<FileAt>>, Error> {
    let libgit2 = repo.libgit2();
    let bad_revision = |error: git2::Error| Error::BadRevision {
        git_dir: repo.git_dir().to_path_buf(),
        spec: spec.to_owned(),
        detail: error.message().to_owned(),
    };
    let root = if repo.rewrites().replaces_objects() {
        // libgit2 knows no replace refs: the commit (and its tree) as git reads them.
        let store = repo.store();
        let tree = store.reader().commit(commit)?.tree;
        libgit2
            .find_tree(store.replacement(tree)?)
            .map_err(bad_revision)?
    } else {
        libgit2
            .find_commit(commit)
            .and_then(|commit| commit.tree())
            .map_err(bad_revision)?
    };
    let tree = if dir.as_os_str().is_empty() {
        root
    } else {
        match root.get_path(dir) {
            Err(error) if error.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(error) => return Err(bad_revision(error)),
            Ok(entry) => entry
                .to_object(libgit2)
                .and_then(|object| object.peel_to_tree())
                .map_err(|_| Error::NotADirectoryAt {
                    git_dir: repo.git_dir().to_path_buf(),
                    spec: spec.to_owned(),
                    path: dir.to_path_buf(),
                })?,
        }
    };
    let mut files = Vec::new();
    for entry in &tree {
        let name = entry.name_bytes();
        if !keep(name) {
            continue;
        }
        let blob = entry
            .to_object(libgit2)
            .and_then(|object| object.peel_to_blob())
            .map_err(|source| Error::ReadAt {
                git_dir: repo.git_dir().to_path_buf(),
                path: Path::new(&format!("{spec}:{}", dir.display()))
                    .join(String::from_utf8_lossy(name).as_ref()),
                source,
            })?;
        files.push(FileAt {
            name: name.to_vec(),
            contents: blob.content().to_vec(),
        });
    }
    Ok(Some(files))
}
