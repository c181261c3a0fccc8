//! Git, read the way `git log` reads it, from the local object database and without
//! running `git`.
//!
//! * [`Repository`]: one handle per analysis that finds the repository as `git` run
//!   in a directory would (with the [`environment`] variables git reads), and reads
//!   once what every walk needs: replace refs and grafts ([`rewrites`]), the object
//!   store ([`odb`]: every object directory, alternates included, with [`pack`]
//!   files mapped once) and the commit-graph file ([`commitgraph`]).
//! * Objects: commit headers ([`commit`]), tag targets ([`tag`]), trees and git's
//!   entry order ([`tree`]), the tree diff that reports added paths to a
//!   [`diff::Visit`]or ([`diff`]).
//! * History: the commits reachable from a tip ([`graph`]) in `--topo-order`
//!   ([`topo`]), and which merge put one commit before another in that order
//!   ([`reorder`]); commits described for display ([`describe`]); a directory's files
//!   at a commit ([`snapshot`]).
//!
//! Nothing here knows about Python or migrations: callers decide what an added path
//! means.

mod bytes;
pub mod commit;
pub mod commitgraph;
pub mod describe;
pub mod diff;
pub mod environment;
mod error;
pub mod graph;
pub(crate) mod idmap;
mod mapped;
pub mod odb;
pub mod pack;
pub mod reorder;
pub mod repository;
pub mod rewrites;
pub mod snapshot;
pub mod tag;
#[cfg(test)]
mod tests;
pub mod topo;
pub mod tree;

pub use environment::Environment;
pub use error::Error;
pub use git2::Oid;
pub use repository::{Repository, Tip};

/// The kinds of git object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A commit.
    Commit,
    /// A tree (a directory listing).
    Tree,
    /// A blob (file contents).
    Blob,
    /// An annotated tag.
    Tag,
}

impl ObjectKind {
    /// The name git uses for the kind (`git cat-file -t`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Commit => "commit",
            ObjectKind::Tree => "tree",
            ObjectKind::Blob => "blob",
            ObjectKind::Tag => "tag",
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
