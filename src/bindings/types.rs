//! The frozen result types `_core` returns. `_native` re-exports them; their
//! attribute names and types are the contract the rest of the package codes against
//! (see `_core.pyi`).

use std::ffi::OsString;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::analysis::{self, DirAnalysis as CoreAnalysis};
use crate::migrations::chain::{self, Migration};
use crate::migrations::listing::name_from_bytes;
use crate::migrations::parser::{DownRevision, ModuleInfo};
use crate::migrations::pins::{self, PinSet};
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

impl MigrationRecord {
    /// The record as the chain builder's input.
    pub(super) fn to_core(&self) -> Migration {
        Migration {
            revision: self.revision.clone(),
            filename: self.filename.clone().into_encoded_bytes(),
            git_sequence: self.git_sequence,
            is_dynamic: self.is_dynamic,
            static_down_revisions: self.static_down_revisions.clone(),
        }
    }

    /// The commit that first added the file, as the core holds it.
    pub(super) fn commit_id(&self) -> Option<git2::Oid> {
        self.commit
            .as_deref()
            .and_then(|hex| git2::Oid::from_str(hex).ok())
    }
}

/// One entry of a `revision_pins.json`.
#[pyclass(frozen, eq, hash, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pin {
    #[pyo3(get)]
    revision: String,
    #[pyo3(get)]
    down_revision: Option<String>,
    #[pyo3(get)]
    file: String,
    #[pyo3(get)]
    pinned_at: String,
}

impl Pin {
    fn from_core(pin: pins::Pin) -> Self {
        Pin {
            revision: pin.revision,
            down_revision: pin.down_revision,
            file: pin.file,
            pinned_at: pin.pinned_at,
        }
    }

    fn to_core(&self) -> pins::Pin {
        pins::Pin {
            revision: self.revision.clone(),
            down_revision: self.down_revision.clone(),
            file: self.file.clone(),
            pinned_at: self.pinned_at.clone(),
        }
    }
}

#[pymethods]
impl Pin {
    #[new]
    #[pyo3(signature = (revision, down_revision, file, pinned_at))]
    fn new(
        revision: String,
        down_revision: Option<String>,
        file: String,
        pinned_at: String,
    ) -> Self {
        Pin {
            revision,
            down_revision,
            file,
            pinned_at,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of(
            "Pin",
            &[
                (
                    "revision",
                    self.revision.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "down_revision",
                    self.down_revision.clone().into_pyobject(py)?.into_any(),
                ),
                ("file", self.file.clone().into_pyobject(py)?.into_any()),
                (
                    "pinned_at",
                    self.pinned_at.clone().into_pyobject(py)?.into_any(),
                ),
            ],
        )
    }
}

/// Pins as Python tuples of [`Pin`].
fn pin_tuple<'py>(py: Python<'py>, pins: &[Pin]) -> PyResult<Bound<'py, PyTuple>> {
    let objects = pins
        .iter()
        .map(|pin| Py::new(py, pin.clone()))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, objects)
}

/// A pin file and its pins, in chain order.
#[pyclass(frozen, eq, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinFile {
    path: OsString,
    pins: Vec<Pin>,
}

impl PinFile {
    pub(super) fn from_core(set: PinSet) -> Self {
        PinFile {
            path: set.source.into_os_string(),
            pins: set.pins.into_iter().map(Pin::from_core).collect(),
        }
    }

    pub(super) fn to_core(&self) -> PinSet {
        PinSet {
            source: PathBuf::from(&self.path),
            pins: self.pins.iter().map(Pin::to_core).collect(),
        }
    }
}

#[pymethods]
impl PinFile {
    #[new]
    #[pyo3(signature = (path, pins))]
    fn new(path: PathBuf, pins: Vec<Py<Pin>>) -> Self {
        PinFile {
            path: path.into_os_string(),
            pins: pins.iter().map(|pin| pin.get().clone()).collect(),
        }
    }

    /// Where the pins were read from: a path, or ``REF:path`` for a file in a commit.
    #[getter]
    fn path<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        let Ok(path) = self.path.as_os_str().into_pyobject(py);
        path
    }

    /// The pins, parents first.
    #[getter]
    fn pins<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        pin_tuple(py, &self.pins)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of(
            "PinFile",
            &[
                ("path", self.path(py).into_any()),
                ("pins", self.pins(py)?.into_any()),
            ],
        )
    }
}

/// What re-pinning a versions directory at a commit would write.
#[pyclass(frozen, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone)]
pub struct PinPlan {
    pin_file: OsString,
    #[pyo3(get)]
    commit: String,
    pins: Vec<Pin>,
    #[pyo3(get)]
    added: usize,
    #[pyo3(get)]
    exists: bool,
    #[pyo3(get)]
    text: String,
}

impl PinPlan {
    pub(super) fn from_core(plan: analysis::PinPlan) -> Self {
        PinPlan {
            pin_file: plan.file.into_os_string(),
            commit: plan.commit.to_string(),
            pins: plan.pins.into_iter().map(Pin::from_core).collect(),
            added: plan.added,
            exists: plan.exists,
            text: plan.text,
        }
    }
}

#[pymethods]
impl PinPlan {
    /// The pin file in the working tree.
    #[getter]
    fn pin_file<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        let Ok(path) = self.pin_file.as_os_str().into_pyobject(py);
        path
    }

    /// Every pin, the existing ones first; the last ``added`` are new.
    #[getter]
    fn pins<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        pin_tuple(py, &self.pins)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of(
            "PinPlan",
            &[
                ("pin_file", self.pin_file(py).into_any()),
                ("commit", self.commit.clone().into_pyobject(py)?.into_any()),
                ("pins", self.pins(py)?.into_any()),
                ("added", self.added.into_pyobject(py)?.into_any()),
                (
                    "exists",
                    self.exists.into_pyobject(py)?.to_owned().into_any(),
                ),
            ],
        )
    }
}

/// The merge that put one commit before another in git's order.
#[pyclass(frozen, eq, hash, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MergeOrder {
    #[pyo3(get)]
    merge: String,
    #[pyo3(get)]
    merge_subject: String,
    #[pyo3(get)]
    merge_parents: usize,
    #[pyo3(get)]
    first_side: usize,
    #[pyo3(get)]
    second_side: usize,
    #[pyo3(get)]
    landing: String,
    #[pyo3(get)]
    landing_subject: String,
}

#[pymethods]
impl MergeOrder {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        repr_of(
            "MergeOrder",
            &[
                ("merge", self.merge.clone().into_pyobject(py)?.into_any()),
                (
                    "merge_subject",
                    self.merge_subject.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "merge_parents",
                    self.merge_parents.into_pyobject(py)?.into_any(),
                ),
                ("first_side", self.first_side.into_pyobject(py)?.into_any()),
                (
                    "second_side",
                    self.second_side.into_pyobject(py)?.into_any(),
                ),
                (
                    "landing",
                    self.landing.clone().into_pyobject(py)?.into_any(),
                ),
                (
                    "landing_subject",
                    self.landing_subject.clone().into_pyobject(py)?.into_any(),
                ),
            ],
        )
    }
}

/// `OrderCause.kind` when the commit listed first is an ancestor of the other.
pub const ANCESTOR: &str = "ancestor";
/// `OrderCause.kind` when a merge decided the order.
pub const MERGE: &str = "merge";

/// Why git lists one commit before another.
#[pyclass(frozen, eq, hash, module = "alembic_git_revisions._native")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderCause {
    #[pyo3(get)]
    kind: &'static str,
    #[pyo3(get)]
    merge: Option<MergeOrder>,
}

impl OrderCause {
    pub(super) fn from_core(cause: analysis::OrderCause) -> Self {
        match cause {
            analysis::OrderCause::Ancestor => OrderCause {
                kind: ANCESTOR,
                merge: None,
            },
            analysis::OrderCause::Merge(order) => OrderCause {
                kind: MERGE,
                merge: Some(MergeOrder {
                    merge: order.merge.to_string(),
                    merge_subject: order.merge_subject,
                    merge_parents: order.merge_parents,
                    first_side: order.earlier_parent,
                    second_side: order.later_parent,
                    landing: order.landing.to_string(),
                    landing_subject: order.landing_subject,
                }),
            },
        }
    }
}

#[pymethods]
impl OrderCause {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let merge = match &self.merge {
            Some(merge) => Py::new(py, merge.clone())?.into_bound(py).into_any(),
            None => py.None().into_bound(py),
        };
        repr_of(
            "OrderCause",
            &[
                ("kind", self.kind.into_pyobject(py)?.into_any()),
                ("merge", merge),
            ],
        )
    }
}
