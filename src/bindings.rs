//! The Python binding: converts between Python objects and the core's plain data,
//! and maps every core error to a Python exception in one place.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use crate::analysis::{self, AnalysisError, DirAnalysis, Request};
use crate::cache::CacheMode;
use crate::chain::Unchained;
use crate::history::HistoryError;
use crate::parser::{self, DownRevision, ModuleInfo, ParseOutcome, PyVersion};
use crate::pins::PinError;
use crate::safety::{self, OrderCause};
use crate::versions::{self, Fallback, VersionsError};

pyo3::create_exception!(
    _core,
    GitHistoryError,
    PyRuntimeError,
    "Git history cannot be read, so no chain can be derived from it."
);
pyo3::create_exception!(
    _core,
    NotAGitRepositoryError,
    GitHistoryError,
    "The versions directory is not inside a git repository."
);
pyo3::create_exception!(
    _core,
    ShallowCloneError,
    GitHistoryError,
    "The repository is a shallow clone: its history is incomplete."
);
pyo3::create_exception!(
    _core,
    MigrationFileError,
    PyValueError,
    "A migration file cannot be parsed or carries no revision id."
);
pyo3::create_exception!(
    _core,
    MigrationFileReadError,
    PyOSError,
    "A versions directory or migration file cannot be read."
);
pyo3::create_exception!(
    _core,
    ChainError,
    PyValueError,
    "The migrations cannot be chained (duplicate revision ids, cyclic parents)."
);
pyo3::create_exception!(
    _core,
    ChainFileError,
    PyValueError,
    "revision_chain.json is unreadable, malformed or stale."
);
pyo3::create_exception!(
    _core,
    RevisionNotFoundError,
    PyValueError,
    "A revision is not part of the derived chain."
);
pyo3::create_exception!(
    _core,
    InternalError,
    PyRuntimeError,
    "A bug in alembic-git-revisions-rs; please report it."
);

/// The one place core errors become Python exceptions.
fn to_py_err(error: AnalysisError) -> PyErr {
    let message = error.to_string();
    match error {
        AnalysisError::History(
            HistoryError::NotARepository { .. } | HistoryError::BadGitDir { .. },
        ) => NotAGitRepositoryError::new_err(message),
        AnalysisError::History(HistoryError::Shallow { .. }) => ShallowCloneError::new_err(message),
        AnalysisError::History(HistoryError::Interrupted) => {
            pyo3::exceptions::PyKeyboardInterrupt::new_err(message)
        }
        AnalysisError::History(_) => GitHistoryError::new_err(message),
        AnalysisError::Versions(
            VersionsError::ListDir { .. }
            | VersionsError::Read { .. }
            | VersionsError::IsADirectory { .. },
        ) => MigrationFileReadError::new_err(message),
        AnalysisError::Versions(_) => MigrationFileError::new_err(message),
        AnalysisError::Chain { .. } => ChainError::new_err(message),
        AnalysisError::Pins(error) if matches!(*error, PinError::Read { .. }) => {
            MigrationFileReadError::new_err(message)
        }
        AnalysisError::Pins(error) if error.is_malformed() => ChainFileError::new_err(message),
        AnalysisError::Pins(_) => ChainError::new_err(message),
    }
}

/// Run `body`, turning a panic into `InternalError` instead of letting it cross into
/// Python as a `PanicException`.
fn guarded<T>(what: &str, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(InternalError::new_err(format!(
                "internal error in alembic-git-revisions-rs while {what}: {detail}. \
                 Please report this at the project's issue tracker."
            )))
        }
    }
}

/// Delegated files go to a Python callable: `fallback(source) -> (revision | None,
/// is_dynamic, parents)`, raising for a file Python cannot parse.
struct PyFallback {
    callable: Py<PyAny>,
}

impl Fallback for PyFallback {
    fn parse(&self, _path: &Path, source: &str) -> Result<ModuleInfo, String> {
        Python::attach(|py| {
            let outcome = self
                .callable
                .bind(py)
                .call1((source,))
                .and_then(|value| value.extract::<(Option<String>, bool, Vec<String>)>());
            match outcome {
                Ok((revision, is_dynamic, parents)) => Ok(ModuleInfo {
                    revision,
                    down_revision: if is_dynamic {
                        DownRevision::Dynamic
                    } else {
                        DownRevision::Static(parents)
                    },
                }),
                Err(error) => {
                    let text = error.value(py).to_string();
                    let kind = error
                        .get_type(py)
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_else(|_| "error".into());
                    Err(if kind == "UnicodeEncodeError" {
                        format!("a revision id is not valid Unicode (it holds a lone surrogate): {text}")
                    } else if text.is_empty() {
                        format!("{kind} (the file is too large or too deeply nested for Python's parser)")
                    } else {
                        text
                    })
                }
            }
        })
    }
}

fn python_version(py: Python<'_>) -> PyVersion {
    let info = py.version_info();
    PyVersion {
        major: info.major,
        minor: info.minor,
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

type FileRow = (String, PathBuf, u32, bool, Vec<String>, Option<String>);
type DirRow = (
    Vec<FileRow>,
    Vec<(String, Option<String>)>,
    Option<(String, String, Vec<String>)>,
);

fn dir_row(analysis: DirAnalysis) -> DirRow {
    let files = analysis
        .files
        .into_iter()
        .zip(analysis.first_add_commits)
        .map(|(file, commit)| {
            // Unix file names are bytes; Python sees them through os.fsdecode.
            let name = PathBuf::from(versions::name_from_bytes(&file.filename));
            (
                file.revision,
                name,
                file.git_sequence,
                file.is_dynamic,
                file.static_down_revisions,
                commit.map(|oid| oid.to_string()),
            )
        })
        .collect();
    let unchained = analysis.chain.unchained.map(|(revision, why)| match why {
        Unchained::MultipleStaticHeads(heads) => {
            (revision, "multiple-static-heads".to_owned(), heads)
        }
        Unchained::NoStaticHead => (revision, "no-static-head".to_owned(), Vec::new()),
    });
    (files, analysis.chain.links, unchained)
}

/// Analyse versions directories: one history walk per repository.
///
/// Returns, per directory, `(files, links, unchained)` where `files` rows are
/// `(revision, filename, git_sequence, is_dynamic, static_parents, first_add_commit)`
/// in add order.
///
/// With `with_files=False` the file rows are left out (empty): `build_chain` needs only
/// the links, and converting thousands of rows is most of a warm call.
#[pyfunction]
#[pyo3(signature = (dirs, fallback, *, with_files = true))]
fn analyze(
    py: Python<'_>,
    dirs: Vec<PathBuf>,
    fallback: Py<PyAny>,
    with_files: bool,
) -> PyResult<Vec<DirRow>> {
    guarded("analysing versions directories", || {
        let request = Request {
            dirs,
            python: python_version(py),
            threads: threads(),
            cache: CacheMode::from_env(),
        };
        let fallback = PyFallback { callable: fallback };
        let signal: Mutex<Option<PyErr>> = Mutex::new(None);
        let interrupted = || {
            Python::attach(|py| match py.check_signals() {
                Ok(()) => false,
                Err(error) => {
                    if let Ok(mut slot) = signal.lock() {
                        slot.get_or_insert(error);
                    }
                    true
                }
            })
        };
        let outcome = py.detach(|| analysis::analyze(&request, &fallback, &interrupted));
        if let Some(error) = signal.into_inner().ok().flatten() {
            return Err(error);
        }
        let mut analyses = outcome.map_err(to_py_err)?;
        if !with_files {
            for analysis in &mut analyses {
                analysis.files.clear();
                analysis.first_add_commits.clear();
            }
        }
        Ok(analyses.into_iter().map(dir_row).collect())
    })
}

/// Analyse one versions directory as it is at commit `rev`, from git objects only.
#[pyfunction]
#[pyo3(signature = (versions_dir, rev, fallback))]
fn analyze_at(
    py: Python<'_>,
    versions_dir: PathBuf,
    rev: String,
    fallback: Py<PyAny>,
) -> PyResult<DirRow> {
    guarded("analysing a versions directory at a revision", || {
        let request = Request {
            dirs: vec![versions_dir.clone()],
            python: python_version(py),
            threads: threads(),
            cache: CacheMode::from_env(),
        };
        let fallback = PyFallback { callable: fallback };
        let interrupted = || Python::attach(|py| py.check_signals().is_err());
        let outcome = py.detach(|| {
            analysis::analyze_at(&versions_dir, &rev, &request, &fallback, &interrupted)
        });
        outcome.map(dir_row).map_err(to_py_err)
    })
}

/// `(short id, author date, author name)` for each commit id.
#[pyfunction]
fn describe_commits(
    py: Python<'_>,
    versions_dir: PathBuf,
    oids: Vec<String>,
) -> PyResult<Vec<(String, String, String)>> {
    guarded("describing commits", || {
        py.detach(|| analysis::describe_commits(&versions_dir, &oids))
            .map_err(to_py_err)
    })
}

type PinRow = (String, Option<String>, String, String);

fn pin_rows(pins: Vec<crate::pins::Pin>) -> Vec<PinRow> {
    pins.into_iter()
        .map(|p| (p.revision, p.down_revision, p.file, p.pinned_at))
        .collect()
}

/// The pins beside a versions directory in the working tree, or `None`: `(pin file,
/// rows)`, rows `(revision, down_revision, file, pinned_at)` in chain order.
#[pyfunction]
fn read_pins(py: Python<'_>, versions_dir: PathBuf) -> PyResult<Option<(PathBuf, Vec<PinRow>)>> {
    guarded("reading a pin file", || {
        let pins = py
            .detach(|| safety::pins_beside(&versions_dir))
            .map_err(|e| to_py_err(e.into()))?;
        Ok(pins.map(|set| (set.source, pin_rows(set.pins))))
    })
}

/// What re-pinning `versions_dir` at `rev` would write: `(pin file, commit, rows,
/// added, exists, text)`; the last `added` rows are new.
#[pyfunction]
#[pyo3(signature = (versions_dir, rev, fallback))]
fn plan_pins(
    py: Python<'_>,
    versions_dir: PathBuf,
    rev: String,
    fallback: Py<PyAny>,
) -> PyResult<(PathBuf, String, Vec<PinRow>, usize, bool, String)> {
    guarded("planning a pin file", || {
        let request = Request {
            dirs: vec![versions_dir.clone()],
            python: python_version(py),
            threads: threads(),
            cache: CacheMode::from_env(),
        };
        let fallback = PyFallback { callable: fallback };
        let interrupted = || Python::attach(|py| py.check_signals().is_err());
        let plan = py
            .detach(|| safety::plan_pins(&versions_dir, &rev, &request, &fallback, &interrupted))
            .map_err(to_py_err)?;
        Ok((
            plan.file,
            plan.commit.to_string(),
            pin_rows(plan.pins),
            plan.added,
            plan.exists,
            plan.text,
        ))
    })
}

type MergeRow = (String, String, usize, u32, u32, String, String);
type OrderRow = Option<(&'static str, Option<MergeRow>)>;

/// For each `(first, second)` commit pair, why git's order at `rev` (`HEAD` when
/// `None`) lists `first` before `second`: `None` if it does not, `("ancestor", None)`,
/// or `("merge", (merge, subject, parent count, first's parent index, second's parent
/// index, landing commit, its subject))`.
#[pyfunction]
#[pyo3(signature = (versions_dir, rev, pairs))]
fn explain_order(
    py: Python<'_>,
    versions_dir: PathBuf,
    rev: Option<String>,
    pairs: Vec<(String, String)>,
) -> PyResult<Vec<OrderRow>> {
    guarded("explaining the commit order", || {
        let request = Request {
            dirs: vec![versions_dir.clone()],
            python: python_version(py),
            threads: threads(),
            cache: CacheMode::from_env(),
        };
        let interrupted = || Python::attach(|py| py.check_signals().is_err());
        let causes = py
            .detach(|| {
                safety::explain_order(
                    &versions_dir,
                    rev.as_deref(),
                    &pairs,
                    &request,
                    &interrupted,
                )
            })
            .map_err(to_py_err)?;
        Ok(causes
            .into_iter()
            .map(|cause| {
                cause.map(|cause| match cause {
                    OrderCause::Ancestor => ("ancestor", None),
                    OrderCause::Merge {
                        merge,
                        merge_subject,
                        merge_parents,
                        earlier_parent,
                        later_parent,
                        landing,
                        landing_subject,
                    } => (
                        "merge",
                        Some((
                            merge.to_string(),
                            merge_subject,
                            merge_parents,
                            earlier_parent,
                            later_parent,
                            landing.to_string(),
                            landing_subject,
                        )),
                    ),
                })
            })
            .collect())
    })
}

/// Parse one module's source with the native parser (used by the equivalence tests).
///
/// Returns `("parsed", revision, is_dynamic, parents)` or `("delegate", reason)`.
#[pyfunction]
fn parse_module_source<'py>(
    py: Python<'py>,
    source: &str,
    major: u8,
    minor: u8,
) -> PyResult<Bound<'py, PyTuple>> {
    guarded("parsing a module", || {
        let outcome = parse_on_big_stack(source, PyVersion { major, minor });
        match outcome {
            ParseOutcome::Parsed(info) => {
                let (dynamic, parents) = match info.down_revision {
                    DownRevision::Dynamic => (true, Vec::new()),
                    DownRevision::Static(parents) => (false, parents),
                };
                let parents = PyTuple::new(py, parents)?;
                PyTuple::new(
                    py,
                    [
                        PyString::new(py, "parsed").into_any(),
                        info.revision.into_pyobject(py)?.into_any(),
                        dynamic.into_pyobject(py)?.to_owned().into_any(),
                        parents.into_any(),
                    ],
                )
            }
            ParseOutcome::Delegate(reason) => PyTuple::new(
                py,
                [
                    PyString::new(py, "delegate").into_any(),
                    PyString::new(py, &reason.to_string()).into_any(),
                ],
            ),
        }
    })
}

fn parse_on_big_stack(source: &str, python: PyVersion) -> ParseOutcome {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(parser::PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parser::parse_module(source, python))
            .ok()
            .and_then(|handle| handle.join().ok())
            .unwrap_or(ParseOutcome::Delegate(
                parser::DelegateReason::TooDeeplyNested,
            ))
    })
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(parse_module_source, m)?)?;
    m.add_function(wrap_pyfunction!(analyze_at, m)?)?;
    m.add_function(wrap_pyfunction!(describe_commits, m)?)?;
    m.add_function(wrap_pyfunction!(read_pins, m)?)?;
    m.add_function(wrap_pyfunction!(plan_pins, m)?)?;
    m.add_function(wrap_pyfunction!(explain_order, m)?)?;
    m.add("GitHistoryError", py.get_type::<GitHistoryError>())?;
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
    m.add("ChainError", py.get_type::<ChainError>())?;
    m.add("ChainFileError", py.get_type::<ChainFileError>())?;
    m.add(
        "RevisionNotFoundError",
        py.get_type::<RevisionNotFoundError>(),
    )?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
