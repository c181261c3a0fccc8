//! Every commit of the packs, read in pack order on all cores: how history is loaded
//! without a commit-graph file, instead of one index search and one inflate per
//! commit in the order a walk meets them.
//!
//! `git pack-objects` (so every server answering a clone or fetch, and `git repack`)
//! writes all commits first, before trees and blobs (`compute_write_order`), and
//! `git fast-import` writes each commit after its trees. The scan reads entry
//! headers in offset order (from the pack's `.rev` reverse index when it has a valid
//! one, else by sorting the index's offsets), keeps the entries that are whole
//! commits, and stops once [`STOP_AFTER`] entries in a row held none. Those commits
//! are then inflated and their headers parsed on the worker pool, each only as far as
//! its header when its first 256 bytes decide it
//! ([`crate::git::commit::parse_header_prefix`]).
//!
//! The scan only learns sooner what the object reader would read anyway, with the
//! same header parser ([`crate::git::commit::parse_header`]): whatever it cannot use
//! (a commit stored as a delta, one past the stop, a damaged entry) is left out, and
//! the caller reads it with the normal reader, which follows deltas and reports
//! damage naming the object.

use libdeflater::Decompressor;
use memmap2::Mmap;

use super::entry::{self, Entry};
use super::{map_file, PackFile, PackSet};
use crate::git::bytes::be32;
use crate::git::commit::{self, CommitHeader};
use crate::git::idmap::OidKey;
use crate::git::ObjectKind;
use crate::parallel::{self, Plan};

/// Entries in a row without a whole commit after which the scan of a pack stops,
/// once it has found commits: past the commits of a pack written by
/// `git pack-objects` come its trees and blobs.
pub const STOP_AFTER: usize = 4096;

/// Entries read between two polls of `interrupted`.
const POLL_EVERY: usize = 1 << 14;

/// Commits inflated by a worker at a time.
const BATCH: usize = 512;

/// Why a scan did not finish.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanStopped {
    /// The caller's `interrupted` fired.
    Interrupted,
}

/// The entries of one pack in offset order, as positions in its index.
enum PackOrder {
    /// The pack's `.rev` file (`RIDX`, version 1): index positions in pack order.
    Reverse(Mmap),
    /// The index's positions sorted by offset here.
    Sorted(Vec<u32>),
}

impl PackOrder {
    fn of(file: &PackFile) -> PackOrder {
        let count = file.index.len();
        if let Ok(map) = map_file(&file.pack_path.with_extension("rev")) {
            let valid = map.get(0..12) == Some(&b"RIDX\0\0\0\x01\0\0\0\x01"[..])
                && count
                    .checked_mul(4)
                    .and_then(|n| n.checked_add(12 + 40))
                    .is_some_and(|len| len == map.len());
            if valid {
                return PackOrder::Reverse(map);
            }
        }
        // Offsets and positions both fit 32 bits in packs under 4 GiB: one integer
        // sort. Larger packs sort pairs.
        let mut keyed: Vec<u64> = Vec::with_capacity(count);
        let mut large = false;
        for position in 0..count {
            let offset = file.index.offset(position).unwrap_or(u64::MAX);
            if offset > u64::from(u32::MAX) || position > u32::MAX as usize {
                large = true;
                break;
            }
            keyed.push((offset << 32) | position as u64);
        }
        if large {
            let mut pairs: Vec<(u64, u32)> = (0..count)
                .filter_map(|position| {
                    Some((file.index.offset(position)?, u32::try_from(position).ok()?))
                })
                .collect();
            pairs.sort_unstable();
            return PackOrder::Sorted(pairs.into_iter().map(|(_, p)| p).collect());
        }
        keyed.sort_unstable();
        // The low 32 bits hold the position.
        #[allow(clippy::cast_possible_truncation)]
        PackOrder::Sorted(keyed.into_iter().map(|key| key as u32).collect())
    }

    fn len(&self) -> usize {
        match self {
            PackOrder::Reverse(map) => (map.len() - 52) / 4,
            PackOrder::Sorted(positions) => positions.len(),
        }
    }

    fn position(&self, nth: usize) -> Option<usize> {
        match self {
            PackOrder::Reverse(map) => usize::try_from(be32(map, 12 + nth * 4)?).ok(),
            PackOrder::Sorted(positions) => Some(*positions.get(nth)? as usize),
        }
    }
}

/// A whole commit entry found by the scan.
struct Found {
    pack: usize,
    position: usize,
    data_at: usize,
    size: usize,
}

/// The whole commit entries of pack `pack`, in pack order, up to the stop.
fn find_commits(
    set: &PackSet,
    pack: usize,
    found: &mut Vec<Found>,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<(), ScanStopped> {
    let file = &set.packs[pack];
    let order = PackOrder::of(file);
    let mut without = 0;
    let mut seen_any = false;
    for nth in 0..order.len() {
        if nth % POLL_EVERY == POLL_EVERY - 1 && interrupted() {
            return Err(ScanStopped::Interrupted);
        }
        let Some(position) = order.position(nth).filter(|&p| p < file.index.len()) else {
            break;
        };
        let Some(offset) = file.index.offset(position) else {
            break;
        };
        match entry::header(&file.data, offset) {
            Ok(Entry::Base(ObjectKind::Commit, data_at, size)) => {
                found.push(Found {
                    pack,
                    position,
                    data_at,
                    size,
                });
                seen_any = true;
                without = 0;
            }
            Ok(_) => {
                without += 1;
                if seen_any && without >= STOP_AFTER {
                    break;
                }
            }
            // Damage is the normal reader's to report, naming the object.
            Err(_) => break,
        }
    }
    Ok(())
}

impl PackSet {
    /// The ids, trees and parents of the commits stored whole in these packs (up to
    /// each pack's [`STOP_AFTER`] stop), in pack order, read on up to `threads`
    /// workers. Commits
    /// left out are to be read with a [`super::PackReader`] or libgit2.
    ///
    /// # Errors
    ///
    /// [`ScanStopped::Interrupted`] when `interrupted` fired.
    pub fn scan_commits(
        &self,
        threads: usize,
        interrupted: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<(OidKey, CommitHeader)>, ScanStopped> {
        let mut found = Vec::new();
        for pack in 0..self.packs.len() {
            find_commits(self, pack, &mut found, interrupted)?;
        }
        let plan = Plan {
            workers: threads.clamp(1, 8).min(found.len().div_ceil(BATCH).max(1)),
            batch: BATCH,
        };
        let read = parallel::run(
            found.len(),
            plan,
            || Ok::<_, std::convert::Infallible>((Decompressor::new(), Vec::new())),
            |(inflater, buffer), item| Ok(self.read_found(&found[item], inflater, buffer)),
            interrupted,
        );
        let headers = match read {
            Ok(headers) => headers,
            Err(parallel::Error::Interrupted) => return Err(ScanStopped::Interrupted),
            // No worker could start (or a bug): the normal reader reads everything.
            Err(_) => Vec::new(),
        };
        let commits = headers.into_iter().flatten().collect();
        Ok(commits)
    }

    fn read_found(
        &self,
        found: &Found,
        inflater: &mut Decompressor,
        buffer: &mut Vec<u8>,
    ) -> Option<(OidKey, CommitHeader)> {
        let file = &self.packs[found.pack];
        let input = file.data.get(found.data_at..)?;
        // The header is all the walk needs: most commits (signatures, long messages)
        // are decided by their first bytes. The rest inflate whole.
        let quick = entry::inflate_prefix(inflater, input, found.size, buffer)
            .and_then(|known| commit::parse_header_prefix(known, found.size));
        let header = if let Some(Ok(header)) = quick {
            header
        } else {
            entry::inflate(inflater, input, found.size, 0, buffer).ok()?;
            commit::parse_header(buffer).ok()?
        };
        Some((file.index.raw_id(found.position)?, header))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use git2::Oid;

    use super::*;
    use crate::git::pack::PackReader;
    use crate::testutil::{git, TestRepo};

    fn never() -> bool {
        false
    }

    /// A repository whose commits carry long, nearly identical messages, repacked so
    /// that git stores many of them as deltas; a branch merged back, and one left
    /// unmerged, so that the pack also holds commits `HEAD` does not reach.
    fn repo_with_deltified_commits() -> TestRepo {
        let repo = TestRepo::new();
        let body = "A line of a long commit message body shared by all.\n".repeat(60);
        for n in 0..120 {
            match n {
                60 => repo.git(&["checkout", "-q", "-b", "side"]),
                90 => repo.git(&["checkout", "-q", "main"]),
                110 => repo.git(&["checkout", "-q", "-b", "unmerged"]),
                _ => String::new(),
            };
            let branch = match n {
                60..90 => "side",
                110.. => "unmerged",
                _ => "main",
            };
            repo.write(
                &format!("{branch}/d{}/f{}.txt", n % 3, n % 7),
                &format!("{n}\n"),
            );
            repo.commit(&format!("commit {n}\n\n{body}"));
        }
        repo.git(&["checkout", "-q", "main"]);
        repo.git(&["merge", "-q", "--no-edit", "side"]);
        repo.git(&["repack", "-adfq", "--window=250", "--depth=50"]);
        repo
    }

    /// Every commit the scan finds has the header the normal reader reads; commits
    /// stored as deltas are left out (and still read normally); with or without the
    /// `.rev` file, and on one or several workers.
    #[test]
    fn scan_agrees_with_the_reader_and_skips_deltas() {
        let repo = repo_with_deltified_commits();
        let root = repo.path();
        let listing = git(
            root,
            &[
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname) %(objecttype) %(deltabase)",
            ],
        );
        let mut whole = HashSet::new();
        let mut deltified = HashSet::new();
        for line in listing.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields[1] != "commit" {
                continue;
            }
            let oid = Oid::from_str(fields[0]).unwrap();
            if fields[2].bytes().all(|b| b == b'0') {
                whole.insert(oid);
            } else {
                deltified.insert(oid);
            }
        }
        assert!(!deltified.is_empty(), "git stored no commit as a delta");
        assert!(!whole.is_empty());
        let pack_dir = root.join(".git/objects/pack");
        let rev_files = || {
            std::fs::read_dir(&pack_dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "rev"))
                .collect::<Vec<_>>()
        };
        if rev_files().is_empty() {
            git(
                root,
                &["-c", "pack.writeReverseIndex=true", "repack", "-adq"],
            );
            // A plain repack keeps deltas it found before.
        }
        for with_rev in [true, false] {
            if !with_rev {
                for path in rev_files() {
                    std::fs::remove_file(path).unwrap();
                }
            }
            let set = PackSet::open(&root.join(".git/objects"));
            let mut reader = PackReader::new(Arc::clone(&set));
            for threads in [1, 3] {
                let scanned = set.scan_commits(threads, &never).unwrap();
                let keys: HashSet<Oid> = scanned
                    .iter()
                    .map(|(k, _)| Oid::from_bytes(k).unwrap())
                    .collect();
                assert_eq!(keys.len(), scanned.len());
                assert_eq!(keys, whole, "rev {with_rev}, {threads} threads");
                for (raw, header) in &scanned {
                    let oid = Oid::from_bytes(raw).unwrap();
                    let (_, data) = reader.read(&oid).unwrap().unwrap();
                    assert_eq!(&commit::parse_header(&data).unwrap(), header, "{oid}");
                }
                for oid in &deltified {
                    assert!(reader.read(oid).unwrap().is_some());
                }
            }
        }
    }

    /// A directory without packs gives no commits.
    #[test]
    fn no_packs_no_commits() {
        let dir = tempfile::tempdir().unwrap();
        let empty = PackSet::open(dir.path());
        assert!(empty.scan_commits(2, &never).unwrap().is_empty());
    }
}
