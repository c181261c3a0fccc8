//! Errors of the history walk.

use thiserror::Error;

use crate::{git, parallel};

/// Errors of the history walk.
#[derive(Debug, Error)]
pub enum Error {
    /// Reading the repository failed.
    #[error(transparent)]
    Git(git::Error),
    /// The caller asked to stop (for example on Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// The operating system refused to start a worker thread.
    #[error("could not start a worker thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A count exceeds what the index's 32-bit numbers hold.
    #[error("{what} exceed {}, more than this tool supports", u32::MAX)]
    TooLarge {
        /// What overflowed.
        what: &'static str,
    },
    /// A bug: an invariant of the walk does not hold.
    #[error("internal error in the history walk: {0}")]
    Internal(String),
}

impl From<git::Error> for Error {
    fn from(error: git::Error) -> Self {
        match error {
            git::Error::Interrupted => Error::Interrupted,
            other => Error::Git(other),
        }
    }
}

impl From<parallel::Error<git::Error>> for Error {
    fn from(error: parallel::Error<git::Error>) -> Self {
        match error {
            parallel::Error::Task(error) => error.into(),
            parallel::Error::Interrupted => Error::Interrupted,
            parallel::Error::Spawn(error) => Error::Spawn(error),
            lost @ parallel::Error::Lost { .. } => Error::Internal(lost.to_string()),
        }
    }
}
