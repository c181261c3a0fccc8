//! Which files of a versions directory are migrations, and what each is called.
//!
//! A directory is read in one of two [`Scope`]s:
//!
//! * [`Scope::Flat`], the reference's: `versions_dir.glob("*.py")` (not recursive,
//!   hidden files included), minus the names Alembic itself skips (names starting with
//!   `__init__` or `.#`). A migration is named by its file name.
//! * [`Scope::Recursive`], Alembic's `recursive_version_locations = true`: the files
//!   `Script._list_py_dir` lists, walking the directory top-down without following
//!   symbolic links, leaving out the files directly inside a directory whose name ends
//!   in `__pycache__`. A migration is named by its path relative to the directory,
//!   `/`-separated (`2024/01/5c9eb899ede0_add.py`).
//!
//! Either way a migration's place in git's order is the first add of its
//! [`basename`], anywhere in the repository (the reference's rule).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::Error;

/// How far the migrations of a versions directory reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// The files directly in the directory (the reference's `glob("*.py")`).
    #[default]
    Flat,
    /// The directory and every directory below it, as Alembic loads a version location
    /// with `recursive_version_locations = true`.
    Recursive,
}

impl Scope {
    /// The name Python uses for the scope (`"flat"`, `"recursive"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Scope::Flat => "flat",
            Scope::Recursive => "recursive",
        }
    }
}

/// Whether a file name (raw bytes) is a migration's: `*.py`, minus the names Alembic
/// skips.
#[must_use]
pub fn is_migration_name(name: &[u8]) -> bool {
    name.ends_with(b".py") && !name.starts_with(b"__init__") && !name.starts_with(b".#")
}

/// Whether Alembic, walking a recursive location, loads the files directly inside a
/// directory of this name: not inside `__pycache__` (nor any name ending so, as its
/// `root.name.endswith("__pycache__")` test reads). Its subdirectories are still
/// walked.
#[must_use]
pub fn lists_files_of(dir_name: &[u8]) -> bool {
    !dir_name.ends_with(b"__pycache__")
}

/// The file name of a migration's name: what follows its last `/` (the whole name in
/// a flat directory). Git's order and the revision id a file name carries are read
/// from it.
#[must_use]
pub fn basename(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b'/') {
        Some(slash) => &name[slash + 1..],
        None => name,
    }
}

/// List the migrations of `dir` in `scope`, unordered: file names for
/// [`Scope::Flat`], `/`-separated paths relative to `dir` for [`Scope::Recursive`]. A
/// directory that does not exist has none (the reference's `glob` yields nothing
/// there, and Alembic skips a version location that does not exist).
///
/// # Errors
///
/// [`Error::ListDir`] when the directory, or a directory below it, exists but cannot
/// be read. (Alembic's walk silently skips an unreadable subdirectory; its migrations
/// would then be missing from the chain only until it is readable again, so it is
/// refused instead.)
pub fn list_migrations(dir: &Path, scope: Scope) -> Result<Vec<OsString>, Error> {
    match scope {
        Scope::Flat => list_flat(dir),
        Scope::Recursive => list_recursive(dir),
    }
}

/// The entries of `dir`, or `None` when it does not exist.
fn read_entries(dir: &Path) -> Result<Option<std::fs::ReadDir>, Error> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(Some(entries)),
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(Error::ListDir {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn list_flat(dir: &Path) -> Result<Vec<OsString>, Error> {
    let Some(entries) = read_entries(dir)? else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::ListDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        if is_migration_name(name.as_encoded_bytes()) {
            names.push(name);
        }
    }
    Ok(names)
}

/// Alembic's `Script._list_py_dir` with `recursive_version_locations`: `os.walk`
/// (Python 3.11) or `Path.walk` (3.12+) top-down, neither following symbolic links to
/// directories. A directory entry, even one named `*.py`, is walked, not loaded; any
/// other entry (a file, a symbolic link) is a migration if its name says so.
fn list_recursive(top: &Path) -> Result<Vec<OsString>, Error> {
    let mut names = Vec::new();
    // (directory, its path relative to `top` with a trailing `/`, or empty for `top`)
    let mut pending: Vec<(PathBuf, Vec<u8>)> = vec![(top.to_path_buf(), Vec::new())];
    while let Some((dir, prefix)) = pending.pop() {
        // `top` missing; below it, a directory removed while walking.
        let Some(entries) = read_entries(&dir)? else {
            continue;
        };
        let own_name = dir.file_name().map(|n| n.as_encoded_bytes().to_vec());
        let load_files = lists_files_of(own_name.as_deref().unwrap_or_default());
        for entry in entries {
            let entry = entry.map_err(|source| Error::ListDir {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let bytes = name.as_encoded_bytes();
            let is_dir = entry
                .file_type()
                .map_err(|source| Error::ListDir {
                    path: dir.join(&name),
                    source,
                })?
                .is_dir();
            if is_dir {
                let mut below = prefix.clone();
                below.extend_from_slice(bytes);
                below.push(b'/');
                pending.push((dir.join(&name), below));
            } else if load_files && is_migration_name(bytes) {
                let mut relative = prefix.clone();
                relative.extend_from_slice(bytes);
                names.push(name_from_bytes(&relative));
            }
        }
    }
    Ok(names)
}

/// A file name from its raw bytes, as the OS spells it (on Unix any bytes are a
/// valid name; elsewhere names came from UTF-8 in the first place).
#[must_use]
pub fn name_from_bytes(bytes: &[u8]) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        OsString::from_vec(bytes.to_vec())
    }
    #[cfg(not(unix))]
    {
        OsString::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut names: Vec<OsString>) -> Vec<String> {
        names.sort();
        names
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    }

    fn touch(root: &Path, relative: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    #[test]
    fn listing_skips_what_alembic_skips() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a_x.py",
            "__init__.py",
            ".#lock.py",
            ".hidden.py",
            "notes.txt",
            "b.pyc",
            "sub/c_x.py",
        ] {
            touch(dir.path(), name);
        }
        assert_eq!(
            sorted(list_migrations(dir.path(), Scope::Flat).unwrap()),
            [".hidden.py", "a_x.py"]
        );
        for scope in [Scope::Flat, Scope::Recursive] {
            assert!(list_migrations(&dir.path().join("missing"), scope)
                .unwrap()
                .is_empty());
        }
    }

    /// What Alembic's `Script._list_py_dir` lists with `recursive_version_locations`
    /// (checked against Alembic itself in `tests/test_recursive.py`).
    #[test]
    fn recursive_listing_follows_alembic() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("versions");
        for name in [
            "r_root.py",
            "__init__.py",
            "2024/__init__.py",
            "2024/01/a_x.py",
            "2024/01/.#a_x.py",
            "2024/01/notes.md",
            "2024/12/b_x.py",
            "2025/01/deep/er/c_x.py",
            "__pycache__/d_x.py",
            "__pycache__/inner/e_x.py",
            "old__pycache__/f_x.py",
            ".hidden/g_x.py",
            "dir.py/h_x.py",
        ] {
            touch(&top, name);
        }
        // Symbolic links to directories are not followed; a link to a file is loaded.
        #[cfg(unix)]
        {
            let outside = dir.path().join("outside");
            touch(&outside, "z_x.py");
            std::os::unix::fs::symlink(&outside, top.join("linked")).unwrap();
            std::os::unix::fs::symlink(outside.join("z_x.py"), top.join("2024/l_x.py")).unwrap();
        }
        let mut expected = vec![
            ".hidden/g_x.py",
            "2024/01/a_x.py",
            "2024/12/b_x.py",
            "2025/01/deep/er/c_x.py",
            "__pycache__/inner/e_x.py",
            "dir.py/h_x.py",
            "r_root.py",
        ];
        if cfg!(unix) {
            expected.push("2024/l_x.py");
            expected.sort_unstable();
        }
        assert_eq!(
            sorted(list_migrations(&top, Scope::Recursive).unwrap()),
            expected
        );
        // Flat is the reference's `glob("*.py")`: the directory named `dir.py` too
        // (reading it then fails, naming it).
        assert_eq!(
            sorted(list_migrations(&top, Scope::Flat).unwrap()),
            ["dir.py", "r_root.py"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_subdirectory_is_an_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "locked/a_x.py");
        let locked = dir.path().join("locked");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        // A privileged user reads it anyway: nothing to test then.
        let privileged = std::fs::read_dir(&locked).is_ok();
        let outcome = list_migrations(dir.path(), Scope::Recursive);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        if privileged {
            return;
        }
        match outcome {
            Err(Error::ListDir { path, .. }) => assert_eq!(path, locked),
            other => panic!("expected ListDir, got {other:?}"),
        }
    }

    #[test]
    fn basenames() {
        assert_eq!(basename(b"2024/01/a_x.py"), b"a_x.py");
        assert_eq!(basename(b"a_x.py"), b"a_x.py");
    }
}
