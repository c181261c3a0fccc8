//! Helpers for unit tests that build real repositories with the `git` binary (tests
//! only: the library itself never runs git).

use std::cell::Cell;
use std::path::Path;
use std::process::Command;

/// The fixed date of the first commit a [`TestRepo`] makes; each later one is a
/// minute after the previous.
const FIRST_DATE: i64 = 1_700_000_000;

/// Run git in `dir`, isolated from user and system configuration, with a fixed
/// identity; its standard output. Panics (failing the test) if git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_at(dir, args, FIRST_DATE)
}

fn git_at(dir: &Path, args: &[&str], date: i64) -> String {
    let stamp = format!("@{date} +0000");
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@e")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@e")
        .env("GIT_AUTHOR_DATE", &stamp)
        .env("GIT_COMMITTER_DATE", &stamp)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scratch repository (branch `main`) whose commits have fixed, increasing dates,
/// so that every run builds the same commit ids.
pub struct TestRepo {
    dir: tempfile::TempDir,
    clock: Cell<i64>,
}

impl TestRepo {
    /// An empty repository with an unborn `main`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["init", "-q", "-b", "main"]);
        TestRepo {
            dir,
            clock: Cell::new(FIRST_DATE),
        }
    }

    /// The top of the working tree.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run git at the next date; its standard output.
    pub fn git(&self, args: &[&str]) -> String {
        let date = self.clock.get() + 60;
        self.clock.set(date);
        git_at(self.path(), args, date)
    }

    /// Write `contents` to `path` (relative), creating directories.
    pub fn write(&self, path: &str, contents: &str) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("a parent")).expect("mkdir");
        std::fs::write(full, contents).expect("write");
    }

    /// Stage everything and commit; the new commit's id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.rev("HEAD")
    }

    /// The full id `rev` names.
    pub fn rev(&self, rev: &str) -> String {
        git(self.path(), &["rev-parse", rev]).trim().to_owned()
    }
}
