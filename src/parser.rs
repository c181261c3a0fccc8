//! Reads a migration module's top-level `revision` / `down_revision` the way
//! Python's `ast` does, without executing anything.
//!
//! (Skeleton: the full implementation is being written.)

/// What a migration module declares at top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Value of the last top-level `revision = "<str literal>"`, if it is a plain string.
    pub revision: Option<String>,
    /// How the last top-level `down_revision` assignment reads.
    pub down_revision: DownRevision,
}

/// The shape of `down_revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownRevision {
    /// A call to `get_down_revision(...)` or `<anything>.get_down_revision(...)`.
    Dynamic,
    /// Hardcoded parents: empty for `None`/absent/anything not a string literal,
    /// one for a string, several for a tuple or list of strings (a merge migration).
    Static(Vec<String>),
}
