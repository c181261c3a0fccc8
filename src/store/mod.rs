//! The persistent cache: facts that cannot go stale, kept between processes.
//!
//! * The history cache maps a commit id to its tree, its parents and the `.py`
//!   basenames it adds. A commit id fixes all three, so entries never expire.
//! * A directory cache holds, per migration file, what it declares, keyed by the
//!   file's size, mtime, ctime and inode (as git's index does), plus the add order
//!   computed for one exact `HEAD`. It is reused only when `HEAD` and every file's
//!   stamp are unchanged; otherwise the stamps still spare the parser.
//!
//! Files are versioned, checksummed and written atomically (temp file and rename),
//! so concurrent processes at worst redo work. A cache file that cannot be read,
//! has another version or fails its checksum is ignored and rebuilt.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use git2::Oid;

use crate::migrations::declaration::{name_from_bytes, Declared};
use crate::migrations::parser::{DownRevision, PyVersion};

const HISTORY_MAGIC: &[u8; 8] = b"AGRHIST\0";
const DIR_MAGIC: &[u8; 8] = b"AGRDIRS\0";
const FORMAT_VERSION: u32 = 1;
/// Files modified this recently (seconds) before a cache write are not cached: their
/// stamp could still change without the size or mtime moving ("racy git").
const RACY_SECONDS: i64 = 2;

/// Where the cache lives, from `ALEMBIC_GIT_REVISIONS_CACHE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheMode {
    /// No cache at all (`off`).
    Off,
    /// Inside the repository's git directory (unset).
    InGitDir,
    /// In this folder (any other value).
    Folder(PathBuf),
}

impl CacheMode {
    /// Read the mode from the environment.
    pub fn from_env() -> Self {
        match std::env::var_os("ALEMBIC_GIT_REVISIONS_CACHE") {
            None => CacheMode::InGitDir,
            Some(value) if value.is_empty() => CacheMode::InGitDir,
            Some(value) if value.eq_ignore_ascii_case("off") => CacheMode::Off,
            Some(value) => CacheMode::Folder(PathBuf::from(value)),
        }
    }

    /// The cache folder for a repository whose common git directory is `common_dir`.
    pub fn folder(&self, common_dir: &Path) -> Option<PathBuf> {
        match self {
            CacheMode::Off => None,
            CacheMode::InGitDir => Some(common_dir.join("alembic-git-revisions")),
            CacheMode::Folder(folder) => {
                let key = fnv1a(common_dir.as_os_str().as_encoded_bytes());
                Some(folder.join(format!("repo-{key:016x}")))
            }
        }
    }
}

/// 64-bit FNV-1a, for checksums and file names.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in data {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// What the history cache knows about one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedCommit {
    /// Root tree.
    pub tree: Oid,
    /// Parents in stored order.
    pub parents: Vec<Oid>,
    /// `.py` basenames it adds, in git's order (empty for merges).
    pub adds: Vec<Vec<u8>>,
}

/// A file's identity for cache purposes, as git's index stats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Inode number (0 where unknown).
    pub inode: u64,
}

impl Stamp {
    /// Stamp a file (following symlinks).
    pub fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(Stamp {
                size: meta.size(),
                // Saturating: a file dated past 2262 must not overflow.
                mtime_ns: meta
                    .mtime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.mtime_nsec()),
                ctime_ns: meta
                    .ctime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.ctime_nsec()),
                inode: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let nanos = |t: std::io::Result<SystemTime>| {
                t.ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i64)
            };
            Some(Stamp {
                size: meta.len(),
                mtime_ns: nanos(meta.modified()),
                ctime_ns: nanos(meta.created()),
                inode: 0,
            })
        }
    }

    fn is_racy(&self, now_ns: i64) -> bool {
        let limit = now_ns - RACY_SECONDS * 1_000_000_000;
        self.mtime_ns >= limit || self.ctime_ns >= limit
    }
}

/// One cached migration file of a directory cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// The file's stamp when it was parsed.
    pub stamp: Stamp,
    /// What it declares.
    pub declared: Declared,
}

/// Per file name: where it was first added (log position, index in the commit,
/// commit id), if ever.
pub type OrderEntry = (OsString, Option<(u32, u32, Oid)>);

/// A directory cache.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirCache {
    /// The `HEAD` the add order below was computed for.
    pub head: Option<Oid>,
    /// Per file: stamp and declaration.
    pub files: Vec<CachedFile>,
    /// Per file name: first-add sequence and commit, for `head`.
    pub order: Vec<OrderEntry>,
}

// ------------------------------------------------------------------ encoding

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn new(magic: &[u8; 8]) -> Self {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(magic);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        Writer { buf }
    }
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn oid(&mut self, v: &Oid) {
        self.buf.extend_from_slice(v.as_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    fn finish(mut self) -> Vec<u8> {
        let sum = fnv1a(&self.buf);
        self.u64(sum);
        self.buf
    }
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Check magic, version and checksum; `None` for anything unexpected.
    fn open(data: &'a [u8], magic: &[u8; 8]) -> Option<Self> {
        if data.len() < 20 || &data[..8] != magic {
            return None;
        }
        let (body, sum) = data.split_at(data.len() - 8);
        if fnv1a(body) != u64::from_le_bytes(sum.try_into().ok()?) {
            return None;
        }
        if u32::from_le_bytes(body[8..12].try_into().ok()?) != FORMAT_VERSION {
            return None;
        }
        Some(Reader { data: &body[12..] })
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn oid(&mut self) -> Option<Oid> {
        Oid::from_bytes(self.take(20)?).ok()
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    /// A count, refused when it cannot fit in what is left (corrupt input).
    fn count(&mut self, min_item: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.saturating_mul(min_item) <= self.data.len()).then_some(n)
    }
}

/// Write `data` to `path` atomically; failures are ignored (the cache is optional).
fn write_atomic(path: &Path, data: &[u8]) {
    let Some(folder) = path.parent() else {
        return;
    };
    if std::fs::create_dir_all(folder).is_err() {
        return;
    }
    let temp = folder.join(format!(
        ".tmp-{}-{:x}",
        std::process::id(),
        fnv1a(format!("{:?}{:?}", std::thread::current().id(), SystemTime::now()).as_bytes())
    ));
    if std::fs::write(&temp, data).is_ok() && std::fs::rename(&temp, path).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&temp);
}

// ------------------------------------------------------------------ history

/// Path of the history cache in `folder`.
pub fn history_path(folder: &Path) -> PathBuf {
    folder.join("history-v1.bin")
}

/// Load the history cache; anything unreadable gives an empty map.
pub fn load_history(path: &Path) -> HashMap<Oid, CachedCommit> {
    std::fs::read(path)
        .ok()
        .and_then(|data| decode_history(&data))
        .unwrap_or_default()
}

fn decode_history(data: &[u8]) -> Option<HashMap<Oid, CachedCommit>> {
    let mut r = Reader::open(data, HISTORY_MAGIC)?;
    let n = r.count(48)?;
    let mut map = HashMap::with_capacity(n);
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
            CachedCommit {
                tree,
                parents,
                adds,
            },
        );
    }
    r.data.is_empty().then_some(map)
}

/// Save the history cache.
pub fn save_history(path: &Path, commits: &HashMap<Oid, CachedCommit>) {
    let mut w = Writer::new(HISTORY_MAGIC);
    w.u32(commits.len() as u32);
    let mut ids: Vec<&Oid> = commits.keys().collect();
    ids.sort();
    for oid in ids {
        let commit = &commits[oid];
        w.oid(oid);
        w.oid(&commit.tree);
        w.u32(commit.parents.len() as u32);
        for parent in &commit.parents {
            w.oid(parent);
        }
        w.u32(commit.adds.len() as u32);
        for add in &commit.adds {
            w.bytes(add);
        }
    }
    write_atomic(path, &w.finish());
}

// ------------------------------------------------------------------ directories

/// Path of the cache of one versions directory (by its resolved path), for one
/// Python version (which syntax parses depends on it).
pub fn dir_path(folder: &Path, resolved_dir: &Path, python: PyVersion) -> PathBuf {
    let key = fnv1a(resolved_dir.as_os_str().as_encoded_bytes());
    folder.join(format!(
        "dir-{key:016x}-py{}.{}-v1.bin",
        python.major, python.minor
    ))
}

/// Load a directory cache; anything unreadable gives an empty one.
pub fn load_dir(path: &Path) -> DirCache {
    std::fs::read(path)
        .ok()
        .and_then(|data| decode_dir(&data))
        .unwrap_or_default()
}

fn decode_dir(data: &[u8]) -> Option<DirCache> {
    let mut r = Reader::open(data, DIR_MAGIC)?;
    let head = match r.u8()? {
        0 => None,
        _ => Some(r.oid()?),
    };
    let n = r.count(40)?;
    let mut files = Vec::with_capacity(n);
    for _ in 0..n {
        let stamp = Stamp {
            size: r.u64()?,
            mtime_ns: r.u64()? as i64,
            ctime_ns: r.u64()? as i64,
            inode: r.u64()?,
        };
        let name = name_from_bytes(r.bytes()?);
        let revision = r.string()?;
        let down_revision = match r.u8()? {
            0 => DownRevision::Dynamic,
            _ => {
                let count = r.count(4)?;
                DownRevision::Static((0..count).map(|_| r.string()).collect::<Option<Vec<_>>>()?)
            }
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
        let hit = match r.u8()? {
            0 => None,
            _ => Some((r.u32()?, r.u32()?, r.oid()?)),
        };
        order.push((name, hit));
    }
    r.data.is_empty().then_some(DirCache { head, files, order })
}

/// Save a directory cache, leaving out files whose stamps are too fresh to trust.
pub fn save_dir(path: &Path, cache: &DirCache) {
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let trusted: Vec<&CachedFile> = cache
        .files
        .iter()
        .filter(|f| !f.stamp.is_racy(now_ns))
        .collect();
    // The final order is only reusable if every file's stamp can be trusted.
    let complete = trusted.len() == cache.files.len();
    let mut w = Writer::new(DIR_MAGIC);
    match (complete, cache.head) {
        (true, Some(head)) => {
            w.u8(1);
            w.oid(&head);
        }
        _ => w.u8(0),
    }
    w.u32(trusted.len() as u32);
    for file in trusted {
        w.u64(file.stamp.size);
        w.u64(file.stamp.mtime_ns as u64);
        w.u64(file.stamp.ctime_ns as u64);
        w.u64(file.stamp.inode);
        w.bytes(file.declared.name.as_encoded_bytes());
        w.bytes(file.declared.revision.as_bytes());
        match &file.declared.down_revision {
            DownRevision::Dynamic => w.u8(0),
            DownRevision::Static(parents) => {
                w.u8(1);
                w.u32(parents.len() as u32);
                for parent in parents {
                    w.bytes(parent.as_bytes());
                }
            }
        }
    }
    let order: &[OrderEntry] = if complete { &cache.order } else { &[] };
    w.u32(order.len() as u32);
    for (name, hit) in order {
        w.bytes(name.as_encoded_bytes());
        match hit {
            None => w.u8(0),
            Some((position, index, oid)) => {
                w.u8(1);
                w.u32(*position);
                w.u32(*index);
                w.oid(oid);
            }
        }
    }
    write_atomic(path, &w.finish());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn history_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = history_path(dir.path());
        let mut commits = HashMap::new();
        commits.insert(
            oid(1),
            CachedCommit {
                tree: oid(2),
                parents: vec![oid(3), oid(4)],
                adds: vec![b"a.py".to_vec()],
            },
        );
        save_history(&path, &commits);
        assert_eq!(load_history(&path), commits);
        // Flip one byte: the checksum refuses the file, which then reads as empty.
        let mut data = std::fs::read(&path).unwrap();
        data[30] ^= 1;
        std::fs::write(&path, &data).unwrap();
        assert!(load_history(&path).is_empty());
        std::fs::write(&path, b"garbage").unwrap();
        assert!(load_history(&path).is_empty());
    }

    #[test]
    fn dir_cache_round_trip_skips_racy_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir_path(
            dir.path(),
            Path::new("/x/versions"),
            PyVersion {
                major: 3,
                minor: 11,
            },
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
        let mut cache = DirCache {
            head: Some(oid(9)),
            files: vec![CachedFile {
                stamp: old,
                declared: declared("a.py"),
            }],
            order: vec![("a.py".into(), Some((3, 0, oid(5))))],
        };
        save_dir(&path, &cache);
        assert_eq!(load_dir(&path), cache);
        let fresh = Stamp {
            mtime_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i64,
            ..old
        };
        cache.files.push(CachedFile {
            stamp: fresh,
            declared: declared("b.py"),
        });
        save_dir(&path, &cache);
        let loaded = load_dir(&path);
        assert_eq!(loaded.head, None);
        assert_eq!(loaded.files.len(), 1);
        assert!(loaded.order.is_empty());
    }

    #[test]
    fn first_adds_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = first_adds_path(dir.path());
        let mut index = FirstAddIndex {
            head: Some(oid(1)),
            log_len: 42,
            firsts: HashMap::new(),
        };
        index.firsts.insert(b"a.py".to_vec(), (3, 1, oid(2)));
        save_first_adds(&path, &index);
        assert_eq!(load_first_adds(&path), Some(index));
        std::fs::write(&path, b"nonsense").unwrap();
        assert_eq!(load_first_adds(&path), None);
    }

    #[test]
    fn mode_from_env_values() {
        let common = Path::new("/repo/.git");
        assert_eq!(CacheMode::Off.folder(common), None);
        assert_eq!(
            CacheMode::InGitDir.folder(common),
            Some(PathBuf::from("/repo/.git/alembic-git-revisions"))
        );
        let folder = CacheMode::Folder("/c".into()).folder(common).unwrap();
        assert!(folder.starts_with("/c"));
    }
}

// ------------------------------------------------------------------ first adds

const FIRST_ADDS_MAGIC: &[u8; 8] = b"AGRFRST\0";

/// Where every `.py` basename was first added in the history of one `HEAD`:
/// `(log position, index in the commit, commit id)`, plus the length of the log.
/// It answers any versions directory of the repository at that `HEAD`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FirstAddIndex {
    /// The `HEAD` it describes.
    pub head: Option<Oid>,
    /// Number of commits in the log at `head`.
    pub log_len: u32,
    /// First add of each basename.
    pub firsts: HashMap<Vec<u8>, (u32, u32, Oid)>,
}

/// Path of the first-add index in `folder`.
pub fn first_adds_path(folder: &Path) -> PathBuf {
    folder.join("first-adds-v1.bin")
}

/// Load the first-add index; anything unreadable gives `None`.
pub fn load_first_adds(path: &Path) -> Option<FirstAddIndex> {
    let data = std::fs::read(path).ok()?;
    let mut r = Reader::open(&data, FIRST_ADDS_MAGIC)?;
    let head = r.oid()?;
    let log_len = r.u32()?;
    let n = r.count(32)?;
    let mut firsts = HashMap::with_capacity(n);
    for _ in 0..n {
        let name = r.bytes()?.to_vec();
        let position = r.u32()?;
        let index = r.u32()?;
        let oid = r.oid()?;
        firsts.insert(name, (position, index, oid));
    }
    r.data.is_empty().then_some(FirstAddIndex {
        head: Some(head),
        log_len,
        firsts,
    })
}

/// Save the first-add index (only for a known `HEAD`).
pub fn save_first_adds(path: &Path, index: &FirstAddIndex) {
    let Some(head) = index.head else {
        return;
    };
    let mut w = Writer::new(FIRST_ADDS_MAGIC);
    w.oid(&head);
    w.u32(index.log_len);
    w.u32(index.firsts.len() as u32);
    let mut names: Vec<&Vec<u8>> = index.firsts.keys().collect();
    names.sort();
    for name in names {
        let (position, at, oid) = index.firsts[name];
        w.bytes(name);
        w.u32(position);
        w.u32(at);
        w.oid(&oid);
    }
    write_atomic(path, &w.finish());
}
