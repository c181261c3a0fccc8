//! Errors of an analysis.

use std::path::PathBuf;

use thiserror::Error;

use crate::migrations::chain::ChainError;
use crate::migrations::pins::PinError;
use crate::{git, migrations, parallel, walk};

/// Errors of an analysis, by the layer that failed.
#[derive(Debug, Error)]
pub enum AnalysisError {
    /// Reading the repository failed.
    #[error(transparent)]
    Git(git::Error),
    /// Reading a versions directory or a migration file failed.
    #[error(transparent)]
    Migrations(#[from] migrations::Error),
    /// The migrations of a directory cannot be chained.
    #[error("{dir}: {source}")]
    Chain {
        /// The versions directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: ChainError,
    },
    /// A pin file cannot be read or is malformed, or re-pinning was refused. (Reading
    /// one from git fails as [`AnalysisError::Git`]; migrations that contradict their
    /// pins cannot be chained: [`AnalysisError::Chain`].)
    #[error(transparent)]
    Pins(Box<PinError>),
    /// A count exceeds what the first-add index's 32-bit numbers hold.
    #[error("{what} exceed {}, more than this tool supports", u32::MAX)]
    TooLarge {
        /// What overflowed.
        what: &'static str,
    },
    /// The caller asked to stop (for example on Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// The operating system refused to start a worker thread.
    #[error("could not start a worker thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A bug: an invariant does not hold.
    #[error("{0}")]
    Internal(String),
}

impl From<git::Error> for AnalysisError {
    fn from(error: git::Error) -> Self {
        match error {
            git::Error::Interrupted => AnalysisError::Interrupted,
            other => AnalysisError::Git(other),
        }
    }
}

impl From<PinError> for AnalysisError {
    fn from(error: PinError) -> Self {
        match error {
            PinError::Git(error) => (*error).into(),
            // Boxed: pin errors carry several paths and ids, and every analysis result
            // would otherwise pay for their size.
            other => AnalysisError::Pins(Box::new(other)),
        }
    }
}

impl From<walk::Error> for AnalysisError {
    fn from(error: walk::Error) -> Self {
        match error {
            walk::Error::Git(error) => error.into(),
            walk::Error::Interrupted => AnalysisError::Interrupted,
            walk::Error::Spawn(error) => AnalysisError::Spawn(error),
            walk::Error::TooLarge { what } => AnalysisError::TooLarge { what },
            walk::Error::Internal(detail) => AnalysisError::Internal(detail),
        }
    }
}

impl From<parallel::Error<migrations::Error>> for AnalysisError {
    fn from(error: parallel::Error<migrations::Error>) -> Self {
        match error {
            parallel::Error::Task(error) => AnalysisError::Migrations(error),
            parallel::Error::Interrupted => AnalysisError::Interrupted,
            parallel::Error::Spawn(error) => AnalysisError::Spawn(error),
            lost @ parallel::Error::Lost { .. } => AnalysisError::Internal(lost.to_string()),
        }
    }
}
