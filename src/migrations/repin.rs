//! Re-pinning: the pins a release appends to `revision_pins.json` ([`super::pins`]),
//! from the chain of its commit ([`super::chain::build`]). Only ever an append: a
//! pinned migration that is gone or has other parents at that commit is refused.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::chain::{Chain, Migration, Unchained};
use super::pins::{Pin, PinError, PinSet};

/// The pins after re-pinning at commit `pinned_at` (named `at` in messages): the
/// `existing` pins, then every dynamic migration of `chain` not pinned yet, in chain
/// order. `files` and `chain` are the directory's state at that commit; `file` is
/// the pin file being written.
///
/// # Errors
///
/// Anything but an append is refused: a pinned migration missing at that commit
/// ([`PinError::WouldDrop`]) or with other parents there ([`PinError::WouldChange`]),
/// and a chain that leaves a migration without a parent ([`PinError::Unchained`]).
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
        if now != pin.parents() {
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
