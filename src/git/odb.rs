//! The object database as the walk reads it: the object directories git would read
//! ([`ObjectDirs`]: `$GIT_OBJECT_DIRECTORY` or `objects/`, then
//! `$GIT_ALTERNATE_OBJECT_DIRECTORIES` and `info/alternates`), their packs through
//! this crate's own reader (mapped once per repository, see [`super::pack`]),
//! everything else (loose objects, packs the reader leaves alone) through libgit2,
//! pointed at the same directories. Replace refs are applied to every read.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{ErrorCode, Oid};

use super::commit::{self, CommitHeader};
use super::environment::{non_empty, resolve, Environment};
use super::pack::{PackReader, PackSet};
use super::rewrites::Rewrites;
use super::{Error, ObjectKind};

/// Levels of `info/alternates` followed, as git's `link_alt_odb_entries` does
/// (deeper ones are ignored with an error: "nesting too deep").
const MAX_ALTERNATE_DEPTH: usize = 5;

/// The separator of `$GIT_ALTERNATE_OBJECT_DIRECTORIES` (git's `PATH_SEP`).
const PATH_SEP: u8 = if cfg!(windows) { b';' } else { b':' };

/// The object directories git reads objects from, in its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDirs {
    /// `$GIT_OBJECT_DIRECTORY`, else `<common dir>/objects`.
    pub primary: PathBuf,
    /// Whether `primary` comes from `$GIT_OBJECT_DIRECTORY`.
    pub primary_from_environment: bool,
    /// `$GIT_ALTERNATE_OBJECT_DIRECTORIES`, then the `info/alternates` of the primary
    /// directory, each followed by its own `info/alternates`; existing directories
    /// only, each once.
    pub alternates: Vec<PathBuf>,
}

impl ObjectDirs {
    /// The object directories of the repository whose common directory is
    /// `common_dir`, as git's `prepare_alt_odb` finds them. Relative paths from the
    /// environment are resolved from `base`, relative `info/alternates` entries from
    /// the object directory whose file lists them. Entries git would skip with an
    /// error (missing directories, nesting deeper than 5) are skipped.
    #[must_use]
    pub fn locate(common_dir: &Path, base: &Path, env: &Environment) -> Self {
        let (primary, primary_from_environment) = match non_empty(env.object_directory.as_deref()) {
            Some(dir) => (resolve(base, dir), true),
            None => (common_dir.join("objects"), false),
        };
        let mut dirs = ObjectDirs {
            primary,
            primary_from_environment,
            alternates: Vec::new(),
        };
        let mut seen: HashSet<PathBuf> = HashSet::new();
        seen.insert(canonical(&dirs.primary));
        if let Some(list) = non_empty(env.alternate_object_directories.as_deref()) {
            dirs.link(list.as_encoded_bytes(), PATH_SEP, base, 0, &mut seen);
        }
        let primary = dirs.primary.clone();
        dirs.read_info_alternates(&primary, 0, &mut seen);
        dirs
    }

    /// Every directory, primary first.
    pub fn all(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.primary.as_path()).chain(self.alternates.iter().map(PathBuf::as_path))
    }

    /// Whether libgit2, opening the repository on its own, might miss some of these
    /// directories (it reads neither variable, nor every form of `info/alternates`).
    fn beyond_libgit2(&self) -> bool {
        self.primary_from_environment || !self.alternates.is_empty()
    }

    /// A libgit2 object database of these directories (and of whatever alternates
    /// libgit2 itself finds there), for objects this crate's pack reader does not
    /// hold. It is not tied to a repository handle, so no thread opens the repository
    /// (and its grafts file, see [`super::Repository::discover_with`]) again.
    ///
    /// # Errors
    ///
    /// libgit2's, when a directory cannot be added.
    pub fn odb(&self) -> Result<git2::Odb<'static>, git2::Error> {
        let odb = git2::Odb::new()?;
        for dir in self.all() {
            add_dir(&odb, dir)?;
        }
        Ok(odb)
    }

    /// Make `repo` (a libgit2 handle of this repository) read objects from exactly
    /// these directories (and whatever alternates libgit2 itself finds there).
    ///
    /// # Errors
    ///
    /// libgit2's, when a directory cannot be added.
    pub fn attach(&self, repo: &git2::Repository) -> Result<(), git2::Error> {
        if !self.beyond_libgit2() {
            return Ok(());
        }
        let odb = if self.primary_from_environment {
            let odb = git2::Odb::new()?;
            add_dir(&odb, &self.primary)?;
            repo.set_odb(&odb)?;
            odb
        } else {
            repo.odb()?
        };
        // libgit2 skips a directory it already reads (by inode), so adding one it
        // found itself costs a `stat`.
        for dir in &self.alternates {
            add_dir(&odb, dir)?;
        }
        Ok(())
    }

    fn read_info_alternates(&mut self, objects: &Path, depth: usize, seen: &mut HashSet<PathBuf>) {
        if let Ok(text) = std::fs::read(objects.join("info").join("alternates")) {
            let base = objects
                .canonicalize()
                .unwrap_or_else(|_| objects.to_path_buf());
            self.link(&text, b'\n', &base, depth, seen);
        }
    }

    /// git's `link_alt_odb_entries`: every entry of `list` (split at `separator`;
    /// `#` lines skipped; C-quoted entries unquoted) that names an existing
    /// directory, then its own `info/alternates`.
    fn link(
        &mut self,
        list: &[u8],
        separator: u8,
        base: &Path,
        depth: usize,
        seen: &mut HashSet<PathBuf>,
    ) {
        if depth > MAX_ALTERNATE_DEPTH {
            return;
        }
        let mut rest = list;
        while !rest.is_empty() {
            let (entry, after) = split_entry(rest, separator);
            rest = after;
            let Some(entry) = entry.filter(|e| !e.is_empty()) else {
                continue;
            };
            let path = resolve(base, &os_str(&entry));
            if !path.is_dir() || !seen.insert(canonical(&path)) {
                continue;
            }
            self.alternates.push(path.clone());
            self.read_info_alternates(&path, depth + 1, seen);
        }
    }
}

/// One entry at the start of `list` and what follows it, as git's
/// `parse_alt_odb_entry` splits them: `None` for a `#` comment.
fn split_entry(list: &[u8], separator: u8) -> (Option<Vec<u8>>, &[u8]) {
    let until_separator = |from: &[u8]| -> usize {
        from.iter()
            .position(|&b| b == separator)
            .unwrap_or(from.len())
    };
    let skip = |from: &[u8], at: usize| -> usize { (at + 1).min(from.len()) };
    if list[0] == b'#' {
        let end = until_separator(list);
        return (None, &list[skip(list, end)..]);
    }
    if list[0] == b'"' {
        if let Some((unquoted, used)) = unquote_c_style(list) {
            // git skips the one byte after the closing quote, taking it for the
            // separator.
            return (Some(unquoted), &list[skip(list, used)..]);
        }
    }
    let end = until_separator(list);
    (Some(list[..end].to_vec()), &list[skip(list, end)..])
}

/// git's `unquote_c_style`: the string in double quotes at the start of `quoted`,
/// with C escapes (`\n`, `\"`, `\\`, octal `\ooo`...) decoded, and the bytes used;
/// `None` when it is not a well-formed quoted string.
fn unquote_c_style(quoted: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut at = 1;
    loop {
        let byte = *quoted.get(at)?;
        at += 1;
        match byte {
            b'"' => return Some((out, at)),
            b'\\' => {
                let escaped = *quoted.get(at)?;
                at += 1;
                let decoded = match escaped {
                    b'a' => 0x07,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 0x0b,
                    b'\\' | b'"' => escaped,
                    b'0'..=b'3' => {
                        let digits = quoted.get(at..at + 2)?;
                        if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                            return None;
                        }
                        at += 2;
                        ((escaped - b'0') << 6) | ((digits[0] - b'0') << 3) | (digits[1] - b'0')
                    }
                    _ => return None,
                };
                out.push(decoded);
            }
            _ => out.push(byte),
        }
    }
}

#[cfg(unix)]
fn os_str(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes).to_os_string()
}

#[cfg(not(unix))]
fn os_str(bytes: &[u8]) -> std::ffi::OsString {
    String::from_utf8_lossy(bytes).into_owned().into()
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn add_dir(odb: &git2::Odb<'_>, dir: &Path) -> Result<(), git2::Error> {
    match dir.to_str() {
        Some(dir) => odb.add_disk_alternate(dir),
        // libgit2 takes UTF-8 paths only; such a directory's packs are still read by
        // this crate's pack reader, and a loose object only there is reported missing.
        None => Ok(()),
    }
}

/// What every reader of one repository shares: the mapped packs of every object
/// directory and the replace refs. `Sync`, so worker threads borrow it; each makes
/// its own [`ObjectReader`].
pub struct ObjectStore {
    git_dir: PathBuf,
    dirs: ObjectDirs,
    packs: Vec<Arc<PackSet>>,
    rewrites: Rewrites,
    partial_clone: bool,
}

impl ObjectStore {
    /// The store of the repository at `git_dir`, whose objects live in `dirs`.
    #[must_use]
    pub fn open(git_dir: &Path, dirs: ObjectDirs, rewrites: Rewrites, partial_clone: bool) -> Self {
        let packs = dirs
            .all()
            .map(PackSet::open)
            .filter(|set| !set.is_empty())
            .collect();
        ObjectStore {
            git_dir: git_dir.to_path_buf(),
            dirs,
            packs,
            rewrites,
            partial_clone,
        }
    }

    /// The mapped packs of each object directory, the repository's own first (for
    /// reads in pack order, see [`PackSet::scan_commits`]).
    #[must_use]
    pub fn packs(&self) -> &[Arc<PackSet>] {
        &self.packs
    }

    /// A reader for the calling thread, with its own caches. It opens its own libgit2
    /// object database when it first needs one (fully packed repositories never do).
    #[must_use]
    pub fn reader(&self) -> ObjectReader<'_> {
        ObjectReader {
            store: self,
            packs: self
                .packs
                .iter()
                .map(|set| PackReader::new(Arc::clone(set)))
                .collect(),
            libgit2: None,
        }
    }

    /// How many pack files this crate's reader reads, over every object directory.
    #[must_use]
    pub fn pack_files(&self) -> usize {
        self.packs.iter().map(|set| set.len()).sum()
    }

    /// An error saying that `oid`, read as a `kind`, is damaged.
    #[must_use]
    pub fn corrupt(&self, kind: ObjectKind, oid: Oid, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            git_dir: self.git_dir.clone(),
            kind,
            oid,
            detail: detail.into(),
        }
    }

    /// The object to read in place of `oid`, replace refs followed.
    ///
    /// # Errors
    ///
    /// [`Error::ReplaceDepth`] when they chain too far or loop.
    pub fn replacement(&self, oid: Oid) -> Result<Oid, Error> {
        self.rewrites
            .object(oid)
            .ok_or_else(|| Error::ReplaceDepth {
                git_dir: self.git_dir.clone(),
                oid,
            })
    }
}

/// Reads commits and trees for one thread.
pub struct ObjectReader<'s> {
    store: &'s ObjectStore,
    packs: Vec<PackReader>,
    libgit2: Option<git2::Odb<'static>>,
}

impl ObjectReader<'_> {
    /// The store this reader reads from.
    #[must_use]
    pub fn store(&self) -> &ObjectStore {
        self.store
    }

    /// The bytes of object `oid` (or of its replacement), which must be a `kind`.
    ///
    /// # Errors
    ///
    /// [`Error::MissingObject`], [`Error::Pack`], [`Error::ReplaceDepth`] or
    /// [`Error::Corrupt`].
    pub fn read(&mut self, oid: Oid, kind: ObjectKind) -> Result<Arc<Vec<u8>>, Error> {
        let (actual, found, data) = self.read_any(oid, kind)?;
        if found != kind {
            return Err(self.store.corrupt(
                kind,
                actual,
                format!("expected a {kind}, found a {found}"),
            ));
        }
        Ok(data)
    }

    /// Object `oid` (or its replacement) whatever its kind: the id read, its kind
    /// and its bytes. `expected` names what it is needed as, for errors.
    ///
    /// # Errors
    ///
    /// As [`ObjectReader::read`], except for a kind other than `expected`.
    pub fn read_any(
        &mut self,
        oid: Oid,
        expected: ObjectKind,
    ) -> Result<(Oid, ObjectKind, Arc<Vec<u8>>), Error> {
        let store = self.store;
        let actual = store.replacement(oid)?;
        for packs in &mut self.packs {
            let packed = packs.read(&actual).map_err(|source| Error::Pack {
                git_dir: store.git_dir.clone(),
                kind: expected,
                oid: actual,
                source,
            })?;
            if let Some((found, data)) = packed {
                return Ok((actual, found, data));
            }
        }
        let odb = match &mut self.libgit2 {
            Some(opened) => opened,
            empty => empty.insert(store.dirs.odb().map_err(|source| Error::Git {
                git_dir: store.git_dir.clone(),
                action: "opening the object database",
                source,
            })?),
        };
        let object = odb.read(actual).map_err(|error| {
            if error.code() == ErrorCode::NotFound {
                Error::MissingObject {
                    git_dir: store.git_dir.clone(),
                    kind: expected,
                    oid: actual,
                    hint: if store.partial_clone {
                        ". This is a partial clone that omits trees or commits \
                         (e.g. --filter=tree:0); clone with --filter=blob:none or without a filter"
                    } else {
                        ". The repository is damaged; run `git fsck`"
                    },
                }
            } else {
                store.corrupt(
                    expected,
                    actual,
                    format!("{}; run `git fsck`", error.message()),
                )
            }
        })?;
        let found = match object.kind() {
            git2::ObjectType::Commit => ObjectKind::Commit,
            git2::ObjectType::Tree => ObjectKind::Tree,
            git2::ObjectType::Blob => ObjectKind::Blob,
            git2::ObjectType::Tag => ObjectKind::Tag,
            other @ git2::ObjectType::Any => {
                return Err(store.corrupt(
                    expected,
                    actual,
                    format!("expected a {expected}, found {}", other.str()),
                ))
            }
        };
        Ok((actual, found, Arc::new(object.data().to_vec())))
    }

    /// The tree and parents of commit `oid`, from its header.
    ///
    /// # Errors
    ///
    /// As [`ObjectReader::read`], and [`Error::Corrupt`] for a damaged header.
    pub fn commit(&mut self, oid: Oid) -> Result<CommitHeader, Error> {
        let data = self.read(oid, ObjectKind::Commit)?;
        commit::parse_header(&data)
            .map_err(|detail| self.store.corrupt(ObjectKind::Commit, oid, detail))
    }

    /// The raw bytes of tree `oid`.
    ///
    /// # Errors
    ///
    /// As [`ObjectReader::read`].
    pub fn tree(&mut self, oid: Oid) -> Result<Arc<Vec<u8>>, Error> {
        self.read(oid, ObjectKind::Tree)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternates_entries_split_as_git_splits_them() {
        let entries = |list: &[u8], separator: u8| {
            let mut rest = list;
            let mut out = Vec::new();
            while !rest.is_empty() {
                let (entry, after) = split_entry(rest, separator);
                out.push(entry.map(|e| String::from_utf8(e).unwrap()));
                rest = after;
            }
            out
        };
        assert_eq!(
            entries(b"/a/objects\n# note\n../b/objects/\n\n", b'\n'),
            [
                Some("/a/objects".into()),
                None,
                Some("../b/objects/".into()),
                Some(String::new())
            ]
        );
        assert_eq!(
            entries(b"\"/with\\\"quote\\040and\\\\\":/plain", b':'),
            [Some("/with\"quote and\\".into()), Some("/plain".into())]
        );
        // Not a well-formed quoted string: taken as it is.
        assert_eq!(entries(b"\"/open", b':'), [Some("\"/open".into())]);
        assert_eq!(
            entries(b"\"/q\"x:/next", b':'),
            [Some("/q".into()), Some(String::new()), Some("/next".into())]
        );
    }

    #[test]
    fn c_style_unquoting() {
        assert_eq!(
            unquote_c_style(b"\"a\\tb\"rest"),
            Some((b"a\tb".to_vec(), 6))
        );
        assert_eq!(
            unquote_c_style(b"\"\\303\\251\""),
            Some(("é".as_bytes().to_vec(), 10))
        );
        assert_eq!(unquote_c_style(b"\"bad \\q\""), None);
        assert_eq!(unquote_c_style(b"\"unterminated"), None);
        assert_eq!(unquote_c_style(b"\"\\39\""), None);
    }
}
