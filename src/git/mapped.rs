//! Git's immutable files (pack indexes, packs, commit-graph files), mapped into
//! memory read-only (with `geteuid` in `repository`, one of the two `unsafe` calls of
//! the crate).

use std::fs::File;
use std::io;
use std::path::Path;

use memmap2::Mmap;

/// Map the whole file at `path` read-only.
///
/// Only for files git never modifies once written: it writes packs, their indexes
/// and commit-graph files under temporary names and renames them into place, and a
/// repack or `gc` deletes them rather than rewriting them, so the mapping cannot
/// change under the reader. (A file deleted while mapped stays readable.)
pub(crate) fn map_readonly(path: &Path) -> io::Result<Mmap> {
    let file = File::open(path)?;
    // SAFETY: see above; the mapped bytes are only read, through bounds-checked
    // slices.
    #[allow(unsafe_code)]
    unsafe {
        Mmap::map(&file)
    }
}
