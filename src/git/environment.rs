//! The environment variables that change which repository `git` opens and what
//! history `git log` reads there, captured once so that a repository is opened from
//! one consistent view of them (and tests can pass their own).
//!
//! Relative paths in them are read as git reads them: from the top of the working
//! tree (git changes into it once it has found the repository), or from the directory
//! git started in when `$GIT_DIR` is set.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The variables, as set (`None` when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// `GIT_DIR`: the repository, found without searching.
    pub git_dir: Option<OsString>,
    /// `GIT_CEILING_DIRECTORIES`: where the search for a repository stops.
    pub ceiling_directories: Option<OsString>,
    /// `GIT_COMMON_DIR`: the directory shared by linked worktrees.
    pub common_dir: Option<OsString>,
    /// `GIT_OBJECT_DIRECTORY`: the object directory, in place of `<common dir>/objects`.
    pub object_directory: Option<OsString>,
    /// `GIT_ALTERNATE_OBJECT_DIRECTORIES`: more object directories to read from.
    pub alternate_object_directories: Option<OsString>,
    /// `GIT_GRAFT_FILE`: the grafts file, in place of `<common dir>/info/grafts`.
    pub graft_file: Option<OsString>,
    /// `GIT_NO_REPLACE_OBJECTS`: set to anything (even empty or `0`), replace refs
    /// are not used.
    pub no_replace_objects: Option<OsString>,
    /// `GIT_REPLACE_REF_BASE`: where replace refs live, in place of `refs/replace/`.
    pub replace_ref_base: Option<OsString>,
    /// `GIT_SHALLOW_FILE`: the list of shallow commits, in place of `shallow`.
    pub shallow_file: Option<OsString>,
}

impl Environment {
    /// The variables of this process.
    #[must_use]
    pub fn from_process() -> Self {
        let var = std::env::var_os;
        Environment {
            git_dir: var("GIT_DIR"),
            ceiling_directories: var("GIT_CEILING_DIRECTORIES"),
            common_dir: var("GIT_COMMON_DIR"),
            object_directory: var("GIT_OBJECT_DIRECTORY"),
            alternate_object_directories: var("GIT_ALTERNATE_OBJECT_DIRECTORIES"),
            graft_file: var("GIT_GRAFT_FILE"),
            no_replace_objects: var("GIT_NO_REPLACE_OBJECTS"),
            replace_ref_base: var("GIT_REPLACE_REF_BASE"),
            shallow_file: var("GIT_SHALLOW_FILE"),
        }
    }

    /// `$GIT_DIR`, unless unset or empty.
    #[must_use]
    pub fn explicit_git_dir(&self) -> Option<&OsStr> {
        non_empty(self.git_dir.as_deref())
    }

    /// Whether replace refs are switched off by `GIT_NO_REPLACE_OBJECTS`: git only
    /// asks whether the variable exists, so `GIT_NO_REPLACE_OBJECTS=0` switches them
    /// off too.
    #[must_use]
    pub fn replace_objects_disabled(&self) -> bool {
        self.no_replace_objects.is_some()
    }

    /// The prefix of replace refs: `$GIT_REPLACE_REF_BASE` as given (git adds no
    /// slash, and an empty value makes every ref a candidate), else `refs/replace/`.
    #[must_use]
    pub fn replace_ref_base(&self) -> Vec<u8> {
        match &self.replace_ref_base {
            Some(base) => base.as_encoded_bytes().to_vec(),
            None => b"refs/replace/".to_vec(),
        }
    }
}

/// `value`, unless unset or empty (git treats an empty path variable as unset).
pub(crate) fn non_empty(value: Option<&OsStr>) -> Option<&OsStr> {
    value.filter(|v| !v.is_empty())
}

/// `path` as git resolves a path from the environment: relative paths from `base`.
pub(crate) fn resolve(base: &Path, path: &OsStr) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_ref_base_and_switch_as_git_reads_them() {
        let mut env = Environment::default();
        assert_eq!(env.replace_ref_base(), b"refs/replace/");
        assert!(!env.replace_objects_disabled());
        env.replace_ref_base = Some("refs/alt".into());
        assert_eq!(env.replace_ref_base(), b"refs/alt");
        env.replace_ref_base = Some(OsString::new());
        assert_eq!(env.replace_ref_base(), b"");
        for value in ["1", "0", ""] {
            env.no_replace_objects = Some(value.into());
            assert!(env.replace_objects_disabled(), "{value:?}");
        }
    }

    #[test]
    fn paths_from_the_environment() {
        let mut env = Environment::default();
        assert_eq!(env.explicit_git_dir(), None);
        env.git_dir = Some(OsString::new());
        assert_eq!(env.explicit_git_dir(), None);
        env.git_dir = Some(".git".into());
        assert_eq!(env.explicit_git_dir(), Some(OsStr::new(".git")));
        let base = Path::new("/top");
        assert_eq!(resolve(base, OsStr::new("o")), Path::new("/top/o"));
        assert_eq!(resolve(base, OsStr::new("/abs/o")), Path::new("/abs/o"));
    }
}
