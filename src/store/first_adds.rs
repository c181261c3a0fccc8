//! The saved first-add index ([`FirstAddIndex`]) of the last `HEAD` seen, with the
//! commits of its history: an unchanged `HEAD` is answered without a walk, and a
//! `HEAD` whose history starts with this one's extends it (see
//! [`crate::walk::extend`]).

use std::path::{Path, PathBuf};

use super::codec::{write_atomic, Reader, Writer};
use crate::walk::first_add::LogCommits;
use crate::walk::{FirstAdd, FirstAddIndex, FoundAdds};

const MAGIC: [u8; 8] = *b"AGRFRST\0";

/// Path of the first-add index in `folder`.
#[must_use]
pub fn path(folder: &Path) -> PathBuf {
    folder.join("first-adds-v2.bin")
}

/// Load the first-add index; anything unreadable gives `None`.
#[must_use]
pub fn load(path: &Path) -> Option<FirstAddIndex> {
    let data = std::fs::read(path).ok()?;
    let mut r = Reader::open(&data, MAGIC)?;
    let head = r.oid()?;
    let log_len = r.u32()?;
    let n = r.count(32)?;
    let mut firsts = FoundAdds::with_capacity(n);
    for _ in 0..n {
        let name = r.bytes()?.to_vec();
        let add = FirstAdd {
            position: r.u32()?,
            index: r.u32()?,
            commit: r.oid()?,
        };
        firsts.insert(name, add);
    }
    // The history's commits, sorted: exactly `log_len` of them.
    let count = r.count(20)?;
    if u32::try_from(count).ok()? != log_len {
        return None;
    }
    let raw = r.take_bytes(count * 20)?;
    let sorted = raw
        .chunks_exact(20)
        .map(|id| id.try_into().ok())
        .collect::<Option<Vec<[u8; 20]>>>()?;
    let commits = LogCommits::from_sorted(sorted)?;
    r.is_done().then_some(FirstAddIndex {
        head: Some(head),
        log_len,
        firsts,
        commits,
    })
}

/// Save the first-add index (only for a known `HEAD`).
pub fn save(path: &Path, index: &FirstAddIndex) {
    let Some(head) = index.head else {
        return;
    };
    let mut w = Writer::new(MAGIC);
    w.oid(&head);
    w.u32(index.log_len);
    w.len(index.firsts.len());
    let mut names: Vec<&Vec<u8>> = index.firsts.keys().collect();
    names.sort();
    for name in names {
        let add = index.firsts[name];
        w.bytes(name);
        w.u32(add.position);
        w.u32(add.index);
        w.oid(&add.commit);
    }
    let commits = index.commits.to_sorted();
    w.len(commits.len());
    for id in &commits {
        w.raw(id);
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
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        let mut index = FirstAddIndex {
            head: Some(oid(1)),
            log_len: 3,
            firsts: FoundAdds::new(),
            commits: LogCommits::default(),
        };
        for n in [9, 1, 5] {
            index.commits.push(&oid(n));
        }
        index.firsts.insert(
            b"a.py".to_vec(),
            FirstAdd {
                position: 3,
                index: 1,
                commit: oid(2),
            },
        );
        save(&path, &index);
        let loaded = load(&path).unwrap();
        assert_eq!(loaded, index);
        assert!(loaded.commits.contains(&oid(5)) && !loaded.commits.contains(&oid(2)));
        // A commit count that disagrees with the history's length is damage.
        index.log_len = 4;
        save(&path, &index);
        assert_eq!(load(&path), None);
        std::fs::write(&path, b"nonsense").unwrap();
        assert_eq!(load(&path), None);
    }
}
