"""git's own semantics where history is rewritten or stored unusually (issue 12).

Each case builds a small repository with git at fixed dates and compares the public
API with alembic-git-revisions 13, which runs ``git log`` itself and so follows git
(the persistent cache is off: ``ALEMBIC_GIT_REVISIONS_CACHE=off``):

1. chained replace refs (A -> B', B' -> C'), and a replacement cycle;
2. ``core.useReplaceRefs=false``, ``GIT_NO_REPLACE_OBJECTS`` and ``GIT_REPLACE_REF_BASE``;
3. grafts with comments and blank lines, applied even with ``GIT_NO_REPLACE_OBJECTS``;
4. ``HEAD`` detached at an annotated tag (and a tag of a tag);
5. a ``parent`` header after ``encoding`` (not a parent), with and without a
   commit-graph;
6. ``parse_versions_dir(Path("."))`` in a versions directory that is a nested
   repository or a submodule;
7. ``GIT_ALTERNATE_OBJECT_DIRECTORIES`` and ``GIT_OBJECT_DIRECTORY``;
8. the deliberate difference: ``diff.orderFile`` and ``log.showRoot=false`` change
   the reference's chain, never ours.

Finally, the persistent cache never answers for rewritten history, whatever form the
rewrite takes.

"mig X" is a dynamic migration ``v/X_m.py``, "root X" a static root.
"""

from __future__ import annotations

import pathlib
import subprocess
import types
from collections.abc import Iterator

import alembic_git_revisions as ours
import pytest
from gitrepo import Dynamic, git_env, migration_source

#: The versions directory of every repository here.
VERSIONS = "v"
ROOT = "a0"


class Git:
    """git in one directory at fixed, increasing dates."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.clock = 1_700_000_000

    def __call__(self, *args: str, input: bytes | None = None) -> str:
        self.clock += 60
        date = f"@{self.clock} +0000"
        result = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=git_env(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date),
            input=input,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"git {args}: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode().strip()

    def init(self) -> Git:
        self.path.mkdir(parents=True, exist_ok=True)
        self("init", "-q", "-b", "main")
        self("config", "advice.graftFileDeprecated", "false")
        return self

    def write(self, name: str, source: bytes) -> None:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source)

    def add(self, *revisions: str, message: str | None = None) -> str:
        """Commit ``v/<rev>_m.py`` for each revision (a static root for ``a0``)."""
        for revision in revisions:
            down = None if revision == ROOT else Dynamic()
            self.write(f"{VERSIONS}/{revision}_m.py", migration_source(revision, down))
        self("add", "-A")
        self("commit", "-q", "--allow-empty", "-m", message or " ".join(revisions))
        return self("rev-parse", "HEAD")

    def commit_with(self, base: str, parents: list[str], *revisions: str) -> str:
        """A commit (``git commit-tree``) whose tree is *base*'s plus *revisions*."""
        index = str(self.path / ".git" / "agr-scratch-index")
        env = git_env(GIT_INDEX_FILE=index)
        subprocess.run(["git", "read-tree", base], cwd=self.path, env=env, check=True)
        for revision in revisions:
            blob = self("hash-object", "-w", "--stdin", input=migration_source(revision, Dynamic()))
            entry = f"100644,{blob},{VERSIONS}/{revision}_m.py"
            subprocess.run(
                ["git", "update-index", "--add", "--cacheinfo", entry],
                cwd=self.path,
                env=env,
                check=True,
            )
        tree = subprocess.run(
            ["git", "write-tree"], cwd=self.path, env=env, check=True, capture_output=True
        ).stdout.decode()
        args = [arg for parent in parents for arg in ("-p", parent)]
        return self("commit-tree", tree.strip(), *args, "-m", " ".join(revisions) or "empty")


@pytest.fixture(autouse=True)
def _no_persistent_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ALEMBIC_GIT_REVISIONS_CACHE", "off")
    yield
    ours.build_chain.cache_clear()


def files_of(module: types.ModuleType, versions: pathlib.Path) -> list[tuple[str, int]]:
    return [(f.revision, f.git_sequence) for f in module.parse_versions_dir(versions)]


def chain_of(module: types.ModuleType, versions: pathlib.Path) -> dict[str, str | None]:
    module.build_chain.cache_clear()
    return module.build_chain(versions)


def as_reference(versions: pathlib.Path, reference: types.ModuleType) -> dict[str, str | None]:
    """Our chain, after checking that files and chain are the reference's."""
    assert files_of(ours, versions) == files_of(reference, versions)
    chain = chain_of(ours, versions)
    assert chain == chain_of(reference, versions)
    return chain


def line(*revisions: str) -> dict[str, str | None]:
    """The chain of *revisions* in this order after the root."""
    parents = [ROOT, *revisions]
    return {revision: parents[i] for i, revision in enumerate(revisions)}


def history_to_replace(tmp_path: pathlib.Path) -> tuple[Git, str, str]:
    """root a0, mig b1, mig c2 (one commit each); returns the repo, the root commit
    and the commit adding b1."""
    repo = Git(tmp_path / "repo").init()
    root = repo.add(ROOT)
    b1 = repo.add("b1")
    repo.add("c2")
    return repo, root, b1


# ------------------------------------------------------------------ 1. chained replace


def test_chained_replace_refs_are_followed(
    tmp_path: pathlib.Path, reference: types.ModuleType
) -> None:
    repo, root, b1 = history_to_replace(tmp_path)
    versions = repo.path / VERSIONS
    assert as_reference(versions, reference) == line("b1", "c2")
    # b1's commit -> the same change (B'); B' -> a commit adding c2 instead (C').
    same = repo("commit-tree", f"{b1}^{{tree}}", "-p", root, "-m", "same change")
    other = repo.commit_with(root, [root], "c2")
    repo("replace", b1, same)
    assert as_reference(versions, reference) == line("b1", "c2")
    repo("update-ref", f"refs/replace/{same}", other)
    assert as_reference(versions, reference) == line("c2", "b1")


def test_a_replacement_cycle_fails_as_git_does(
    tmp_path: pathlib.Path, reference: types.ModuleType
) -> None:
    repo, root, b1 = history_to_replace(tmp_path)
    versions = repo.path / VERSIONS
    other = repo.commit_with(root, [root], "c2")
    repo("update-ref", f"refs/replace/{b1}", other)
    repo("update-ref", f"refs/replace/{other}", b1)
    with pytest.raises(RuntimeError, match="Cannot read git history"):
        reference.parse_versions_dir(versions)
    with pytest.raises(ours.GitHistoryError, match="replace depth too high") as raised:
        ours.parse_versions_dir(versions)
    assert raised.value.oid == b1


# ------------------------------------------------------ 2. replace refs switched or moved


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("none", ("c2", "b1")),
        ("core.useReplaceRefs=false", ("b1", "c2")),
        ("GIT_NO_REPLACE_OBJECTS=0", ("b1", "c2")),
        ("GIT_REPLACE_REF_BASE=refs/alt/", ("b1", "c2")),
        ("GIT_REPLACE_REF_BASE=refs/alt/ with refs there", ("c2", "b1")),
    ],
)
def test_replace_refs_settings(
    setting: str,
    expected: tuple[str, ...],
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: types.ModuleType,
) -> None:
    repo, root, b1 = history_to_replace(tmp_path)
    other = repo.commit_with(root, [root], "c2")
    if setting.endswith("with refs there"):
        repo("update-ref", f"refs/alt/{b1}", other)
    else:
        repo("replace", b1, other)
    if setting.startswith("core."):
        repo("config", *setting.split("="))
    elif setting.startswith("GIT_"):
        name, value = setting.split(" ")[0].split("=")
        monkeypatch.setenv(name, value)
    assert as_reference(repo.path / VERSIONS, reference) == line(*expected)


# ------------------------------------------------------------------------ 3. grafts


@pytest.mark.parametrize("no_replace_objects", [False, True])
def test_grafts_with_comments_apply_as_in_git(
    no_replace_objects: bool,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: types.ModuleType,
) -> None:
    repo = Git(tmp_path / "repo").init()
    root = repo.add(ROOT)
    repo.add("c2")
    b1 = repo.add("b1")
    versions = repo.path / VERSIONS
    assert as_reference(versions, reference) == line("c2", "b1")
    if no_replace_objects:
        monkeypatch.setenv("GIT_NO_REPLACE_OBJECTS", "1")
    # b1's commit grafted onto the root: it adds both, in tree order.
    grafts = repo.path / ".git" / "info" / "grafts"
    grafts.write_text(f"# b1 straight onto the root\n\n{b1} {root}\n")
    assert as_reference(versions, reference) == line("b1", "c2")
    grafts.write_text(f"\n{b1}\t{root} \r\n# a tab, trailing space, CRLF\n")
    assert as_reference(versions, reference) == line("b1", "c2")


def test_a_grafts_line_git_reports_is_refused(
    tmp_path: pathlib.Path, reference: types.ModuleType
) -> None:
    repo, root, _ = history_to_replace(tmp_path)
    c2 = repo("rev-parse", "HEAD")
    grafts = repo.path / ".git" / "info" / "grafts"
    grafts.write_text(f"{c2} {root} # trailing words\n")
    reference.parse_versions_dir(repo.path / VERSIONS)  # git says "error: bad graft data"
    with pytest.raises(ours.GitHistoryError, match=r"grafts:1: bad graft data") as raised:
        ours.parse_versions_dir(repo.path / VERSIONS)
    assert raised.value.path == str(grafts)


# -------------------------------------------------------------- 4. HEAD at a tag object


@pytest.mark.parametrize("nested", [False, True])
def test_head_detached_at_an_annotated_tag(
    nested: bool, tmp_path: pathlib.Path, reference: types.ModuleType
) -> None:
    repo, _, _ = history_to_replace(tmp_path)
    repo.add("b3")
    repo("tag", "-a", "-m", "release", "v1", "HEAD~1")
    if nested:
        repo("-c", "advice.nestedTag=false", "tag", "-a", "-m", "again", "v1-again", "v1")
    repo("checkout", "-q", "--detach", "v1")
    tag = repo("rev-parse", "v1-again" if nested else "v1")
    (repo.path / ".git" / "HEAD").write_text(tag + "\n")
    assert as_reference(repo.path / VERSIONS, reference) == line("b1", "c2")


# ---------------------------------------------------------- 5. strict commit headers


@pytest.mark.parametrize("commit_graph", [False, True])
def test_a_parent_after_another_header_is_not_a_parent(
    commit_graph: bool, tmp_path: pathlib.Path, reference: types.ModuleType
) -> None:
    repo = Git(tmp_path / "repo").init()
    repo.add(ROOT)
    main = repo.add("c2")
    # A commit adding b1 whose `parent` line after `encoding` names a commit that
    # does not even exist: git reads one parent, and never looks for that one.
    tree = repo.commit_with(main, [], "b1")
    tree = repo("rev-parse", f"{tree}^{{tree}}")
    who = "author t <t@e> 1700000000 +0000\ncommitter t <t@e> 1700000000 +0000\n"
    late = "1" * 40
    text = f"tree {tree}\nparent {main}\n{who}encoding UTF-8\nparent {late}\n\nb1\n"
    odd = repo("hash-object", "-t", "commit", "-w", "--literally", "--stdin", input=text.encode())
    repo("update-ref", "refs/heads/main", odd)
    repo("reset", "-q", "--hard")
    if commit_graph:
        repo("commit-graph", "write", "--reachable")
    assert as_reference(repo.path / VERSIONS, reference) == line("c2", "b1")


# ----------------------------------------------------------- 6. nested repositories


def outer_with_nested(tmp_path: pathlib.Path) -> pathlib.Path:
    """The ``v`` directory of an outer repository that adds a0, b1, c2 in one commit."""
    outer = Git(tmp_path / "outer").init()
    outer.add(ROOT, "b1", "c2", message="all at once")
    return outer.path / VERSIONS


def test_dot_in_a_nested_repository_reads_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, reference: types.ModuleType
) -> None:
    versions = outer_with_nested(tmp_path)
    inner = Git(versions).init()
    for revision in (ROOT, "c2", "b1"):
        inner("add", f"{revision}_m.py")
        inner("commit", "-q", "-m", revision)
    assert as_reference(versions, reference) == line("b1", "c2")
    monkeypatch.chdir(versions)
    assert as_reference(pathlib.Path("."), reference) == line("c2", "b1")


def test_dot_in_a_submodule_reads_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, reference: types.ModuleType
) -> None:
    library = Git(tmp_path / "library").init()
    library.write(f"{ROOT}_m.py", migration_source(ROOT, None))
    library.write("c2_m.py", migration_source("c2", Dynamic()))
    library("add", "-A")
    library("commit", "-q", "-m", "root and c2")
    library.write("b1_m.py", migration_source("b1", Dynamic()))
    library("add", "-A")
    library("commit", "-q", "-m", "b1")
    outer = Git(tmp_path / "outer").init()
    outer("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library.path), "v")
    outer("commit", "-q", "-m", "submodule")
    versions = outer.path / VERSIONS
    assert (versions / ".git").is_file()
    monkeypatch.chdir(versions)
    assert as_reference(pathlib.Path("."), reference) == line("c2", "b1")


# ------------------------------------------------------------ 7. object directories


@pytest.mark.parametrize("variable", ["GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_OBJECT_DIRECTORY"])
def test_objects_from_the_environment(
    variable: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: types.ModuleType,
) -> None:
    origin, _, _ = history_to_replace(tmp_path)
    origin("repack", "-adq")
    origin("commit-graph", "write", "--reachable")
    borrower = Git(tmp_path / "borrower")
    Git(tmp_path)("clone", "-q", "--shared", str(origin.path), str(borrower.path))
    (borrower.path / ".git" / "objects" / "info" / "alternates").unlink()
    versions = borrower.path / VERSIONS
    with pytest.raises(ours.GitHistoryError, match="missing from the object database"):
        ours.parse_versions_dir(versions)
    monkeypatch.setenv(variable, str(origin.path / ".git" / "objects"))
    assert as_reference(versions, reference) == line("b1", "c2")


# ------------------------------------------------- 8. git log configuration, ignored


def test_git_log_configuration_changes_the_reference_not_us(
    tmp_path: pathlib.Path, reference: types.ModuleType
) -> None:
    repo = Git(tmp_path / "repo").init()
    repo.add(ROOT, "e1", "d2", message="root commit")
    repo.add("c3", "b4")
    versions = repo.path / VERSIONS
    default = as_reference(versions, reference)
    assert default == line("d2", "e1", "b4", "c3")
    (repo.path / "order").write_text(f"{VERSIONS}/c3_m.py\n")
    repo("config", "diff.orderFile", "order")
    assert chain_of(reference, versions) == line("d2", "e1", "c3", "b4")
    assert chain_of(ours, versions) == default
    repo("config", "log.showRoot", "false")
    # The root commit lists nothing: its files look uncommitted, last by name.
    assert chain_of(reference, versions) == line("c3", "b4", "d2", "e1")
    assert chain_of(ours, versions) == default


# ----------------------------------------------------- the persistent cache stands aside


def test_the_cache_never_answers_for_rewritten_history(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, reference: types.ModuleType
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ALEMBIC_GIT_REVISIONS_CACHE", str(cache))
    repo, root, b1 = history_to_replace(tmp_path)
    versions = repo.path / VERSIONS
    other = repo.commit_with(root, [root], "c2")
    same = repo("commit-tree", f"{b1}^{{tree}}", "-p", root, "-m", "same change")
    grafts = repo.path / ".git" / "info" / "grafts"
    # Each rewrite makes b1's commit come after one that adds c2.
    rewrites = {
        "chained replace refs": lambda: (
            repo("replace", b1, same),
            repo("update-ref", f"refs/replace/{same}", other),
        ),
        "replace refs under GIT_REPLACE_REF_BASE": lambda: (
            repo("update-ref", f"refs/alt/{b1}", other),
            monkeypatch.setenv("GIT_REPLACE_REF_BASE", "refs/alt/"),
        ),
        "grafts with a comment, GIT_NO_REPLACE_OBJECTS": lambda: (
            grafts.write_text(f"# after c2\n{b1} {other}\n"),
            monkeypatch.setenv("GIT_NO_REPLACE_OBJECTS", "1"),
        ),
        "GIT_GRAFT_FILE": lambda: (
            (tmp_path / "grafts").write_text(f"{b1} {other}\n"),
            monkeypatch.setenv("GIT_GRAFT_FILE", str(tmp_path / "grafts")),
        ),
    }

    def cached_files() -> dict[pathlib.Path, bytes]:
        return {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}

    for name, rewrite in rewrites.items():
        # Filled (or answered) for the history as it is...
        assert chain_of(ours, versions) == line("b1", "c2"), f"before {name}"
        filled = cached_files()
        assert filled, "the cache was written"
        # ... and neither read nor written once it is rewritten.
        rewrite()
        assert chain_of(reference, versions) == line("c2", "b1"), name
        assert as_reference(versions, reference) == line("c2", "b1"), name
        assert cached_files() == filled, f"{name}: the cache was written"
        for ref in repo("for-each-ref", "--format=%(refname)", "refs/replace", "refs/alt").split():
            repo("update-ref", "-d", ref)
        grafts.unlink(missing_ok=True)
        for variable in ("GIT_REPLACE_REF_BASE", "GIT_NO_REPLACE_OBJECTS", "GIT_GRAFT_FILE"):
            monkeypatch.delenv(variable, raising=False)
