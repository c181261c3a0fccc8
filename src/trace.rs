//! Phase timings on stderr when `ALEMBIC_GIT_REVISIONS_TRACE` is set: where a slow
//! call spends its time, without a profiler.

use std::cell::Cell;
use std::time::Instant;

/// A stopwatch that prints each phase's time, or does nothing when tracing is off.
pub struct Trace {
    last: Option<Cell<Instant>>,
}

impl Trace {
    /// Start timing (if `ALEMBIC_GIT_REVISIONS_TRACE` is set).
    #[must_use]
    pub fn start() -> Self {
        let on = std::env::var_os("ALEMBIC_GIT_REVISIONS_TRACE").is_some();
        Trace {
            last: on.then(|| Cell::new(Instant::now())),
        }
    }

    /// Print the time since the previous step (or the start) under `what`.
    pub fn step(&self, what: &str) {
        if let Some(last) = &self.last {
            let now = Instant::now();
            eprintln!(
                "alembic-git-revisions: {what}: {:.1} ms",
                (now - last.get()).as_secs_f64() * 1e3
            );
            last.set(now);
        }
    }
}
