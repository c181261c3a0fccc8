//! The Python binding `alembic_git_revisions._core`: converts between Python objects
//! and the core's plain data. The only pyo3 code of the crate.
//!
//! * [`types`]: the frozen result classes;
//! * [`errors`]: the exception classes and the one mapping of core errors to them.
//!
//! Every entry point releases the GIL around git and file work, and turns a panic
//! into `InternalError` instead of letting it cross into Python.

// pyo3 extracts a function's arguments into owned values (`PathBuf`, `Vec<String>`),
// which the functions then only borrow.
#![allow(clippy::needless_pass_by_value)]

mod errors;
mod types;

use std::ffi::OsString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pyo3::prelude::*;

use self::errors::{internal, to_py_err};
use self::types::{
    Declaration, DelegatedModule, DirAnalysis, MergeOrder, MigrationRecord, OrderCause,
    ParsedModule, Pin, PinFile, PinPlan, Unchained,
};
use crate::analysis::{self, AnalysisError, Location, Request};
use crate::git::describe::Description;
use crate::migrations::chain;
use crate::migrations::declaration::{self, Fallback, WorkTree};
use crate::migrations::listing::{self, Scope};
use crate::migrations::parser::{self, DownRevision, ModuleInfo, ParseOutcome, PyVersion};
use crate::migrations::{self as core_migrations, pins};
use crate::parallel;
use crate::store::CacheMode;

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
            Err(internal(&format!("{detail} (while {what})")))
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
                        .map_or_else(|_| "error".into(), |n| n.to_string());
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

/// Python's signal checks while the core works without the GIL: the first exception
/// a signal handler raises (`KeyboardInterrupt` for Ctrl-C) is kept and re-raised.
#[derive(Default)]
struct Signals {
    raised: Mutex<Option<PyErr>>,
}

impl Signals {
    /// Whether a signal handler raised (the core then stops).
    fn interrupted(&self) -> bool {
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(error) => {
                if let Ok(mut slot) = self.raised.lock() {
                    slot.get_or_insert(error);
                }
                true
            }
        })
    }

    /// The outcome, with a signal handler's exception taking precedence.
    fn outcome<T>(self, py: Python<'_>, outcome: Result<T, AnalysisError>) -> PyResult<T> {
        if let Some(error) = self.raised.into_inner().ok().flatten() {
            return Err(error);
        }
        outcome.map_err(|error| to_py_err(py, error))
    }
}

/// The keyword-only `scope` option: `"flat"` (the reference's versions directory) or
/// `"recursive"` (Alembic's `recursive_version_locations`).
fn scope(value: &str) -> PyResult<Scope> {
    match value {
        "flat" => Ok(Scope::Flat),
        "recursive" => Ok(Scope::Recursive),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "scope must be 'flat' or 'recursive', not {other:?}"
        ))),
    }
}

fn request(py: Python<'_>, dirs: Vec<Location>) -> Request {
    let info = py.version_info();
    Request {
        dirs,
        python: PyVersion {
            major: info.major,
            minor: info.minor,
        },
        threads: crate::parallel::available_threads(),
        cache: CacheMode::from_env(),
    }
}

/// Analyse versions directories at `HEAD`, each in `scope`: one history walk per
/// repository.
#[pyfunction]
#[pyo3(signature = (dirs, fallback, *, with_files = true, scope = "flat"))]
fn analyze(
    py: Python<'_>,
    dirs: Vec<PathBuf>,
    fallback: Py<PyAny>,
    with_files: bool,
    scope: &str,
) -> PyResult<Vec<DirAnalysis>> {
    let scope = self::scope(scope)?;
    guarded("analysing versions directories", || {
        let locations = dirs
            .into_iter()
            .map(|dir| Location { dir, scope })
            .collect();
        let request = request(py, locations);
        let fallback = PyFallback { callable: fallback };
        let signals = Signals::default();
        let outcome =
            py.detach(|| analysis::analyze(&request, &fallback, &|| signals.interrupted()));
        signals
            .outcome(py, outcome)?
            .into_iter()
            .map(|analysis| DirAnalysis::from_core(py, analysis, with_files))
            .collect()
    })
}

/// Analyse one versions directory (in `scope`) as it is at commit `rev`, from git
/// objects only.
#[pyfunction]
#[pyo3(signature = (versions_dir, rev, fallback, *, scope = "flat"))]
fn analyze_at(
    py: Python<'_>,
    versions_dir: PathBuf,
    rev: String,
    fallback: Py<PyAny>,
    scope: &str,
) -> PyResult<DirAnalysis> {
    let location = Location {
        dir: versions_dir,
        scope: self::scope(scope)?,
    };
    guarded("analysing a versions directory at a revision", || {
        let request = request(py, vec![location.clone()]);
        let fallback = PyFallback { callable: fallback };
        let signals = Signals::default();
        let outcome = py.detach(|| {
            analysis::analyze_at(&location, &rev, &request, &fallback, &|| {
                signals.interrupted()
            })
        });
        DirAnalysis::from_core(py, signals.outcome(py, outcome)?, true)
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
        let described = py
            .detach(|| analysis::describe_commits(&versions_dir, &oids))
            .map_err(|error| to_py_err(py, error))?;
        Ok(described
            .into_iter()
            .map(|d: Description| (d.short_id, d.author_date, d.author))
            .collect())
    })
}

/// Read and classify one migration file with the product's pipeline (decoding, the
/// native parser, `fallback` for what it delegates, the revision from the file name).
#[pyfunction]
#[pyo3(signature = (path, fallback))]
fn declare_file(py: Python<'_>, path: PathBuf, fallback: Py<PyAny>) -> PyResult<Declaration> {
    guarded("reading a migration file", || {
        let python = request(py, Vec::new()).python;
        let Some(name) = path.file_name().map(OsString::from) else {
            let error = core_migrations::Error::Read {
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
                path,
            };
            return Err(to_py_err(py, error.into()));
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        let fallback = PyFallback { callable: fallback };
        let signals = Signals::default();
        let outcome = py.detach(|| {
            declaration::declare_all(&WorkTree { dir }, &[name], python, &fallback, 1, &|| {
                signals.interrupted()
            })
            .map_err(AnalysisError::from)
        });
        let declared = signals.outcome(py, outcome)?;
        declared
            .into_iter()
            .next()
            .map(Declaration::from_core)
            .ok_or_else(|| internal("no declaration for the one file given"))
    })
}

/// The migrations of `versions_dir` in `scope`, as the analysis lists them: file
/// names, or paths relative to it (`/`-separated) when recursive; sorted.
#[pyfunction]
#[pyo3(signature = (versions_dir, *, scope = "flat"))]
fn list_migrations(py: Python<'_>, versions_dir: PathBuf, scope: &str) -> PyResult<Vec<OsString>> {
    let scope = self::scope(scope)?;
    guarded("listing a versions directory", || {
        let mut names = py
            .detach(|| listing::list_migrations(&versions_dir, scope))
            .map_err(|error| to_py_err(py, error.into()))?;
        names.sort_by_cached_key(|name| chain::python_name_key(name.as_encoded_bytes()));
        Ok(names)
    })
}

/// Parse one module's source with the native parser alone (for the equivalence
/// tests): what it read, or why it leaves the module to CPython.
#[pyfunction]
fn parse_module_source(py: Python<'_>, source: &str, major: u8, minor: u8) -> PyResult<Py<PyAny>> {
    guarded("parsing a module", || {
        let python = PyVersion { major, minor };
        let outcome = py
            .detach(|| parallel::on_worker(|| parser::parse_module(source, python)))
            .map_err(|error| to_py_err(py, AnalysisError::Spawn(error)))?;
        Ok(match outcome {
            ParseOutcome::Parsed(info) => Py::new(py, ParsedModule::from_core(info))?.into_any(),
            ParseOutcome::Delegate(reason) => {
                Py::new(py, DelegatedModule::new(reason.to_string()))?.into_any()
            }
        })
    })
}

/// The pins beside a versions directory in the working tree, or `None` without a pin
/// file.
#[pyfunction]
fn read_pins(py: Python<'_>, versions_dir: PathBuf) -> PyResult<Option<PinFile>> {
    guarded("reading a pin file", || {
        let found = py
            .detach(|| pins::beside(&versions_dir))
            .map_err(|error| to_py_err(py, error.into()))?;
        Ok(found.map(PinFile::from_core))
    })
}

/// What re-pinning `versions_dir` (in `scope`) at commit `rev` would write (nothing is
/// written).
#[pyfunction]
#[pyo3(signature = (versions_dir, rev, fallback, *, scope = "flat"))]
fn plan_pins(
    py: Python<'_>,
    versions_dir: PathBuf,
    rev: String,
    fallback: Py<PyAny>,
    scope: &str,
) -> PyResult<PinPlan> {
    let location = Location {
        dir: versions_dir,
        scope: self::scope(scope)?,
    };
    guarded("planning a pin file", || {
        let request = request(py, vec![location.clone()]);
        let fallback = PyFallback { callable: fallback };
        let signals = Signals::default();
        let outcome = py.detach(|| {
            analysis::plan_pins(&location, &rev, &request, &fallback, &|| {
                signals.interrupted()
            })
        });
        Ok(PinPlan::from_core(signals.outcome(py, outcome)?))
    })
}

/// For each `(first, second)` pair of commit ids, why git's order at `rev` (`HEAD`
/// when `None`) lists `first` before `second`; `None` where it does not.
#[pyfunction]
#[pyo3(signature = (versions_dir, rev, pairs))]
fn explain_order(
    py: Python<'_>,
    versions_dir: PathBuf,
    rev: Option<String>,
    pairs: Vec<(String, String)>,
) -> PyResult<Vec<Option<OrderCause>>> {
    guarded("explaining the commit order", || {
        let cache = CacheMode::from_env();
        let signals = Signals::default();
        let outcome = py.detach(|| {
            analysis::explain_order(&versions_dir, rev.as_deref(), &pairs, &cache, &|| {
                signals.interrupted()
            })
        });
        Ok(signals
            .outcome(py, outcome)?
            .into_iter()
            .map(|cause| cause.map(OrderCause::from_core))
            .collect())
    })
}

/// The chain the product's builder derives for `records` (migration records in any
/// order) and `pins`: a `DirAnalysis` of `versions_dir` (which names the chain in
/// errors) with the records sorted by add order.
#[pyfunction]
#[pyo3(signature = (versions_dir, records, pins=None))]
fn build_chain_from(
    py: Python<'_>,
    versions_dir: PathBuf,
    records: Vec<Py<MigrationRecord>>,
    pins: Option<Py<PinFile>>,
) -> PyResult<DirAnalysis> {
    guarded("building a chain", || {
        let mut rows: Vec<(chain::Migration, Option<git2::Oid>)> = records
            .iter()
            .map(|record| (record.get().to_core(), record.get().commit_id()))
            .collect();
        chain::sort_by_add_order(&mut rows, |(migration, _)| migration);
        let (files, first_add_commits): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        let pin_set = pins.as_ref().map(|file| file.get().to_core());
        let chain = chain::build(&files, pin_set.as_ref()).map_err(|source| {
            to_py_err(
                py,
                AnalysisError::Chain {
                    dir: versions_dir.clone(),
                    source,
                },
            )
        })?;
        let analysis = analysis::DirAnalysis {
            dir: versions_dir.clone(),
            files,
            first_add_commits,
            chain,
        };
        DirAnalysis::from_core(py, analysis, true)
    })
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(analyze_at, m)?)?;
    m.add_function(wrap_pyfunction!(describe_commits, m)?)?;
    m.add_function(wrap_pyfunction!(declare_file, m)?)?;
    m.add_function(wrap_pyfunction!(list_migrations, m)?)?;
    m.add_function(wrap_pyfunction!(parse_module_source, m)?)?;
    m.add_function(wrap_pyfunction!(read_pins, m)?)?;
    m.add_function(wrap_pyfunction!(plan_pins, m)?)?;
    m.add_function(wrap_pyfunction!(explain_order, m)?)?;
    m.add_function(wrap_pyfunction!(build_chain_from, m)?)?;
    m.add_class::<DirAnalysis>()?;
    m.add_class::<MigrationRecord>()?;
    m.add_class::<Unchained>()?;
    m.add_class::<Declaration>()?;
    m.add_class::<ParsedModule>()?;
    m.add_class::<DelegatedModule>()?;
    m.add_class::<Pin>()?;
    m.add_class::<PinFile>()?;
    m.add_class::<PinPlan>()?;
    m.add_class::<MergeOrder>()?;
    m.add_class::<OrderCause>()?;
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
