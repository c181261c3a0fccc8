//! History rewritten in place: replace refs (`refs/replace/<oid>`, `git replace`) and
//! the grafts file (`info/grafts`), which `git log` both honour.
//!
//! A commit id no longer fixes a commit's parents or tree when either is in use, so
//! callers must not cache facts by commit id then (see [`Rewrites::is_empty`]).

use std::collections::HashMap;

use git2::Oid;

/// The replace refs and grafts of one repository, read once when it is opened.
#[derive(Debug, Clone, Default)]
pub struct Rewrites {
    replace: HashMap<Oid, Oid>,
    grafts: HashMap<Oid, Vec<Oid>>,
}

impl Rewrites {
    /// Read the replace refs and grafts of `repo`, unless `GIT_NO_REPLACE_OBJECTS` is
    /// set.
    #[must_use]
    pub fn read(repo: &git2::Repository) -> Self {
        if std::env::var_os("GIT_NO_REPLACE_OBJECTS").is_some() {
            return Rewrites::default();
        }
        Rewrites {
            replace: replace_refs(repo),
            grafts: grafts(&repo.commondir().join("info").join("grafts")),
        }
    }

    /// Whether nothing is rewritten.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.replace.is_empty() && self.grafts.is_empty()
    }

    /// The object to read in place of `oid` (`oid` itself when it is not replaced).
    #[must_use]
    pub fn object(&self, oid: Oid) -> Oid {
        self.replace.get(&oid).copied().unwrap_or(oid)
    }

    /// Whether any object is replaced.
    #[must_use]
    pub fn replaces_objects(&self) -> bool {
        !self.replace.is_empty()
    }

    /// The parents the grafts file gives `commit`, if it names it.
    #[must_use]
    pub fn grafted_parents(&self, commit: &Oid) -> Option<&[Oid]> {
        self.grafts.get(commit).map(Vec::as_slice)
    }
}

/// `refs/replace/<original>` → replacement.
fn replace_refs(repo: &git2::Repository) -> HashMap<Oid, Oid> {
    let mut map = HashMap::new();
    if let Ok(references) = repo.references_glob("refs/replace/*") {
        for reference in references.flatten() {
            let name = reference.name_bytes();
            let Some(hex) = name.strip_prefix(b"refs/replace/") else {
                continue;
            };
            let (Ok(hex), Some(target)) = (std::str::from_utf8(hex), reference.target()) else {
                continue;
            };
            if let Ok(original) = Oid::from_str(hex) {
                map.insert(original, target);
            }
        }
    }
    map
}

/// `info/grafts`: commits whose parents `git log` replaces, one
/// `<commit> <parent>...` line each.
fn grafts(path: &std::path::Path) -> HashMap<Oid, Vec<Oid>> {
    let mut map = HashMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return map;
    };
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let mut ids = line
            .split_whitespace()
            .filter_map(|hex| Oid::from_str(hex).ok());
        if let Some(commit) = ids.next() {
            map.insert(commit, ids.collect());
        }
    }
    map
}
