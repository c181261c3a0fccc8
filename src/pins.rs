//! Pinned chains: the parents a release recorded for its dynamic migrations.
//!
//! A derived parent follows the shape of git history, so a later merge can give a
//! deployed migration another parent (see `reorder` for how). `revision_pins.json`,
//! written by `alembic-git-revisions pin` at each release and committed beside the
//! versions directory (next to `revision_chain.json`), records the parent of every
//! dynamic migration in the chain at that commit. This module holds the file format
//! (strict parsing, canonical rendering), the append-only re-pin, and how pins enter
//! the chain: a pinned migration is treated exactly as if its file hardcoded its
//! pinned parent, so the ordinary builder (`chain::build`) chains the unpinned
//! dynamic migrations, in git order, after the pinned head, or after a hybrid that
//! hangs off it. Without a pin file nothing here runs.
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

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::chain::{self, Chain, ChainError, Migration, Unchained};

/// The pin file's name; it lives in the versions directory's parent.
pub const PINS_FILENAME: &str = "revision_pins.json";
/// The `format` every pin file declares.
pub const FORMAT: &str = "alembic-git-revisions pins";
/// The layout version this build reads and writes.
pub const VERSION: u64 = 1;

/// One pinned migration.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The pins of one versions directory, in chain order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PinSet {
    /// Where they were read from: a path, or `REF:path` for a file in a commit.
    pub source: PathBuf,
    /// The pins, parents first.
    pub pins: Vec<Pin>,
}

/// Errors of reading, applying and extending pins. Each names the pin file.
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
    /// A pinned migration no longer exists.
    #[error(
        "{file} pins migration {revision:?} ({migration}, pinned at commit {short}), but no \
         migration declares it any more: a deployed migration was deleted or its revision id \
         changed. Restore {migration}; if it was never deployed anywhere, remove its line from \
         {file} by hand",
        revision = pin.revision,
        migration = pin.file,
        short = short(&pin.pinned_at)
    )]
    Deleted {
        /// The pin file.
        file: PathBuf,
        /// The pin of the missing migration.
        pin: Box<Pin>,
    },
    /// A pinned migration's file now hardcodes another parent.
    #[error(
        "{migration} now hardcodes down_revision {now}, but {file} pins {revision:?} to \
         {pinned} (pinned at commit {short}): the parent of a deployed migration must not \
         change. Set its down_revision back to {pinned}",
        revision = pin.revision,
        now = show_parents(now),
        pinned = show_parent(pin.down_revision.as_deref()),
        short = short(&pin.pinned_at)
    )]
    ParentChanged {
        /// The pin file.
        file: PathBuf,
        /// The pin.
        pin: Box<Pin>,
        /// The migration's file name now.
        migration: String,
        /// Its hardcoded parents now.
        now: Vec<String>,
    },
    /// A pinned parent no longer exists.
    #[error(
        "{file} pins {revision:?} to parent {parent:?} (pinned at commit {short}), but no \
         migration declares {parent:?} any more: a deployed migration was deleted. Restore it",
        revision = pin.revision,
        parent = pin.down_revision.as_deref().unwrap_or_default(),
        short = short(&pin.pinned_at)
    )]
    ParentGone {
        /// The pin file.
        file: PathBuf,
        /// The pin whose parent is gone.
        pin: Box<Pin>,
    },
    /// Pinned and hardcoded parents loop.
    #[error(
        "{file}: pinned and hardcoded parents form a cycle: {}; was the pin file edited by hand?",
        cycle.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(" -> ")
    )]
    Cycle {
        /// The pin file.
        file: PathBuf,
        /// The revisions around the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
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
    /// Is the file itself at fault (as opposed to the migrations disagreeing with it)?
    pub fn is_malformed(&self) -> bool {
        matches!(self, PinError::Malformed { .. })
    }
}

fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

fn show_parent(parent: Option<&str>) -> String {
    parent.map_or_else(|| "None (a root)".to_owned(), |p| format!("{p:?}"))
}

fn show_parents(parents: &[String]) -> String {
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

/// Just enough of the file to tell what it is before holding it to one version.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    // Checked through `Header` first.
    #[allow(dead_code)] // read for strictness (must be present and a string)
    format: String,
    #[allow(dead_code)] // read for strictness (must be present and an integer)
    version: u64,
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
    // serde also accepts a struct written as an array; the file holds objects only.
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
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(raw.pins.len());
    for (index, pin) in raw.pins.iter().enumerate() {
        let entry = index + 1;
        if pin.revision.is_empty() {
            return Err(bad(format!("pin {entry} has an empty revision")));
        }
        if pin.down_revision.as_deref() == Some("") {
            return Err(bad(format!(
                "pin {entry} ({:?}) has an empty down_revision (use null for a root)",
                pin.revision
            )));
        }
        if pin.file.is_empty() {
            return Err(bad(format!(
                "pin {entry} ({:?}) has an empty file name",
                pin.revision
            )));
        }
        if !is_commit_id(&pin.pinned_at) {
            return Err(bad(format!(
                "pin {entry} ({:?}): pinned_at {:?} is not a full commit id (40 lowercase hex digits)",
                pin.revision, pin.pinned_at
            )));
        }
        if let Some(first) = seen.insert(&pin.revision, entry) {
            return Err(bad(format!(
                "pins {} and {entry} both pin {:?}",
                first, pin.revision
            )));
        }
    }
    // Entries are in chain order: a pinned parent comes before its child. This also
    // rules out pinned parents that loop.
    for (index, pin) in raw.pins.iter().enumerate() {
        if let Some(parent) = pin.down_revision.as_deref() {
            if let Some(&at) = seen.get(parent) {
                if at > index {
                    return Err(bad(format!(
                        "pin {} pins {:?} to {parent:?}, which is only pinned further down (pin \
                         {at}); pins must be in chain order, parents first",
                        index + 1,
                        pin.revision
                    )));
                }
            }
        }
    }
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

fn json_string(text: &str) -> String {
    // Serialising a `str` cannot fail.
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// The canonical text of a pin file: one pin per line, comma-first, so that
/// appending pins adds lines and changes none.
pub fn render(pins: &[Pin]) -> String {
    let mut out = format!(
        "{{\n  \"format\": {},\n  \"version\": {VERSION},\n  \"pins\": [\n",
        json_string(FORMAT)
    );
    for (index, pin) in pins.iter().enumerate() {
        out.push_str(if index == 0 { "    " } else { "  , " });
        out.push_str(&format!(
            "{{\"revision\": {}, \"down_revision\": {}, \"file\": {}, \"pinned_at\": {}}}\n",
            json_string(&pin.revision),
            pin.down_revision
                .as_deref()
                .map_or_else(|| "null".to_owned(), json_string),
            json_string(&pin.file),
            json_string(&pin.pinned_at),
        ));
    }
    out.push_str("  ]\n}\n");
    out
}

/// Why a chain with pins cannot be built.
#[derive(Debug, Error)]
pub enum PinnedBuildError {
    /// The migrations themselves cannot be chained (duplicate ids, static cycles).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The migrations contradict the pins.
    #[error(transparent)]
    Pins(#[from] PinError),
}

/// Build the chain of one directory, honouring `pins` when there are any.
///
/// Without pins this is exactly [`chain::build`]. With pins, each pinned dynamic
/// migration is first given its pinned parent as if hardcoded; a pinned migration
/// that is gone, or whose file now hardcodes another parent, is an error. The
/// returned links list the pinned dynamic migrations first (in pin order), then the
/// unpinned ones in chain order.
pub fn build_chain(files: &[Migration], pins: Option<&PinSet>) -> Result<Chain, PinnedBuildError> {
    let Some(pins) = pins.filter(|p| !p.pins.is_empty()) else {
        return Ok(chain::build(files)?);
    };
    let mut declared: HashMap<&str, usize> = HashMap::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        if declared.insert(&file.revision, index).is_some() {
            // Duplicate ids: the builder says which files.
            return Ok(chain::build(files)?);
        }
    }
    let mut hardcoded = files.to_vec();
    let mut pinned_links = Vec::new();
    for pin in &pins.pins {
        let Some(&index) = declared.get(pin.revision.as_str()) else {
            return Err(PinError::Deleted {
                file: pins.source.clone(),
                pin: Box::new(pin.clone()),
            }
            .into());
        };
        if let Some(parent) = &pin.down_revision {
            if !declared.contains_key(parent.as_str()) {
                return Err(PinError::ParentGone {
                    file: pins.source.clone(),
                    pin: Box::new(pin.clone()),
                }
                .into());
            }
        }
        let file = &mut hardcoded[index];
        if file.is_dynamic {
            file.is_dynamic = false;
            file.static_down_revisions = pin.down_revision.iter().cloned().collect();
            pinned_links.push((pin.revision.clone(), pin.down_revision.clone()));
        } else if file.static_down_revisions
            != pin.down_revision.iter().cloned().collect::<Vec<_>>()
        {
            return Err(PinError::ParentChanged {
                file: pins.source.clone(),
                pin: Box::new(pin.clone()),
                migration: String::from_utf8_lossy(&file.filename).into_owned(),
                now: file.static_down_revisions.clone(),
            }
            .into());
        }
    }
    let mut chain = chain::build(&hardcoded).map_err(|error| match error {
        ChainError::StaticCycle { cycle } => PinnedBuildError::Pins(PinError::Cycle {
            file: pins.source.clone(),
            cycle,
        }),
        other => PinnedBuildError::Chain(other),
    })?;
    pinned_links.append(&mut chain.links);
    chain.links = pinned_links;
    Ok(chain)
}

/// The pins after re-pinning at commit `pinned_at` (named `at` in messages): the
/// `existing` pins, then every dynamic migration of `chain` not pinned yet, in chain
/// order. `files` and `chain` are the directory's state at that commit.
///
/// Refuses anything but an append: a pinned migration missing at that commit, or
/// with other parents there, is an error naming it.
pub fn extend(
    existing: Option<&PinSet>,
    file: &Path,
    files: &[Migration],
    chain: &Chain,
    pinned_at: &str,
    at: &str,
) -> Result<Vec<Pin>, PinError> {
    if let Some((revision, why)) = &chain.unchained {
        return Err(PinError::Unchained {
            file: file.to_path_buf(),
            revision: revision.clone(),
            at: at.to_owned(),
            why: match why {
                Unchained::MultipleStaticHeads(heads) => format!(
                    "the hardcoded migrations have {} heads: {}",
                    heads.len(),
                    heads.join(", ")
                ),
                Unchained::NoStaticHead => {
                    "no hardcoded migration there is a head; their parents live elsewhere".into()
                }
            },
        });
    }
    let by_revision: HashMap<&str, &Migration> =
        files.iter().map(|f| (f.revision.as_str(), f)).collect();
    let derived: HashMap<&str, Option<&str>> = chain
        .links
        .iter()
        .map(|(r, p)| (r.as_str(), p.as_deref()))
        .collect();
    let mut pins: Vec<Pin> = existing.map(|e| e.pins.clone()).unwrap_or_default();
    for pin in &pins {
        let Some(migration) = by_revision.get(pin.revision.as_str()) else {
            return Err(PinError::WouldDrop {
                file: file.to_path_buf(),
                pin: Box::new(pin.clone()),
                at: at.to_owned(),
            });
        };
        let now: Vec<String> = if migration.is_dynamic {
            derived
                .get(pin.revision.as_str())
                .copied()
                .flatten()
                .map(str::to_owned)
                .into_iter()
                .collect()
        } else {
            migration.static_down_revisions.clone()
        };
        if now != pin.down_revision.iter().cloned().collect::<Vec<_>>() {
            return Err(PinError::WouldChange {
                file: file.to_path_buf(),
                pin: Box::new(pin.clone()),
                now,
                at: at.to_owned(),
                why: if migration.is_dynamic {
                    format!(
                        " (derived from git history: the pin file at {at} does not hold this \
                         pin, or pins it differently, and the history has changed shape)"
                    )
                } else {
                    " (hardcoded in its file)".into()
                },
            });
        }
    }
    let pinned: HashSet<String> = pins.iter().map(|p| p.revision.clone()).collect();
    for (revision, parent) in &chain.links {
        if pinned.contains(revision) {
            continue;
        }
        let name = by_revision
            .get(revision.as_str())
            .map(|m| String::from_utf8_lossy(&m.filename).into_owned())
            .unwrap_or_default();
        pins.push(Pin {
            revision: revision.clone(),
            down_revision: parent.clone(),
            file: name,
            pinned_at: pinned_at.to_owned(),
        });
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "0123456789abcdef0123456789abcdef01234567";
    const LATER: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn dynamic(rev: &str, seq: u32) -> Migration {
        Migration {
            revision: rev.into(),
            filename: format!("{rev}_m.py").into_bytes(),
            git_sequence: seq,
            is_dynamic: true,
            static_down_revisions: vec![],
        }
    }

    fn fixed(rev: &str, seq: u32, parents: &[&str]) -> Migration {
        Migration {
            is_dynamic: false,
            static_down_revisions: parents.iter().map(|p| (*p).to_owned()).collect(),
            ..dynamic(rev, seq)
        }
    }

    fn pin(rev: &str, parent: Option<&str>) -> Pin {
        Pin {
            revision: rev.into(),
            down_revision: parent.map(str::to_owned),
            file: format!("{rev}_m.py"),
            pinned_at: AT.into(),
        }
    }

    fn set(pins: Vec<Pin>) -> PinSet {
        PinSet {
            source: PathBuf::from("m/revision_pins.json"),
            pins,
        }
    }

    fn links(chain: &Chain) -> Vec<(&str, Option<&str>)> {
        chain
            .links
            .iter()
            .map(|(r, p)| (r.as_str(), p.as_deref()))
            .collect()
    }

    fn parse_text(text: &str) -> Result<PinSet, PinError> {
        parse(Path::new("m/revision_pins.json"), text.as_bytes())
    }

    fn malformed(text: &str) -> String {
        match parse_text(text) {
            Err(PinError::Malformed { file, detail }) => {
                assert_eq!(file, Path::new("m/revision_pins.json"));
                detail
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn render_and_parse_round_trip() {
        let pins = vec![
            pin("a", None),
            pin("b", Some("a")),
            pin("c\"\\é", Some("b")),
        ];
        let text = render(&pins);
        assert!(text.starts_with(
            "{\n  \"format\": \"alembic-git-revisions pins\",\n  \"version\": 1,\n  \"pins\": [\n"
        ));
        assert!(text.ends_with("  ]\n}\n"));
        assert_eq!(parse_text(&text).unwrap().pins, pins);
        assert_eq!(parse_text(&render(&[])).unwrap().pins, vec![]);
    }

    #[test]
    fn appending_pins_only_adds_lines() {
        let before = render(&[pin("a", None), pin("b", Some("a"))]);
        let after = render(&[pin("a", None), pin("b", Some("a")), pin("c", Some("b"))]);
        let old: Vec<&str> = before.lines().collect();
        let new: Vec<&str> = after.lines().collect();
        assert_eq!(new.len(), old.len() + 1);
        // Every old line survives unchanged, in order; one line is inserted.
        let inserted = new.len() - 3;
        assert_eq!(&new[..inserted], &old[..inserted]);
        assert_eq!(&new[inserted + 1..], &old[inserted..]);
        assert!(new[inserted].starts_with("  , {\"revision\": \"c\""));
        // From nothing pinned to one pin: still one added line.
        let empty: Vec<String> = render(&[]).lines().map(str::to_owned).collect();
        let one: Vec<String> = render(&[pin("a", None)])
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(one.len(), empty.len() + 1);
        assert_eq!(one[..4], empty[..4]);
    }

    #[test]
    fn layout_is_free_content_is_strict() {
        let compact = format!(
            "{{\"pins\":[{{\"pinned_at\":\"{AT}\",\"file\":\"a.py\",\"down_revision\":null,\
             \"revision\":\"a\"}}],\"version\":1,\"format\":\"alembic-git-revisions pins\"}}"
        );
        assert_eq!(parse_text(&compact).unwrap().pins.len(), 1);

        let entry = |extra: &str| {
            format!(
                "{{\"format\": \"alembic-git-revisions pins\", \"version\": 1, \"pins\": [{{{extra}}}]}}"
            )
        };
        let full = format!("\"revision\": \"a\", \"down_revision\": null, \"file\": \"a.py\", \"pinned_at\": \"{AT}\"");
        assert!(parse_text(&entry(&full)).is_ok());
        let missing_parent =
            format!("\"revision\": \"a\", \"file\": \"a.py\", \"pinned_at\": \"{AT}\"");
        assert!(malformed(&entry(&missing_parent)).contains("missing field `down_revision`"));
        assert!(malformed(&entry(&format!("{full}, \"note\": 1"))).contains("unknown field `note`"));
        assert!(malformed(&entry(&format!("{full}, \"revision\": \"b\"")))
            .contains("duplicate field `revision`"));
        let numeric = full.replace("\"a\", \"down", "7, \"down");
        assert!(malformed(&entry(&numeric)).contains("invalid type: integer `7`"));
        let short_commit = full.replace(AT, "abc123");
        assert!(malformed(&entry(&short_commit)).contains("is not a full commit id"));
        let upper = full.replace(AT, &AT.to_uppercase());
        assert!(malformed(&entry(&upper)).contains("is not a full commit id"));
        let empty_parent = full.replace("null", "\"\"");
        assert!(malformed(&entry(&empty_parent)).contains("empty down_revision"));
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        assert!(malformed("").contains("is empty"));
        assert!(malformed("  \n").contains("is empty"));
        assert!(malformed(
            "{\"format\": \"alembic-git-revisions pins\", \"version\": 1, \"pins\": ["
        )
        .contains("not valid JSON"));
        assert!(malformed("[]").contains("must hold a JSON object, not an array"));
        let as_arrays = format!("{{\"format\": \"alembic-git-revisions pins\", \"version\": 1, \"pins\": [[\"a\", null, \"a.py\", \"{AT}\"]]}}");
        assert!(malformed(&as_arrays).contains("pin 1 must be a JSON object, not an array"));
        assert!(
            malformed("{\"format\": \"alembic-git-revisions pins\", \"version\": 1}")
                .contains("missing field `pins`")
        );
        assert!(
            malformed("{\"format\": \"x\", \"version\": 1, \"pins\": []}")
                .contains("format is \"x\"")
        );
        let newer =
            malformed("{\"format\": \"alembic-git-revisions pins\", \"version\": 2, \"pins\": []}");
        assert!(newer.contains("layout version 2") && newer.contains("upgrade"));
        let huge = malformed(
            "{\"format\": \"alembic-git-revisions pins\", \"version\": 99999999999999999999999, \"pins\": []}",
        );
        assert!(huge.contains("invalid type: floating point"), "{huge}");
        let conflict = format!(
            "{}<<<<<<< HEAD\n  , {{}}\n=======\n  , {{}}\n>>>>>>> other\n  ]\n}}\n",
            render(&[pin("a", None)]).trim_end_matches("  ]\n}\n")
        );
        assert!(malformed(&conflict).contains("merge conflict markers"));
        let deep = format!(
            "{{\"format\": \"alembic-git-revisions pins\", \"version\": 1, \"pins\": {}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(!malformed(&deep).is_empty());
        assert!(matches!(
            parse(Path::new("p"), b"\xff\xfe"),
            Err(PinError::Malformed { .. })
        ));
    }

    #[test]
    fn duplicate_and_misordered_pins_are_refused() {
        let twice = render(&[pin("a", None), pin("a", None)]);
        assert!(malformed(&twice).contains("pins 1 and 2 both pin \"a\""));
        let misordered = render(&[pin("b", Some("a")), pin("a", None)]);
        assert!(malformed(&misordered).contains("only pinned further down (pin 2)"));
        let own_parent = render(&[pin("a", Some("a"))]);
        assert!(malformed(&own_parent).contains("further down"));
    }

    #[test]
    fn without_pins_the_builder_is_unchanged() {
        let files = [fixed("s", 0, &[]), dynamic("b", 2), dynamic("a", 1)];
        assert_eq!(
            build_chain(&files, None).unwrap(),
            chain::build(&files).unwrap()
        );
        assert_eq!(
            build_chain(&files, Some(&set(vec![]))).unwrap(),
            chain::build(&files).unwrap()
        );
    }

    #[test]
    fn pinned_parents_hold_whatever_the_git_order() {
        // Pinned at: s <- a <- b. History later put the new f before a and b.
        let files = [
            fixed("s", 0, &[]),
            dynamic("f", 1),
            dynamic("a", 2),
            dynamic("b", 3),
        ];
        assert_eq!(
            links(&chain::build(&files).unwrap()),
            vec![("f", Some("s")), ("a", Some("f")), ("b", Some("a"))]
        );
        let pins = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
        let chain = build_chain(&files, Some(&pins)).unwrap();
        assert_eq!(
            links(&chain),
            vec![("a", Some("s")), ("b", Some("a")), ("f", Some("b"))]
        );
        assert_eq!(chain.unchained, None);
    }

    #[test]
    fn unpinned_migrations_follow_a_hybrid_on_the_pinned_head() {
        // Pinned: s <- a <- b; then h hardcodes b (a hybrid), and x, y are new.
        let files = [
            fixed("s", 0, &[]),
            dynamic("y", 1),
            dynamic("a", 2),
            dynamic("b", 3),
            fixed("h", 4, &["b"]),
            dynamic("x", 5),
        ];
        let pins = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
        assert_eq!(
            links(&build_chain(&files, Some(&pins)).unwrap()),
            vec![
                ("a", Some("s")),
                ("b", Some("a")),
                ("y", Some("h")),
                ("x", Some("y"))
            ]
        );
    }

    #[test]
    fn hybrids_inside_the_pinned_chain_stay_in_place() {
        // At pin time: s <- a <- h (hardcoded to a) <- b.
        let files = [
            fixed("s", 0, &[]),
            dynamic("n", 1),
            dynamic("a", 2),
            dynamic("b", 3),
            fixed("h", 4, &["a"]),
        ];
        let pins = set(vec![pin("a", Some("s")), pin("b", Some("h"))]);
        assert_eq!(
            links(&build_chain(&files, Some(&pins)).unwrap()),
            vec![("a", Some("s")), ("b", Some("h")), ("n", Some("b"))]
        );
    }

    #[test]
    fn a_pinned_root_without_static_migrations() {
        let files = [dynamic("n", 0), dynamic("a", 1), dynamic("b", 2)];
        let pins = set(vec![pin("a", None), pin("b", Some("a"))]);
        assert_eq!(
            links(&build_chain(&files, Some(&pins)).unwrap()),
            vec![("a", None), ("b", Some("a")), ("n", Some("b"))]
        );
    }

    #[test]
    fn a_pinned_migration_made_static_with_the_same_parent_is_fine() {
        let files = [
            fixed("s", 0, &[]),
            fixed("a", 1, &["s"]),
            dynamic("n", 2),
            dynamic("b", 3),
        ];
        let pins = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
        assert_eq!(
            links(&build_chain(&files, Some(&pins)).unwrap()),
            vec![("b", Some("a")), ("n", Some("b"))]
        );
    }

    #[test]
    fn a_deleted_pinned_migration_is_an_error_naming_it() {
        let files = [fixed("s", 0, &[]), dynamic("b", 1)];
        let pins = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
        let error = build_chain(&files, Some(&pins)).unwrap_err();
        let text = error.to_string();
        assert!(matches!(
            error,
            PinnedBuildError::Pins(PinError::Deleted { .. })
        ));
        assert!(
            text.contains("m/revision_pins.json pins migration \"a\" (a_m.py"),
            "{text}"
        );
        assert!(text.contains("0123456789"), "{text}");
    }

    #[test]
    fn a_changed_pinned_parent_is_an_error_naming_the_file() {
        let files = [
            fixed("s", 0, &[]),
            fixed("t", 1, &["s"]),
            fixed("a", 2, &["t"]),
        ];
        let pins = set(vec![pin("a", Some("s"))]);
        let text = build_chain(&files, Some(&pins)).unwrap_err().to_string();
        assert!(text.starts_with("a_m.py now hardcodes down_revision \"t\", but m/revision_pins.json pins \"a\" to \"s\""), "{text}");
    }

    #[test]
    fn a_pinned_parent_that_is_gone_is_an_error() {
        let files = [fixed("t", 0, &[]), dynamic("a", 1)];
        let pins = set(vec![pin("a", Some("s"))]);
        assert!(matches!(
            build_chain(&files, Some(&pins)),
            Err(PinnedBuildError::Pins(PinError::ParentGone { .. }))
        ));
    }

    #[test]
    fn a_cycle_through_pins_names_the_pin_file() {
        let files = [fixed("s", 0, &[]), dynamic("a", 1), fixed("h", 2, &["a"])];
        let pins = set(vec![pin("a", Some("h"))]);
        let error = build_chain(&files, Some(&pins)).unwrap_err();
        assert!(matches!(
            error,
            PinnedBuildError::Pins(PinError::Cycle { .. })
        ));
        assert!(error
            .to_string()
            .starts_with("m/revision_pins.json: pinned and hardcoded parents form a cycle"));
    }

    #[test]
    fn duplicates_are_reported_as_duplicates_with_pins_too() {
        let mut second = dynamic("a", 2);
        second.filename = b"other.py".to_vec();
        let files = [fixed("s", 0, &[]), dynamic("a", 1), second];
        assert!(matches!(
            build_chain(&files, Some(&set(vec![pin("a", Some("s"))]))),
            Err(PinnedBuildError::Chain(
                ChainError::DuplicateRevision { .. }
            ))
        ));
    }

    #[test]
    fn extend_appends_new_migrations_in_chain_order() {
        let files = [
            fixed("s", 0, &[]),
            dynamic("a", 1),
            dynamic("b", 2),
            dynamic("c", 3),
        ];
        let file = Path::new("m/revision_pins.json");
        let chain = chain::build(&files).unwrap();
        let first = extend(None, file, &files, &chain, AT, "v1").unwrap();
        assert_eq!(
            first,
            vec![
                pin("a", Some("s")),
                pin("b", Some("a")),
                pin("c", Some("b"))
            ]
        );
        let existing = set(first[..2].to_vec());
        let again = extend(Some(&existing), file, &files, &chain, LATER, "v2").unwrap();
        assert_eq!(&again[..2], &first[..2]);
        assert_eq!(again[2].revision, "c");
        assert_eq!(again[2].pinned_at, LATER);
    }

    #[test]
    fn extend_refuses_to_change_or_drop_a_pin() {
        let file = Path::new("m/revision_pins.json");
        let existing = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
        // At this commit git puts f before a and b, and no pin file is there.
        let files = [
            fixed("s", 0, &[]),
            dynamic("f", 1),
            dynamic("a", 2),
            dynamic("b", 3),
        ];
        let chain = chain::build(&files).unwrap();
        let error = extend(Some(&existing), file, &files, &chain, LATER, "v2").unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, PinError::WouldChange { .. }));
        assert!(
            text.starts_with("refusing to re-pin m/revision_pins.json: it pins \"a\" to \"s\", but at v2 its parent is \"f\""),
            "{text}"
        );

        let older = [fixed("s", 0, &[]), dynamic("a", 1)];
        let chain = chain::build(&older).unwrap();
        let error = extend(Some(&existing), file, &older, &chain, LATER, "v0").unwrap_err();
        assert!(matches!(error, PinError::WouldDrop { ref pin, .. } if pin.revision == "b"));
        assert!(error.to_string().contains("which does not exist at v0"));

        let now_static = [fixed("s", 0, &[]), fixed("a", 1, &["s"]), dynamic("b", 2)];
        let chain = chain::build(&now_static).unwrap();
        assert!(extend(Some(&existing), file, &now_static, &chain, LATER, "v3").is_ok());
    }

    #[test]
    fn extend_refuses_an_unchained_migration() {
        let files = [fixed("s", 0, &[]), fixed("t", 1, &[]), dynamic("a", 2)];
        let chain = chain::build(&files).unwrap();
        let error = extend(None, Path::new("p"), &files, &chain, AT, "HEAD").unwrap_err();
        assert!(matches!(error, PinError::Unchained { .. }));
        assert!(error.to_string().contains("2 heads: s, t"));
    }
}
