//! Which files of a versions directory are migrations.
//!
//! The reference lists `versions_dir.glob("*.py")` (not recursive, hidden files
//! included). Files Alembic itself skips (names starting with `__init__` or `.#`) are
//! skipped here too.

use std::ffi::OsString;
use std::path::Path;

use super::Error;

/// Whether a file name (raw bytes) is a migration's: `*.py`, minus the names Alembic
/// skips.
#[must_use]
pub fn is_migration_name(name: &[u8]) -> bool {
    name.ends_with(b".py") && !name.starts_with(b"__init__") && !name.starts_with(b".#")
}

/// List the migration file names of `dir`, unordered. A directory that does not
/// exist has none (the reference's `glob` yields nothing there).
///
/// # Errors
///
/// [`Error::ListDir`] when the directory exists but cannot be read.
pub fn list_migration_names(dir: &Path) -> Result<Vec<OsString>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Vec::new())
        }
        Err(source) => {
            return Err(Error::ListDir {
                path: dir.to_path_buf(),
                source,
            })
        }
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
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let mut names = list_migration_names(dir.path()).unwrap();
        names.sort();
        assert_eq!(
            names,
            vec![OsString::from(".hidden.py"), OsString::from("a_x.py")]
        );
        assert!(list_migration_names(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }
}
