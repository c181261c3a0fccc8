//! Migration files: which files of a versions directory are migrations
//! ([`listing`]), what each declares ([`parser`], [`declaration`]), the chain that
//! links them ([`chain`]), the parents a release pinned ([`pins`]) and the
//! append-only re-pin ([`repin`]).

pub mod chain;
pub mod declaration;
pub mod listing;
pub mod parser;
pub mod pins;
pub mod repin;

use std::path::PathBuf;

use thiserror::Error;

pub use declaration::Declared;
pub use parser::SourceError;

/// Errors of reading a versions directory or a migration file.
#[derive(Debug, Error)]
pub enum Error {
    /// The directory itself cannot be listed.
    #[error("cannot list versions directory {path}: {source}")]
    ListDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A migration file cannot be read.
    #[error("cannot read migration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Something named `*.py` is a directory.
    #[error("{path} is a directory, not a migration file; rename it so it does not end in .py")]
    IsADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file's bytes are not Python source text.
    #[error("Cannot parse migration file {path}: {source}")]
    Source {
        /// The file.
        path: PathBuf,
        /// What is wrong with the bytes.
        #[source]
        source: SourceError,
    },
    /// Python could not parse the file.
    #[error("Cannot parse migration file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Python's own message.
        message: String,
    },
    /// No literal `revision` and a file name that carries no revision id.
    #[error(
        "Cannot extract revision from filename: {name:?} ({path} has no `revision = \"...\"` \
         string assignment and its name does not start with a hex revision id and `_`)"
    )]
    NoRevision {
        /// The file name.
        name: String,
        /// The file.
        path: PathBuf,
    },
}

impl Error {
    /// The file or directory the error is about.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        match self {
            Error::ListDir { path, .. }
            | Error::Read { path, .. }
            | Error::IsADirectory { path }
            | Error::Source { path, .. }
            | Error::Syntax { path, .. }
            | Error::NoRevision { path, .. } => path,
        }
    }
}
