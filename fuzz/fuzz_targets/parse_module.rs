//! Arbitrary bytes as a migration file: `decode_source`, then `parse_module` for
//! Python 3.11 on a thread with `PARSE_STACK_BYTES` of stack, as `versions::declare_all`
//! runs it. Neither may panic, whatever the bytes; a delegation is a fine answer.
#![no_main]

use alembic_git_revisions_core::parser::{self, DownRevision, ParseOutcome, PyVersion};
use libfuzzer_sys::fuzz_target;

const PY311: PyVersion = PyVersion {
    major: 3,
    minor: 11,
};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = parser::decode_source(data) else {
        return;
    };
    // A panic on the worker aborts the process (libfuzzer-sys installs an aborting
    // panic hook), so libFuzzer sees it as a crash either way.
    let outcome = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(parser::PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parser::parse_module(&source, PY311))
            .expect("spawn parser thread")
            .join()
            .expect("parser thread panicked")
    });
    if let ParseOutcome::Parsed(info) = outcome {
        // Whatever was read came out of the source text.
        if let Some(revision) = &info.revision {
            assert!(revision.len() <= source.len());
        }
        if let DownRevision::Static(parents) = &info.down_revision {
            assert!(parents.iter().map(String::len).sum::<usize>() <= source.len());
        }
    }
});
