//! Arbitrary bytes as a migration file, through `declaration::declare` (decoding,
//! `parser::parse_module` for Python 3.11, the revision from the file name) on a
//! worker of the pool, as `declaration::declare_all` runs every file. Nothing may
//! panic, whatever the bytes; a delegated module (no CPython here) is an error, which
//! is a fine answer.
#![no_main]

use std::ffi::OsString;
use std::path::Path;

use alembic_git_revisions_core::migrations::declaration::{self, NoFallback};
use alembic_git_revisions_core::migrations::parser::{DownRevision, PyVersion};
use alembic_git_revisions_core::parallel;
use libfuzzer_sys::fuzz_target;

const PY311: PyVersion = PyVersion {
    major: 3,
    minor: 11,
};

/// The file's name: its revision when the module has no literal one.
const NAME: &str = "0123abc_fuzz.py";

fuzz_target!(|data: &[u8]| {
    let name = OsString::from(NAME);
    // A panic on the worker aborts the process (libfuzzer-sys installs an aborting
    // panic hook), so libFuzzer sees it as a crash either way.
    let outcome = parallel::on_worker(|| {
        declaration::declare(Path::new(NAME), &name, data, PY311, &NoFallback)
    })
    .expect("spawn a worker");
    if let Ok(declared) = outcome {
        // Whatever was read came out of the source text, or from the name.
        assert!(declared.revision == "0123abc" || declared.revision.len() <= data.len());
        if let DownRevision::Static(parents) = &declared.down_revision {
            assert!(parents.iter().map(String::len).sum::<usize>() <= data.len());
        }
    }
});
