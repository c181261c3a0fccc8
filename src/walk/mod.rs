//! The history walk: for every `.py` file name, where it was first added, in the
//! order of the reference's
//! `git log --reverse --diff-filter=A --no-renames --topo-order --format= --name-only`.
//!
//! * [`adds`]: the `.py` basenames each commit adds (the reference's line filter over
//!   git's tree diff), computed on the worker pool;
//! * [`history`]: the whole walk from a tip, reusing facts already known by commit id;
//! * [`first_add`]: the one type for "first add" and the index of them per `HEAD`;
//! * [`extend`]: the commits a `HEAD` that only moved forward adds to an index;
//! * [`memo`]: indexes remembered for the life of the process.

pub mod adds;
mod error;
pub mod extend;
pub mod first_add;
pub mod history;
pub mod memo;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use first_add::{FirstAdd, FirstAddIndex, FoundAdds};
pub use history::{History, KnownCommit, KnownCommits};
