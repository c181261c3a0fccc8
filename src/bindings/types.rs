//! The frozen result types `_core` returns. `_native` re-exports them; their
//! attribute names and types are the contract the rest of the package codes against
//! (see `_core.pyi`).

use std::ffi::OsString;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::analysis::DirAnalysis as CoreAnalysis;
use crate::migrations::chain::{self, Migration};
use crate::migrations::listing::name_from_bytes;
use crate::migrations::parser::{DownRevision, ModuleInfo};
use crate::migrations::Declared;

/// `ClassName(field=repr, ...)`.
fn repr_of(class: &str, fields: &[(&str, Bound<'_, PyAny>)]) -> PyResult<String> {
    let mut parts = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        parts.push(format!("{name}={}", value.repr()?));
    }
    Ok(format!("{class}({})", parts.join(", ")))
}

/// The static parents as the `static_down_revisions` of a file.
fn parents_of(down_revision: DownRevision) -> (bool, Vec<String>) {
    match down_revision {
        DownRevision::Dynamic => (true, Vec::new()),
        DownRevision::Static(parents) => (false, parents),
    }
}

/// One migration file as the core classified it.
#[pyclass(frozen, eq, hash, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MigrationRecord {
    #[pyo3(get)]
    revision: String,
    filename: OsString,
    #[pyo3(get)]
    git_sequence: u32,
    #[pyo3(get)]
    is_dynamic: bool,
    static_down_revisions: Vec<String>,
    #[pyo3(get)]
    commit: Option<String>,
}

impl MigrationRecord {
    pub(super) fn from_core(migration: Migration, commit: Option<git2::Oid>) -> Self {
        MigrationRecord {
            revision: migration.revision,
            filename: name_from_bytes(&migration.filename),
            git_sequence: migration.git_sequence,
            is_dynamic: migration.is_dynamic,
            static_down_revisions: migration.static_down_revisions,
            commit: commit.map(|oid| oid.to_string()),
        }
    }
}

#[pymethods]
impl MigrationRecord {
    #[new]
    #[pyo3(signature = (revision, filename, git_sequence, is_dynamic, static_down_revisions, commit))]
    fn new(
        revision: String,
        filename: OsString,
        git_sequence: u32,
        is_dynamic: bool,
        static_down_revisions: Vec<String>,
        commit: Option<String>,
    ) -> Self {
        MigrationRecord {
            revision,
            filename,
            git_sequence,
            is_dynamic,
            static_down_revisions,
            commit,
        }
    }

    /// The file name, decoded as `os.fsdecode` decodes it.
    #[getter]
    fn filename<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        let Ok(name) = self.filename.as_os_str().into_pyobject(py);
        name
    }

    /// The hardcoded parents (empty for a dynamic migration or a root).
    #[getter]
    fn static_down_revisions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.static_down_revisions)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        repr_of(
            "MigrationRecord",
            &[
                (
                    "revision",
                    this.revision.clone().into_pyobject(py)?.into_any(),
                ),
                ("filename", this.filename(py).into_any()),
                (
                    "git_sequence",
                    this.git_sequence.into_pyobject(py)?.into_any(),
                ),
                (
                    "is_dynamic",
                    this.is_dynamic.into_pyobject(py)?.to_owned().into_any(),
                ),
                (
                    "static_down_revisions",
                    this.static_down_revisions(py)?.into_any(),
                ),
                ("commit", this.commit.clone().into_pyobject(py)?.into_any()),
            ],
        )
    }
}

/// The first dynamic migration of a directory, left without a parent, and why.
#[pyclass(frozen, eq, hash, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unchained {
    #[pyo3(get)]
    revision: String,
    #[pyo3(get)]
    reason: String,
    heads: Vec<String>,
}

/// `Unchained.reason` when the static migrations have several heads.
pub const MULTIPLE_STATIC_HEADS: &str = "multiple-static-heads";
/// `Unchained.reason` when no static migration of the directory is a head.
pub const NO_STATIC_HEAD: &str = "no-static-head";

impl Unchained {
    fn from_core(revision: String, why: chain::Unchained) -> Self {
        let (reason, heads) = match why {
            chain::Unchained::MultipleStaticHeads(heads) => (MULTIPLE_STATIC_HEADS, heads),
            chain::Unchained::NoStaticHead => (NO_STATIC_HEAD, Vec::new()),
        };
        Unchained {
            revision,
            reason: reason.to_owned(),
            heads,
        }
    }
}

#[pymethods]
impl Unchained {
    #[new]
    #[pyo3(signature = (revision, reason, heads))]
    fn new(revision: String, reason: String, heads: Vec<String>) -> PyResult<Self> {
        if reason != MULTIPLE_STATIC_HEADS && reason != NO_STATIC_HEAD {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "reason must be {MULTIPLE_STATIC_HEADS:?} or {NO_STATIC_HEAD:?}, not {reason:?}"
            )));
        }
        Ok(Unchained {
            revision,
            reason,
            heads,
        })
    }

    /// The static heads, for `"multiple-static-heads"`.
    #[getter]
    fn heads<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.heads)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        repr_of(
            "Unchained",
            &[
                (
                    "revision",
                    this.revision.clone().into_pyobject(py)?.into_any(),
                ),
                ("reason", this.reason.clone().into_pyobject(py)?.into_any()),
                ("heads", this.heads(py)?.into_any()),
            ],
        )
    }
}

/// What the core derived for one versions directory.
#[pyclass(frozen, module = "alembic_git_revisions._native")]
pub struct DirAnalysis {
    /// The directory as given (`os.fspath`).
    #[pyo3(get)]
    versions_dir: Py<PyString>,
    /// Migrations sorted by `(git_sequence, filename)`.
    #[pyo3(get)]
    files: Py<PyList>,
    /// `{revision: down_revision}` for the dynamic migrations, in chain order.
    #[pyo3(get)]
    chain: Py<PyDict>,
    #[pyo3(get)]
    unchained: Option<Py<Unchained>>,
}

impl DirAnalysis {
    /// Convert an analysis (its file rows only `with_files`).
    pub(super) fn from_core(
        py: Python<'_>,
        analysis: CoreAnalysis,
        with_files: bool,
    ) -> PyResult<Self> {
        let files = PyList::empty(py);
        if with_files {
            for (migration, commit) in analysis.files.into_iter().zip(analysis.first_add_commits) {
                files.append(Py::new(py, MigrationRecord::from_core(migration, commit))?)?;
            }
        }
        let chain = PyDict::new(py);
        for (revision, parent) in analysis.chain.links {
            chain.set_item(revision, parent)?;
        }
        let unchained = analysis
            .chain
            .unchained
            .map(|(revision, why)| Py::new(py, Unchained::from_core(revision, why)))
            .transpose()?;
        Ok(DirAnalysis {
            versions_dir: analysis.dir.into_os_string().into_pyobject(py)?.unbind(),
            files: files.unbind(),
            chain: chain.unbind(),
            unchained,
        })
    }
}

#[pymethods]
impl DirAnalysis {
    #[new]
    #[pyo3(signature = (versions_dir, files, chain, unchained))]
    fn new(
        py: Python<'_>,
        versions_dir: PathBuf,
        files: Vec<Py<MigrationRecord>>,
        chain: Bound<'_, PyDict>,
        unchained: Option<Py<Unchained>>,
    ) -> PyResult<Self> {
        Ok(DirAnalysis {
            versions_dir: versions_dir.into_os_string().into_pyobject(py)?.unbind(),
            files: PyList::new(py, files)?.unbind(),
            chain: chain.unbind(),
            unchained,
        })
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(other) = other.cast::<DirAnalysis>() else {
            return Ok(py.NotImplemented());
        };
        let other = other.get();
        let equal = |a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>| PyAnyMethods::eq(a, b);
        let same = equal(
            self.versions_dir.bind(py).as_any(),
            other.versions_dir.bind(py).as_any(),
        )? && equal(self.files.bind(py).as_any(), other.files.bind(py).as_any())?
            && equal(self.chain.bind(py).as_any(), other.chain.bind(py).as_any())?
            && match (&self.unchained, &other.unchained) {
                (None, None) => true,
                (Some(a), Some(b)) => a.get() == b.get(),
                _ => false,
            };
        Ok(same.into_pyobject(py)?.to_owned().into_any().unbind())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let unchained = match &self.unchained {
            Some(unchained) => unchained.bind(py).clone().into_any(),
            None => py.None().into_bound(py),
        };
        repr_of(
            "DirAnalysis",
            &[
                (
                    "versions_dir",
                    self.versions_dir.bind(py).clone().into_any(),
                ),
                ("files", self.files.bind(py).clone().into_any()),
                ("chain", self.chain.bind(py).clone().into_any()),
                ("unchained", unchained),
            ],
        )
    }
}

/// What one file declares, from `declare_file`.
#[pyclass(frozen, eq, hash, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Declaration {
    #[pyo3(get)]
    revision: String,
    filename: OsString,
    #[pyo3(get)]
    is_dynamic: bool,
    static_down_revisions: Vec<String>,
}

impl Declaration {
    pub(super) fn from_core(declared: Declared) -> Self {
        let (is_dynamic, parents) = parents_of(declared.down_revision);
        Declaration {
            revision: declared.revision,
            filename: declared.name,
            is_dynamic,
            static_down_revisions: parents,
        }
    }
}

#[pymethods]
impl Declaration {
    /// The file name, decoded as `os.fsdecode` decodes it.
    #[getter]
    fn filename<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        let Ok(name) = self.filename.as_os_str().into_pyobject(py);
        name
    }

    /// The hardcoded parents (empty for a dynamic migration or a root).
    #[getter]
    fn static_down_revisions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.static_down_revisions)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        repr_of(
            "Declaration",
            &[
                (
                    "revision",
                    this.revision.clone().into_pyobject(py)?.into_any(),
                ),
                ("filename", this.filename(py).into_any()),
                (
                    "is_dynamic",
                    this.is_dynamic.into_pyobject(py)?.to_owned().into_any(),
                ),
                (
                    "static_down_revisions",
                    this.static_down_revisions(py)?.into_any(),
                ),
            ],
        )
    }
}

/// A module the native parser read itself, from `parse_module_source`.
#[pyclass(frozen, eq, hash, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParsedModule {
    #[pyo3(get)]
    revision: Option<String>,
    #[pyo3(get)]
    is_dynamic: bool,
    static_down_revisions: Vec<String>,
}

impl ParsedModule {
    pub(super) fn from_core(info: ModuleInfo) -> Self {
        let (is_dynamic, parents) = parents_of(info.down_revision);
        ParsedModule {
            revision: info.revision,
            is_dynamic,
            static_down_revisions: parents,
        }
    }
}

#[pymethods]
impl ParsedModule {
    /// The string parents of a static `down_revision` (empty for a dynamic one).
    #[getter]
    fn static_down_revisions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.static_down_revisions)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        repr_of(
            "ParsedModule",
            &[
                (
                    "revision",
                    this.revision.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "is_dynamic",
                    this.is_dynamic.into_pyobject(py)?.to_owned().into_any(),
                ),
                (
                    "static_down_revisions",
                    this.static_down_revisions(py)?.into_any(),
                ),
            ],
        )
    }
}

/// A module the native parser left to CPython, and why.
#[pyclass(frozen, eq, hash, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DelegatedModule {
    #[pyo3(get)]
    reason: String,
}

impl DelegatedModule {
    pub(super) fn new(reason: String) -> Self {
        DelegatedModule { reason }
    }
}

#[pymethods]
impl DelegatedModule {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of(
            "DelegatedModule",
            &[("reason", self.reason.clone().into_pyobject(py)?.into_any())],
        )
    }
}
