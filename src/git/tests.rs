//! git's semantics for rewritten history, object directories and odd `HEAD`s,
//! checked end to end against the `git` binary: small repositories built at fixed
//! dates, read through the history walk ([`crate::walk`]) and compared with the
//! `.py` lines of the reference's command,
//! `git log --reverse --diff-filter=A --no-renames --topo-order --format= --name-only`,
//! run with the same environment. Where git fails, the walk must fail too. Where
//! git is run from is checked through the whole analysis.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::commitgraph::CommitGraphFile;
use super::environment::Environment;
use super::{Error, Repository, Tip};
use crate::testutil::{git, TestRepo};
use crate::walk::history::walk;

/// What `git log` (or the walk) lists: `.py` basenames in order, or why it failed.
type Listing = Result<Vec<String>, String>;

/// Environment variables for one run, set for git and the walk alike.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn never() -> bool {
    false
}

/// Run git in `dir`, isolated as [`crate::testutil::git`] does, with `vars` set and
/// `input` on its standard input: its output, or its standard error when it fails.
fn run_git(
    dir: &Path,
    args: &[&str],
    vars: Vars<'_>,
    input: &[u8],
) -> Result<(String, String), String> {
    let mut command = Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@e")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@e")
        .env("GIT_AUTHOR_DATE", "@1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "@1700000000 +0000");
    for name in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_COMMON_DIR",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_GRAFT_FILE",
        "GIT_NO_REPLACE_OBJECTS",
        "GIT_REPLACE_REF_BASE",
        "GIT_SHALLOW_FILE",
        "GIT_CEILING_DIRECTORIES",
    ] {
        command.env_remove(name);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("input");
    let out = child.wait_with_output().expect("git runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok((stdout, stderr))
    } else {
        Err(stderr)
    }
}

/// The reference's `git log` in `dir`, reduced to the `.py` basenames it reads.
fn git_log(dir: &Path, vars: Vars<'_>) -> Listing {
    let (out, _) = run_git(
        dir,
        &[
            "log",
            "--reverse",
            "--diff-filter=A",
            "--no-renames",
            "--topo-order",
            "--format=",
            "--name-only",
        ],
        vars,
        b"",
    )?;
    // The reference's `str.endswith(".py")`: case matters.
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|line| line.ends_with(".py"))
        .map(|line| line.rsplit('/').next().unwrap_or(line).to_owned())
        .collect())
}

fn environment(vars: Vars<'_>) -> Environment {
    let mut env = Environment::default();
    for &(name, value) in vars {
        let value = Some(OsString::from(value));
        match name {
            "GIT_DIR" => env.git_dir = value,
            "GIT_CEILING_DIRECTORIES" => env.ceiling_directories = value,
            "GIT_COMMON_DIR" => env.common_dir = value,
            "GIT_OBJECT_DIRECTORY" => env.object_directory = value,
            "GIT_ALTERNATE_OBJECT_DIRECTORIES" => env.alternate_object_directories = value,
            "GIT_GRAFT_FILE" => env.graft_file = value,
            "GIT_NO_REPLACE_OBJECTS" => env.no_replace_objects = value,
            "GIT_REPLACE_REF_BASE" => env.replace_ref_base = value,
            "GIT_SHALLOW_FILE" => env.shallow_file = value,
            other => panic!("not a variable the walk reads: {other}"),
        }
    }
    env
}

/// The same listing from the history walk, run in `dir` with `vars`.
fn walked(dir: &Path, vars: Vars<'_>) -> Listing {
    let repo = Repository::discover_with(dir, &environment(vars)).map_err(|e| e.to_string())?;
    let tip = repo.resolve(&Tip::Head).map_err(|e| e.to_string())?;
    let history = walk(&repo, tip, None, 2, &never).map_err(|e| e.to_string())?;
    Ok(history
        .adds
        .iter()
        .flatten()
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect())
}

/// The walk lists what git lists, and fails where git fails; the listing.
fn same_as_git(dir: &Path, vars: Vars<'_>) -> Listing {
    let expected = git_log(dir, vars);
    let ours = walked(dir, vars);
    match (&expected, &ours) {
        (Ok(expected), Ok(ours)) => assert_eq!(ours, expected, "{vars:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{vars:?}: git gives {expected:?}, the walk {ours:?}"),
    }
    ours
}

/// `py(["a", "b"])`: the listing `a.py`, `b.py`.
fn py(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("{n}.py")).collect()
}

/// A repository whose commits each add one file of `v/`, named so that git's tree
/// order is not the commit order; the commit ids, oldest first.
fn linear(repo: &TestRepo, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            repo.write(&format!("v/{name}.py"), name);
            repo.commit(name)
        })
        .collect()
}

/// A commit (written with `git commit-tree`) whose tree is `base`'s plus `v/<name>.py`,
/// with `parents`.
fn commit_adding(repo: &TestRepo, base: &str, name: &str, parents: &[&str]) -> String {
    let blob = run_git(
        repo.path(),
        &["hash-object", "-w", "--stdin"],
        &[],
        name.as_bytes(),
    )
    .expect("blob")
    .0;
    let index = repo.path().join(".git").join("agr-test-index");
    let index = index.to_str().expect("utf-8 path");
    let with_index = [("GIT_INDEX_FILE", index)];
    run_git(repo.path(), &["read-tree", base], &with_index, b"").expect("read-tree");
    let entry = format!("100644,{},v/{name}.py", blob.trim());
    run_git(
        repo.path(),
        &["update-index", "--add", "--cacheinfo", &entry],
        &with_index,
        b"",
    )
    .expect("update-index");
    let tree = run_git(repo.path(), &["write-tree"], &with_index, b"")
        .expect("tree")
        .0;
    let mut args = vec!["commit-tree", tree.trim(), "-m", name];
    for parent in parents {
        args.extend(["-p", parent]);
    }
    repo.git(&args).trim().to_owned()
}

/// Write `text` as a commit object, as git would store it even if malformed.
fn raw_commit(repo: &TestRepo, text: &str) -> String {
    run_git(
        repo.path(),
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            "--literally",
            "--stdin",
        ],
        &[],
        text.as_bytes(),
    )
    .expect("hash-object")
    .0
    .trim()
    .to_owned()
}

fn pack_with_commit_graph(dir: &Path) {
    git(dir, &["repack", "-adq"]);
    git(dir, &["commit-graph", "write", "--reachable"]);
}

/// Case 1: replace refs are followed in a chain, 4 steps at most; names are read as
/// git reads them.
#[test]
fn chained_replace_refs_are_followed_as_git_follows_them() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "t"]);
    let (root, replaced) = (&ids[0], &ids[1]);
    let steps: Vec<String> = (1..=6)
        .map(|n| commit_adding(&repo, root, &format!("q{n}"), &[root]))
        .collect();
    let dir = repo.path();
    repo.git(&["update-ref", &format!("refs/replace/{replaced}"), &steps[0]]);
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "q1", "t", "y"])));
    repo.git(&[
        "update-ref",
        &format!("refs/replace/{}", steps[0]),
        &steps[1],
    ]);
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "q2", "t", "y"])));
    for step in 1..3 {
        repo.git(&[
            "update-ref",
            &format!("refs/replace/{}", steps[step]),
            &steps[step + 1],
        ]);
    }
    // Four steps: still followed; packed, with a commit-graph git must not use.
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "q4", "t", "y"])));
    pack_with_commit_graph(dir);
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "q4", "t", "y"])));
    // Five: "replace depth too high", from git and from the walk.
    repo.git(&[
        "update-ref",
        &format!("refs/replace/{}", steps[3]),
        &steps[4],
    ]);
    let error = same_as_git(dir, &[]).unwrap_err();
    assert!(
        error.contains(&format!("replace depth too high for object {replaced}")),
        "{error}"
    );
    // A cycle, likewise.
    repo.git(&["update-ref", "-d", &format!("refs/replace/{}", steps[3])]);
    repo.git(&[
        "update-ref",
        &format!("refs/replace/{}", steps[3]),
        replaced,
    ]);
    let error = same_as_git(dir, &[]).unwrap_err();
    assert!(error.contains("replace depth too high"), "{error}");
}

#[test]
fn replace_ref_names_are_read_as_git_reads_them() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "t"]);
    let (root, replaced) = (&ids[0], &ids[1]);
    let q = commit_adding(&repo, root, "q", &[root]);
    let r = commit_adding(&repo, root, "r", &[root]);
    let dir = repo.path();
    let upper = replaced.to_uppercase();
    // The last path component's first 40 hex digits, in either case.
    for name in [
        format!("refs/replace/{upper}"),
        format!("refs/replace/nested/{replaced}"),
        format!("refs/replace/{replaced}-and-more"),
    ] {
        repo.git(&["update-ref", &name, &q]);
        assert_eq!(
            same_as_git(dir, &[]),
            Ok(py(&["z", "q", "t", "y"])),
            "{name}"
        );
        repo.git(&["update-ref", "-d", &name]);
    }
    // Not an object id: ignored (git warns "bad replace ref name").
    repo.git(&["update-ref", "refs/replace/not-an-id", &q]);
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "y", "t"])));
    // Two refs for one object: git refuses ("duplicate replace ref").
    repo.git(&["update-ref", &format!("refs/replace/{replaced}"), &q]);
    repo.git(&["update-ref", &format!("refs/replace/{upper}"), &r]);
    let error = same_as_git(dir, &[]).unwrap_err();
    assert!(
        error.contains(&format!("two replace refs replace {replaced}")),
        "{error}"
    );
}

/// A directory at a replaced commit (`build_chain_at`) is read from the
/// replacement, as `git ls-tree` reads it.
#[test]
fn a_directory_at_a_replaced_commit_is_the_replacements() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y"]);
    let replacement = commit_adding(&repo, &ids[1], "q", &[&ids[0]]);
    repo.git(&["replace", &ids[1], &replacement]);
    let listed = git(repo.path(), &["ls-tree", "--name-only", &ids[1], "v/"]);
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["v/q.py", "v/y.py", "v/z.py"]
    );
    let handle = Repository::discover(repo.path()).expect("discover");
    let tip = git2::Oid::from_str(&ids[1]).expect("oid");
    let files = super::snapshot::files_at(&handle, tip, &ids[1], Path::new("v"), |_| true)
        .expect("readable")
        .expect("a directory");
    let names: Vec<String> = files
        .iter()
        .map(|file| String::from_utf8_lossy(&file.name).into_owned())
        .collect();
    assert_eq!(names, py(&["q", "y", "z"]));
}

/// Case 2: replace refs switched off, or looked for elsewhere.
#[test]
fn replace_refs_settings_are_honoured() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "t"]);
    let (root, replaced) = (&ids[0], &ids[1]);
    let q = commit_adding(&repo, root, "q", &[root]);
    let r = commit_adding(&repo, root, "r", &[root]);
    let dir = repo.path();
    let plain = Ok(py(&["z", "y", "t"]));
    let with_q = Ok(py(&["z", "q", "t", "y"]));
    let with_r = Ok(py(&["z", "r", "t", "y"]));
    repo.git(&["update-ref", &format!("refs/replace/{replaced}"), &q]);
    assert_eq!(same_as_git(dir, &[]), with_q);
    // git only asks whether GIT_NO_REPLACE_OBJECTS is set.
    for value in ["1", "0", ""] {
        assert_eq!(
            same_as_git(dir, &[("GIT_NO_REPLACE_OBJECTS", value)]),
            plain,
            "{value:?}"
        );
    }
    repo.git(&["config", "core.useReplaceRefs", "false"]);
    assert_eq!(same_as_git(dir, &[]), plain);
    repo.git(&["config", "core.useReplaceRefs", "maybe"]);
    let error = same_as_git(dir, &[]).unwrap_err();
    assert!(error.contains("bad boolean config value"), "{error}");
    repo.git(&["config", "core.useReplaceRefs", "true"]);
    assert_eq!(same_as_git(dir, &[]), with_q);
    // The variable wins over the setting, as in git 2.47; git 2.39 still let an
    // explicit `true` override it, so this is not compared with whichever git runs.
    let switched_off = [("GIT_NO_REPLACE_OBJECTS", "1")];
    assert_eq!(walked(dir, &switched_off), plain);
    repo.git(&["config", "--unset", "core.useReplaceRefs"]);
    // GIT_REPLACE_REF_BASE: a prefix of full ref names, taken as given.
    repo.git(&["update-ref", &format!("refs/alt/{replaced}"), &r]);
    assert_eq!(
        same_as_git(dir, &[("GIT_REPLACE_REF_BASE", "refs/alt/")]),
        with_r
    );
    assert_eq!(
        same_as_git(dir, &[("GIT_REPLACE_REF_BASE", "refs/none/")]),
        plain
    );
    assert_eq!(
        same_as_git(dir, &[("GIT_REPLACE_REF_BASE", "refs/rep")]),
        with_q
    );
    // An empty base takes every ref: here two of them replace one commit.
    let error = same_as_git(dir, &[("GIT_REPLACE_REF_BASE", "")]).unwrap_err();
    assert!(error.contains("two replace refs"), "{error}");
    let both = [
        ("GIT_REPLACE_REF_BASE", "refs/alt/"),
        ("GIT_NO_REPLACE_OBJECTS", "1"),
    ];
    assert_eq!(same_as_git(dir, &both), plain);
}

/// Case 3: grafts apply whatever the replace refs settings, with git's parser.
#[test]
fn grafts_are_read_as_git_reads_them() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "x", "w"]);
    let dir = repo.path();
    repo.git(&["config", "advice.graftFileDeprecated", "false"]);
    let plain = Ok(py(&["z", "y", "x", "w"]));
    let grafted = Ok(py(&["z", "x", "y", "w"]));
    assert_eq!(same_as_git(dir, &[]), plain);
    // Written before the grafts: git must not use it once they exist.
    pack_with_commit_graph(dir);
    let grafts = dir.join(".git").join("info").join("grafts");
    std::fs::create_dir_all(grafts.parent().expect("info")).expect("mkdir");
    let line = format!("{} {}", ids[2], ids[0]);
    std::fs::write(&grafts, format!("# comment\n\n{line}\t\r\n# another\n")).expect("grafts");
    assert_eq!(same_as_git(dir, &[]), grafted);
    assert_eq!(
        same_as_git(dir, &[("GIT_NO_REPLACE_OBJECTS", "1")]),
        grafted
    );
    repo.git(&["config", "core.useReplaceRefs", "false"]);
    assert_eq!(same_as_git(dir, &[]), grafted);
    repo.git(&["config", "--unset", "core.useReplaceRefs"]);
    // No parents: a root.
    std::fs::write(&grafts, format!("{}\n", ids[2])).expect("grafts");
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["x", "y", "z", "w"])));
    // GIT_GRAFT_FILE, relative to the top of the working tree from a subdirectory.
    std::fs::remove_file(&grafts).expect("rm");
    std::fs::write(dir.join("my-grafts"), format!("{line}\n")).expect("grafts");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    let vars = [("GIT_GRAFT_FILE", "my-grafts")];
    assert_eq!(same_as_git(&dir.join("sub"), &vars), grafted);
    assert_eq!(same_as_git(dir, &[("GIT_GRAFT_FILE", "missing")]), plain);
    // A line git reports as an error (and then ignores) is refused.
    for bad in [
        format!(" {line}\n"),
        format!("{line} # why\n"),
        format!("{line}\n{line}\n"),
    ] {
        std::fs::write(&grafts, &bad).expect("grafts");
        let (_, stderr) = run_git(dir, &["log", "--format="], &[], b"").expect("git log");
        assert!(stderr.contains("graft data"), "{bad:?}: {stderr}");
        let error = walked(dir, &[]).unwrap_err();
        assert!(
            error.contains("grafts") && error.contains("graft data"),
            "{error}"
        );
    }
}

/// libgit2 refuses to open a repository whose grafts file has a comment or a blank
/// line; such a repository is opened past it, with the git directory, common
/// directory and working tree libgit2 gives it otherwise: from a subdirectory, a
/// linked worktree, a bare clone and `$GIT_DIR`.
#[test]
fn a_grafts_file_libgit2_refuses_does_not_change_the_repository_found() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "x", "w"]);
    let dir = repo.path();
    repo.git(&["config", "advice.graftFileDeprecated", "false"]);
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let linked = elsewhere.path().join("linked");
    let bare = elsewhere.path().join("bare.git");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "--detach",
        linked.to_str().expect("utf-8"),
    ]);
    std::fs::create_dir_all(linked.join("sub")).expect("mkdir");
    git(
        elsewhere.path(),
        &[
            "clone",
            "-q",
            "--bare",
            dir.to_str().expect("utf-8"),
            "bare.git",
        ],
    );
    let starts = [
        dir.to_path_buf(),
        dir.join("sub"),
        linked.clone(),
        linked.join("sub"),
        bare.clone(),
    ];
    let layout = |start: &Path| {
        let handle = Repository::discover(start).expect("discover");
        let canonical = |p: &Path| p.canonicalize().expect("exists");
        (
            canonical(handle.git_dir()),
            canonical(handle.common_dir()),
            handle.work_tree().map(canonical),
        )
    };
    let before: Vec<_> = starts.iter().map(|start| layout(start)).collect();
    for git_dir in [dir.join(".git"), bare.clone()] {
        let grafts = git_dir.join("info").join("grafts");
        std::fs::create_dir_all(grafts.parent().expect("info")).expect("mkdir");
        let line = format!("{} {}", ids[2], ids[0]);
        std::fs::write(&grafts, format!("# moved x\n\n{line}\n")).expect("grafts");
    }
    assert!(
        git2::Repository::open(dir).is_err(),
        "libgit2 reads the grafts file now"
    );
    let grafted = Ok(py(&["z", "x", "y", "w"]));
    for (start, before) in starts.iter().zip(&before) {
        assert_eq!(&layout(start), before, "{}", start.display());
        assert_eq!(same_as_git(start, &[]), grafted, "{}", start.display());
    }
    // Revisions by name, and libgit2's own commit reading, work there too; parent
    // navigation would follow libgit2's parents, not git's, and is refused.
    let handle = Repository::discover(dir).expect("discover");
    for (spec, id) in [
        ("main", &ids[3]),
        (ids[1].as_str(), &ids[1]),
        ("main^{commit}", &ids[3]),
    ] {
        let resolved = handle.resolve(&Tip::Rev(spec.into())).expect("resolve");
        assert_eq!(
            resolved.map(|oid| oid.to_string()).as_ref(),
            Some(id),
            "{spec}"
        );
    }
    for spec in ["HEAD~3", "main^", "main^2", "main^{commit}~1"] {
        let error = handle
            .resolve(&Tip::Rev(spec.into()))
            .expect_err(spec)
            .to_string();
        assert!(error.contains("rewrite"), "{spec}: {error}");
    }
    let described = super::describe::describe(&handle, std::slice::from_ref(&ids[0]));
    assert_eq!(described[0].author, "t");
    assert_eq!(same_as_git(dir, &[("GIT_DIR", ".git")]), grafted);
    assert_eq!(
        same_as_git(&dir.join("sub"), &[("GIT_DIR", "../.git")]),
        grafted
    );
}

/// Grafts are looked up by a commit's own id, replace refs or not.
#[test]
fn grafts_and_replace_refs_together() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "x", "w"]);
    let dir = repo.path();
    repo.git(&["config", "advice.graftFileDeprecated", "false"]);
    let replacement = commit_adding(&repo, &ids[2], "q", &[&ids[1]]);
    repo.git(&[
        "update-ref",
        &format!("refs/replace/{}", ids[2]),
        &replacement,
    ]);
    let grafts = dir.join(".git").join("info").join("grafts");
    std::fs::create_dir_all(grafts.parent().expect("info")).expect("mkdir");
    std::fs::write(&grafts, format!("{} {}\n", ids[2], ids[0])).expect("grafts");
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "q", "x", "y", "w"])));
    std::fs::write(&grafts, format!("{replacement} {}\n", ids[0])).expect("grafts");
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "y", "q", "x", "w"])));
}

/// Case 4: a `HEAD` (or branch) at an annotated tag is peeled, through chains of
/// tags; at a tree git lists nothing, and the walk refuses.
#[test]
fn head_at_an_annotated_tag_is_peeled() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "x"]);
    let dir = repo.path();
    repo.git(&["tag", "-a", "-m", "one", "one", &ids[1]]);
    repo.git(&[
        "-c",
        "advice.nestedTag=false",
        "tag",
        "-a",
        "-m",
        "two",
        "two",
        "one",
    ]);
    repo.git(&[
        "tag",
        "-a",
        "-m",
        "tree",
        "tree",
        &format!("{}^{{tree}}", ids[1]),
    ]);
    let head = dir.join(".git").join("HEAD");
    for tag in ["one", "two"] {
        std::fs::write(&head, format!("{}\n", repo.rev(tag))).expect("HEAD");
        assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "y"])), "{tag}");
    }
    // A branch at a tag object (git's commands refuse to write one), HEAD on it.
    std::fs::write(
        dir.join(".git/refs/heads/tagged"),
        format!("{}\n", repo.rev("two")),
    )
    .expect("ref");
    std::fs::write(&head, "ref: refs/heads/tagged\n").expect("HEAD");
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "y"])));
    let handle = Repository::discover(dir).expect("discover");
    let peeled = handle.resolve(&Tip::Rev("two".into())).expect("resolve");
    assert_eq!(peeled.map(|oid| oid.to_string()), Some(ids[1].clone()));
    for tree in [repo.rev("tree"), repo.rev("tree^{tree}")] {
        std::fs::write(&head, format!("{tree}\n")).expect("HEAD");
        assert_eq!(git_log(dir, &[]), Ok(Vec::new()));
        let error = walked(dir, &[]).unwrap_err();
        assert!(error.contains("not a commit"), "{error}");
    }
}

/// Case 5: `parent` lines count only right after `tree`, with or without a
/// commit-graph file (which git writes from the same parse).
#[test]
fn commit_headers_are_read_as_git_reads_them() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "x"]);
    let dir = repo.path();
    let tree = repo.rev("HEAD^{tree}");
    let who = "author t <t@e> 1700000000 +0000\ncommitter t <t@e> 1700000000 +0000\n";
    let late_parent = raw_commit(
        &repo,
        &format!(
            "tree {tree}\nparent {}\n{who}encoding UTF-8\nparent {}\n\nlate\n",
            ids[1], ids[0]
        ),
    );
    let upper = raw_commit(
        &repo,
        &format!(
            "tree {}\nparent {}\n{who}\nupper\n",
            tree.to_uppercase(),
            late_parent.to_uppercase()
        ),
    );
    let after_author = raw_commit(
        &repo,
        &format!("tree {tree}\n{who}parent {upper}\n\nroot\n"),
    );
    repo.git(&["update-ref", "refs/heads/main", &after_author]);
    repo.git(&["reset", "-q", "--hard"]);
    let expected = Ok(py(&["x", "y", "z"]));
    assert_eq!(same_as_git(dir, &[]), expected);
    repo.git(&["update-ref", "refs/heads/main", &upper]);
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "y", "x"])));
    pack_with_commit_graph(dir);
    assert_eq!(same_as_git(dir, &[]), Ok(py(&["z", "y", "x"])));
    // The graph git wrote and the parser agree on every commit.
    let handle = Repository::discover(dir).expect("discover");
    let graph = CommitGraphFile::open(&dir.join(".git").join("objects")).expect("graph");
    let mut reader = handle.store().reader();
    for id in [&ids[0], &ids[1], &late_parent, &upper] {
        let oid = git2::Oid::from_str(id).expect("oid");
        assert_eq!(
            graph.commit(&oid),
            Some(reader.commit(oid).expect("read")),
            "{id}"
        );
    }
    // What git refuses ("bad parents"), the walk refuses.
    let bad = raw_commit(
        &repo,
        &format!("tree {tree}\nparent {}\n{who}\nbad\n", &ids[1][..39]),
    );
    // git's commands refuse to point a ref at it.
    std::fs::write(dir.join(".git/refs/heads/main"), format!("{bad}\n")).expect("ref");
    let error = same_as_git(dir, &[]).unwrap_err();
    assert!(error.contains("bad parents"), "{error}");
}

/// Case 7: objects from `$GIT_ALTERNATE_OBJECT_DIRECTORIES`,
/// `$GIT_OBJECT_DIRECTORY` and every form of `info/alternates`, read by the
/// pack reader and the commit-graph lookup too.
#[test]
fn object_directories_are_found_as_git_finds_them() {
    let top = tempfile::tempdir().expect("tempdir");
    let origin = TestRepo::new();
    linear(&origin, &["z", "y", "x"]);
    pack_with_commit_graph(origin.path());
    let objects = origin.path().join(".git").join("objects");
    let objects_str = objects.to_str().expect("utf-8 path");
    let borrower = top.path().join("borrower");
    let borrower_str = borrower.to_str().expect("utf-8 path");
    git(
        top.path(),
        &[
            "clone",
            "-q",
            "--shared",
            origin.path().to_str().expect("utf-8"),
            borrower_str,
        ],
    );
    let alternates = borrower
        .join(".git")
        .join("objects")
        .join("info")
        .join("alternates");
    std::fs::remove_file(&alternates).expect("rm alternates");
    let expected = Ok(py(&["z", "y", "x"]));
    assert!(same_as_git(&borrower, &[]).is_err());
    let vars = [("GIT_ALTERNATE_OBJECT_DIRECTORIES", objects_str)];
    assert_eq!(same_as_git(&borrower, &vars), expected);
    let handle = Repository::discover_with(&borrower, &environment(&vars)).expect("discover");
    assert_eq!(
        handle.object_dirs().alternates,
        std::slice::from_ref(&objects)
    );
    assert_eq!(handle.store().pack_files(), 1);
    assert!(handle.commit_graph().is_some());
    // Relative: from the top of the working tree, wherever git starts.
    std::fs::create_dir_all(borrower.join("sub")).expect("mkdir");
    let relative = format!("/nonexistent:{}", pathdiff(&objects, &borrower));
    let vars = [("GIT_ALTERNATE_OBJECT_DIRECTORIES", relative.as_str())];
    assert_eq!(same_as_git(&borrower.join("sub"), &vars), expected);
    // Quoted (libgit2 reads such a line literally), behind a comment.
    let quoted = format!("# shared objects\n\"{}\"\n", objects.display());
    std::fs::write(&alternates, quoted).expect("alternates");
    assert_eq!(same_as_git(&borrower, &[]), expected);
    // Two levels: borrower -> middle -> origin, the middle relative.
    let middle = top.path().join("middle");
    std::fs::create_dir_all(middle.join("info")).expect("mkdir");
    std::fs::write(
        middle.join("info").join("alternates"),
        format!("{}\n", pathdiff(&objects, &middle)),
    )
    .expect("alternates");
    std::fs::write(&alternates, format!("{}\n", middle.display())).expect("alternates");
    assert_eq!(same_as_git(&borrower, &[]), expected);
    let handle = Repository::discover_with(&borrower, &Environment::default()).expect("discover");
    assert_eq!(handle.object_dirs().alternates.len(), 2);
    assert_eq!(handle.store().pack_files(), 1);
    std::fs::remove_file(&alternates).expect("rm alternates");
    // In place of the repository's own object directory.
    let vars = [("GIT_OBJECT_DIRECTORY", objects_str)];
    assert_eq!(same_as_git(&borrower, &vars), expected);
}

/// `$GIT_SHALLOW_FILE` makes a complete repository shallow to git, which then stops
/// at the commits it lists: refused, as a shallow clone is.
#[test]
fn a_shallow_file_from_the_environment_is_refused() {
    let repo = TestRepo::new();
    let ids = linear(&repo, &["z", "y", "x"]);
    let dir = repo.path();
    std::fs::write(dir.join("cut"), format!("{}\n", ids[1])).expect("shallow file");
    let vars = [("GIT_SHALLOW_FILE", "cut")];
    assert_eq!(git_log(dir, &vars), Ok(py(&["y", "z", "x"])));
    let handle = Repository::discover_with(dir, &environment(&vars)).expect("discover");
    assert!(matches!(
        handle.require_complete(),
        Err(Error::Shallow { .. })
    ));
    let vars = [("GIT_SHALLOW_FILE", "no-such-file")];
    let handle = Repository::discover_with(dir, &environment(&vars)).expect("discover");
    assert!(handle.require_complete().is_ok());
    // A linked worktree of a shallow clone: the list is in the common directory.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", dir.display());
    git(
        elsewhere.path(),
        &["clone", "-q", "--depth", "1", &url, "shallow"],
    );
    let shallow = elsewhere.path().join("shallow");
    git(
        &shallow,
        &["worktree", "add", "-q", "--detach", "../linked"],
    );
    for start in [shallow, elsewhere.path().join("linked")] {
        let handle = Repository::discover(&start).expect("discover");
        let refused = handle.require_complete();
        assert!(
            matches!(refused, Err(Error::Shallow { .. })),
            "{}",
            start.display()
        );
    }
}

/// `$GIT_COMMON_DIR` naming the repository's own common directory is fine; naming
/// another would split the repository in two, and is refused.
#[test]
fn a_foreign_common_dir_is_refused() {
    let repo = TestRepo::new();
    linear(&repo, &["z"]);
    let other = TestRepo::new();
    let dir = repo.path();
    let own = dir.join(".git");
    let vars = [("GIT_COMMON_DIR", own.to_str().expect("utf-8"))];
    assert_eq!(same_as_git(dir, &vars), Ok(py(&["z"])));
    let foreign = other.path().join(".git");
    let env = environment(&[("GIT_COMMON_DIR", foreign.to_str().expect("utf-8"))]);
    match Repository::discover_with(dir, &env) {
        Err(Error::UnsupportedEnvironment { variable, .. }) => {
            assert_eq!(variable, "GIT_COMMON_DIR");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// Case 6: git runs where the reference runs it, in pathlib's parent of the
/// versions directory as given; for a path ending in `..` (as for `.`) that is not
/// above the versions directory, so a nested repository there is the one read.
#[test]
fn a_nested_repository_is_read_where_git_is_run_from_it() {
    let outer = TestRepo::new();
    outer.write("inner/a0_m.py", "revision = 'a0'\ndown_revision = None\n");
    outer.write("inner/c1_m.py", &dynamic_source("c1"));
    outer.write("inner/b2_m.py", &dynamic_source("b2"));
    outer.commit("the outer repository adds all three at once");
    let inner = outer.path().join("inner");
    git(&inner, &["init", "-q", "-b", "main"]);
    for name in ["a0_m.py", "c1_m.py", "b2_m.py"] {
        git(&inner, &["add", name]);
        git(&inner, &["commit", "-q", "-m", name]);
    }
    std::fs::create_dir_all(inner.join("sub")).expect("mkdir");
    let request = |dir: PathBuf| crate::analysis::Request {
        dirs: vec![crate::analysis::Location::flat(dir)],
        python: crate::migrations::parser::PyVersion {
            major: 3,
            minor: 11,
        },
        threads: 1,
        cache: crate::store::CacheMode::Off,
    };
    let chain = |dir: PathBuf| {
        let analyses = crate::analysis::analyze(
            &request(dir),
            &crate::migrations::declaration::NoFallback,
            &never,
        )
        .expect("analyze");
        analyses[0].chain.links.clone()
    };
    let link = |a: &str, b: &str| (a.to_owned(), Some(b.to_owned()));
    // Named: git runs in the parent, the outer repository (tree order there).
    assert_eq!(chain(inner.clone()), [link("b2", "a0"), link("c1", "b2")]);
    // `inner/sub/..`: git runs in `inner/sub`, inside the nested repository.
    assert_eq!(
        chain(inner.join("sub").join("..")),
        [link("c1", "a0"), link("b2", "c1")]
    );
    assert_eq!(
        crate::analysis::git_start_dir(&inner.join("sub").join("..")).expect("start"),
        inner.join("sub").canonicalize().expect("exists")
    );
    assert_eq!(
        crate::analysis::git_start_dir(Path::new(".")).expect("start"),
        std::env::current_dir()
            .expect("cwd")
            .canonicalize()
            .expect("exists")
    );
}

fn dynamic_source(revision: &str) -> String {
    format!(
        "from alembic_git_revisions import get_down_revision\n\
         revision = '{revision}'\ndown_revision = get_down_revision(revision)\n"
    )
}

/// Case 8, the deliberate difference: configuration that changes what `git log`
/// prints (`log.showRoot`, `diff.orderFile`) changes the reference's order, never
/// the walk's.
#[test]
fn git_log_configuration_is_ignored() {
    let repo = TestRepo::new();
    repo.write("v/z.py", "");
    repo.write("v/y.py", "");
    repo.commit("root adds two");
    repo.write("v/b.py", "");
    repo.write("v/a.py", "");
    repo.commit("two more");
    let dir = repo.path();
    let plain = py(&["y", "z", "a", "b"]);
    assert_eq!(same_as_git(dir, &[]), Ok(plain.clone()));
    std::fs::write(dir.join("order"), "v/z.py\nv/b.py\n").expect("order file");
    repo.git(&["config", "diff.orderFile", "order"]);
    assert_eq!(git_log(dir, &[]), Ok(py(&["z", "y", "b", "a"])));
    assert_eq!(walked(dir, &[]), Ok(plain.clone()));
    repo.git(&["config", "log.showRoot", "false"]);
    assert_eq!(git_log(dir, &[]), Ok(py(&["b", "a"])));
    assert_eq!(walked(dir, &[]), Ok(plain));
}

/// `path` relative to `from` (both absolute, under one temporary root).
fn pathdiff(path: &Path, from: &Path) -> String {
    let path: Vec<_> = path.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = path.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &path[common..] {
        out.push(part);
    }
    out.to_str().expect("utf-8").to_owned()
}
