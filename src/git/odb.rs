//! The object database as the walk reads it: packs through this crate's own reader
//! (mapped once per repository, see [`super::pack`]), everything else (loose
//! objects, alternates, packs the reader leaves alone) through libgit2. Replace refs
//! are applied to every read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{ErrorCode, Oid};

use super::commit::{self, CommitHeader};
use super::pack::{PackReader, PackSet};
use super::rewrites::Rewrites;
use super::{Error, ObjectKind};

/// What every reader of one repository shares: the mapped packs and the replace
/// refs. `Sync`, so worker threads borrow it; each makes its own [`ObjectReader`].
pub struct ObjectStore {
    git_dir: PathBuf,
    packs: Arc<PackSet>,
    rewrites: Rewrites,
    partial_clone: bool,
}

impl ObjectStore {
    /// The store of the repository at `git_dir`, whose objects live in `objects_dir`.
    #[must_use]
    pub fn open(
        git_dir: &Path,
        objects_dir: &Path,
        rewrites: Rewrites,
        partial_clone: bool,
    ) -> Self {
        ObjectStore {
            git_dir: git_dir.to_path_buf(),
            packs: PackSet::open(objects_dir),
            rewrites,
            partial_clone,
        }
    }

    /// The mapped packs (for reads in pack order, see [`PackSet::scan_commits`]).
    #[must_use]
    pub fn packs(&self) -> &PackSet {
        &self.packs
    }

    /// A reader for the calling thread, with its own caches. It opens its own libgit2
    /// handle when it first needs one (a `git2::Repository` must not be shared
    /// between threads, and fully packed repositories never need it).
    #[must_use]
    pub fn reader(&self) -> ObjectReader<'_> {
        ObjectReader {
            store: self,
            packs: PackReader::new(Arc::clone(&self.packs)),
            libgit2: None,
        }
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
}

/// Reads commits and trees for one thread.
pub struct ObjectReader<'s> {
    store: &'s ObjectStore,
    packs: PackReader,
    libgit2: Option<git2::Repository>,
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
    /// [`Error::MissingObject`], [`Error::Pack`] or [`Error::Corrupt`].
    pub fn read(&mut self, oid: Oid, kind: ObjectKind) -> Result<Arc<Vec<u8>>, Error> {
        let store = self.store;
        let actual = store.rewrites.object(oid);
        let packed = self.packs.read(&actual).map_err(|source| Error::Pack {
            git_dir: store.git_dir.clone(),
            kind,
            oid: actual,
            source,
        })?;
        if let Some((found, data)) = packed {
            if found != kind {
                return Err(store.corrupt(
                    kind,
                    actual,
                    format!("expected a {kind}, found a {found}"),
                ));
            }
            return Ok(data);
        }
        let libgit2_error = |source| Error::Git {
            git_dir: store.git_dir.clone(),
            action: "opening the object database",
            source,
        };
        let libgit2 = match &mut self.libgit2 {
            Some(opened) => opened,
            empty => empty.insert(git2::Repository::open(&store.git_dir).map_err(libgit2_error)?),
        };
        let odb = libgit2.odb().map_err(libgit2_error)?;
        let object = odb.read(actual).map_err(|error| {
            if error.code() == ErrorCode::NotFound {
                Error::MissingObject {
                    git_dir: store.git_dir.clone(),
                    kind,
                    oid: actual,
                    hint: if store.partial_clone {
                        ". This is a partial clone that omits trees or commits \
                         (e.g. --filter=tree:0); clone with --filter=blob:none or without a filter"
                    } else {
                        ". The repository is damaged; run `git fsck`"
                    },
                }
            } else {
                store.corrupt(kind, actual, format!("{}; run `git fsck`", error.message()))
            }
        })?;
        let found = object.kind();
        let expected = match kind {
            ObjectKind::Commit => git2::ObjectType::Commit,
            ObjectKind::Tree => git2::ObjectType::Tree,
            ObjectKind::Blob => git2::ObjectType::Blob,
            ObjectKind::Tag => git2::ObjectType::Tag,
        };
        if found != expected {
            return Err(store.corrupt(
                kind,
                actual,
                format!("expected a {kind}, found {}", found.str()),
            ));
        }
        Ok(Arc::new(object.data().to_vec()))
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
