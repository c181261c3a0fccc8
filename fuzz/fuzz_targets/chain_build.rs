//! A small arbitrary set of classified migrations, and sometimes pins, through
//! `chain::build`, sorted first with `chain::sort_by_add_order`, as
//! `analysis::assemble` does. It must not panic, and what it answers must be a chain:
//! each dynamic migration linked at most once, parents that exist, no link for a
//! static migration, pinned migrations linked to their pinned parents, and the
//! reported errors true of the input.
#![no_main]

use std::collections::{HashMap, HashSet};

use std::path::PathBuf;

use alembic_git_revisions_core::migrations::chain::{self, ChainError, Migration};
use alembic_git_revisions_core::migrations::pins::{Pin, PinSet};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

/// Revision ids come from a small alphabet so that parents, duplicates and cycles
/// are common; a few odd spellings keep the name handling honest.
fn revision(id: u8) -> String {
    match id % 12 {
        9 => String::new(),
        10 => "é\u{20ac}".to_owned(),
        11 => "a b".to_owned(),
        n => format!("r{n}"),
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    revision: u8,
    filename: Vec<u8>,
    git_sequence: u8,
    is_dynamic: bool,
    parents: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct PinInput {
    revision: u8,
    parent: Option<u8>,
}

fuzz_target!(|data: (Vec<Input>, Option<Vec<PinInput>>)| {
    let (inputs, pin_inputs) = data;
    if inputs.len() > 64 || pin_inputs.as_ref().is_some_and(|p| p.len() > 16) {
        return;
    }
    // Pins as `pins::parse` would accept them: each revision once, parents first.
    let pins = pin_inputs.map(|list| {
        let mut pins: Vec<Pin> = Vec::new();
        for input in list {
            let pinned = revision(input.revision);
            let parent = input.parent.map(revision);
            // Pinned twice, its own parent, or the parent of an earlier pin (a parent
            // pinned further down): the parser refuses those.
            if pins.iter().any(|p| {
                p.revision == pinned || p.down_revision.as_deref() == Some(pinned.as_str())
            }) || parent.as_deref() == Some(pinned.as_str())
            {
                continue;
            }
            pins.push(Pin {
                revision: pinned,
                down_revision: parent,
                file: "f.py".into(),
                pinned_at: "0".repeat(40),
            });
        }
        PinSet {
            source: PathBuf::from("revision_pins.json"),
            pins,
        }
    });
    let mut files: Vec<Migration> = inputs
        .into_iter()
        .map(|m| Migration {
            revision: revision(m.revision),
            filename: m.filename,
            git_sequence: u32::from(m.git_sequence % 8),
            is_dynamic: m.is_dynamic,
            static_down_revisions: if m.is_dynamic {
                Vec::new()
            } else {
                m.parents.iter().take(4).map(|&p| revision(p)).collect()
            },
        })
        .collect();
    chain::sort_by_add_order(&mut files, |file| file);

    let by_revision: HashMap<&str, &Migration> =
        files.iter().map(|f| (f.revision.as_str(), f)).collect();
    let pinned: HashMap<&str, Option<&str>> = pins
        .iter()
        .flat_map(|set| &set.pins)
        .map(|p| (p.revision.as_str(), p.down_revision.as_deref()))
        .collect();
    match chain::build(&files, pins.as_ref()) {
        Ok(chain) => {
            assert_eq!(
                by_revision.len(),
                files.len(),
                "duplicate revisions accepted"
            );
            let mut seen = HashSet::new();
            for (child, parent) in &chain.links {
                assert!(
                    by_revision[child.as_str()].is_dynamic,
                    "static {child} got a link"
                );
                assert!(seen.insert(child.as_str()), "{child} linked twice");
                if let Some(&pinned_parent) = pinned.get(child.as_str()) {
                    assert_eq!(parent.as_deref(), pinned_parent, "{child} left its pin");
                }
                if let Some(parent) = parent {
                    assert!(
                        by_revision.contains_key(parent.as_str()),
                        "unknown parent {parent}"
                    );
                    assert_ne!(parent, child, "{child} is its own parent");
                }
            }
            if pinned.is_empty() {
                let roots = chain.links.iter().filter(|(_, p)| p.is_none()).count();
                assert!(roots <= 1, "several dynamic roots");
            }
            if let Some((first, _)) = &chain.unchained {
                assert!(by_revision[first.as_str()].is_dynamic);
                assert!(!seen.contains(first.as_str()));
            }
            let dynamic = files.iter().filter(|f| f.is_dynamic).count();
            let placed = chain.links.len() + usize::from(chain.unchained.is_some());
            assert_eq!(placed, dynamic, "a dynamic migration was dropped");
        }
        Err(ChainError::DuplicateRevision { revision, .. }) => {
            let count = files.iter().filter(|f| f.revision == revision).count();
            assert!(count >= 2);
        }
        Err(ChainError::StaticCycle { cycle }) => {
            assert!(cycle.len() >= 2 && cycle.first() == cycle.last());
            for pair in cycle.windows(2) {
                let file = by_revision[pair[0].as_str()];
                assert!(!file.is_dynamic);
                assert!(file.static_down_revisions.contains(&pair[1]));
            }
        }
        Err(ChainError::PinnedCycle { cycle, .. }) => {
            assert!(cycle.len() >= 2 && cycle.first() == cycle.last());
            for pair in cycle.windows(2) {
                let file = by_revision[pair[0].as_str()];
                let parents: Vec<&str> = match pinned.get(pair[0].as_str()) {
                    Some(pin) if file.is_dynamic => pin.iter().copied().collect(),
                    _ => file
                        .static_down_revisions
                        .iter()
                        .map(String::as_str)
                        .collect(),
                };
                assert!(parents.contains(&pair[1].as_str()));
            }
        }
        Err(ChainError::PinnedMigrationGone { pin, .. }) => {
            assert!(!by_revision.contains_key(pin.revision.as_str()));
        }
        Err(ChainError::PinnedParentGone { pin, .. }) => {
            let parent = pin.down_revision.as_deref().unwrap_or_default();
            assert!(!by_revision.contains_key(parent));
        }
        Err(ChainError::PinnedParentChanged { pin, now, .. }) => {
            let file = by_revision[pin.revision.as_str()];
            assert!(!file.is_dynamic);
            assert_eq!(file.static_down_revisions, now);
            assert_ne!(now, pin.down_revision.iter().cloned().collect::<Vec<_>>());
        }
    }
});
