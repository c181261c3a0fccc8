//! A small arbitrary set of classified migrations through `chain::build`, sorted
//! first with `chain::sort_by_add_order`, as `analysis::assemble` does. It must not panic, and what it answers must be a
//! chain: each dynamic migration linked at most once, parents that exist, no link
//! for a static migration, and the reported errors true of the input.
#![no_main]

use std::collections::{HashMap, HashSet};

use alembic_git_revisions_core::migrations::chain::{self, ChainError, Migration};
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

fuzz_target!(|inputs: Vec<Input>| {
    if inputs.len() > 64 {
        return;
    }
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
    match chain::build(&files) {
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
                if let Some(parent) = parent {
                    assert!(
                        by_revision.contains_key(parent.as_str()),
                        "unknown parent {parent}"
                    );
                    assert_ne!(parent, child, "{child} is its own parent");
                }
            }
            let roots = chain.links.iter().filter(|(_, p)| p.is_none()).count();
            assert!(roots <= 1, "several dynamic roots");
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
    }
});
