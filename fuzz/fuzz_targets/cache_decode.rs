//! Arbitrary bytes as a cache file, loaded with `store::history::load` and
//! `store::dirs::load` from a real file, as the library loads them.
//!
//! Random bytes almost never pass the magic and checksum, so the first input byte
//! picks a mode: the bytes as they are, or framed with a valid header and checksum
//! (taken from files the library itself saves) so that the decoders' bodies are
//! reached. Loading must never panic or allocate more than the file warrants; garbage
//! gives an empty cache; whatever decodes survives a save and a load unchanged.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use alembic_git_revisions_core::store::dirs::{self, CachedFile, DirCache};
use alembic_git_revisions_core::store::{self, fnv1a};
use libfuzzer_sys::fuzz_target;

struct Scratch {
    _dir: tempfile::TempDir,
    input: PathBuf,
    resaved: PathBuf,
    /// Magic and format version of each kind of file, as the library writes them.
    history_header: Vec<u8>,
    dir_header: Vec<u8>,
}

fn scratch() -> &'static Scratch {
    static SCRATCH: OnceLock<Scratch> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let input = dir.path().join("input.bin");
        let resaved = dir.path().join("resaved.bin");
        store::history::save(&input, &Default::default());
        let history_header = std::fs::read(&input).expect("saved history")[..12].to_vec();
        dirs::save(&input, &DirCache::default());
        let dir_header = std::fs::read(&input).expect("saved dir cache")[..12].to_vec();
        Scratch {
            _dir: dir,
            input,
            resaved,
            history_header,
            dir_header,
        }
    })
}

fn framed(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut file = header.to_vec();
    file.extend_from_slice(body);
    let sum = fnv1a(&file);
    file.extend_from_slice(&sum.to_le_bytes());
    file
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write scratch file");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let s = scratch();
    let file = match mode % 4 {
        0 => body.to_vec(),
        1 => framed(&s.history_header, body),
        2 => framed(&s.dir_header, body),
        // A valid checksum over a header of another format version.
        _ => {
            let mut header = s.history_header.clone();
            header[8] ^= 0x80;
            framed(&header, body)
        }
    };
    write(&s.input, &file);
    let history = store::history::load(&s.input);
    let dir = dirs::load(&s.input);

    let is_history = file.starts_with(&s.history_header);
    let is_dir = file.starts_with(&s.dir_header);
    if !is_history {
        assert!(history.is_empty(), "a non-history file decoded as history");
    }
    if !is_dir {
        assert_eq!(dir, DirCache::default(), "a non-directory file decoded");
    }

    if !history.is_empty() {
        store::history::save(&s.resaved, &history);
        assert_eq!(store::history::load(&s.resaved), history);
    }
    if dir != DirCache::default() {
        dirs::save(&s.resaved, &dir);
        let again = dirs::load(&s.resaved);
        // `save_dir` leaves out files stamped too recently to trust (and then the
        // add order, which is only valid for all of them); the rest comes back.
        let cutoff = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            - 10_000_000_000;
        let settled = |f: &CachedFile| f.stamp.mtime_ns < cutoff && f.stamp.ctime_ns < cutoff;
        if dir.files.iter().all(settled) {
            assert_eq!(again, dir);
        } else {
            assert!(again.files.len() <= dir.files.len());
            assert!(again.files.iter().all(|f| dir.files.contains(f)));
        }
    }
});
