//! A versions directory: which files are migrations, and what each declares.
//!
//! The reference lists `versions_dir.glob("*.py")` (not recursive, hidden files
//! included), reads each file as UTF-8 and parses it with `ast`. Files Alembic
//! itself skips (names starting with `__init__` or `.#`) are skipped here too.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use thiserror::Error;

use crate::migrations::parser::{
    self, DownRevision, ModuleInfo, ParseOutcome, PyVersion, SourceError,
};

/// Errors of reading a versions directory.
#[derive(Debug, Error)]
pub enum VersionsError {
    /// The directory itself cannot be listed.
    #[error("cannot list versions directory {path}: {source}")]
    ListDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A migration file cannot be read.
    #[error("cannot read migration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Something named `*.py` is a directory.
    #[error("{path} is a directory, not a migration file; rename it so it does not end in .py")]
    IsADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file's bytes are not Python source text.
    #[error("Cannot parse migration file {path}: {source}")]
    Source {
        /// The file.
        path: PathBuf,
        /// What is wrong with the bytes.
        #[source]
        source: SourceError,
    },
    /// Python could not parse the file.
    #[error("Cannot parse migration file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Python's own message.
        message: String,
    },
    /// No literal `revision` and a file name that carries no revision id.
    #[error(
        "Cannot extract revision from filename: {name:?} ({path} has no `revision = \"...\"` \
         string assignment and its name does not start with a hex revision id and `_`)"
    )]
    NoRevision {
        /// The file name.
        name: String,
        /// The file.
        path: PathBuf,
    },
}

/// Parses the files the native parser hands back (see [`ParseOutcome::Delegate`]),
/// with CPython's own `ast`. The binding layer implements it.
pub trait Fallback: Sync {
    /// Parse `source` (already decoded) as the module at `path`; `Err` carries
    /// Python's message for a file it cannot parse.
    fn parse(&self, path: &Path, source: &str) -> Result<ModuleInfo, String>;
}

/// A fallback for pure-Rust callers: delegated files are reported as unparsable.
pub struct NoFallback;

impl Fallback for NoFallback {
    fn parse(&self, _path: &Path, _source: &str) -> Result<ModuleInfo, String> {
        Err("the native parser could not read this file and no Python fallback is available".into())
    }
}

/// List the migration file names of `dir`: `*.py` entries, not recursive, minus the
/// names Alembic skips. Unordered. A directory that does not exist has none (the
/// reference's `glob` yields nothing there).
pub fn list_migration_names(dir: &Path) -> Result<Vec<OsString>, VersionsError> {
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
            return Err(VersionsError::ListDir {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| VersionsError::ListDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let bytes = name.as_encoded_bytes();
        if !bytes.ends_with(b".py") || bytes.starts_with(b"__init__") || bytes.starts_with(b".#") {
            continue;
        }
        names.push(name);
    }
    Ok(names)
}

/// A file name from its raw bytes, as the OS spells it (on Unix any bytes are a
/// valid name; elsewhere names came from UTF-8 in the first place).
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

/// What one file declares, before its add order is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// File name.
    pub name: OsString,
    /// The revision id (literal, or taken from the file name).
    pub revision: String,
    /// The `down_revision` shape.
    pub down_revision: DownRevision,
}

/// Revision id from a file name like `5c9eb899ede0_slug.py`: leading `[a-f0-9]+` then `_`.
pub fn revision_from_filename(name: &[u8]) -> Option<String> {
    let hex = name
        .iter()
        .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        .count();
    (hex > 0 && name.get(hex) == Some(&b'_'))
        .then(|| String::from_utf8_lossy(&name[..hex]).into_owned())
}

/// Classify one file from its bytes.
pub fn declare(
    path: &Path,
    name: &OsString,
    bytes: &[u8],
    python: PyVersion,
    fallback: &dyn Fallback,
) -> Result<Declared, VersionsError> {
    let source = parser::decode_source(bytes).map_err(|source| VersionsError::Source {
        path: path.to_path_buf(),
        source,
    })?;
    let info = match parser::parse_module(&source, python) {
        ParseOutcome::Parsed(info) => info,
        ParseOutcome::Delegate(_) => {
            fallback
                .parse(path, &source)
                .map_err(|message| VersionsError::Syntax {
                    path: path.to_path_buf(),
                    message,
                })?
        }
    };
    let revision = match info.revision {
        Some(revision) => revision,
        None => revision_from_filename(name.as_encoded_bytes()).ok_or_else(|| {
            VersionsError::NoRevision {
                name: name.to_string_lossy().into_owned(),
                path: path.to_path_buf(),
            }
        })?,
    };
    Ok(Declared {
        name: name.clone(),
        revision,
        down_revision: info.down_revision,
    })
}

/// Where migration file contents come from.
pub trait FileSource: Sync {
    /// The bytes of `name` in the versions directory.
    fn read(&self, name: &OsString) -> Result<Vec<u8>, VersionsError>;
    /// The path to show in messages.
    fn display_path(&self, name: &OsString) -> PathBuf;
}

/// Files on disk, in `dir`.
pub struct WorkTree<'a> {
    /// The versions directory as given.
    pub dir: &'a Path,
}

impl FileSource for WorkTree<'_> {
    fn read(&self, name: &OsString) -> Result<Vec<u8>, VersionsError> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(_) if path.is_dir() => Err(VersionsError::IsADirectory { path }),
            Err(source) => Err(VersionsError::Read { path, source }),
        }
    }

    fn display_path(&self, name: &OsString) -> PathBuf {
        self.dir.join(name)
    }
}

/// Read and classify `names` on `threads` workers (each with a stack big enough for
/// the parser). Results come back in the order of `names`; the first error wins.
pub fn declare_all(
    source: &dyn FileSource,
    names: &[OsString],
    python: PyVersion,
    fallback: &dyn Fallback,
    threads: usize,
) -> Result<Vec<Declared>, VersionsError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Declared, VersionsError>>>> =
        Mutex::new((0..names.len()).map(|_| None).collect());
    let work = || loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(name) = names.get(index) else {
            break;
        };
        let path = source.display_path(name);
        let outcome = source
            .read(name)
            .and_then(|bytes| declare(&path, name, &bytes, python, fallback));
        if let Ok(mut slots) = results.lock() {
            slots[index] = Some(outcome);
        }
    };
    let workers = threads.clamp(1, 16).min(names.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let spawned = std::thread::Builder::new()
                .stack_size(parser::PARSE_STACK_BYTES)
                .spawn_scoped(scope, work);
            if spawned.is_err() {
                // Whatever the spawned workers leave undone is finished below.
                break;
            }
        }
    });
    let slots = results.into_inner().unwrap_or_default();
    let mut declared = Vec::with_capacity(names.len());
    for (index, slot) in slots.into_iter().enumerate() {
        let outcome = match slot {
            Some(outcome) => outcome,
            None => {
                let name = &names[index];
                let path = source.display_path(name);
                source
                    .read(name)
                    .and_then(|bytes| declare(&path, name, &bytes, python, fallback))
            }
        };
        declared.push(outcome?);
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_from_filename_matches_the_reference_pattern() {
        assert_eq!(
            revision_from_filename(b"5c9eb899ede0_add.py"),
            Some("5c9eb899ede0".into())
        );
        assert_eq!(revision_from_filename(b"abc_.py"), Some("abc".into()));
        assert_eq!(revision_from_filename(b"ABC_x.py"), None);
        assert_eq!(revision_from_filename(b"_x.py"), None);
        assert_eq!(
            revision_from_filename(b"2024_01_01_x.py"),
            Some("2024".into())
        );
        assert_eq!(revision_from_filename(b"abc.py"), None);
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
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let mut names = list_migration_names(dir.path()).unwrap();
        names.sort();
        assert_eq!(
            names,
            vec![OsString::from(".hidden.py"), OsString::from("a_x.py")]
        );
    }

    #[test]
    fn declare_falls_back_to_the_file_name() {
        let name = OsString::from("abc123_m.py");
        let declared = declare(
            Path::new("v/abc123_m.py"),
            &name,
            b"down_revision = None\n",
            PyVersion {
                major: 3,
                minor: 11,
            },
            &NoFallback,
        )
        .unwrap();
        assert_eq!(declared.revision, "abc123");
        assert_eq!(declared.down_revision, DownRevision::Static(vec![]));
        let bad = OsString::from("nohex.py");
        let error = declare(
            Path::new("v/nohex.py"),
            &bad,
            b"x = 1\n",
            PyVersion {
                major: 3,
                minor: 11,
            },
            &NoFallback,
        )
        .unwrap_err();
        assert!(error
            .to_string()
            .contains("Cannot extract revision from filename"));
    }
}
