//! The walk against real git: small repositories built with `git` at fixed dates,
//! each read loose, then packed with a commit-graph, and compared with
//! `git log --reverse --diff-filter=A --no-renames --topo-order --name-only`, the
//! command the reference runs.

use std::collections::HashSet;
use std::path::PathBuf;

use git2::Oid;

use super::adds::{self, PyAdds};
use super::extend::extension;
use super::history::walk;
use super::{FirstAddIndex, KnownCommits};
use crate::analysis::{self, DirAnalysis, Location, Request};
use crate::git::graph::CommitGraph;
use crate::git::{Repository, Tip};
use crate::migrations::declaration::NoFallback;
use crate::migrations::parser::PyVersion;
use crate::store::CacheMode;
use crate::testutil::{git, TestRepo};

fn never() -> bool {
    false
}

/// `(commit, .py basename)` for every line of the reference's `git log` that it
/// keeps, in order: the line stripped, kept if it ends in `.py`, its last component.
fn reference_stream(repo: &TestRepo, rev: &str) -> Vec<(String, Vec<u8>)> {
    let out = git(
        repo.path(),
        &[
            "log",
            "--reverse",
            "--diff-filter=A",
            "--no-renames",
            "--topo-order",
            "--format=@%H",
            "--name-only",
            rev,
        ],
    );
    let mut commit = String::new();
    let mut stream = Vec::new();
    for line in out.lines() {
        if let Some(id) = line.strip_prefix('@') {
            id.clone_into(&mut commit);
            continue;
        }
        let line = line.trim();
        // The reference's `str.endswith(".py")`: case matters.
        #[allow(clippy::case_sensitive_file_extension_comparisons)]
        if line.ends_with(".py") {
            let base = line.rsplit('/').next().unwrap_or(line);
            stream.push((commit.clone(), base.as_bytes().to_vec()));
        }
    }
    stream
}

/// The same stream from the walk.
fn walked_stream(repo: &Repository, tip: Option<Oid>, threads: usize) -> Vec<(String, Vec<u8>)> {
    let history = walk(repo, tip, None, threads, &never).expect("walk");
    history
        .iter()
        .flat_map(|(commit, adds)| {
            adds.iter()
                .map(move |name| (commit.to_string(), name.clone()))
        })
        .collect()
}

/// Names in order of first appearance.
fn first_adds(stream: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut seen = HashSet::new();
    stream
        .iter()
        .filter(|(_, name)| seen.insert(name.clone()))
        .cloned()
        .collect()
}

fn index_order(index: &FirstAddIndex) -> Vec<(String, Vec<u8>)> {
    let mut adds: Vec<_> = index.firsts.iter().collect();
    adds.sort_by_key(|(_, add)| **add);
    adds.into_iter()
        .map(|(name, add)| (add.commit.to_string(), name.clone()))
        .collect()
}

/// The walk from `rev` agrees with `git log` commit by commit and name by name, on
/// 1 and 3 workers, through the first-add index too.
fn assert_matches_git_at(repo: &TestRepo, rev: &str) {
    let expected = reference_stream(repo, rev);
    let handle = Repository::discover(repo.path()).expect("discover");
    let tip = handle.resolve(&Tip::Rev(rev.to_owned())).expect("resolve");
    for threads in [1, 3] {
        assert_eq!(
            walked_stream(&handle, tip, threads),
            expected,
            "{rev}, {threads} threads"
        );
    }
    let history = walk(&handle, tip, None, 2, &never).expect("walk");
    let mut index = FirstAddIndex::default();
    index.extend(history.iter(), tip).expect("index");
    assert_eq!(index_order(&index), first_adds(&expected), "{rev}");
    let log_len = git(repo.path(), &["rev-list", "--count", rev]);
    assert_eq!(index.log_len.to_string(), log_len.trim());
}

/// As [`assert_matches_git_at`] at `HEAD`, for the repository loose, then packed with
/// a commit-graph file.
fn assert_matches_git(repo: &TestRepo) {
    assert_matches_git_at(repo, "HEAD");
    repo.git(&["repack", "-adq"]);
    repo.git(&["commit-graph", "write", "--reachable"]);
    assert_matches_git_at(repo, "HEAD");
}

fn dynamic(revision: &str) -> String {
    format!(
        "from alembic_git_revisions import get_down_revision\n\
         revision = \"{revision}\"\ndown_revision = get_down_revision(revision)\n"
    )
}

fn root(revision: &str) -> String {
    format!("revision = \"{revision}\"\ndown_revision = None\n")
}

#[test]
fn merges_in_both_parent_orders() {
    let repo = TestRepo::new();
    repo.write("v/a0_m.py", &root("a0"));
    repo.commit("root");
    // A merge whose first parent is main.
    repo.git(&["checkout", "-q", "-b", "f1"]);
    repo.write("v/b1_m.py", &dynamic("b1"));
    repo.commit("f1");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("v/c1_m.py", &dynamic("c1"));
    repo.commit("main 1");
    repo.git(&["merge", "-q", "--no-ff", "--no-edit", "f1"]);
    // A merge whose first parent is the feature branch, fast-forwarded onto main.
    repo.git(&["checkout", "-q", "-b", "f2"]);
    repo.write("v/d2_m.py", &dynamic("d2"));
    repo.commit("f2");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("v/e2_m.py", &dynamic("e2"));
    repo.commit("main 2");
    repo.git(&["checkout", "-q", "f2"]);
    repo.git(&["merge", "-q", "--no-ff", "--no-edit", "main"]);
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--ff-only", "f2"]);
    repo.write("v/f3_m.py", &dynamic("f3"));
    repo.commit("after");
    assert_matches_git(&repo);
}

#[test]
fn octopus_merge_and_unrelated_roots() {
    let repo = TestRepo::new();
    repo.write("v/a0_m.py", &root("a0"));
    repo.commit("root");
    for branch in ["o1", "o2", "o3"] {
        repo.git(&["checkout", "-q", "-b", branch, "main"]);
        repo.write(&format!("v/{branch}_m.py"), &dynamic(branch));
        repo.write(&format!("lib/{branch}/util.py"), "");
        repo.commit(branch);
    }
    repo.git(&["checkout", "-q", "main"]);
    repo.write("v/m0_m.py", &dynamic("m0"));
    repo.commit("main");
    repo.git(&["merge", "-q", "--no-edit", "o1", "o2", "o3"]);
    // A second root: an orphan branch merged in.
    repo.git(&["checkout", "-q", "--orphan", "side"]);
    repo.git(&["rm", "-rqf", "."]);
    repo.write("v/s1_m.py", &dynamic("s1"));
    repo.write("v/a0_m.py", &root("a0"));
    repo.commit("side root");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&[
        "merge",
        "-q",
        "--no-edit",
        "--allow-unrelated-histories",
        "-X",
        "ours",
        "side",
    ]);
    assert_matches_git(&repo);
}

#[test]
fn renames_deletes_moves_and_names_seen_elsewhere() {
    let repo = TestRepo::new();
    repo.write("v/a0_m.py", &root("a0"));
    repo.write("other/e5_m.py", "");
    repo.commit("root, and e5's name elsewhere first");
    repo.write("v/r1_m.py", &dynamic("r1"));
    repo.write("v/d2_m.py", &dynamic("d2"));
    repo.commit("two");
    repo.git(&["mv", "v/r1_m.py", "v/r9_m.py"]);
    repo.commit("rename: an add with --no-renames");
    repo.git(&["rm", "-q", "v/d2_m.py"]);
    repo.commit("delete");
    repo.write("v/d2_m.py", &dynamic("d2"));
    repo.write("v/e5_m.py", &dynamic("e5"));
    repo.commit("re-add, and e5 where it belongs");
    repo.git(&["mv", "v", "w"]);
    repo.commit("move the directory");
    repo.git(&["mv", "w", "v"]);
    repo.commit("and back");
    // A tree replaced by a file of the same name: the file is an add.
    repo.write("t/x.py/inner.py", "");
    repo.commit("tree");
    repo.git(&["rm", "-rq", "t/x.py"]);
    repo.write("t/x.py", "");
    repo.commit("file where the tree was");
    // Names the reference strips, and names that are not .py.
    repo.write("v/sp_m.py ", "");
    repo.write("v/notes.txt", "");
    repo.write("v/x.pyc", "");
    repo.commit("odd names");
    assert_matches_git(&repo);
}

#[test]
fn unborn_head_has_no_history() {
    let repo = TestRepo::new();
    repo.write("v/a0_m.py", &root("a0"));
    let handle = Repository::discover(repo.path()).expect("discover");
    assert_eq!(handle.resolve(&Tip::Head).expect("resolve"), None);
    let history = walk(&handle, None, None, 2, &never).expect("walk");
    assert!(history.commits.is_empty());
    // Uncommitted files share the sequence past the last (there is none) and no commit.
    let analyses = analyze(&repo, &["v"], CacheMode::Off);
    assert_eq!(analyses[0].files.len(), 1);
    assert_eq!(analyses[0].files[0].git_sequence, 0);
    assert_eq!(analyses[0].first_add_commits, [None]);
}

/// Every commit's adds from the worker pool equal what one reader computes, and
/// known commits are taken as given.
#[test]
fn commit_adds_on_any_number_of_workers() {
    let repo = TestRepo::new();
    for round in 0..12 {
        repo.write(
            &format!("v/r{round:02}_m.py"),
            &dynamic(&format!("r{round:02}")),
        );
        repo.write(&format!("lib/m{}/f{round}.py", round % 3), "");
        repo.commit(&format!("round {round}"));
    }
    let handle = Repository::discover(repo.path()).expect("discover");
    let tip = handle.resolve(&Tip::Head).expect("resolve").expect("born");
    let graph = CommitGraph::load(&handle, tip, &|_| None, 2, &never).expect("graph");
    let order = graph.log_order(&handle).expect("order");
    let mut reader = handle.store().reader();
    let one_by_one: Vec<PyAdds> = order
        .iter()
        .map(|&node| {
            let header = graph.header(node);
            let old = header
                .parents
                .first()
                .map(|&p| reader.commit(p).expect("parent").tree);
            adds::adds_between(&mut reader, old, header.tree).expect("adds")
        })
        .collect();
    let none = KnownCommits::new();
    for threads in [1, 2, 5] {
        let pooled =
            adds::commit_adds(&handle, &graph, &order, &none, threads, &never).expect("adds");
        assert_eq!(pooled, one_by_one, "{threads} threads");
    }
    // Known commits are not compared again: a planted answer comes back as is.
    let mut known = KnownCommits::new();
    let history = walk(&handle, Some(tip), Some(&mut known), 2, &never).expect("walk");
    assert_eq!(known.len(), order.len());
    let first = history.commits[0];
    known.get_mut(&first).expect("known").adds = vec![b"planted.py".to_vec()];
    let again = walk(&handle, Some(tip), Some(&mut known), 2, &never).expect("walk");
    assert_eq!(again.adds[0], [b"planted.py".to_vec()]);
    assert_eq!(again.adds[1..], history.adds[1..]);
}

/// The first-add index of `rev`, from a full walk.
fn index_at(handle: &Repository, rev: Oid) -> FirstAddIndex {
    let history = walk(handle, Some(rev), None, 2, &never).expect("walk");
    let mut index = FirstAddIndex::default();
    index.extend(history.iter(), Some(rev)).expect("index");
    index
}

/// `index` extended to `to`, if [`extension`] answers.
fn extended(
    handle: &Repository,
    index: &FirstAddIndex,
    to: Oid,
    limit: usize,
) -> Option<FirstAddIndex> {
    let commits = extension(handle, index, to, limit).expect("readable")?;
    let mut out = index.clone();
    out.extend(
        commits.iter().map(|(c, adds)| (*c, adds.as_slice())),
        Some(to),
    )
    .expect("extend");
    Some(out)
}

#[test]
fn linear_extension_extends_an_index_as_a_full_walk_would() {
    let repo = TestRepo::new();
    repo.write("v/a0_m.py", &root("a0"));
    repo.commit("root");
    repo.git(&["checkout", "-q", "-b", "f"]);
    repo.write("v/b1_m.py", &dynamic("b1"));
    repo.commit("f");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("v/c1_m.py", &dynamic("c1"));
    repo.commit("main");
    let merge_base = repo.rev("HEAD");
    repo.git(&["merge", "-q", "--no-ff", "--no-edit", "f"]);
    let merged = repo.rev("HEAD");
    for round in 0..4 {
        repo.write(&format!("v/l{round}_m.py"), &dynamic(&format!("l{round}")));
        repo.write("v/b1_m.py", &dynamic(&format!("b1 {round}")));
        repo.commit(&format!("linear {round}"));
    }
    let head = repo.rev("HEAD");
    let handle = Repository::discover(repo.path()).expect("discover");
    let id = |hex: &str| Oid::from_str(hex).expect("oid");
    let at_merge = index_at(&handle, id(&merged));
    assert_eq!(
        extended(&handle, &at_merge, id(&head), 10),
        Some(index_at(&handle, id(&head)))
    );
    // Through the merge too: the feature's commit and the merge follow main's log.
    let at_base = index_at(&handle, id(&merge_base));
    assert_eq!(
        extended(&handle, &at_base, id(&head), 10),
        Some(index_at(&handle, id(&head)))
    );
    // Not past the limit, nor backwards.
    assert_eq!(extended(&handle, &at_merge, id(&head), 3), None);
    assert_eq!(
        extended(&handle, &index_at(&handle, id(&head)), id(&merged), 10),
        None
    );
    assert_eq!(
        extension(&handle, &at_merge, id(&merged), 0).expect("readable"),
        Some(Vec::new())
    );
}

/// A pull request checked out as CI does, as the merge of its branch into the base
/// branch (`refs/pull/N/merge`), and other shapes on top of a cached `HEAD`: whenever
/// the extension answers, it equals a full walk; where git's order does not keep the
/// cached log as a prefix it must not answer. Generated histories, many seeds.
#[test]
fn merge_extensions_agree_with_full_walks() {
    let mut answered = 0;
    let mut refused = 0;
    for seed in 0..12u64 {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let repo = TestRepo::new();
        let mut files = 0;
        let mut touch = |repo: &TestRepo, tag: &str| {
            files += 1;
            repo.write(
                &format!("v/{tag}{files}_m.py"),
                &dynamic(&format!("{tag}{files}")),
            );
            repo.write(&format!("lib/{tag}/x.py"), &format!("{files}\n"));
            repo.commit(&format!("{tag} {files}"));
        };
        touch(&repo, "root");
        // Some history on main, with a merged branch.
        repo.git(&["checkout", "-q", "-b", "old"]);
        touch(&repo, "old");
        repo.git(&["checkout", "-q", "main"]);
        for _ in 0..=next(3) {
            touch(&repo, "main");
        }
        repo.git(&["merge", "-q", "--no-ff", "--no-edit", "old"]);
        // A pull request branch, forked from main now or one commit back.
        let fork = if next(2) == 0 { "HEAD" } else { "HEAD~1" };
        repo.git(&["checkout", "-q", "-b", "pr", fork]);
        for _ in 0..=next(3) {
            touch(&repo, "pr");
        }
        match next(3) {
            // The PR merged main into itself (main as its second parent): then
            // main's tip sits below a PR commit.
            0 => {
                repo.git(&["merge", "-q", "--no-ff", "--no-edit", "main"]);
                touch(&repo, "pr");
            }
            1 => {
                // A side branch of the PR merged into it.
                repo.git(&["checkout", "-q", "-b", "side"]);
                touch(&repo, "side");
                repo.git(&["checkout", "-q", "pr"]);
                touch(&repo, "pr");
                repo.git(&["merge", "-q", "--no-ff", "--no-edit", "side"]);
            }
            _ => {}
        }
        repo.git(&["checkout", "-q", "main"]);
        // main may move on after the PR forked (the cache is main's tip).
        if next(2) == 0 {
            touch(&repo, "main");
        }
        let base = repo.rev("HEAD");
        // The merge commit CI checks out: base first, the PR second.
        repo.git(&["checkout", "-q", "--detach", "main"]);
        repo.git(&["merge", "-q", "--no-ff", "--no-edit", "pr"]);
        let pr_merge = repo.rev("HEAD");
        // The other way round too (main merged into the PR).
        repo.git(&["checkout", "-q", "pr"]);
        repo.git(&["merge", "-q", "--no-ff", "--no-edit", "main"]);
        let pr_with_main = repo.rev("HEAD");
        let pr_head = repo.rev("pr~1");
        let handle = Repository::discover(repo.path()).expect("discover");
        let id = |hex: &str| Oid::from_str(hex).expect("oid");
        let cached = index_at(&handle, id(&base));
        for to in [&pr_merge, &pr_with_main, &pr_head] {
            let full = index_at(&handle, id(to));
            if let Some(index) = extended(&handle, &cached, id(to), 100) {
                assert_eq!(index, full, "seed {seed}, {to}");
                answered += 1;
            } else {
                // Refused: only where the cached log is not the start of the full one.
                let full_history = walk(&handle, Some(id(to)), None, 1, &never).expect("walk");
                let cached_history = walk(&handle, Some(id(&base)), None, 1, &never).expect("walk");
                let is_prefix = full_history.commits.len() > cached_history.commits.len()
                    && full_history.commits[..cached_history.commits.len()]
                        == cached_history.commits[..];
                assert!(
                    !is_prefix,
                    "seed {seed}: refused a prefix extension to {to}"
                );
                refused += 1;
            }
        }
    }
    // Both outcomes occur among the seeds.
    assert!(
        answered > 10 && refused > 0,
        "{answered} answered, {refused} refused"
    );
}

fn request(repo: &TestRepo, dirs: &[&str], cache: CacheMode) -> Request {
    Request {
        dirs: dirs
            .iter()
            .map(|d| Location::flat(repo.path().join(d)))
            .collect(),
        python: PyVersion {
            major: 3,
            minor: 11,
        },
        threads: 2,
        cache,
    }
}

fn analyze(repo: &TestRepo, dirs: &[&str], cache: CacheMode) -> Vec<DirAnalysis> {
    analysis::analyze(&request(repo, dirs, cache), &NoFallback, &never).expect("analyze")
}

/// The chain the reference derives for versions directory `dir` (whose files are
/// named `<rev>_m.py`, a root `a0` and dynamic others) at `rev`: the dynamic files in
/// first-add order after the root, never-added ones last by name.
fn expected_chain(repo: &TestRepo, rev: &str, dir: &str) -> Vec<(String, Option<String>)> {
    let listing = git(
        repo.path(),
        &["ls-tree", "--name-only", rev, &format!("{dir}/")],
    );
    let present: HashSet<Vec<u8>> = listing
        .lines()
        .map(|path| path.rsplit('/').next().unwrap_or(path).as_bytes().to_vec())
        .collect();
    let mut previous = "a0".to_owned();
    let mut chain = Vec::new();
    for (_, name) in first_adds(&reference_stream(repo, rev)) {
        if !present.contains(&name) || name == b"a0_m.py" {
            continue;
        }
        let revision = String::from_utf8(name).expect("ascii")[..2].to_owned();
        chain.push((revision.clone(), Some(previous)));
        previous = revision;
    }
    chain
}

fn history_for_analysis(repo: &TestRepo) {
    repo.write("app/versions/a0_m.py", &root("a0"));
    repo.write("lib/c3_m.py", "");
    repo.commit("root, and c3's name elsewhere first");
    repo.git(&["checkout", "-q", "-b", "f"]);
    repo.write("app/versions/b1_m.py", &dynamic("b1"));
    repo.commit("f");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("app/versions/c3_m.py", &dynamic("c3"));
    repo.commit("main");
    repo.git(&["merge", "-q", "--no-ff", "--no-edit", "f"]);
    repo.write("app/versions/d4_m.py", &dynamic("d4"));
    repo.write("other/versions/a0_m.py", &root("a0"));
    repo.write("other/versions/z9_m.py", &dynamic("z9"));
    repo.commit("more");
}

#[test]
fn analyze_and_analyze_at_chain_as_git_log_orders() {
    let repo = TestRepo::new();
    history_for_analysis(&repo);
    let older = repo.rev("HEAD");
    repo.write("app/versions/e5_m.py", &dynamic("e5"));
    repo.commit("e5");
    // Uncommitted: never added, so last.
    repo.write("app/versions/f6_m.py", &dynamic("f6"));
    let analyses = analyze(&repo, &["app/versions", "other/versions"], CacheMode::Off);
    let mut expected = expected_chain(&repo, "HEAD", "app/versions");
    expected.push(("f6".into(), Some("e5".into())));
    assert_eq!(analyses[0].chain.links, expected);
    assert_eq!(analyses[0].chain.unchained, None);
    let sequences: Vec<u32> = analyses[0].files.iter().map(|f| f.git_sequence).collect();
    assert_eq!(sequences, [0, 1, 2, 3, 4, 5]);
    let last_add = analyses[0].first_add_commits[4].expect("committed");
    assert_eq!(last_add.to_string(), repo.rev("HEAD"));
    assert_eq!(analyses[0].first_add_commits[5], None);
    assert_eq!(
        analyses[1].chain.links,
        [("z9".to_owned(), Some("a0".to_owned()))]
    );

    let request = request(&repo, &[], CacheMode::Off);
    let at = analysis::analyze_at(
        &Location::flat(repo.path().join("app/versions")),
        &older,
        &request,
        &NoFallback,
        &never,
    )
    .expect("analyze_at");
    assert_eq!(
        at.chain.links,
        expected_chain(&repo, &older, "app/versions")
    );
    assert_eq!(at.files.len(), 4);
    // A directory that did not exist yet holds nothing.
    let before = analysis::analyze_at(
        &Location::flat(repo.path().join("other/versions")),
        &repo.rev("HEAD~3"),
        &request,
        &NoFallback,
        &never,
    )
    .expect("analyze_at");
    assert!(before.files.is_empty());
}

/// The files of `folder` (recursively) and their contents.
fn cache_files(folder: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).expect("cache folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(cache_files(&path));
        } else {
            let contents = std::fs::read(&path).expect("cache file");
            files.push((path, contents));
        }
    }
    files.sort();
    files
}

/// With the persistent cache, the chain is git's however it is answered: by a full
/// walk (which fills the cache), from the directory cache, and by extending the saved
/// index when `HEAD` moved forward (without walking again).
#[test]
fn cached_analyses_agree_with_git() {
    let repo = TestRepo::new();
    history_for_analysis(&repo);
    let cache = tempfile::tempdir().expect("cache dir");
    let mode = CacheMode::Folder(PathBuf::from(cache.path()));
    let check = || {
        let analyses = analyze(&repo, &["app/versions"], mode.clone());
        let expected = expected_chain(&repo, "HEAD", "app/versions");
        assert_eq!(analyses[0].chain.links, expected);
        analyses
    };
    let walked = check();
    let saved = cache_files(cache.path());
    let names: Vec<String> = saved
        .iter()
        .filter_map(|(path, _)| path.file_name()?.to_str().map(str::to_owned))
        .collect();
    assert!(names.iter().any(|n| n == "history-v1.bin"), "{names:?}");
    assert!(names.iter().any(|n| n == "first-adds-v2.bin"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("dir-")), "{names:?}");
    let answered = check();
    assert_eq!(answered[0].files, walked[0].files);
    assert_eq!(answered[0].first_add_commits, walked[0].first_add_commits);
    repo.write("app/versions/e5_m.py", &dynamic("e5"));
    repo.commit("e5");
    repo.write("app/versions/g7_m.py", &dynamic("g7"));
    repo.commit("g7");
    let extended = check();
    assert_eq!(extended[0].files.len(), walked[0].files.len() + 2);
    // No walk: the history cache is as the first call left it.
    let history = |files: &[(PathBuf, Vec<u8>)]| {
        files
            .iter()
            .find(|(path, _)| path.ends_with("history-v1.bin"))
            .map(|(_, contents)| contents.clone())
    };
    assert_eq!(history(&cache_files(cache.path())), history(&saved));
}
