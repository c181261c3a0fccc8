//! The saved first-add index ([`FirstAddIndex`]) of the last `HEAD` seen: an
//! unchanged `HEAD` is answered without a walk, and a `HEAD` that moved forward
//! extends it (see [`crate::walk::extend`]).

use std::path::{Path, PathBuf};

use super::codec::{write_atomic, Reader, Writer};
use crate::walk::{FirstAdd, FirstAddIndex, FoundAdds};

const MAGIC: [u8; 8] = *b"AGRFRST\0";

/// Path of the first-add index in `folder`.
#[must_use]
pub fn path(folder: &Path) -> PathBuf {
    folder.join("first-adds-v1.bin")
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
    r.is_done().then_some(FirstAddIndex {
        head: Some(head),
        log_len,
        firsts,
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
            log_len: 42,
            firsts: FoundAdds::new(),
        };
        index.firsts.insert(
            b"a.py".to_vec(),
            FirstAdd {
                position: 3,
                index: 1,
                commit: oid(2),
            },
        );
        save(&path, &index);
        assert_eq!(load(&path), Some(index));
        std::fs::write(&path, b"nonsense").unwrap();
        assert_eq!(load(&path), None);
    }
}
