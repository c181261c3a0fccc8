//! The revision chain: which parent each dynamic migration gets.
//!
//! Reproduces `alembic-git-revisions` 13: dynamic migrations are chained in git add
//! order after the single head of the purely static migrations, and a hybrid (a
//! static migration whose parent is dynamic) is slotted in right after its target so
//! that later dynamic migrations chain after it. With a pin file (see [`super::pins`]), the
//! pinned migrations keep their pinned parents and the others chain after them.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use thiserror::Error;

use super::pins::{short, show_parent, show_parents, Pin, PinSet};

/// One migration file, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The revision id.
    pub revision: String,
    /// File name within the versions directory (raw bytes, as the OS gives them).
    pub filename: Vec<u8>,
    /// Index of the file in the directory's git add order; files never added share
    /// one past the last index.
    pub git_sequence: u32,
    /// `down_revision = get_down_revision(...)`.
    pub is_dynamic: bool,
    /// Hardcoded parents of a static file; empty for dynamic files and static roots.
    pub static_down_revisions: Vec<String>,
}

/// Errors of chain building.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ChainError {
    /// Two files declare the same revision id, so any chain would be ambiguous.
    #[error(
        "revision {revision:?} is declared by both {first} and {second}; give one of them a new id"
    )]
    DuplicateRevision {
        /// The duplicated id.
        revision: String,
        /// The first file that declares it.
        first: String,
        /// The second file that declares it.
        second: String,
    },
    /// Hardcoded `down_revision`s loop back on themselves.
    #[error(
        "hardcoded down_revision values form a cycle: {}",
        cycle.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(" -> ")
    )]
    StaticCycle {
        /// The revisions around the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
    /// A pinned migration no longer exists.
    #[error(
        "{pin_file} pins migration {revision:?} ({migration}, pinned at commit {at}), but no \
         migration declares it any more: a deployed migration was deleted or its revision id \
         changed. Restore {migration}; if it was never deployed anywhere, remove its line from \
         {pin_file} by hand",
        revision = pin.revision,
        migration = pin.file,
        at = short(&pin.pinned_at)
    )]
    PinnedMigrationGone {
        /// The pin file.
        pin_file: PathBuf,
        /// The pin of the missing migration.
        pin: Box<Pin>,
    },
    /// A pinned migration's file now hardcodes another parent.
    #[error(
        "{filename} now hardcodes down_revision {now}, but {pin_file} pins {revision:?} to \
         {pinned} (pinned at commit {at}): the parent of a deployed migration must not \
         change. Set its down_revision back to {pinned}",
        now = show_parents(now),
        revision = pin.revision,
        pinned = show_parent(pin.down_revision.as_deref()),
        at = short(&pin.pinned_at)
    )]
    PinnedParentChanged {
        /// The pin file.
        pin_file: PathBuf,
        /// The pin.
        pin: Box<Pin>,
        /// The migration's file name now.
        filename: String,
        /// Its hardcoded parents now.
        now: Vec<String>,
    },
    /// A pinned parent no longer exists.
    #[error(
        "{pin_file} pins {revision:?} to parent {parent:?} (pinned at commit {at}), but no \
         migration declares {parent:?} any more: a deployed migration was deleted. Restore it",
        revision = pin.revision,
        parent = pin.down_revision.as_deref().unwrap_or_default(),
        at = short(&pin.pinned_at)
    )]
    PinnedParentGone {
        /// The pin file.
        pin_file: PathBuf,
        /// The pin whose parent is gone.
        pin: Box<Pin>,
    },
    /// Pinned and hardcoded parents loop (the hardcoded ones alone do not).
    #[error(
        "{}: pinned and hardcoded parents form a cycle: {}; was the pin file edited by hand?",
        pin_file.display(),
        cycle.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(" -> ")
    )]
    PinnedCycle {
        /// The pin file.
        pin_file: PathBuf,
        /// The revisions around the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
}

impl ChainError {
    /// The revision the error is about: the duplicated id, or the pinned migration.
    #[must_use]
    pub fn revision(&self) -> Option<&str> {
        match self {
            ChainError::DuplicateRevision { revision, .. } => Some(revision),
            ChainError::PinnedMigrationGone { pin, .. }
            | ChainError::PinnedParentChanged { pin, .. }
            | ChainError::PinnedParentGone { pin, .. } => Some(&pin.revision),
            ChainError::StaticCycle { .. } | ChainError::PinnedCycle { .. } => None,
        }
    }

    /// The pin file the migrations contradict, for the errors pins cause.
    #[must_use]
    pub fn pin_file(&self) -> Option<&std::path::Path> {
        match self {
            ChainError::PinnedMigrationGone { pin_file, .. }
            | ChainError::PinnedParentChanged { pin_file, .. }
            | ChainError::PinnedParentGone { pin_file, .. }
            | ChainError::PinnedCycle { pin_file, .. } => Some(pin_file),
            ChainError::DuplicateRevision { .. } | ChainError::StaticCycle { .. } => None,
        }
    }
}

/// Why the first dynamic migration got no parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unchained {
    /// The static migrations have several heads, so the start of the dynamic chain is
    /// ambiguous.
    MultipleStaticHeads(Vec<String>),
    /// Static migrations exist, but none is a head inside this directory (their
    /// parents live elsewhere).
    NoStaticHead,
}

/// The derived chain of one versions directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chain {
    /// `(revision, parent)` for each dynamic migration, in chain order. A `None`
    /// parent marks the first migration of a history with no static migration.
    pub links: Vec<(String, Option<String>)>,
    /// The first dynamic migration when it could not be given a parent, and why.
    pub unchained: Option<(String, Unchained)>,
}

/// Python's `str` ordering of a file name decoded with `surrogateescape`: code
/// points, undecodable bytes mapping to U+DC80..U+DCFF.
pub fn python_name_key(name: &[u8]) -> Vec<u32> {
    let mut key = Vec::with_capacity(name.len());
    let mut rest = name;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                key.extend(valid.chars().map(u32::from));
                break;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                // `valid_up_to` guarantees this prefix decodes.
                key.extend(String::from_utf8_lossy(valid).chars().map(u32::from));
                let bad = error.error_len().unwrap_or(after.len()).max(1);
                key.extend(after[..bad].iter().map(|&b| 0xDC00 + u32::from(b)));
                rest = &after[bad..];
            }
        }
    }
    key
}

/// Sort as the reference's `parse_versions_dir` does: by `(git_sequence, filename)`,
/// the file name compared as Python compares `str` (see [`python_name_key`]).
/// `migration` picks each item's migration, so callers sort whatever rows they keep.
pub fn sort_by_add_order<T>(items: &mut [T], migration: impl Fn(&T) -> &Migration) {
    items.sort_by_cached_key(|item| {
        let file = migration(item);
        (file.git_sequence, python_name_key(&file.filename))
    });
}

fn display_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// Build the chain of one directory from its migrations (in any order), honouring
/// `pins` (the directory's pin file, if any).
///
/// Five stages, each its own function: the input is checked (`check_unique`,
/// `check_static_cycles`); pins fix parents in advance ([`fix_parents`]: a
/// pinned dynamic migration counts as one hardcoding its pinned parent, checked for
/// cycles again); the heads of the static migrations are found (`static_heads`); the
/// migrations that take part in the dynamic line are put in chain order
/// (`chain_order`); and each dynamic one is linked to its predecessor (`link`). The
/// links list the pinned migrations first, in pin order, then the others in chain
/// order. Without pins the result is exactly the reference's.
///
/// # Errors
///
/// [`ChainError::DuplicateRevision`] or [`ChainError::StaticCycle`]; with pins, the
/// `Pinned*` variants when the migrations contradict them.
pub fn build(files: &[Migration], pins: Option<&PinSet>) -> Result<Chain, ChainError> {
    check_unique(files)?;
    check_static_cycles(files)?;
    let pinned = fix_parents(files, pins)?;
    if let (Some(pins), Cow::Owned(fixed)) = (pins, &pinned.files) {
        check_static_cycles(fixed).map_err(|error| match error {
            ChainError::StaticCycle { cycle } => ChainError::PinnedCycle {
                pin_file: pins.source.clone(),
                cycle,
            },
            other => other,
        })?;
    }
    let heads = static_heads(&pinned.files);
    let order = chain_order(&pinned.files);
    let mut chain = link(&pinned.files, &order, &heads);
    if !pinned.links.is_empty() {
        let mut links = pinned.links;
        links.append(&mut chain.links);
        chain.links = links;
    }
    Ok(chain)
}

/// Refuse two files declaring one revision: any chain would be ambiguous.
fn check_unique(files: &[Migration]) -> Result<(), ChainError> {
    let mut declared: HashMap<&str, &Migration> = HashMap::with_capacity(files.len());
    for file in files {
        if let Some(previous) = declared.insert(&file.revision, file) {
            let (mut first, mut second) = (
                display_name(&previous.filename),
                display_name(&file.filename),
            );
            if first > second {
                std::mem::swap(&mut first, &mut second);
            }
            return Err(ChainError::DuplicateRevision {
                revision: file.revision.clone(),
                first,
                second,
            });
        }
    }
    Ok(())
}

/// The heads of the purely static migrations (those whose parents are all static),
/// sorted: the dynamic line starts after the head when there is exactly one.
fn static_heads(files: &[Migration]) -> Vec<&str> {
    let static_revisions: HashSet<&str> = files
        .iter()
        .filter(|f| !f.is_dynamic)
        .map(|f| f.revision.as_str())
        .collect();
    let pure_static: Vec<&Migration> = files
        .iter()
        .filter(|f| {
            !f.is_dynamic
                && f.static_down_revisions
                    .iter()
                    .all(|p| static_revisions.contains(p.as_str()))
        })
        .collect();
    let consumed: HashSet<&str> = pure_static
        .iter()
        .flat_map(|f| f.static_down_revisions.iter().map(String::as_str))
        .collect();
    let mut heads: Vec<&str> = pure_static
        .iter()
        .map(|f| f.revision.as_str())
        .filter(|r| !consumed.contains(r))
        .collect();
    heads.sort_unstable();
    heads.dedup();
    heads
}

/// A hybrid's target: its first hardcoded parent that is dynamic.
fn target_of<'m>(file: &'m Migration, dynamic_revisions: &HashSet<&str>) -> Option<&'m str> {
    if file.is_dynamic {
        return None;
    }
    file.static_down_revisions
        .iter()
        .map(String::as_str)
        .find(|p| dynamic_revisions.contains(p))
}

/// The migrations on the dynamic line, in chain order (indexes into `files`): the
/// dynamic ones by add order, each hybrid right after its target.
fn chain_order(files: &[Migration]) -> Vec<usize> {
    let dynamic_revisions: HashSet<&str> = files
        .iter()
        .filter(|f| f.is_dynamic)
        .map(|f| f.revision.as_str())
        .collect();
    let sequence_of: HashMap<&str, u32> = files
        .iter()
        .filter(|f| f.is_dynamic)
        .map(|f| (f.revision.as_str(), f.git_sequence))
        .collect();
    let mut participants: Vec<(u32, u8, Vec<u32>, usize)> = files
        .iter()
        .enumerate()
        .filter_map(|(at, f)| {
            if f.is_dynamic {
                return Some((f.git_sequence, 0, python_name_key(&f.filename), at));
            }
            let target = target_of(f, &dynamic_revisions)?;
            let sequence = sequence_of.get(target).copied().unwrap_or(f.git_sequence);
            Some((sequence, 1, python_name_key(&f.filename), at))
        })
        .collect();
    participants.sort_by(|a, b| match a.0.cmp(&b.0) {
        Ordering::Equal => (a.1, &a.2).cmp(&(b.1, &b.2)),
        other => other,
    });
    participants.into_iter().map(|(.., at)| at).collect()
}

/// Link each dynamic migration of `order` to the migration before it, the first one
/// to the single static head. Without one, the first dynamic migration is a root when
/// there is no plain static migration at all, and unchained otherwise.
fn link(files: &[Migration], order: &[usize], heads: &[&str]) -> Chain {
    let dynamic_revisions: HashSet<&str> = files
        .iter()
        .filter(|f| f.is_dynamic)
        .map(|f| f.revision.as_str())
        .collect();
    let has_plain_static = files
        .iter()
        .any(|f| !f.is_dynamic && target_of(f, &dynamic_revisions).is_none());
    let mut chain = Chain::default();
    let mut previous: Option<&str> = match heads {
        [single] => Some(single),
        _ => None,
    };
    for (position, &at) in order.iter().enumerate() {
        let file = &files[at];
        if file.is_dynamic {
            match previous {
                Some(parent) => chain
                    .links
                    .push((file.revision.clone(), Some(parent.to_owned()))),
                None if position == 0 && !has_plain_static => {
                    chain.links.push((file.revision.clone(), None));
                }
                None => {
                    let reason = if heads.len() > 1 {
                        Unchained::MultipleStaticHeads(
                            heads.iter().map(|h| (*h).to_owned()).collect(),
                        )
                    } else {
                        Unchained::NoStaticHead
                    };
                    chain.unchained = Some((file.revision.clone(), reason));
                }
            }
        }
        previous = Some(&file.revision);
    }
    chain
}

/// Refuse hardcoded parents that loop (A -> B -> A); Alembic cannot load those either.
fn check_static_cycles(files: &[Migration]) -> Result<(), ChainError> {
    let parents: HashMap<&str, &[String]> = files
        .iter()
        .filter(|f| !f.is_dynamic)
        .map(|f| (f.revision.as_str(), f.static_down_revisions.as_slice()))
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done. Iterative, so long static
    // histories cannot exhaust the stack.
    let mut state: HashMap<&str, u8> = HashMap::with_capacity(parents.len());
    let mut starts: Vec<&str> = parents.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, next_child)) = path.last().copied() {
            let children = parents.get(node).copied().unwrap_or(&[]);
            if next_child >= children.len() {
                state.insert(node, 2);
                path.pop();
                continue;
            }
            if let Some(last) = path.last_mut() {
                last.1 += 1;
            }
            let child = children[next_child].as_str();
            if !parents.contains_key(child) {
                continue;
            }
            match state.get(child).copied().unwrap_or(0) {
                0 => {
                    state.insert(child, 1);
                    path.push((child, 0));
                }
                1 => {
                    let from = path.iter().position(|(n, _)| *n == child).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        path[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                    cycle.push(child.to_owned());
                    return Err(ChainError::StaticCycle { cycle });
                }
                _ => {}
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------ the pin stage

/// The migrations as the chain builder sees them once pins are applied, and the
/// links the pins fix.
#[derive(Debug)]
pub struct Pinned<'m> {
    /// Every migration, each pinned dynamic one turned into one hardcoding its
    /// pinned parent; borrowed unchanged without pins.
    pub files: Cow<'m, [Migration]>,
    /// `(revision, pinned parent)` of each pinned dynamic migration, in pin order.
    pub links: Vec<(String, Option<String>)>,
}

/// The chain builder's pin stage: each pinned dynamic migration of `files` is given
/// its pinned parent as if its file hardcoded it, so that the builder's other stages
/// chain the unpinned ones after the pinned head. A pinned migration that is made
/// static since keeps its place if it hardcodes its pinned parent. `files` must hold
/// each revision once (the builder checks that first).
///
/// # Errors
///
/// [`ChainError::PinnedMigrationGone`] (a pinned migration is gone),
/// [`ChainError::PinnedParentGone`] (its pinned parent is) and
/// [`ChainError::PinnedParentChanged`] (its file hardcodes other parents), each naming
/// the pin file.
pub fn fix_parents<'m>(
    files: &'m [Migration],
    pins: Option<&PinSet>,
) -> Result<Pinned<'m>, ChainError> {
    let Some(pins) = pins.filter(|p| !p.pins.is_empty()) else {
        return Ok(Pinned {
            files: Cow::Borrowed(files),
            links: Vec::new(),
        });
    };
    let declared: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(index, file)| (file.revision.as_str(), index))
        .collect();
    let mut fixed = files.to_vec();
    let mut links = Vec::new();
    for pin in &pins.pins {
        let Some(&index) = declared.get(pin.revision.as_str()) else {
            return Err(ChainError::PinnedMigrationGone {
                pin_file: pins.source.clone(),
                pin: Box::new(pin.clone()),
            });
        };
        if let Some(parent) = &pin.down_revision {
            if !declared.contains_key(parent.as_str()) {
                return Err(ChainError::PinnedParentGone {
                    pin_file: pins.source.clone(),
                    pin: Box::new(pin.clone()),
                });
            }
        }
        let file = &mut fixed[index];
        if file.is_dynamic {
            file.is_dynamic = false;
            file.static_down_revisions = pin.parents();
            links.push((pin.revision.clone(), pin.down_revision.clone()));
        } else if file.static_down_revisions != pin.parents() {
            return Err(ChainError::PinnedParentChanged {
                pin_file: pins.source.clone(),
                pin: Box::new(pin.clone()),
                filename: String::from_utf8_lossy(&file.filename).into_owned(),
                now: file.static_down_revisions.clone(),
            });
        }
    }
    Ok(Pinned {
        files: Cow::Owned(fixed),
        links,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A dynamic migration `<rev>_m.py`, first added `seq`-th.
    pub(crate) fn dynamic(rev: &str, seq: u32) -> Migration {
        Migration {
            revision: rev.into(),
            filename: format!("{rev}_m.py").into_bytes(),
            git_sequence: seq,
            is_dynamic: true,
            static_down_revisions: vec![],
        }
    }

    /// A migration `<rev>_m.py` hardcoding `parents`, first added `seq`-th.
    pub(crate) fn fixed(rev: &str, seq: u32, parents: &[&str]) -> Migration {
        Migration {
            is_dynamic: false,
            static_down_revisions: parents.iter().map(|p| (*p).to_owned()).collect(),
            ..dynamic(rev, seq)
        }
    }

    fn build_plain(files: &[Migration]) -> Result<Chain, ChainError> {
        build(files, None)
    }

    fn links(chain: &Chain) -> Vec<(&str, Option<&str>)> {
        chain
            .links
            .iter()
            .map(|(r, p)| (r.as_str(), p.as_deref()))
            .collect()
    }

    #[test]
    fn dynamic_files_chain_after_the_static_head() {
        let files = [
            dynamic("d2", 3),
            fixed("a", 0, &[]),
            fixed("b", 1, &["a"]),
            dynamic("d1", 2),
        ];
        let chain = build_plain(&files).unwrap();
        assert_eq!(links(&chain), vec![("d1", Some("b")), ("d2", Some("d1"))]);
        assert_eq!(chain.unchained, None);
    }

    #[test]
    fn merge_migrations_consume_both_branches() {
        let files = [
            fixed("a", 0, &[]),
            fixed("b", 1, &["a"]),
            fixed("c", 2, &["a"]),
            fixed("m", 3, &["b", "c"]),
            dynamic("d", 4),
        ];
        assert_eq!(links(&build_plain(&files).unwrap()), vec![("d", Some("m"))]);
    }

    #[test]
    fn hybrid_sits_right_after_its_target() {
        // h hardcodes d1 but was added last; d2 must chain after h, not after d1.
        let files = [
            fixed("a", 0, &[]),
            dynamic("d1", 1),
            dynamic("d2", 2),
            fixed("h", 3, &["d1"]),
        ];
        assert_eq!(
            links(&build_plain(&files).unwrap()),
            vec![("d1", Some("a")), ("d2", Some("h"))]
        );
    }

    #[test]
    fn no_static_migration_makes_a_root() {
        let chain = build_plain(&[dynamic("d2", 1), dynamic("d1", 0)]).unwrap();
        assert_eq!(links(&chain), vec![("d1", None), ("d2", Some("d1"))]);
    }

    #[test]
    fn ambiguous_static_heads_leave_the_first_dynamic_unchained() {
        let files = [
            fixed("a", 0, &[]),
            fixed("b", 1, &[]),
            dynamic("d", 2),
            dynamic("e", 3),
        ];
        let chain = build_plain(&files).unwrap();
        assert_eq!(links(&chain), vec![("e", Some("d"))]);
        assert_eq!(
            chain.unchained,
            Some((
                "d".into(),
                Unchained::MultipleStaticHeads(vec!["a".into(), "b".into()])
            ))
        );
    }

    #[test]
    fn uncommitted_files_tie_and_sort_by_name() {
        let mut files = vec![dynamic("b", 5), dynamic("a", 5), dynamic("z", 0)];
        sort_by_add_order(&mut files, |f| f);
        let order: Vec<&str> = files.iter().map(|f| f.revision.as_str()).collect();
        assert_eq!(order, vec!["z", "a", "b"]);
    }

    #[test]
    fn duplicates_and_cycles_are_refused() {
        let mut second = dynamic("a", 1);
        second.filename = b"other.py".to_vec();
        assert!(matches!(
            build_plain(&[dynamic("a", 0), second]),
            Err(ChainError::DuplicateRevision { .. })
        ));
        assert_eq!(
            build_plain(&[fixed("a", 0, &["b"]), fixed("b", 1, &["a"])]),
            Err(ChainError::StaticCycle {
                cycle: vec!["a".into(), "b".into(), "a".into()]
            })
        );
    }

    #[test]
    fn python_key_orders_like_python_str() {
        // U+E9 sorts before a surrogate-escaped byte, which sorts before U+E000.
        assert!(python_name_key("\u{e9}".as_bytes()) < python_name_key(&[0xff]));
        assert!(python_name_key(&[0xff]) < python_name_key("\u{e000}".as_bytes()));
        assert_eq!(python_name_key(b"ab"), vec![97, 98]);
    }
}
