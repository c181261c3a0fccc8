//! The persistent cache: facts that cannot go stale, kept between processes.
//!
//! This module only encodes: it stores the walk's and the parser's own types
//! ([`crate::walk::KnownCommit`], [`crate::walk::FirstAddIndex`],
//! [`crate::migrations::Declared`]) and decides nothing about when they apply.
//!
//! * [`history`]: every commit walked, by id;
//! * [`first_adds`]: the first-add index of the last `HEAD`;
//! * [`dirs`]: per versions directory, each file's declaration by [`Stamp`] and the
//!   first adds for one `HEAD`.
//!
//! Files are versioned, checksummed and written atomically (temp file and rename), so
//! concurrent processes at worst redo work. A file that cannot be read, has another
//! version or fails its checksum is ignored and rebuilt.

mod codec;
pub mod dirs;
pub mod first_adds;
pub mod history;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

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
    #[must_use]
    pub fn from_env() -> Self {
        match std::env::var_os("ALEMBIC_GIT_REVISIONS_CACHE") {
            None => CacheMode::InGitDir,
            Some(value) if value.is_empty() => CacheMode::InGitDir,
            Some(value) if value.eq_ignore_ascii_case("off") => CacheMode::Off,
            Some(value) => CacheMode::Folder(PathBuf::from(value)),
        }
    }

    /// The cache folder for a repository whose common git directory is `common_dir`.
    #[must_use]
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
#[must_use]
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in data {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Nanoseconds since the epoch, saturating (a clock past 2262 must not wrap).
fn nanos_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn now_ns() -> i64 {
    nanos_since_epoch(SystemTime::now())
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
    /// Stamp a file (following symlinks); `None` for anything but a regular file.
    #[must_use]
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
            Some(Stamp {
                size: meta.len(),
                mtime_ns: meta.modified().map_or(0, nanos_since_epoch),
                ctime_ns: meta.created().map_or(0, nanos_since_epoch),
                inode: 0,
            })
        }
    }

    fn is_racy(&self, now_ns: i64) -> bool {
        let limit = now_ns - RACY_SECONDS * 1_000_000_000;
        self.mtime_ns >= limit || self.ctime_ns >= limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
