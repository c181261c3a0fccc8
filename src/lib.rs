//! Rust core of alembic-git-revisions-rs.
//!
//! Derives Alembic `down_revision` chains from git history, reproducing
//! `alembic-git-revisions` 13 exactly. Every module here is plain Rust on plain data;
//! the only pyo3 code lives in `bindings`, compiled with the `python` feature.
//!
//! Layers, each using only those listed before it:
//!
//! * [`parallel`]: the one worker pool;
//! * [`git`]: the repository, its objects and its history, as `git log` reads them;
//! * [`walk`]: where each `.py` file name was first added;
//! * [`migrations`]: migration files, what they declare, and the chain;
//! * [`store`]: the persistent cache's encoding;
//! * [`analysis`]: one request end to end.

pub mod analysis;
pub mod git;
pub mod migrations;
pub mod parallel;
pub mod store;
mod trace;
pub mod walk;

#[cfg(test)]
mod testutil;

#[cfg(feature = "python")]
mod bindings;
