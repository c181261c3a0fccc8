//! The exceptions `_core` raises, and the one place core errors become them.
//!
//! Each class is created under its public name (`alembic_git_revisions.X`, which the
//! package re-exports), so tracebacks and `repr` show what users import. Exceptions
//! are plain Python exception classes (pyo3 cannot subclass built-in exceptions with
//! a `#[pyclass]` under the limited API before Python 3.12); the facts an error is
//! about are set as attributes on the instance, and every documented attribute also
//! exists on the class as `None` (or `()`), so it can always be read.

use std::path::Path;

use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::IntoPyObjectExt;

use crate::analysis::AnalysisError;
use crate::git;
use crate::migrations::pins::PinError;
use crate::migrations::{self, chain};

pyo3::create_exception!(
    alembic_git_revisions,
    GitHistoryError,
    PyRuntimeError,
    "Git history cannot be read, so no chain can be derived from it."
);
pyo3::create_exception!(
    alembic_git_revisions,
    NotAGitRepositoryError,
    GitHistoryError,
    "The versions directory is not inside a git repository."
);
pyo3::create_exception!(
    alembic_git_revisions,
    ShallowCloneError,
    GitHistoryError,
    "The repository is a shallow clone: its history is incomplete."
);
pyo3::create_exception!(
    alembic_git_revisions,
    MigrationFileError,
    PyValueError,
    "A migration file cannot be parsed or carries no revision id."
);
pyo3::create_exception!(
    alembic_git_revisions,
    MigrationFileReadError,
    PyOSError,
    "A versions directory or migration file cannot be read."
);
pyo3::create_exception!(
    alembic_git_revisions,
    ChainError,
    PyValueError,
    "The migrations cannot be chained (duplicate revision ids, cyclic parents, \
     migrations that contradict their pins), or re-pinning was refused."
);
pyo3::create_exception!(
    alembic_git_revisions,
    ChainFileError,
    PyValueError,
    "revision_chain.json or revision_pins.json is malformed, or revision_chain.json is stale."
);
pyo3::create_exception!(
    alembic_git_revisions,
    RevisionNotFoundError,
    PyValueError,
    "A revision is not part of the derived chain."
);
pyo3::create_exception!(
    alembic_git_revisions,
    InternalError,
    PyRuntimeError,
    "A bug in alembic-git-revisions-rs; please report it."
);

/// Add the exception classes to the module, with their attributes' defaults.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let none = py.None();
    let empty = PyTuple::empty(py);
    let git = py.get_type::<GitHistoryError>();
    for name in ["git_dir", "path", "oid", "rev"] {
        git.setattr(name, &none)?;
    }
    py.get_type::<MigrationFileError>().setattr("path", &none)?;
    py.get_type::<MigrationFileReadError>()
        .setattr("path", &none)?;
    let chain = py.get_type::<ChainError>();
    chain.setattr("path", &none)?;
    chain.setattr("revision", &none)?;
    chain.setattr("files", &empty)?;
    chain.setattr("cycle", &empty)?;
    chain.setattr("pin_file", &none)?;
    py.get_type::<ChainFileError>().setattr("path", &none)?;
    m.add("GitHistoryError", git)?;
    m.add(
        "NotAGitRepositoryError",
        py.get_type::<NotAGitRepositoryError>(),
    )?;
    m.add("ShallowCloneError", py.get_type::<ShallowCloneError>())?;
    m.add("MigrationFileError", py.get_type::<MigrationFileError>())?;
    m.add(
        "MigrationFileReadError",
        py.get_type::<MigrationFileReadError>(),
    )?;
    m.add("ChainError", chain)?;
    m.add("ChainFileError", py.get_type::<ChainFileError>())?;
    m.add(
        "RevisionNotFoundError",
        py.get_type::<RevisionNotFoundError>(),
    )?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}

/// An exception instance being given its attributes.
struct Raised<'py> {
    py: Python<'py>,
    error: PyErr,
}

impl<'py> Raised<'py> {
    fn new(py: Python<'py>, error: PyErr) -> Self {
        Raised { py, error }
    }

    fn set(self, name: &str, value: impl IntoPyObject<'py>) -> Self {
        // Setting an attribute on a fresh exception instance cannot fail in practice;
        // if it did, the class default (`None`) would still answer.
        if let Ok(value) = value.into_bound_py_any(self.py) {
            let _ = self.error.value(self.py).setattr(name, value);
        }
        self
    }

    fn path(self, name: &str, path: Option<&Path>) -> Self {
        self.set(name, path.map(Path::as_os_str))
    }
}

/// The one place core errors become Python exceptions.
pub(super) fn to_py_err(py: Python<'_>, error: AnalysisError) -> PyErr {
    let message = error.to_string();
    match error {
        AnalysisError::Git(error) => git_error(py, &error, message),
        AnalysisError::Migrations(error) => {
            let exception = match &error {
                migrations::Error::ListDir { source, .. }
                | migrations::Error::Read { source, .. } => {
                    Raised::new(py, MigrationFileReadError::new_err(message))
                        .set("errno", source.raw_os_error())
                }
                migrations::Error::IsADirectory { .. } => {
                    Raised::new(py, MigrationFileReadError::new_err(message))
                }
                migrations::Error::Source { .. }
                | migrations::Error::Syntax { .. }
                | migrations::Error::NoRevision { .. } => {
                    Raised::new(py, MigrationFileError::new_err(message))
                }
            };
            exception.path("path", Some(error.path())).error
        }
        AnalysisError::Chain { dir, source } => {
            let exception = Raised::new(py, ChainError::new_err(message))
                .path("path", Some(&dir))
                .set("revision", source.revision())
                .path("pin_file", source.pin_file());
            match source {
                chain::ChainError::DuplicateRevision { first, second, .. } => {
                    exception.set("files", (first, second))
                }
                chain::ChainError::StaticCycle { cycle }
                | chain::ChainError::PinnedCycle { cycle, .. } => {
                    exception.set("cycle", PyTuple::new(py, cycle).ok())
                }
                chain::ChainError::PinnedMigrationGone { .. }
                | chain::ChainError::PinnedParentChanged { .. }
                | chain::ChainError::PinnedParentGone { .. } => exception,
            }
            .error
        }
        AnalysisError::Pins(error) => pin_error(py, &error, message),
        AnalysisError::TooLarge { .. } => GitHistoryError::new_err(message),
        AnalysisError::Interrupted => PyKeyboardInterrupt::new_err(message),
        AnalysisError::Spawn(source) => {
            Raised::new(py, PyOSError::new_err(message))
                .set("errno", source.raw_os_error())
                .error
        }
        AnalysisError::Internal(detail) => internal(&detail),
    }
}

/// A [`PinError`] as the exception class that fits it: a malformed file is a
/// `ChainFileError`, an unreadable one a `MigrationFileReadError`, a refused re-pin a
/// `ChainError`; each names the pin file.
fn pin_error(py: Python<'_>, error: &PinError, message: String) -> PyErr {
    match error {
        PinError::Malformed { file, .. } => {
            Raised::new(py, ChainFileError::new_err(message))
                .path("path", Some(file))
                .error
        }
        PinError::Read { file, source } => {
            Raised::new(py, MigrationFileReadError::new_err(message))
                .path("path", Some(file))
                .set("errno", source.raw_os_error())
                .error
        }
        PinError::Git(error) => git_error(py, error, message),
        PinError::WouldChange { .. } | PinError::WouldDrop { .. } | PinError::Unchained { .. } => {
            Raised::new(py, ChainError::new_err(message))
                .path("pin_file", error.file())
                .set("revision", error.revision())
                .error
        }
    }
}

/// A [`git::Error`] as the exception class that fits it, with its facts.
fn git_error(py: Python<'_>, error: &git::Error, message: String) -> PyErr {
    let class = match error {
        git::Error::NotARepository { .. } | git::Error::BadGitDir { .. } => {
            NotAGitRepositoryError::new_err(message)
        }
        git::Error::Shallow { .. } => ShallowCloneError::new_err(message),
        git::Error::Interrupted => return PyKeyboardInterrupt::new_err(message),
        _ => GitHistoryError::new_err(message),
    };
    let path = match error {
        git::Error::NotARepository { path }
        | git::Error::NotOwned { path }
        | git::Error::UnsupportedFormat { path, .. }
        | git::Error::NoWorkTree { path, .. }
        | git::Error::OutsideWorkTree { path, .. }
        | git::Error::NotADirectoryAt { path, .. }
        | git::Error::ReadAt { path, .. }
        | git::Error::BadGrafts { path, .. } => Some(path.as_path()),
        git::Error::BadGitDir { git_dir } => Some(git_dir.as_path()),
        _ => None,
    };
    let rev = match error {
        git::Error::BadRevision { spec, .. } | git::Error::NotADirectoryAt { spec, .. } => {
            Some(spec.as_str())
        }
        _ => None,
    };
    Raised::new(py, class)
        .path("git_dir", error.git_dir())
        .path("path", path)
        .set("oid", error.oid().map(|oid| oid.to_string()))
        .set("rev", rev)
        .error
}

/// `InternalError` for a bug, asking for a report.
pub(super) fn internal(detail: &str) -> PyErr {
    InternalError::new_err(format!(
        "internal error in alembic-git-revisions-rs: {detail}. \
         Please report this at the project's issue tracker."
    ))
}
