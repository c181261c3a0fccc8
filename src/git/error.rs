//! Errors of reading a git repository.

use std::path::PathBuf;

use git2::Oid;
use thiserror::Error;

use super::pack::PackError;
use super::topo::TopoError;
use super::ObjectKind;

/// Errors of reading a git repository and its history.
#[derive(Debug, Error)]
pub enum Error {
    /// No repository encloses the directory.
    #[error("{path} is not inside a git repository")]
    NotARepository {
        /// The directory the search started from.
        path: PathBuf,
    },
    /// `$GIT_DIR` is set but names no repository.
    #[error("GIT_DIR={git_dir} is not a git repository; unset GIT_DIR or point it at one")]
    BadGitDir {
        /// Where `$GIT_DIR` points (relative values taken from the versions directory's parent).
        git_dir: PathBuf,
    },
    /// The repository is a shallow clone: its history is truncated, so an order
    /// computed from it would be wrong.
    #[error(
        "{git_dir} is a shallow clone, so its history is incomplete and the migration \
         order cannot be derived from it. Fetch the full history (`git fetch --unshallow`, \
         or `fetch-depth: 0` in actions/checkout), or ship a revision_chain.json \
         generated from a full clone"
    )]
    Shallow {
        /// The repository's git directory.
        git_dir: PathBuf,
    },
    /// libgit2 refused the repository because another user owns it.
    #[error(
        "git refuses to read {path}: it is owned by another user. If you trust it, \
         run `git config --global --add safe.directory {path}`"
    )]
    NotOwned {
        /// The repository path.
        path: PathBuf,
    },
    /// The repository uses a format this build cannot read.
    #[error("{path}: unsupported repository format ({detail}); only SHA-1 repositories with files-based refs are supported")]
    UnsupportedFormat {
        /// The repository path.
        path: PathBuf,
        /// What libgit2 reported.
        detail: String,
    },
    /// An object that history needs is missing.
    #[error("{git_dir}: {kind} {oid} is missing from the object database{hint}")]
    MissingObject {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// What the object was needed as.
        kind: ObjectKind,
        /// The missing object's id.
        oid: Oid,
        /// Extra advice, for example for partial clones.
        hint: &'static str,
    },
    /// An object could be read but not parsed, or is not of the kind history needs.
    #[error("{git_dir}: {kind} {oid} is corrupt: {detail}")]
    Corrupt {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// What the object was needed as.
        kind: ObjectKind,
        /// The object's id.
        oid: Oid,
        /// What is wrong with it.
        detail: String,
    },
    /// A pack file holding an object history needs is damaged.
    #[error("{git_dir}: {kind} {oid} cannot be read: {source}")]
    Pack {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// What the object was needed as.
        kind: ObjectKind,
        /// The object being read.
        oid: Oid,
        /// What is wrong with the pack.
        #[source]
        source: PackError,
    },
    /// A revision given by the user does not name a commit.
    #[error("{git_dir}: cannot resolve {spec:?} to a commit: {detail}")]
    BadRevision {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The revision as given.
        spec: String,
        /// What libgit2 reported.
        detail: String,
    },
    /// A path inside the working tree was asked for, but the repository is bare.
    #[error("{git_dir} has no working tree to locate {path} in")]
    NoWorkTree {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The path that was to be located.
        path: PathBuf,
    },
    /// A path that should lie inside the working tree lies outside it.
    #[error("{path} is outside the working tree {work_tree}")]
    OutsideWorkTree {
        /// The path.
        path: PathBuf,
        /// The repository's working tree.
        work_tree: PathBuf,
    },
    /// A path names something other than a directory in the tree of a commit.
    #[error("{git_dir}: {path} is not a directory at {spec}")]
    NotADirectoryAt {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The revision as given.
        spec: String,
        /// The path, relative to the top of the working tree.
        path: PathBuf,
    },
    /// A file in the tree of a commit cannot be read.
    #[error("{git_dir}: cannot read {path}: {source}")]
    ReadAt {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The file, as `<rev>:<path>`.
        path: PathBuf,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// Any other libgit2 failure.
    #[error("{git_dir}: git error while {action}: {source}")]
    Git {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// What was being done.
        action: &'static str,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// The commit graph cannot be ordered.
    #[error("{git_dir}: {source}")]
    Topo {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The ordering failure.
        #[source]
        source: TopoError,
    },
    /// The history holds more commits than the 32-bit node numbers can count.
    #[error(
        "{git_dir}: the history holds more than {} commits, more than this tool supports",
        u32::MAX
    )]
    TooManyCommits {
        /// The repository's git directory.
        git_dir: PathBuf,
    },
    /// Two replace refs replace the same object; git refuses to read history then
    /// ("duplicate replace ref").
    #[error(
        "{git_dir}: two replace refs replace {oid} ({first} and {second}); git refuses \
         them too (\"duplicate replace ref\"): delete one with `git update-ref -d`"
    )]
    DuplicateReplaceRef {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The replaced object.
        oid: Oid,
        /// One ref replacing it.
        first: String,
        /// The other.
        second: String,
    },
    /// Replace refs chain an object through more than 4 replacements, or in a
    /// cycle; git stops there too ("replace depth too high").
    #[error(
        "{git_dir}: replace depth too high for object {oid}: its replace refs chain \
         more than 4 replacements or loop back to it, so git cannot read it either; \
         fix the refs under refs/replace/ (`git replace -l`)"
    )]
    ReplaceDepth {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The object whose replacement could not be found.
        oid: Oid,
    },
    /// The grafts file holds a line git reports as an error.
    #[error(
        "{path}{}: {detail}. git reports this line as an error and reads history without it; \
         correct or delete it (or convert the file with `git replace --convert-graft-file`)",
        line_suffix(*line)
    )]
    BadGrafts {
        /// The grafts file.
        path: PathBuf,
        /// The line (1-based; 0 when the file cannot be read at all).
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// A configuration value that decides how history is read is not valid.
    #[error("{git_dir}: bad boolean config value {value:?} for {key}; git refuses it too")]
    BadConfig {
        /// The repository's git directory.
        git_dir: PathBuf,
        /// The configuration key.
        key: &'static str,
        /// The value found.
        value: String,
    },
    /// An environment variable asks for a repository layout this tool cannot read
    /// the way git would.
    #[error("{variable}={value}: {detail}")]
    UnsupportedEnvironment {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// Why it cannot be honoured, and what to do.
        detail: String,
    },
    /// The caller asked to stop (for example on Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// The repository's git directory, where the error names one.
    #[must_use]
    pub fn git_dir(&self) -> Option<&std::path::Path> {
        match self {
            Error::BadGitDir { git_dir }
            | Error::Shallow { git_dir }
            | Error::MissingObject { git_dir, .. }
            | Error::Corrupt { git_dir, .. }
            | Error::Pack { git_dir, .. }
            | Error::BadRevision { git_dir, .. }
            | Error::NoWorkTree { git_dir, .. }
            | Error::NotADirectoryAt { git_dir, .. }
            | Error::ReadAt { git_dir, .. }
            | Error::Git { git_dir, .. }
            | Error::Topo { git_dir, .. }
            | Error::TooManyCommits { git_dir }
            | Error::DuplicateReplaceRef { git_dir, .. }
            | Error::ReplaceDepth { git_dir, .. }
            | Error::BadConfig { git_dir, .. } => Some(git_dir),
            Error::NotARepository { .. }
            | Error::NotOwned { .. }
            | Error::UnsupportedFormat { .. }
            | Error::OutsideWorkTree { .. }
            | Error::BadGrafts { .. }
            | Error::UnsupportedEnvironment { .. }
            | Error::Interrupted => None,
        }
    }

    /// The id of the object the error is about, if any.
    #[must_use]
    pub fn oid(&self) -> Option<Oid> {
        match self {
            Error::MissingObject { oid, .. }
            | Error::Corrupt { oid, .. }
            | Error::Pack { oid, .. }
            | Error::DuplicateReplaceRef { oid, .. }
            | Error::ReplaceDepth { oid, .. } => Some(*oid),
            _ => None,
        }
    }
}

/// `":<line>"`, or nothing for line 0 (the whole file).
fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}
