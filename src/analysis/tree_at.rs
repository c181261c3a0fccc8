//! The migrations of a versions directory in the tree of a commit, read from objects
//! alone (no checkout), in either [`Scope`]: what [`listing::list_migrations`] lists
//! in the working tree, as `git ls-tree <commit> <dir>/` (flat) or
//! `git ls-tree -r <commit> <dir>/` (recursive) lists it, with each file's blob.

use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid};

use crate::git::{self, snapshot, Repository};
use crate::migrations::listing::{self, Scope};

/// One migration file at a commit: its name in the [`Scope`] (a path relative to the
/// directory, `/`-separated, when recursive) and its contents.
pub(super) struct FileAt {
    pub(super) name: Vec<u8>,
    pub(super) contents: Vec<u8>,
}

/// The migrations of `dir` (relative to the top of the working tree) at `commit`;
/// `None` when the directory does not exist there. `spec` is how the user named the
/// commit, for messages.
///
/// Recursively, as Alembic walks a recursive location in a checkout: every subtree is
/// entered, the files directly inside a directory whose name ends in `__pycache__` are
/// left out, and a symbolic link (a blob in git) is never entered. A submodule (a
/// commit entry) has no files at the commit.
///
/// # Errors
///
/// [`git::Error::NotADirectoryAt`] when `dir` names a file there,
/// [`git::Error::ReadAt`] when a tree or a kept file cannot be read,
/// [`git::Error::BadRevision`] when the commit cannot be read.
pub(super) fn migrations_at(
    repo: &Repository,
    commit: Oid,
    spec: &str,
    dir: &Path,
    scope: Scope,
) -> Result<Option<Vec<FileAt>>, git::Error> {
    match scope {
        Scope::Flat => {
            let files = snapshot::files_at(repo, commit, spec, dir, listing::is_migration_name)?;
            Ok(files.map(|files| {
                files
                    .into_iter()
                    .map(|file| FileAt {
                        name: file.name,
                        contents: file.contents,
                    })
                    .collect()
            }))
        }
        Scope::Recursive => recursive_at(repo, commit, spec, dir),
    }
}

fn recursive_at(
    repo: &Repository,
    commit: Oid,
    spec: &str,
    dir: &Path,
) -> Result<Option<Vec<FileAt>>, git::Error> {
    let libgit2 = repo.libgit2();
    let bad_revision = |error: git2::Error| git::Error::BadRevision {
        git_dir: repo.git_dir().to_path_buf(),
        spec: spec.to_owned(),
        detail: error.message().to_owned(),
    };
    let unreadable = |relative: &[u8], source: git2::Error| git::Error::ReadAt {
        git_dir: repo.git_dir().to_path_buf(),
        path: PathBuf::from(format!("{spec}:{}", dir.display()))
            .join(String::from_utf8_lossy(relative).as_ref()),
        source,
    };
    let root = libgit2
        .find_commit(commit)
        .and_then(|commit| commit.tree())
        .map_err(bad_revision)?;
    let top = if dir.as_os_str().is_empty() {
        root
    } else {
        match root.get_path(dir) {
            Err(error) if error.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(error) => return Err(bad_revision(error)),
            Ok(entry) if entry.kind() != Some(ObjectType::Tree) => {
                return Err(git::Error::NotADirectoryAt {
                    git_dir: repo.git_dir().to_path_buf(),
                    spec: spec.to_owned(),
                    path: dir.to_path_buf(),
                })
            }
            Ok(entry) => entry
                .to_object(libgit2)
                .and_then(|object| object.peel_to_tree())
                .map_err(|source| unreadable(b"", source))?,
        }
    };
    let top_name = dir
        .file_name()
        .map(|name| name.as_encoded_bytes().to_vec())
        .unwrap_or_default();
    let mut files = Vec::new();
    // (tree, its path relative to `dir` with a trailing `/` (empty for `dir`), its name)
    let mut pending = vec![(top, Vec::new(), top_name)];
    while let Some((tree, prefix, own_name)) = pending.pop() {
        let load_files = listing::lists_files_of(&own_name);
        for entry in &tree {
            let name = entry.name_bytes();
            let mut relative = prefix.clone();
            relative.extend_from_slice(name);
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    let subtree = entry
                        .to_object(libgit2)
                        .and_then(|object| object.peel_to_tree())
                        .map_err(|source| unreadable(&relative, source))?;
                    let own = name.to_vec();
                    relative.push(b'/');
                    pending.push((subtree, relative, own));
                }
                Some(ObjectType::Blob) if load_files && listing::is_migration_name(name) => {
                    let blob = entry
                        .to_object(libgit2)
                        .and_then(|object| object.peel_to_blob())
                        .map_err(|source| unreadable(&relative, source))?;
                    files.push(FileAt {
                        name: relative,
                        contents: blob.content().to_vec(),
                    });
                }
                // Other blobs, and submodules (commits): no migrations.
                _ => {}
            }
        }
    }
    Ok(Some(files))
}
