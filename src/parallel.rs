//! The one worker pool of the crate: the history walk's tree comparisons and the
//! parsing of migration files both run on it.
//!
//! * One stack size for every worker ([`WORKER_STACK_BYTES`]).
//! * One interruption check: the calling thread polls the caller's `interrupted`
//!   while it waits (Python only delivers signals to the main thread), and workers
//!   stop at the next item once it fires.
//! * First error wins, in item order: once item `i` fails, items after it are
//!   skipped, items before it still run, and the lowest failing item's error is
//!   returned, so the answer does not depend on thread timing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use thiserror::Error;

/// Stack of every worker. Two things recurse deeply: dropping a parsed module's AST
/// (once per nesting level, up to one level per byte of a source the parser accepts,
/// see [`crate::migrations::parser::MAX_NATIVE_SOURCE_BYTES`]) and the tree diff (up
/// to [`crate::git::diff::MAX_TREE_DEPTH`] levels). 64 MiB holds either, even in
/// debug builds; it is reserved, not committed, so idle stack costs nothing.
pub const WORKER_STACK_BYTES: usize = 64 << 20;

/// The workers a run may use: the machine's cores as the operating system reports
/// them (2 when it does not say).
#[must_use]
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// How often the calling thread polls for interruption while workers run.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Why a pool run failed.
#[derive(Debug, Error)]
pub enum Error<E> {
    /// An item failed (the lowest failing item's error).
    #[error(transparent)]
    Task(E),
    /// The caller's `interrupted` fired.
    #[error("interrupted")]
    Interrupted,
    /// The operating system refused to start any worker thread.
    #[error("could not start a worker thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// An item has no result although nothing failed: a bug.
    #[error("internal error: the worker pool lost the result of item {item}")]
    Lost {
        /// The first item without a result.
        item: usize,
    },
}

/// How a run is shared out.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Worker threads at most (at least one is used).
    pub workers: usize,
    /// Items a worker takes at a time, at least: long runs keep its caches warm.
    /// While much work remains, a worker takes more (see [`run`]).
    pub batch: usize,
}

impl Plan {
    /// One item at a time on at most `workers` threads, never more threads than
    /// items.
    #[must_use]
    pub fn items(workers: usize, len: usize) -> Self {
        Plan {
            workers: workers.clamp(1, len.max(1)),
            batch: 1,
        }
    }
}

/// The items of a run not claimed yet, handed out by guided self-scheduling: each
/// claim takes an equal share of half of what is left, and at least `least`. Runs
/// are long while much remains (warm caches) and short at the end, where fixed
/// batches left one worker finishing the last long run alone.
struct Claims {
    next: AtomicUsize,
    len: usize,
    least: usize,
    workers: usize,
}

impl Claims {
    fn new(len: usize, least: usize, workers: usize) -> Self {
        Claims {
            next: AtomicUsize::new(0),
            len,
            least,
            workers,
        }
    }

    /// The next run of items, `start..end`, or `None` when all are claimed.
    fn claim(&self) -> Option<(usize, usize)> {
        let mut start = self.next.load(Ordering::Relaxed);
        loop {
            let left = self.len.checked_sub(start).filter(|&left| left > 0)?;
            let size = (left / (2 * self.workers)).max(self.least).min(left);
            match self.next.compare_exchange_weak(
                start,
                start + size,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some((start, start + size)),
                Err(now) => start = now,
            }
        }
    }
}

/// Run `task(state, i)` for every item `i` in `0..len` on worker threads, each with
/// its own `state` from `init`, and return the results in item order.
///
/// # Errors
///
/// [`Error::Task`] with the error of the lowest failing item (or of `init`, which
/// counts as failing before every item), [`Error::Interrupted`] when `interrupted`
/// fired first, [`Error::Spawn`] when no worker could be started, [`Error::Lost`] for
/// a bug.
pub fn run<S, R, E>(
    len: usize,
    plan: Plan,
    init: impl Fn() -> Result<S, E> + Sync,
    task: impl Fn(&mut S, usize) -> Result<R, E> + Sync,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<R>, Error<E>>
where
    R: Send,
    E: Send,
{
    if len == 0 {
        return Ok(Vec::new());
    }
    let workers = plan.workers.clamp(1, len);
    // Items after this one are skipped: the lowest failing item so far.
    let fail_at = AtomicUsize::new(usize::MAX);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<(usize, E)>> = Mutex::new(None);
    let done: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(len));
    let fail = |at: usize, error: E| {
        fail_at.fetch_min(at, Ordering::Relaxed);
        if let Ok(mut slot) = failure.lock() {
            if slot.as_ref().is_none_or(|(first, _)| at < *first) {
                *slot = Some((at, error));
            }
        }
    };
    let claims = Claims::new(len, plan.batch.max(1), workers);
    let work = || {
        let mut state = match init() {
            Ok(state) => state,
            Err(error) => return fail(0, error),
        };
        let mut local = Vec::new();
        'claim: while !stop.load(Ordering::Relaxed) {
            let Some((start, end)) = claims.claim() else {
                break;
            };
            if start > fail_at.load(Ordering::Relaxed) {
                break;
            }
            for item in start..end {
                if stop.load(Ordering::Relaxed) || item > fail_at.load(Ordering::Relaxed) {
                    break 'claim;
                }
                match task(&mut state, item) {
                    Ok(result) => local.push((item, result)),
                    Err(error) => {
                        fail(item, error);
                        break 'claim;
                    }
                }
            }
        }
        if let Ok(mut all) = done.lock() {
            all.extend(local);
        }
    };
    let mut spawn_error = None;
    std::thread::scope(|scope| {
        // Each worker holds a sender; the channel disconnects when the last worker
        // ends (normally or by a panic), which wakes the waiting thread at once.
        let (finished, wait) = mpsc::channel::<()>();
        let mut started = 0;
        for _ in 0..workers {
            let finished = finished.clone();
            let work = &work;
            let spawned = std::thread::Builder::new()
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(scope, move || {
                    work();
                    drop(finished);
                });
            match spawned {
                Ok(_) => started += 1,
                // Fewer workers still finish the job; none at all cannot.
                Err(error) => {
                    spawn_error.get_or_insert(error);
                }
            }
        }
        drop(finished);
        if started == 0 {
            return;
        }
        spawn_error = None;
        while let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(POLL_INTERVAL) {
            if interrupted() {
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
    });
    if let Some(error) = spawn_error {
        return Err(Error::Spawn(error));
    }
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    if let Some((_, error)) = failure.into_inner().ok().flatten() {
        return Err(Error::Task(error));
    }
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(len).collect();
    for (item, result) in done.into_inner().unwrap_or_default() {
        results[item] = Some(result);
    }
    // Without a failure or an interruption every item was claimed and finished (a
    // worker that panicked has already failed the whole scope); check it anyway.
    if let Some(item) = results.iter().position(Option::is_none) {
        return Err(Error::Lost { item });
    }
    Ok(results.into_iter().flatten().collect())
}

/// Run `body` on one worker thread (with [`WORKER_STACK_BYTES`] of stack) and wait
/// for it.
///
/// # Errors
///
/// [`Error::Spawn`] when the thread cannot be started.
pub fn on_worker<R: Send>(body: impl FnOnce() -> R + Send) -> Result<R, std::io::Error> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .stack_size(WORKER_STACK_BYTES)
            .spawn_scoped(scope, body)?;
        // A panic on the worker is resumed here, as if `body` had run on this thread.
        Ok(handle
            .join()
            .unwrap_or_else(|payload| std::panic::resume_unwind(payload)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> bool {
        false
    }

    /// Claims cover every item once, in order; they shrink from a quarter of the
    /// work (two workers) down to the least size, and only the last is shorter.
    #[test]
    fn claims_start_long_and_end_short() {
        let claims = Claims::new(10_000, 256, 2);
        let mut runs = Vec::new();
        while let Some(run) = claims.claim() {
            runs.push(run);
        }
        assert_eq!(runs[0], (0, 2500));
        assert!(runs.windows(2).all(|w| w[0].1 == w[1].0));
        assert_eq!(runs.last().map(|run| run.1), Some(10_000));
        let sizes: Vec<usize> = runs.iter().map(|(start, end)| end - start).collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert!(sizes[..sizes.len() - 1].iter().all(|&size| size >= 256));
        assert!(claims.claim().is_none());
        // Fewer items than the least size: one claim of them all.
        let small = Claims::new(3, 256, 2);
        assert_eq!((small.claim(), small.claim()), (Some((0, 3)), None));
    }

    #[test]
    fn results_come_back_in_item_order() {
        for (workers, batch) in [(1, 1), (3, 1), (4, 7), (8, 1000)] {
            let out = run(
                100,
                Plan { workers, batch },
                || Ok::<_, ()>(0usize),
                |seen, item| {
                    *seen += 1;
                    Ok(item * 2)
                },
                &never,
            )
            .unwrap();
            assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        }
        let empty: Vec<()> = run(
            0,
            Plan::items(4, 0),
            || Ok::<_, ()>(()),
            |(), _| Ok(()),
            &never,
        )
        .unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn the_lowest_failing_item_wins() {
        for workers in [1, 2, 4] {
            let outcome = run(
                200,
                Plan { workers, batch: 3 },
                || Ok(()),
                |(), item| if item % 50 == 17 { Err(item) } else { Ok(item) },
                &never,
            );
            assert!(matches!(outcome, Err(Error::Task(17))), "{workers} workers");
        }
        let outcome: Result<Vec<()>, _> =
            run(5, Plan::items(2, 5), || Err("init"), |(), _| Ok(()), &never);
        assert!(matches!(outcome, Err(Error::Task("init"))));
    }

    #[test]
    fn interruption_stops_the_run() {
        let calls = AtomicUsize::new(0);
        let outcome = run(
            1_000_000,
            Plan::items(2, 1_000_000),
            || Ok::<_, ()>(()),
            |(), _| {
                calls.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(50));
                Ok(())
            },
            &|| true,
        );
        assert!(matches!(outcome, Err(Error::Interrupted)));
        assert!(calls.load(Ordering::Relaxed) < 1_000_000);
    }

    #[test]
    fn one_call_on_a_big_stack() {
        // Deeper than the 2 MiB default thread stack allows.
        fn depth(n: usize) -> usize {
            let pad = std::hint::black_box([0u8; 1024]);
            if n == 0 {
                usize::from(pad[0])
            } else {
                1 + depth(n - 1)
            }
        }
        assert_eq!(on_worker(|| depth(20_000)).unwrap(), 20_000);
    }
}
