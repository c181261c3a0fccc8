//! "First add": where a file name first appears in the reference's `git log`
//! stream, and the index of every name's first add for one `HEAD`.

use std::collections::HashMap;
use std::ffi::OsString;

use git2::Oid;

use super::Error;
use crate::git::idmap::{key, OidKey};

/// Where a file name was first added. Ordered as the names appear in
/// `git log --reverse --diff-filter=A --no-renames --topo-order --name-only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirstAdd {
    /// Position of the commit in log order (oldest first).
    pub position: u32,
    /// Index of the name among that commit's `.py` adds.
    pub index: u32,
    /// The commit.
    pub commit: Oid,
}

/// First adds by file name (raw bytes).
pub type FoundAdds = HashMap<Vec<u8>, FirstAdd>;

/// Where every `.py` basename was first added in the history of one `HEAD`, plus the
/// length of that history. It answers any versions directory of the repository at
/// that `HEAD`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FirstAddIndex {
    /// The `HEAD` it describes (`None`: no commits).
    pub head: Option<Oid>,
    /// Number of commits in the log at `head`.
    pub log_len: u32,
    /// First add of each basename.
    pub firsts: FoundAdds,
    /// The commits of that log: which commits a later `HEAD`'s log shares with it
    /// (see [`super::extend`]).
    pub commits: LogCommits,
}

/// The commits of a log: sorted as read from a cache file (searched in place), plus
/// those appended since in log order (a push each: a full walk appends tens of
/// thousands, which only a cache write sorts).
#[derive(Debug, Clone, Default)]
pub struct LogCommits {
    sorted: Vec<OidKey>,
    appended: Vec<OidKey>,
}

impl LogCommits {
    /// The set of `sorted`, which must be strictly increasing (`None` otherwise).
    #[must_use]
    pub fn from_sorted(sorted: Vec<OidKey>) -> Option<Self> {
        sorted
            .windows(2)
            .all(|pair| pair[0] < pair[1])
            .then(|| LogCommits {
                sorted,
                appended: Vec::new(),
            })
    }

    fn contains_key(&self, id: &OidKey) -> bool {
        self.sorted.binary_search(id).is_ok() || self.appended.contains(id)
    }

    /// Whether `commit` is in the set. Fast for a set read from a cache file and
    /// extended by a few commits, as [`super::extend`] uses it.
    #[must_use]
    pub fn contains(&self, commit: &Oid) -> bool {
        self.contains_key(&key(commit))
    }

    /// Add `commit`, which must not be in the set yet (a log lists each commit once).
    pub fn push(&mut self, commit: &Oid) {
        self.appended.push(key(commit));
    }

    /// How many commits the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sorted.len() + self.appended.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every commit, sorted.
    #[must_use]
    pub fn to_sorted(&self) -> Vec<OidKey> {
        let mut all: Vec<OidKey> = self.sorted.iter().chain(&self.appended).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

impl PartialEq for LogCommits {
    fn eq(&self, other: &Self) -> bool {
        self.to_sorted() == other.to_sorted()
    }
}

impl Eq for LogCommits {}

impl FirstAddIndex {
    /// Append `commits` (oldest first, each with the `.py` basenames it adds), which
    /// follow the log this index describes, and make `head` its `HEAD`. A name keeps
    /// its first add: the reference's keep-first deduplication of the whole
    /// `--name-only` stream.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] past `u32::MAX` commits or adds in one commit.
    pub fn extend<'a>(
        &mut self,
        commits: impl IntoIterator<Item = (Oid, &'a [Vec<u8>])>,
        head: Option<Oid>,
    ) -> Result<(), Error> {
        let too_many_commits = || Error::TooLarge {
            what: "commits in the history",
        };
        let mut position = self.log_len;
        for (commit, adds) in commits {
            self.commits.push(&commit);
            for (index, name) in adds.iter().enumerate() {
                if !self.firsts.contains_key(name) {
                    let index = u32::try_from(index).map_err(|_| Error::TooLarge {
                        what: "files added by one commit",
                    })?;
                    let add = FirstAdd {
                        position,
                        index,
                        commit,
                    };
                    self.firsts.insert(name.clone(), add);
                }
            }
            position = position.checked_add(1).ok_or_else(too_many_commits)?;
        }
        self.log_len = position;
        self.head = head;
        Ok(())
    }

    /// The first adds of `names` (those ever added).
    #[must_use]
    pub fn lookup(&self, names: &[OsString]) -> FoundAdds {
        names
            .iter()
            .filter_map(|name| {
                let bytes = name.as_encoded_bytes();
                self.firsts.get(bytes).map(|add| (bytes.to_vec(), *add))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_adds_keep_the_earliest() {
        let commits: Vec<Oid> = (1..=3u8)
            .map(|n| Oid::from_bytes(&[n; 20]).unwrap())
            .collect();
        let adds: Vec<Vec<Vec<u8>>> = vec![
            vec![b"b.py".to_vec()],
            vec![b"a.py".to_vec(), b"b.py".to_vec()],
            vec![b"c.py".to_vec()],
        ];
        let mut index = FirstAddIndex::default();
        index
            .extend(
                commits[..2]
                    .iter()
                    .copied()
                    .zip(adds[..2].iter().map(Vec::as_slice)),
                Some(commits[1]),
            )
            .unwrap();
        assert_eq!(index.log_len, 2);
        // Extending goes on from where the index ended.
        index
            .extend([(commits[2], adds[2].as_slice())], Some(commits[2]))
            .unwrap();
        assert_eq!((index.head, index.log_len), (Some(commits[2]), 3));
        let found = index.lookup(&["a.py".into(), "b.py".into(), "c.py".into(), "z.py".into()]);
        let at = |name: &str| found[name.as_bytes()];
        let add = |position, index, commit| FirstAdd {
            position,
            index,
            commit,
        };
        assert_eq!(at("b.py"), add(0, 0, commits[0]));
        assert_eq!(at("a.py"), add(1, 0, commits[1]));
        assert_eq!(at("c.py"), add(2, 0, commits[2]));
        assert!(!found.contains_key(&b"z.py"[..]));
        assert!(at("b.py") < at("a.py") && at("a.py") < at("c.py"));
    }
}
