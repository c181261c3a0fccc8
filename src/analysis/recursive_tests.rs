//! Recursive version locations end to end: one chain over a directory and every
//! directory below it, ordered by the first add of each file's basename in git's log,
//! at `HEAD` and at a commit, with the persistent cache keeping the scopes apart.

use std::collections::HashMap;
use std::path::Path;

use super::{analyze, analyze_at, DirAnalysis, Location, Request};
use crate::migrations::declaration::NoFallback;
use crate::migrations::listing::{self, Scope};
use crate::migrations::parser::PyVersion;
use crate::store::CacheMode;
use crate::testutil::TestRepo;

fn request(dirs: Vec<Location>, cache: CacheMode) -> Request {
    Request {
        dirs,
        python: PyVersion {
            major: 3,
            minor: 12,
        },
        threads: 2,
        cache,
    }
}

fn run(dirs: Vec<Location>, cache: CacheMode) -> Vec<DirAnalysis> {
    analyze(&request(dirs, cache), &NoFallback, &|| false).expect("analyze")
}

fn dynamic(revision: &str) -> String {
    format!(
        "from alembic_git_revisions import get_down_revision\nrevision = {revision:?}\n\
         down_revision = get_down_revision(revision)\n"
    )
}

fn links(analysis: &DirAnalysis) -> Vec<(String, Option<String>)> {
    analysis.chain.links.clone()
}

fn chain(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    pairs
        .iter()
        .map(|(r, p)| ((*r).to_owned(), p.map(str::to_owned)))
        .collect()
}

fn names(analysis: &DirAnalysis) -> Vec<String> {
    analysis
        .files
        .iter()
        .map(|m| String::from_utf8_lossy(&m.filename).into_owned())
        .collect()
}

/// Alembic's date layout: a static root at the top, then one migration a month in
/// `YYYY/MM/`, committed in order, and two not committed yet.
fn date_layout() -> TestRepo {
    let repo = TestRepo::new();
    repo.write(
        "m/versions/r0_root.py",
        "revision = 'r0'\ndown_revision = None\n",
    );
    repo.commit("root");
    for (path, revision) in [
        ("2024/01/a1_jan.py", "a1"),
        ("2024/02/b2_feb.py", "b2"),
        ("2024/12/c3_dec.py", "c3"),
        ("2025/01/d4_jan.py", "d4"),
    ] {
        repo.write(&format!("m/versions/{path}"), &dynamic(revision));
        repo.commit(revision);
    }
    // Never committed: after every committed file, by relative path.
    repo.write("m/versions/2025/03/e5_mar.py", &dynamic("e5"));
    repo.write("m/versions/2025/02/f6_feb.py", &dynamic("f6"));
    // Alembic does not load these.
    repo.write("m/versions/2025/__pycache__/x9_cached.py", &dynamic("x9"));
    repo.write("m/versions/2025/__init__.py", "");
    repo
}

#[test]
fn one_chain_over_every_subdirectory() {
    let repo = date_layout();
    let top = repo.path().join("m/versions");
    let [recursive, flat, month] = <[DirAnalysis; 3]>::try_from(run(
        vec![
            Location::recursive(&top),
            Location::flat(&top),
            Location::flat(top.join("2024/02")),
        ],
        CacheMode::Off,
    ))
    .expect("three analyses");
    assert_eq!(
        links(&recursive),
        chain(&[
            ("a1", Some("r0")),
            ("b2", Some("a1")),
            ("c3", Some("b2")),
            ("d4", Some("c3")),
            ("f6", Some("d4")),
            ("e5", Some("f6")),
        ])
    );
    assert_eq!(
        names(&recursive),
        [
            "r0_root.py",
            "2024/01/a1_jan.py",
            "2024/02/b2_feb.py",
            "2024/12/c3_dec.py",
            "2025/01/d4_jan.py",
            "2025/02/f6_feb.py",
            "2025/03/e5_mar.py",
        ]
    );
    let sequences: Vec<u32> = recursive.files.iter().map(|m| m.git_sequence).collect();
    assert_eq!(sequences, [0, 1, 2, 3, 4, 5, 5]);
    // The same directory read flat is the reference's: the root alone.
    assert_eq!(names(&flat), ["r0_root.py"]);
    assert!(flat.chain.links.is_empty());
    // A month read flat on its own starts a line of its own (what Alembic would make
    // of it without recursive_version_locations).
    assert_eq!(links(&month), chain(&[("b2", None)]));
}

/// The order is the first add of each file's basename in
/// `git log --reverse --diff-filter=A --no-renames --topo-order --name-only`, checked
/// against git itself on a history with branches, a merge, a move between months and
/// a basename first added outside the location.
#[test]
fn order_is_git_logs_first_add_of_each_basename() {
    let repo = TestRepo::new();
    repo.write(
        "m/versions/r0_root.py",
        "revision = 'r0'\ndown_revision = None\n",
    );
    // First added elsewhere: its position is that add's, as for a flat directory.
    repo.write("elsewhere/c3_early.py", "x = 1\n");
    repo.commit("root");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("m/versions/2024/03/a1_feat.py", &dynamic("a1"));
    repo.commit("feature a1");
    repo.write("m/versions/2024/04/b2_feat.py", &dynamic("b2"));
    repo.commit("feature b2");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("m/versions/2024/03/c3_early.py", &dynamic("c3"));
    repo.write("m/versions/2024/02/d4_main.py", &dynamic("d4"));
    repo.commit("main c3 d4");
    repo.git(&["merge", "-q", "--no-ff", "-m", "merge feature", "feature"]);
    // Moved to another month: git sees a delete plus an add of the same basename,
    // which keeps its first add.
    repo.git(&["mv", "m/versions/2024/04", "m/versions/2024/05"]);
    repo.commit("move b2");

    let top = repo.path().join("m/versions");
    let analysis = &run(vec![Location::recursive(&top)], CacheMode::Off)[0];

    // The oracle: git's own log, deduplicated keep-first by basename.
    let log = crate::testutil::git(
        repo.path(),
        &[
            "log",
            "--reverse",
            "--diff-filter=A",
            "--no-renames",
            "--topo-order",
            "--name-only",
            "--format=",
        ],
    );
    let mut position: HashMap<String, usize> = HashMap::new();
    // git's paths as the reference filters them: `.py` exactly, as Alembic loads them.
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    for line in log.lines().filter(|l| l.ends_with(".py")) {
        let base = line.rsplit('/').next().unwrap_or(line).to_owned();
        let next = position.len();
        position.entry(base).or_insert(next);
    }
    let listed = crate::testutil::git(
        repo.path(),
        &["ls-tree", "-r", "--name-only", "HEAD", "m/versions/"],
    );
    let mut expected: Vec<&str> = listed
        .lines()
        .map(|p| p.strip_prefix("m/versions/").unwrap_or(p))
        .collect();
    expected.sort_by_key(|name| (position[listing_basename(name)], name.to_owned()));
    assert_eq!(names(analysis), expected);
    // c3's basename was first added outside the location, before the root (git's
    // tree order in the first commit): that add is its place.
    assert_eq!(
        expected,
        [
            "2024/03/c3_early.py",
            "r0_root.py",
            "2024/02/d4_main.py",
            "2024/03/a1_feat.py",
            "2024/05/b2_feat.py",
        ]
    );
    assert_eq!(
        links(analysis),
        chain(&[
            ("c3", Some("r0")),
            ("d4", Some("c3")),
            ("a1", Some("d4")),
            ("b2", Some("a1")),
        ])
    );
}

fn listing_basename(name: &str) -> &str {
    std::str::from_utf8(listing::basename(name.as_bytes())).expect("UTF-8")
}

#[test]
fn files_in_one_commit_are_ordered_by_relative_path() {
    let repo = TestRepo::new();
    repo.write(
        "m/versions/r0_root.py",
        "revision = 'r0'\ndown_revision = None\n",
    );
    // Basenames sort the other way round than the paths.
    repo.write("m/versions/2024/01/bb_x.py", &dynamic("bb"));
    repo.write("m/versions/2024/02/aa_x.py", &dynamic("aa"));
    repo.commit("together");
    let top = repo.path().join("m/versions");
    let analysis = &run(vec![Location::recursive(&top)], CacheMode::Off)[0];
    assert_eq!(
        links(analysis),
        chain(&[("bb", Some("r0")), ("aa", Some("bb"))])
    );
}

#[test]
fn a_revision_without_a_literal_comes_from_the_file_name() {
    let repo = TestRepo::new();
    repo.write("m/versions/2024/01/abc123_x.py", "down_revision = None\n");
    repo.commit("one");
    let top = repo.path().join("m/versions");
    let analysis = &run(vec![Location::recursive(&top)], CacheMode::Off)[0];
    assert_eq!(analysis.files[0].revision, "abc123");
}

#[test]
fn at_a_commit_the_tree_is_listed_recursively() {
    let repo = date_layout();
    // Before d4 was added.
    let old = repo.rev("HEAD~1");
    // Gone from the working tree, still at `old`.
    std::fs::remove_file(repo.path().join("m/versions/2024/02/b2_feb.py")).expect("rm");
    let top = repo.path().join("m/versions");
    let request = request(Vec::new(), CacheMode::Off);
    let at = analyze_at(
        &Location::recursive(&top),
        &old,
        &request,
        &NoFallback,
        &|| false,
    )
    .expect("analyze_at");
    assert_eq!(
        names(&at),
        [
            "r0_root.py",
            "2024/01/a1_jan.py",
            "2024/02/b2_feb.py",
            "2024/12/c3_dec.py"
        ]
    );
    assert_eq!(
        links(&at),
        chain(&[("a1", Some("r0")), ("b2", Some("a1")), ("c3", Some("b2"))])
    );
    let flat = analyze_at(&Location::flat(&top), &old, &request, &NoFallback, &|| {
        false
    })
    .expect("analyze_at");
    assert_eq!(names(&flat), ["r0_root.py"]);
    // A subdirectory holding __pycache__ at the commit: its files are skipped there too.
    repo.commit("with the cache directory and the uncommitted months");
    let head = analyze_at(
        &Location::recursive(&top),
        "HEAD",
        &request,
        &NoFallback,
        &|| false,
    )
    .expect("analyze_at");
    assert!(!names(&head).iter().any(|n| n.contains("__pycache__")));
    assert_eq!(names(&head).len(), 6);
    // A location that is a file at the commit.
    repo.write("m/file", "");
    repo.commit("a file");
    let error = analyze_at(
        &Location::recursive(repo.path().join("m/file")),
        "HEAD",
        &request,
        &NoFallback,
        &|| false,
    )
    .expect_err("a file is no directory");
    assert!(error.to_string().contains("m/file"), "{error}");
}

#[test]
fn the_persistent_cache_keeps_scopes_apart() {
    let repo = date_layout();
    repo.commit("everything");
    let cache = tempfile::tempdir().expect("temp dir");
    let mode = CacheMode::Folder(cache.path().to_path_buf());
    let top = repo.path().join("m/versions");
    let both = || {
        run(
            vec![Location::recursive(&top), Location::flat(&top)],
            mode.clone(),
        )
    };
    let cold = both();
    let files = cached_files(cache.path());
    assert!(
        files.iter().any(|f| f.starts_with("tree-")) && files.iter().any(|f| f.starts_with("dir-")),
        "{files:?}"
    );
    // The stamps must be old enough to be trusted: the racy window is two seconds.
    age(&top);
    let written = both();
    let warm = both();
    for analyses in [&written, &warm] {
        assert_eq!(links(&analyses[0]), links(&cold[0]));
        assert_eq!(names(&analyses[0]), names(&cold[0]));
        assert_eq!(names(&analyses[1]), ["r0_root.py"]);
    }
    assert_eq!(cold[0].chain.links.len(), 6);
    // Flat first, then recursive, in a fresh cache: no answer leaks across scopes.
    let other = tempfile::tempdir().expect("temp dir");
    let mode = CacheMode::Folder(other.path().to_path_buf());
    let flat = run(vec![Location::flat(&top)], mode.clone());
    let recursive = run(vec![Location::recursive(&top)], mode);
    assert_eq!(names(&flat[0]), ["r0_root.py"]);
    assert_eq!(links(&recursive[0]), links(&cold[0]));
}

fn cached_files(folder: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).expect("read cache").flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else {
                found.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    found
}

/// Set every file below `dir` back a minute, out of the cache's racy window.
fn age(dir: &Path) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_mins(1);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).expect("read").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let file = std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .expect("open");
                file.set_modified(past).expect("set mtime");
            }
        }
    }
}

#[test]
fn the_location_itself_may_be_missing() {
    let repo = TestRepo::new();
    repo.write("m/keep", "");
    repo.commit("no versions yet");
    let analysis = &run(
        vec![Location::recursive(repo.path().join("m/versions"))],
        CacheMode::Off,
    )[0];
    assert!(analysis.files.is_empty());
    let _ = Scope::Recursive.name();
}
