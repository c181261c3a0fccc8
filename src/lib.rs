//! Rust core of alembic-git-revisions-rs.
//!
//! Derives Alembic `down_revision` chains from git history, reproducing
//! `alembic-git-revisions` 13 exactly. Every module here is plain Rust on plain data;
//! the only pyo3 code lives in `bindings`, compiled with the `python` feature.

pub mod analysis;
pub mod cache;
pub mod chain;
pub mod commitgraph;
pub mod history;
pub mod pack;
pub mod parser;
pub mod pins;
pub mod reorder;
pub mod safety;
pub mod topo;
pub mod versions;

#[cfg(test)]
mod testutil;

#[cfg(feature = "python")]
mod bindings;
