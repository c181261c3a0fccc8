//! The history cache: every commit walked so far, by id, with its tree, parents and
//! `.py` adds ([`KnownCommit`]). A commit id fixes all three, so entries never expire.

use std::path::{Path, PathBuf};

use super::codec::{write_atomic, Reader, Writer};
use crate::git::commit::CommitHeader;
use crate::walk::{KnownCommit, KnownCommits};

const MAGIC: [u8; 8] = *b"AGRHIST\0";

/// Path of the history cache in `folder`.
#[must_use]
pub fn path(folder: &Path) -> PathBuf {
    folder.join("history-v1.bin")
}

/// Load the history cache; anything unreadable gives an empty map.
#[must_use]
pub fn load(path: &Path) -> KnownCommits {
    std::fs::read(path)
        .ok()
        .and_then(|data| decode(&data))
        .unwrap_or_default()
}

fn decode(data: &[u8]) -> Option<KnownCommits> {
    let mut r = Reader::open(data, MAGIC)?;
    let n = r.count(48)?;
    let mut map = KnownCommits::with_capacity(n);
    for _ in 0..n {
        let oid = r.oid()?;
        let tree = r.oid()?;
        let parent_count = r.count(20)?;
        let parents = (0..parent_count)
            .map(|_| r.oid())
            .collect::<Option<Vec<_>>>()?;
        let add_count = r.count(4)?;
        let adds = (0..add_count)
            .map(|_| r.bytes().map(<[u8]>::to_vec))
            .collect::<Option<Vec<_>>>()?;
        map.insert(
            oid,
            KnownCommit {
                header: CommitHeader { tree, parents },
                adds,
            },
        );
    }
    r.is_done().then_some(map)
}

/// Save the history cache (sorted by id, so equal caches are equal files).
pub fn save(path: &Path, commits: &KnownCommits) {
    let mut w = Writer::new(MAGIC);
    w.len(commits.len());
    let mut ids: Vec<_> = commits.keys().collect();
    ids.sort();
    for oid in ids {
        let commit = &commits[oid];
        w.oid(oid);
        w.oid(&commit.header.tree);
        w.len(commit.header.parents.len());
        for parent in &commit.header.parents {
            w.oid(parent);
        }
        w.len(commit.adds.len());
        for add in &commit.adds {
            w.bytes(add);
        }
    }
    write_atomic(path, w.finish());
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::Oid;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        let mut commits = KnownCommits::new();
        commits.insert(
            oid(1),
            KnownCommit {
                header: CommitHeader {
                    tree: oid(2),
                    parents: vec![oid(3), oid(4)],
                },
                adds: vec![b"a.py".to_vec()],
            },
        );
        save(&path, &commits);
        assert_eq!(load(&path), commits);
        // Flip one byte: the checksum refuses the file, which then reads as empty.
        let mut data = std::fs::read(&path).unwrap();
        data[30] ^= 1;
        std::fs::write(&path, &data).unwrap();
        assert!(load(&path).is_empty());
        std::fs::write(&path, b"garbage").unwrap();
        assert!(load(&path).is_empty());
    }
}
