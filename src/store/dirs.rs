//! The cache of one versions directory: what each migration file declares, keyed by
//! the file's [`Stamp`], plus the first adds of its files for one exact `HEAD`. It is
//! reused whole only when `HEAD` and every stamp are unchanged; otherwise the stamps
//! still spare the parser.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use git2::Oid;

use super::codec::{write_atomic, Reader, Writer};
use super::{fnv1a, now_ns, Stamp};
use crate::migrations::listing::{name_from_bytes, Scope};
use crate::migrations::parser::{DownRevision, PyVersion};
use crate::migrations::Declared;
use crate::walk::FirstAdd;

const MAGIC: [u8; 8] = *b"AGRDIRS\0";

/// One cached migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// The file's stamp when it was parsed.
    pub stamp: Stamp,
    /// What it declares.
    pub declared: Declared,
}

/// A directory cache.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirCache {
    /// The `HEAD` the first adds below were computed for.
    pub head: Option<Oid>,
    /// Per file: stamp and declaration.
    pub files: Vec<CachedFile>,
    /// Per file name: its first add at `head`, if it was ever added.
    pub order: Vec<(OsString, Option<FirstAdd>)>,
}

/// Path of the cache of one versions directory (by its resolved path) read in one
/// scope (a recursive location has other files than the same directory read flat),
/// for one Python version (which syntax parses depends on it).
#[must_use]
pub fn path(folder: &Path, resolved_dir: &Path, python: PyVersion, scope: Scope) -> PathBuf {
    let key = fnv1a(resolved_dir.as_os_str().as_encoded_bytes());
    let kind = match scope {
        Scope::Flat => "dir",
        Scope::Recursive => "tree",
    };
    folder.join(format!(
        "{kind}-{key:016x}-py{}.{}-v1.bin",
        python.major, python.minor
    ))
}

/// Load a directory cache; anything unreadable gives an empty one.
#[must_use]
pub fn load(path: &Path) -> DirCache {
    std::fs::read(path)
        .ok()
        .and_then(|data| decode(&data))
        .unwrap_or_default()
}

fn decode(data: &[u8]) -> Option<DirCache> {
    let mut r = Reader::open(data, MAGIC)?;
    let head = match r.u8()? {
        0 => None,
        _ => Some(r.oid()?),
    };
    let n = r.count(40)?;
    let mut files = Vec::with_capacity(n);
    for _ in 0..n {
        let stamp = Stamp {
            size: r.u64()?,
            mtime_ns: r.i64()?,
            ctime_ns: r.i64()?,
            inode: r.u64()?,
        };
        let name = name_from_bytes(r.bytes()?);
        let revision = r.string()?;
        let down_revision = if r.u8()? == 0 {
            DownRevision::Dynamic
        } else {
            let count = r.count(4)?;
            DownRevision::Static((0..count).map(|_| r.string()).collect::<Option<Vec<_>>>()?)
        };
        files.push(CachedFile {
            stamp,
            declared: Declared {
                name,
                revision,
                down_revision,
            },
        });
    }
    let m = r.count(5)?;
    let mut order = Vec::with_capacity(m);
    for _ in 0..m {
        let name = name_from_bytes(r.bytes()?);
        let add = match r.u8()? {
            0 => None,
            _ => Some(FirstAdd {
                position: r.u32()?,
                index: r.u32()?,
                commit: r.oid()?,
            }),
        };
        order.push((name, add));
    }
    r.is_done().then_some(DirCache { head, files, order })
}

/// Save a directory cache, leaving out files whose stamps are too fresh to trust
/// (and then the first adds, which are only reusable with every file).
pub fn save(path: &Path, cache: &DirCache) {
    let now = now_ns();
    let trusted: Vec<&CachedFile> = cache
        .files
        .iter()
        .filter(|f| !f.stamp.is_racy(now))
        .collect();
    let complete = trusted.len() == cache.files.len();
    let mut w = Writer::new(MAGIC);
    match (complete, cache.head) {
        (true, Some(head)) => {
            w.u8(1);
            w.oid(&head);
        }
        _ => w.u8(0),
    }
    w.len(trusted.len());
    for file in trusted {
        w.u64(file.stamp.size);
        w.i64(file.stamp.mtime_ns);
        w.i64(file.stamp.ctime_ns);
        w.u64(file.stamp.inode);
        w.bytes(file.declared.name.as_encoded_bytes());
        w.bytes(file.declared.revision.as_bytes());
        match &file.declared.down_revision {
            DownRevision::Dynamic => w.u8(0),
            DownRevision::Static(parents) => {
                w.u8(1);
                w.len(parents.len());
                for parent in parents {
                    w.bytes(parent.as_bytes());
                }
            }
        }
    }
    let order: &[(OsString, Option<FirstAdd>)] = if complete { &cache.order } else { &[] };
    w.len(order.len());
    for (name, add) in order {
        w.bytes(name.as_encoded_bytes());
        match add {
            None => w.u8(0),
            Some(add) => {
                w.u8(1);
                w.u32(add.position);
                w.u32(add.index);
                w.oid(&add.commit);
            }
        }
    }
    write_atomic(path, w.finish());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn round_trip_skips_racy_files() {
        let dir = tempfile::tempdir().unwrap();
        let python = PyVersion {
            major: 3,
            minor: 11,
        };
        let path = path(dir.path(), Path::new("/x/versions"), python, Scope::Flat);
        assert_ne!(
            path,
            super::path(
                dir.path(),
                Path::new("/x/versions"),
                python,
                Scope::Recursive
            ),
            "a recursive location is cached apart from the same directory read flat"
        );
        let old = Stamp {
            size: 10,
            mtime_ns: 1_000_000_000,
            ctime_ns: 1_000_000_000,
            inode: 7,
        };
        let declared = |name: &str| Declared {
            name: name.into(),
            revision: "abc".into(),
            down_revision: DownRevision::Static(vec!["p".into()]),
        };
        let add = FirstAdd {
            position: 3,
            index: 0,
            commit: oid(5),
        };
        let mut cache = DirCache {
            head: Some(oid(9)),
            files: vec![CachedFile {
                stamp: old,
                declared: declared("a.py"),
            }],
            order: vec![("a.py".into(), Some(add)), ("n.py".into(), None)],
        };
        save(&path, &cache);
        assert_eq!(load(&path), cache);
        let fresh = Stamp {
            mtime_ns: now_ns(),
            ..old
        };
        cache.files.push(CachedFile {
            stamp: fresh,
            declared: declared("b.py"),
        });
        save(&path, &cache);
        let loaded = load(&path);
        assert_eq!(loaded.head, None);
        assert_eq!(loaded.files.len(), 1);
        assert!(loaded.order.is_empty());
    }
}
