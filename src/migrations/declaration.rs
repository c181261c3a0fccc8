//! What one migration file declares: its revision id and the shape of its
//! `down_revision`, from its bytes.
//!
//! The reference reads each file as UTF-8 and parses it with `ast`; here
//! [`parser::decode_source`] and [`parser::parse_module`] do, handing the files they
//! cannot vouch for to a [`Fallback`] (CPython's own `ast`, in the product). A file
//! without a literal `revision` takes the id its name starts with.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::parser::{self, DownRevision, ModuleInfo, ParseOutcome, PyVersion};
use super::Error;
use crate::parallel::{self, Plan};

/// Parsing workers at most: parsing is CPU-bound, and directories are small.
const MAX_PARSE_WORKERS: usize = 16;

/// Parses the files the native parser hands back (see [`ParseOutcome::Delegate`]),
/// with CPython's own `ast`. The binding layer implements it.
pub trait Fallback: Sync {
    /// Parse `source` (already decoded) as the module at `path`; `Err` carries
    /// Python's message for a file it cannot parse.
    ///
    /// # Errors
    ///
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

/// Revision id from a file name like `5c9eb899ede0_slug.py`: leading `[a-f0-9]+` then
/// `_`, as the reference's `re.match(r"([a-f0-9]+)_", name)`.
#[must_use]
pub fn revision_from_filename(name: &[u8]) -> Option<String> {
    let hex = name
        .iter()
        .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        .count();
    (hex > 0 && name.get(hex) == Some(&b'_'))
        .then(|| String::from_utf8_lossy(&name[..hex]).into_owned())
}

/// Classify one file from its bytes. Must run on a thread with
/// [`parallel::WORKER_STACK_BYTES`] of stack (see [`parser::parse_module`]).
///
/// # Errors
///
/// [`Error::Source`], [`Error::Syntax`] or [`Error::NoRevision`], naming `path`.
pub fn declare(
    path: &Path,
    name: &OsString,
    bytes: &[u8],
    python: PyVersion,
    fallback: &dyn Fallback,
) -> Result<Declared, Error> {
    let source = parser::decode_source(bytes).map_err(|source| Error::Source {
        path: path.to_path_buf(),
        source,
    })?;
    let info = match parser::parse_module(&source, python) {
        ParseOutcome::Parsed(info) => info,
        ParseOutcome::Delegate(_) => {
            fallback
                .parse(path, &source)
                .map_err(|message| Error::Syntax {
                    path: path.to_path_buf(),
                    message,
                })?
        }
    };
    let revision = if let Some(revision) = info.revision {
        revision
    } else {
        // The file name, also for a recursive location's `dir/name.py`.
        let file_name = super::listing::basename(name.as_encoded_bytes());
        revision_from_filename(file_name).ok_or_else(|| Error::NoRevision {
            name: name.to_string_lossy().into_owned(),
            path: path.to_path_buf(),
        })?
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
    ///
    /// # Errors
    ///
    /// [`Error::Read`] or [`Error::IsADirectory`].
    fn read(&self, name: &OsString) -> Result<Vec<u8>, Error>;
    /// The path to show in messages.
    fn display_path(&self, name: &OsString) -> PathBuf;
}

/// Files on disk, in `dir`.
pub struct WorkTree<'a> {
    /// The versions directory as given.
    pub dir: &'a Path,
}

impl FileSource for WorkTree<'_> {
    fn read(&self, name: &OsString) -> Result<Vec<u8>, Error> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(_) if path.is_dir() => Err(Error::IsADirectory { path }),
            Err(source) => Err(Error::Read { path, source }),
        }
    }

    fn display_path(&self, name: &OsString) -> PathBuf {
        self.dir.join(name)
    }
}

/// Files held in memory (read from a commit's tree), shown as under `label`.
pub struct InMemory {
    /// What the directory is shown as (for example `<rev>:<path>`).
    pub label: PathBuf,
    /// Contents by file name.
    pub files: HashMap<OsString, Vec<u8>>,
}

impl FileSource for InMemory {
    fn read(&self, name: &OsString) -> Result<Vec<u8>, Error> {
        self.files.get(name).cloned().ok_or_else(|| Error::Read {
            path: self.label.join(name),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })
    }

    fn display_path(&self, name: &OsString) -> PathBuf {
        self.label.join(name)
    }
}

/// Read and classify `names` on the worker pool. Results come back in the order of
/// `names`; of several bad files, the first in that order is reported.
///
/// # Errors
///
/// The first bad file's [`enum@Error`], interruption, or no worker thread.
pub fn declare_all(
    source: &dyn FileSource,
    names: &[OsString],
    python: PyVersion,
    fallback: &dyn Fallback,
    threads: usize,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Declared>, parallel::Error<Error>> {
    parallel::run(
        names.len(),
        Plan::items(threads.min(MAX_PARSE_WORKERS), names.len()),
        || Ok(()),
        |(), index| {
            let name = &names[index];
            let path = source.display_path(name);
            let bytes = source.read(name)?;
            declare(&path, name, &bytes, python, fallback)
        },
        interrupted,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PY311: PyVersion = PyVersion {
        major: 3,
        minor: 11,
    };

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
    fn declare_falls_back_to_the_file_name() {
        let name = OsString::from("abc123_m.py");
        let declared = parallel::on_worker(|| {
            declare(
                Path::new("v/abc123_m.py"),
                &name,
                b"down_revision = None\n",
                PY311,
                &NoFallback,
            )
        })
        .unwrap()
        .unwrap();
        assert_eq!(declared.revision, "abc123");
        assert_eq!(declared.down_revision, DownRevision::Static(vec![]));
        let bad = OsString::from("nohex.py");
        let error = parallel::on_worker(|| {
            declare(
                Path::new("v/nohex.py"),
                &bad,
                b"x = 1\n",
                PY311,
                &NoFallback,
            )
        })
        .unwrap()
        .unwrap_err();
        assert!(error
            .to_string()
            .contains("Cannot extract revision from filename"));
    }

    #[test]
    fn declare_all_keeps_order_and_reports_the_first_bad_file() {
        // Files 7, 17, 27 and 37 do not parse (and have no revision in their name).
        let bad = |i: usize| i % 10 == 7;
        let name = |i: usize| OsString::from(format!("f{i:02}.py"));
        let source = InMemory {
            label: PathBuf::from("HEAD:v"),
            files: (0..40)
                .map(|i| {
                    let body = if bad(i) {
                        "revision = \n".to_owned()
                    } else {
                        format!("revision = 'r{i}'\n")
                    };
                    (name(i), body.into_bytes())
                })
                .collect(),
        };
        let good: Vec<usize> = (0..40).filter(|&i| !bad(i)).collect();
        let names: Vec<OsString> = good.iter().map(|&i| name(i)).collect();
        let declared = declare_all(&source, &names, PY311, &NoFallback, 4, &|| false).unwrap();
        let revisions: Vec<String> = declared.into_iter().map(|d| d.revision).collect();
        let expected: Vec<String> = good.iter().map(|i| format!("r{i}")).collect();
        assert_eq!(revisions, expected);
        let all: Vec<OsString> = (0..40).map(name).collect();
        for threads in [1, 4] {
            let error =
                declare_all(&source, &all, PY311, &NoFallback, threads, &|| false).unwrap_err();
            assert!(error.to_string().contains("HEAD:v/f07.py"), "{error}");
        }
    }
}
