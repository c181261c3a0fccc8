//! Pinned chains: the parents a release recorded for its dynamic migrations.
//!
//! A derived parent follows the shape of git history, so a later merge can give a
//! deployed migration another parent (see [`crate::git::reorder`] for how).
//! `revision_pins.json`, written by `alembic-git-revisions pin` at each release and
//! committed beside the versions directory (next to `revision_chain.json`), records the
//! parent of every dynamic migration in the chain at that commit.
//!
//! This module holds the file format (strict parsing, canonical rendering) and where the
//! file is found (beside a directory in the working tree, or in the tree of a commit).
//! The chain builder applies pins in its pin stage ([`super::chain::fix_parents`]) and
//! [`super::repin`] computes an append-only re-pin; without a pin file nothing changes
//! a chain.
//!
//! The file is JSON, one pin per line in chain order, written comma-first so that a
//! re-pin only ever adds lines (its diff has no `-` line):
//!
//! ```text
//! {
//!   "format": "alembic-git-revisions pins",
//!   "version": 1,
//!   "pins": [
//!     {"revision": "1a2b", "down_revision": null, "file": "1a2b_init.py", "pinned_at": "<40 hex>"}
//!   , {"revision": "3c4d", "down_revision": "1a2b", "file": "3c4d_users.py", "pinned_at": "<40 hex>"}
//!   ]
//! }
//! ```
//!
//! Reading is strict on content (unknown or missing fields, wrong types, duplicate
//! revisions, a parent pinned only further down, a malformed commit id are errors
//! naming the file), not on layout.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use git2::Oid;
use serde::Deserialize;
use thiserror::Error;

use crate::git::{self, snapshot, Repository};

/// The pin file's name; it lives in the versions directory's parent.
pub const FILENAME: &str = "revision_pins.json";
/// The `format` every pin file declares.
pub const FORMAT: &str = "alembic-git-revisions pins";
/// The layout version this build reads and writes.
pub const VERSION: u64 = 1;

/// One pinned migration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pin {
    /// The revision id.
    pub revision: String,
    /// Its parent when it was pinned; `None` for the root of a history with no
    /// static migration.
    pub down_revision: Option<String>,
    /// The migration's file name when it was pinned (for people and messages).
    pub file: String,
    /// Full id of the commit the pin was taken at.
    pub pinned_at: String,
}

impl Pin {
    /// The pinned parent as a parent list (empty for a root).
    #[must_use]
    pub fn parents(&self) -> Vec<String> {
        self.down_revision.iter().cloned().collect()
    }
}

/// The pins of one versions directory, in chain order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PinSet {
    /// Where they were read from: a path, or `REF:path` for a file in a commit.
    pub source: PathBuf,
    /// The pins, parents first.
    pub pins: Vec<Pin>,
}

/// Errors of reading a pin file and of re-pinning. Each names the pin file. (A
/// directory that contradicts its pins cannot be chained: that is a
/// [`super::chain::ChainError`].)
#[derive(Debug, Error)]
pub enum PinError {
    /// The file is not a valid pin file.
    #[error("{file} is not a valid pin file: {detail}")]
    Malformed {
        /// The pin file.
        file: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The file exists but cannot be read.
    #[error("cannot read pin file {file}: {source}")]
    Read {
        /// The pin file.
        file: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file in the tree of a commit cannot be read from the object database.
    #[error(transparent)]
    Git(Box<git::Error>),
    /// Re-pinning would change the parent of a pinned migration.
    #[error(
        "refusing to re-pin {file}: it pins {revision:?} to {pinned}, but at {at} its parent is \
         {now}{why}. Pins are append-only: a deployed migration keeps its parent",
        revision = pin.revision,
        pinned = show_parent(pin.down_revision.as_deref()),
        now = show_parents(now)
    )]
    WouldChange {
        /// The pin file.
        file: PathBuf,
        /// The pin.
        pin: Box<Pin>,
        /// The migration's parents at `at`.
        now: Vec<String>,
        /// The revision being pinned.
        at: String,
        /// Why the parents differ, when known.
        why: String,
    },
    /// Re-pinning at a commit that lacks a pinned migration.
    #[error(
        "refusing to re-pin {file} at {at}: it pins {revision:?} ({migration}), which does not \
         exist at {at}. Pin at a commit that contains every pinned migration (the deployed \
         one, not an older one or another branch)",
        revision = pin.revision,
        migration = pin.file
    )]
    WouldDrop {
        /// The pin file.
        file: PathBuf,
        /// The pin of the missing migration.
        pin: Box<Pin>,
        /// The revision being pinned.
        at: String,
    },
    /// The chain at the commit being pinned leaves a migration without a parent.
    #[error(
        "cannot pin {file} at {at}: migration {revision:?} has no derived parent there \
         ({why}); fix that first"
    )]
    Unchained {
        /// The pin file.
        file: PathBuf,
        /// The migration without a parent.
        revision: String,
        /// The revision being pinned.
        at: String,
        /// Why it has none.
        why: String,
    },
}

impl PinError {
    /// The pin file the error is about.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        match self {
            PinError::Malformed { file, .. }
            | PinError::Read { file, .. }
            | PinError::WouldChange { file, .. }
            | PinError::WouldDrop { file, .. }
            | PinError::Unchained { file, .. } => Some(file),
            PinError::Git(_) => None,
        }
    }

    /// The pinned revision the error is about, if one.
    #[must_use]
    pub fn revision(&self) -> Option<&str> {
        match self {
            PinError::WouldChange { pin, .. } | PinError::WouldDrop { pin, .. } => {
                Some(&pin.revision)
            }
            PinError::Unchained { revision, .. } => Some(revision),
            PinError::Malformed { .. } | PinError::Read { .. } | PinError::Git(_) => None,
        }
    }
}

/// The first 10 hex digits of a commit id, for messages.
pub(super) fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// A pinned parent for messages.
pub(super) fn show_parent(parent: Option<&str>) -> String {
    parent.map_or_else(|| "None (a root)".to_owned(), |p| format!("{p:?}"))
}

/// Hardcoded parents for messages.
pub(super) fn show_parents(parents: &[String]) -> String {
    match parents {
        [] => "None (a root)".to_owned(),
        [one] => format!("{one:?}"),
        many => format!(
            "({})",
            many.iter()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

// ------------------------------------------------------------------- the format

/// Just enough of the file to tell what it is before holding it to one version.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u64,
}

/// The whole file. serde refuses unknown, missing and duplicate fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    // Checked through `Header` first; present here so that they are required and
    // typed, and not taken for unknown fields.
    #[serde(rename = "format")]
    _format: String,
    #[serde(rename = "version")]
    _version: u64,
    pins: Vec<RawPin>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPin {
    revision: String,
    // `deserialize_with` makes the field required: `null` is a value, absence is not.
    #[serde(deserialize_with = "Option::deserialize")]
    down_revision: Option<String>,
    file: String,
    pinned_at: String,
}

fn json_error(error: &serde_json::Error, bytes: &[u8]) -> String {
    use serde_json::error::Category;
    if bytes
        .split(|&b| b == b'\n')
        .any(|line| line.starts_with(b"<<<<<<<") || line.starts_with(b">>>>>>>"))
    {
        return format!(
            "it holds unresolved merge conflict markers ({error}); pins are written only by \
             `alembic-git-revisions pin` on the branch you deploy, so take that branch's \
             version of the file"
        );
    }
    match error.classify() {
        Category::Eof | Category::Syntax => {
            format!("not valid JSON ({error}); it may be truncated")
        }
        Category::Data | Category::Io => error.to_string(),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn is_commit_id(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parse and validate a pin file's bytes; `source` names it in errors.
///
/// # Errors
///
/// [`PinError::Malformed`] saying what is wrong.
pub fn parse(source: &Path, bytes: &[u8]) -> Result<PinSet, PinError> {
    let bad = |detail: String| PinError::Malformed {
        file: source.to_path_buf(),
        detail,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            "it is empty; regenerate it with `alembic-git-revisions pin`".into(),
        ));
    }
    // serde would also accept a struct written as an array; the file holds objects
    // only, which the generic value tells first.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(json_error(&e, bytes)))?;
    let Some(object) = value.as_object() else {
        return Err(bad(format!(
            "it must hold a JSON object, not {}",
            json_kind(&value)
        )));
    };
    if let Some(serde_json::Value::Array(entries)) = object.get("pins") {
        if let Some((index, entry)) = entries.iter().enumerate().find(|(_, e)| !e.is_object()) {
            return Err(bad(format!(
                "pin {} must be a JSON object, not {}",
                index + 1,
                json_kind(entry)
            )));
        }
    }
    let header: Header = serde_json::from_slice(bytes).map_err(|e| bad(json_error(&e, bytes)))?;
    if header.format != FORMAT {
        return Err(bad(format!(
            "its format is {:?}, expected {FORMAT:?}",
            header.format
        )));
    }
    if header.version != VERSION {
        return Err(bad(format!(
            "it has layout version {}, and this alembic-git-revisions reads version {VERSION}{}",
            header.version,
            if header.version > VERSION {
                "; upgrade alembic-git-revisions"
            } else {
                ""
            }
        )));
    }
    let raw: RawFile = serde_json::from_slice(bytes).map_err(|e| bad(json_error(&e, bytes)))?;
    check_entries(&raw.pins).map_err(bad)?;
    Ok(PinSet {
        source: source.to_path_buf(),
        pins: raw
            .pins
            .into_iter()
            .map(|p| Pin {
                revision: p.revision,
                down_revision: p.down_revision,
                file: p.file,
                pinned_at: p.pinned_at,
            })
            .collect(),
    })
}

/// The rules on the entries of a well-typed file: no empty fields, full commit ids,
/// each revision once, parents before children. `Err` says which entry breaks which.
fn check_entries(pins: &[RawPin]) -> Result<(), String> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(pins.len());
    for (index, pin) in pins.iter().enumerate() {
        let entry = index + 1;
        if pin.revision.is_empty() {
            return Err(format!("pin {entry} has an empty revision"));
        }
        if pin.down_revision.as_deref() == Some("") {
            return Err(format!(
                "pin {entry} ({:?}) has an empty down_revision (use null for a root)",
                pin.revision
            ));
        }
        if pin.file.is_empty() {
            return Err(format!(
                "pin {entry} ({:?}) has an empty file name",
                pin.revision
            ));
        }
        if !is_commit_id(&pin.pinned_at) {
            return Err(format!(
                "pin {entry} ({:?}): pinned_at {:?} is not a full commit id (40 lowercase hex digits)",
                pin.revision, pin.pinned_at
            ));
        }
        if let Some(first) = seen.insert(&pin.revision, entry) {
            return Err(format!(
                "pins {first} and {entry} both pin {:?}",
                pin.revision
            ));
        }
    }
    // Entries are in chain order: a pinned parent comes before its child. This also
    // rules out pinned parents that loop.
    for (index, pin) in pins.iter().enumerate() {
        if let Some(parent) = pin.down_revision.as_deref() {
            if let Some(&at) = seen.get(parent) {
                if at > index {
                    return Err(format!(
                        "pin {} pins {:?} to {parent:?}, which is only pinned further down (pin \
                         {at}); pins must be in chain order, parents first",
                        index + 1,
                        pin.revision
                    ));
                }
            }
        }
    }
    Ok(())
}

fn json_string(text: &str) -> String {
    // Serialising a `str` cannot fail; the fallback only keeps unwrap out.
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// The canonical text of a pin file: one pin per line, comma-first, so that
/// appending pins adds lines and changes none.
#[must_use]
pub fn render(pins: &[Pin]) -> String {
    let mut out = format!(
        "{{\n  \"format\": {},\n  \"version\": {VERSION},\n  \"pins\": [\n",
        json_string(FORMAT)
    );
    for (index, pin) in pins.iter().enumerate() {
        out.push_str(if index == 0 { "    " } else { "  , " });
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{{\"revision\": {}, \"down_revision\": {}, \"file\": {}, \"pinned_at\": {}}}",
            json_string(&pin.revision),
            pin.down_revision
                .as_deref()
                .map_or_else(|| "null".to_owned(), json_string),
            json_string(&pin.file),
            json_string(&pin.pinned_at),
        );
    }
    out.push_str("  ]\n}\n");
    out
}

// ------------------------------------------------------------ where the file is

/// The pin file of a versions directory in the working tree: beside it, as
/// `revision_chain.json` is (the path as given, symlinks not resolved).
#[must_use]
pub fn path_beside(versions_dir: &Path) -> PathBuf {
    versions_dir
        .parent()
        .unwrap_or(Path::new(""))
        .join(FILENAME)
}

/// The pins beside `versions_dir` in the working tree; `None` without a pin file.
///
/// # Errors
///
/// [`PinError::Read`] when the file exists but cannot be read (a directory, no
/// permission), [`PinError::Malformed`] when it is not a valid pin file.
pub fn beside(versions_dir: &Path) -> Result<Option<PinSet>, PinError> {
    let file = path_beside(versions_dir);
    match std::fs::read(&file) {
        Ok(bytes) => parse(&file, &bytes).map(Some),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PinError::Read { file, source }),
    }
}

/// The pins of the versions directory at `versions_dir` (relative to the top of the
/// working tree) in the tree of `commit`, as `git show <spec>:<dir>/../revision_pins.json`
/// finds them; `None` when there is no pin file there. A versions directory at the
/// top of the repository has its pin file outside it, so none. In messages the file
/// is `<spec>:<path>`.
///
/// # Errors
///
/// [`PinError::Git`] when the tree or the file cannot be read, [`PinError::Malformed`]
/// when it is not a valid pin file.
pub fn at(
    repo: &Repository,
    commit: Oid,
    spec: &str,
    versions_dir: &Path,
) -> Result<Option<PinSet>, PinError> {
    let Some(parent) = versions_dir
        .parent()
        .filter(|_| !versions_dir.as_os_str().is_empty())
    else {
        return Ok(None);
    };
    let files = match snapshot::files_at(repo, commit, spec, parent, |name| {
        name == FILENAME.as_bytes()
    }) {
        // The parent is a file at that commit: then the directory is not there either.
        Err(git::Error::NotADirectoryAt { .. }) | Ok(None) => return Ok(None),
        Err(error) => return Err(PinError::Git(Box::new(error))),
        Ok(Some(files)) => files,
    };
    let label = PathBuf::from(format!("{spec}:{}", parent.join(FILENAME).display()));
    files
        .into_iter()
        .next()
        .map(|file| parse(&label, &file.contents))
        .transpose()
}

#[cfg(test)]
mod tests;
