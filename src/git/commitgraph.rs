//! Reader for git's commit-graph files (`objects/info/commit-graph`, or a split
//! chain under `objects/info/commit-graphs/`): each commit's root tree and parents
//! without inflating commit objects, as `git rev-list` uses them.
//!
//! Every offset is bounds-checked; a file that does not parse is ignored (the caller
//! reads commit objects instead), never trusted halfway.

use std::path::Path;

use git2::Oid;
use memmap2::Mmap;

use super::bytes::{be32, be64};
use super::commit::CommitHeader;
use super::mapped::map_readonly;

const NO_PARENT: u32 = 0x7000_0000;
const EDGE_FLAG: u32 = 0x8000_0000;

struct Layer {
    map: Mmap,
    count: usize,
    fanout: usize,
    oids: usize,
    data: usize,
    edges: Option<(usize, usize)>,
}

impl Layer {
    fn open(path: &Path) -> Option<Layer> {
        let map = map_readonly(path).ok()?;
        if map.get(0..4)? != b"CGPH" || map[4] != 1 || map[5] != 1 {
            return None;
        }
        let chunks = usize::from(map[6]);
        let (mut fanout, mut oids, mut data, mut edges) = (None, None, None, None);
        let mut entries = Vec::with_capacity(chunks + 1);
        for i in 0..=chunks {
            let at = 8 + i * 12;
            entries.push((be32(&map, at)?, usize::try_from(be64(&map, at + 4)?).ok()?));
        }
        for pair in entries.windows(2) {
            let ((id, start), (_, end)) = (pair[0], pair[1]);
            if start > end || end > map.len() {
                return None;
            }
            match &id.to_be_bytes() {
                b"OIDF" => fanout = Some((start, end)),
                b"OIDL" => oids = Some((start, end)),
                b"CDAT" => data = Some((start, end)),
                b"EDGE" => edges = Some((start, end)),
                _ => {}
            }
        }
        let (fanout, oids, data) = (fanout?, oids?, data?);
        if fanout.1 - fanout.0 != 1024 {
            return None;
        }
        let count = usize::try_from(be32(&map, fanout.0 + 255 * 4)?).ok()?;
        if Some(oids.1 - oids.0) != count.checked_mul(20)
            || Some(data.1 - data.0) != count.checked_mul(36)
        {
            return None;
        }
        Some(Layer {
            map,
            count,
            fanout: fanout.0,
            oids: oids.0,
            data: data.0,
            edges,
        })
    }

    fn find(&self, oid: &Oid) -> Option<usize> {
        let id = oid.as_bytes();
        let first = usize::from(id[0]);
        let hi = usize::try_from(be32(&self.map, self.fanout + first * 4)?).ok()?;
        let lo = if first == 0 {
            0
        } else {
            usize::try_from(be32(&self.map, self.fanout + (first - 1) * 4)?).ok()?
        };
        let (mut lo, mut hi) = (lo, hi.min(self.count));
        while lo < hi {
            let mid = lo.midpoint(hi);
            let at = self.oids + mid * 20;
            match self.map.get(at..at + 20)?.cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    fn oid(&self, index: usize) -> Option<Oid> {
        let at = self.oids + index.checked_mul(20)?;
        Oid::from_bytes(self.map.get(at..at + 20)?).ok()
    }
}

/// The commit-graph layers of one object directory, base first.
pub struct CommitGraphFile {
    layers: Vec<Layer>,
}

impl CommitGraphFile {
    /// Open the commit-graph of `objects_dir`, if there is a usable one.
    #[must_use]
    pub fn open(objects_dir: &Path) -> Option<CommitGraphFile> {
        let info = objects_dir.join("info");
        let chain = info.join("commit-graphs").join("commit-graph-chain");
        let layers = if let Ok(text) = std::fs::read_to_string(&chain) {
            let mut layers = Vec::new();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let name = format!("graph-{}.graph", line.trim());
                layers.push(Layer::open(&info.join("commit-graphs").join(name))?);
            }
            layers
        } else {
            vec![Layer::open(&info.join("commit-graph"))?]
        };
        (!layers.is_empty()).then_some(CommitGraphFile { layers })
    }

    /// Global position → (layer, index in layer).
    fn locate(&self, mut position: usize) -> Option<(&Layer, usize)> {
        for layer in &self.layers {
            if position < layer.count {
                return Some((layer, position));
            }
            position -= layer.count;
        }
        None
    }

    fn oid_at(&self, position: u32) -> Option<Oid> {
        let (layer, index) = self.locate(usize::try_from(position).ok()?)?;
        layer.oid(index)
    }

    /// Root tree and parents (in stored order) of `oid`, if the graph holds it.
    /// `None` also for anything malformed.
    #[must_use]
    pub fn commit(&self, oid: &Oid) -> Option<CommitHeader> {
        self.layers
            .iter()
            .find_map(|layer| layer.find(oid).map(|index| (layer, index)))
            .and_then(|(layer, index)| self.read(layer, index))
    }

    fn read(&self, layer: &Layer, index: usize) -> Option<CommitHeader> {
        let at = layer.data + index * 36;
        let tree = Oid::from_bytes(layer.map.get(at..at + 20)?).ok()?;
        let first = be32(&layer.map, at + 20)?;
        let second = be32(&layer.map, at + 24)?;
        let mut parents = Vec::new();
        if first != NO_PARENT {
            parents.push(self.oid_at(first)?);
        }
        if second == NO_PARENT {
            return Some(CommitHeader { tree, parents });
        }
        if second & EDGE_FLAG == 0 {
            parents.push(self.oid_at(second)?);
            return Some(CommitHeader { tree, parents });
        }
        // Octopus: the rest of the parents are listed in EDGE from this index on, the
        // last one flagged with the high bit.
        let (start, end) = layer.edges?;
        let mut edge = usize::try_from(second & !EDGE_FLAG).ok()?;
        loop {
            let at = start.checked_add(edge.checked_mul(4)?)?;
            if at + 4 > end {
                return None;
            }
            let value = be32(&layer.map, at)?;
            parents.push(self.oid_at(value & !EDGE_FLAG)?);
            if value & EDGE_FLAG != 0 {
                return Some(CommitHeader { tree, parents });
            }
            edge += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::git;

    /// Every commit's tree and parents from the graph equal what the objects say,
    /// for a single file and for a split chain, octopus merges included.
    #[test]
    fn graph_matches_commit_objects() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q", "-b", "main"]);
        let commit = |name: &str| {
            std::fs::write(root.join(name), name).unwrap();
            git(root, &["add", name]);
            git(root, &["commit", "-q", "-m", name]);
        };
        commit("base");
        for branch in ["a", "b", "c"] {
            git(root, &["checkout", "-q", "-b", branch, "main"]);
            commit(branch);
        }
        git(root, &["checkout", "-q", "main"]);
        git(root, &["merge", "-q", "--no-edit", "a", "b", "c"]);
        let check = |layers: usize| {
            let file = CommitGraphFile::open(&root.join(".git/objects")).expect("graph opens");
            assert_eq!(file.layers.len(), layers);
            let repo = git2::Repository::open(root).unwrap();
            let ids = git(root, &["rev-list", "--all"]);
            for hex in ids.lines() {
                let oid = Oid::from_str(hex).unwrap();
                let commit = repo.find_commit(oid).unwrap();
                let expected = CommitHeader {
                    tree: commit.tree_id(),
                    parents: commit.parent_ids().collect(),
                };
                assert_eq!(file.commit(&oid), Some(expected), "commit {hex}");
            }
        };
        git(root, &["commit-graph", "write", "--reachable"]);
        check(1);
        commit("after");
        git(
            root,
            &["commit-graph", "write", "--reachable", "--split=no-merge"],
        );
        assert!(root
            .join(".git/objects/info/commit-graphs/commit-graph-chain")
            .exists());
        check(2);
        // A commit missing from the graph is reported as such, not invented.
        commit("unlisted");
        let head = Oid::from_str(git(root, &["rev-parse", "HEAD"]).trim()).unwrap();
        let file = CommitGraphFile::open(&root.join(".git/objects")).unwrap();
        assert_eq!(file.commit(&head), None);
    }

    #[test]
    fn garbage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let info = dir.path().join("info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(info.join("commit-graph"), b"CGPH\x01\x01\x05\x00garbage").unwrap();
        assert!(CommitGraphFile::open(dir.path()).is_none());
    }
}
