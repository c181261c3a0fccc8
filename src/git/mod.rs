//! Git, read as `git log` reads it.

pub mod commitgraph;
pub mod history;
pub mod pack;
pub mod topo;
