"""Failure modes and unusual repository states, end to end through the public API.

Every failure must surface as one of the package's exception classes (subclasses of
``RuntimeError``, ``ValueError`` or ``OSError``) with a message that names the file or
directory at fault, and never as a crash, a hang or a silently partial chain. Every
odd-but-valid state must give the chain git's history implies.

Repositories are built with the ``git`` binary, isolated from the user's and the
system's configuration, with fixed dates.
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from alembic_git_revisions import (
    CHAIN_FILENAME,
    ChainError,
    ChainFileError,
    GitHistoryError,
    MigrationFileError,
    MigrationFileReadError,
    NotAGitRepositoryError,
    RevisionNotFoundError,
    ShallowCloneError,
    build_chain,
    generate_chain_file,
    get_down_revision,
    parse_versions_dir,
)

# --------------------------------------------------------------------------- helpers

EPOCH = 1_600_000_000


def git_env(**extra: str) -> dict[str, str]:
    """The environment of every git command: no user/system config, no inherited GIT_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_TERMINAL_PROMPT="0",
    )
    env.update(extra)
    return env


def git(cwd: pathlib.Path, *args: str, **env: str) -> str:
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
        cwd=cwd,
        env=git_env(**env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}")
    return result.stdout


def dynamic_source(revision: str) -> str:
    return (
        '"""A dynamic migration."""\n'
        "from alembic_git_revisions import get_down_revision\n\n"
        f'revision = "{revision}"\n'
        "down_revision = get_down_revision(revision)\n"
    )


def static_source(revision: str, *parents: str) -> str:
    if not parents:
        down = "None"
    elif len(parents) == 1:
        down = repr(parents[0])
    else:
        down = repr(tuple(parents))
    return f'revision = "{revision}"\ndown_revision = {down}\n'


class Repo:
    """A repository with an ``alembic/versions`` directory, committed with fixed dates."""

    def __init__(self, root: pathlib.Path, *init_args: str, init: bool = True) -> None:
        self.root = root
        self.versions = root / "alembic" / "versions"
        self.versions.mkdir(parents=True, exist_ok=True)
        self.tick = 0
        if init:
            git(root, "init", "-q", *init_args)

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def write(self, name: str, text: str | bytes) -> pathlib.Path:
        path = self.versions / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def commit(self, message: str = "commit", **env: str) -> str:
        self.tick += 1
        date = f"@{EPOCH + 60 * self.tick} +0000"
        git(self.root, "add", "-A", **env)
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        git(self.root, "commit", "-q", "--allow-empty", "-m", message, **env)
        return git(self.root, "rev-parse", "HEAD", **env).strip()

    def add_dynamic(self, revision: str, name: str | None = None) -> str:
        self.write(name or f"{revision}_m.py", dynamic_source(revision))
        return self.commit(f"add {revision}")

    def rev(self, spec: str) -> str:
        return self.git("rev-parse", spec).strip()


def linear_repo(root: pathlib.Path, revisions: list[str], *init_args: str) -> Repo:
    """One commit per dynamic migration, in the given order."""
    repo = Repo(root, *init_args)
    for revision in revisions:
        repo.add_dynamic(revision)
    return repo


def linear_chain(revisions: list[str]) -> dict[str, str | None]:
    return {rev: (revisions[i - 1] if i else None) for i, rev in enumerate(revisions)}


def chain_of(versions: pathlib.Path | str) -> dict[str, str | None]:
    build_chain.cache_clear()
    return dict(build_chain(versions))


def scrub(message: str, tmp_path: pathlib.Path) -> str:
    """*message* without the test's directory, whose name echoes the test's name."""
    return message.replace(str(tmp_path), "<tmp>")


def says_damaged(message: str) -> bool:
    return any(word in message for word in ("corrupt", "damaged", "missing", "truncated"))


def loose_object(repo: Repo, oid: str) -> pathlib.Path:
    git_dir = pathlib.Path(repo.git("rev-parse", "--absolute-git-dir").strip())
    return git_dir / "objects" / oid[:2] / oid[2:]


REVS = ["c3", "a1", "e5", "b2"]
#: Where the persistent cache lives (unset: inside the git directory; "off": nowhere).
CACHE_ENV = "ALEMBIC_GIT_REVISIONS_CACHE"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> Iterator[None]:
    """Fresh caches; no repository above tmp_path; no inherited git settings."""
    for key in list(os.environ):
        if key.startswith("GIT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    build_chain.cache_clear()
    yield
    build_chain.cache_clear()


def test_exception_hierarchy() -> None:
    assert issubclass(NotAGitRepositoryError, GitHistoryError)
    assert issubclass(ShallowCloneError, GitHistoryError)
    assert issubclass(GitHistoryError, RuntimeError)
    for cls in (MigrationFileError, ChainError, ChainFileError, RevisionNotFoundError):
        assert issubclass(cls, ValueError)
    assert issubclass(MigrationFileReadError, OSError)


# --------------------------------------------------------------------------- repository state


def test_not_a_git_repository_without_chain_file(tmp_path: pathlib.Path) -> None:
    versions = tmp_path / "app" / "versions"
    versions.mkdir(parents=True)
    (versions / "a1_m.py").write_text(dynamic_source("a1"))
    chain_file = tmp_path / "app" / CHAIN_FILENAME
    with pytest.raises(NotAGitRepositoryError) as info:
        get_down_revision("a1", versions)
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert str(chain_file) in message
    assert "alembic-git-revisions" in scrub(message, tmp_path)
    with pytest.raises(NotAGitRepositoryError) as info:
        generate_chain_file(versions)
    assert "not inside a git repository" in scrub(str(info.value), tmp_path)
    assert not chain_file.exists()


def test_not_a_git_repository_with_chain_file(tmp_path: pathlib.Path) -> None:
    versions = tmp_path / "app" / "versions"
    versions.mkdir(parents=True)
    (versions / "a1_m.py").write_text(dynamic_source("a1"))
    (tmp_path / "app" / CHAIN_FILENAME).write_text('{"a1": null, "b2": "a1"}')
    assert get_down_revision("b2", versions) == "a1"
    assert get_down_revision("a1", versions) is None


def _shallow_clone(tmp_path: pathlib.Path, source: Repo) -> Repo:
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", source.root.as_uri(), str(clone))
    repo = Repo(clone, init=False)
    assert repo.git("rev-parse", "--is-shallow-repository").strip() == "true"
    return repo


def test_shallow_clone_without_chain_file(tmp_path: pathlib.Path) -> None:
    source = linear_repo(tmp_path / "src", REVS)
    clone = _shallow_clone(tmp_path, source)
    with pytest.raises(ShallowCloneError) as info:
        build_chain(clone.versions)
    assert isinstance(info.value, GitHistoryError)
    message = str(info.value)
    assert "--unshallow" in message
    assert "fetch-depth: 0" in message
    assert str(clone.versions.parent / CHAIN_FILENAME) in message


def test_shallow_clone_with_chain_file(tmp_path: pathlib.Path) -> None:
    source = linear_repo(tmp_path / "src", REVS)
    generate_chain_file(source.versions)
    source.commit("chain file")
    clone = _shallow_clone(tmp_path, source)
    assert (clone.versions.parent / CHAIN_FILENAME).is_file()
    assert chain_of(clone.versions) == linear_chain(REVS)
    assert get_down_revision("e5", clone.versions) == "a1"


def _filter_source(tmp_path: pathlib.Path) -> Repo:
    source = Repo(tmp_path / "src")
    for revision in REVS:
        source.add_dynamic(revision)
        # Rewrite an older file so the history holds blobs that HEAD does not.
        (source.root / "notes.txt").write_text(f"after {revision}\n")
        source.commit(f"notes {revision}")
    source.git("config", "uploadpack.allowFilter", "true")
    source.git("config", "uploadpack.allowAnySHA1InWant", "true")
    return source


def test_partial_clone_blob_none_equals_full_clone(tmp_path: pathlib.Path) -> None:
    source = _filter_source(tmp_path)
    full = tmp_path / "full"
    partial = tmp_path / "partial"
    git(tmp_path, "clone", "-q", source.root.as_uri(), str(full))
    git(tmp_path, "clone", "-q", "--filter=blob:none", source.root.as_uri(), str(partial))
    assert git(partial, "config", "remote.origin.promisor").strip() == "true"
    expected = chain_of(full / "alembic" / "versions")
    assert expected == linear_chain(REVS)
    assert chain_of(partial / "alembic" / "versions") == expected


def test_partial_clone_tree_0_is_refused(tmp_path: pathlib.Path) -> None:
    source = _filter_source(tmp_path)
    partial = tmp_path / "partial"
    git(tmp_path, "clone", "-q", "--filter=tree:0", source.root.as_uri(), str(partial))
    with pytest.raises(GitHistoryError) as info:
        chain_of(partial / "alembic" / "versions")
    assert not isinstance(info.value, (NotAGitRepositoryError, ShallowCloneError))
    message = str(info.value)
    assert "partial clone" in scrub(message, tmp_path)
    assert str(partial) in message


def test_unborn_head_orders_by_filename(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    # Revision ids deliberately sort differently from the file names.
    repo.write("a_first.py", dynamic_source("f3"))
    repo.write("b_second.py", dynamic_source("a1"))
    repo.write("c_third.py", dynamic_source("b2"))
    assert chain_of(repo.versions) == {"f3": None, "a1": "f3", "b2": "a1"}


def test_detached_head(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    repo.git("checkout", "-q", "--detach", "HEAD~1")
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "HEAD"
    assert chain_of(repo.versions) == linear_chain(REVS[:-1])


def test_linked_worktree_uses_its_own_head(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    (repo.root / "README").write_text("root\n")
    repo.commit("root")
    repo.git("branch", "other")
    repo.add_dynamic("b2", "b_m.py")
    repo.add_dynamic("a1", "a_m.py")
    worktree = tmp_path / "wt"
    repo.git("worktree", "add", "-q", str(worktree), "other")
    wt = Repo(worktree, init=False)
    # The same files, added in the opposite order on the worktree's branch.
    wt.add_dynamic("a1", "a_m.py")
    wt.add_dynamic("b2", "b_m.py")
    assert (worktree / ".git").is_file()
    assert chain_of(repo.versions) == {"b2": None, "a1": "b2"}
    assert chain_of(wt.versions) == {"a1": None, "b2": "a1"}


def test_versions_dir_in_a_submodule_uses_the_submodule_history(tmp_path: pathlib.Path) -> None:
    sub_source = Repo(tmp_path / "sub-src")
    # Add order differs from file name order, so a walk of the wrong repository
    # (where these files are never added) would give the file name order instead.
    sub_source.add_dynamic("b2", "b_m.py")
    sub_source.add_dynamic("a1", "a_m.py")
    outer = Repo(tmp_path / "outer")
    (outer.root / "README").write_text("outer\n")
    outer.commit("root")
    outer.git("submodule", "add", "-q", sub_source.root.as_uri(), "sub")
    outer.commit("add submodule")
    versions = outer.root / "sub" / "alembic" / "versions"
    assert (outer.root / "sub" / ".git").is_file()
    assert chain_of(versions) == {"b2": None, "a1": "b2"}


def test_git_dir_and_work_tree_environment(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A work tree with no .git in it: only GIT_DIR leads to the repository.
    store = tmp_path / "store.git"
    work = tmp_path / "work"
    repo = Repo(work, init=False)
    git(tmp_path, "init", "-q", f"--separate-git-dir={store}", str(work))
    (work / ".git").unlink()
    env = {"GIT_DIR": str(store), "GIT_WORK_TREE": str(work)}
    for revision in ["b2", "a1"]:
        repo.write(f"{revision}_m.py", dynamic_source(revision))
        repo.commit(revision, **env)
    with pytest.raises(NotAGitRepositoryError):
        chain_of(repo.versions)
    monkeypatch.setenv("GIT_DIR", str(store))
    monkeypatch.setenv("GIT_WORK_TREE", str(work))
    assert chain_of(repo.versions) == {"b2": None, "a1": "b2"}


def test_git_dir_pointing_nowhere_names_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    missing = tmp_path / "no-such.git"
    monkeypatch.setenv("GIT_DIR", str(missing))
    with pytest.raises(NotAGitRepositoryError) as info:
        parse_versions_dir(repo.versions)
    # As git's own "not a git repository: '<GIT_DIR>'": the repository looked for is
    # the one GIT_DIR names, not one enclosing the versions directory.
    assert str(missing) in str(info.value), str(info.value)
    assert "GIT_DIR" in str(info.value)


def test_sha256_repository_is_refused_clearly(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS[:2], "--object-format=sha256")
    with pytest.raises(GitHistoryError) as info:
        chain_of(repo.versions)
    assert not isinstance(info.value, NotAGitRepositoryError)
    assert str(repo.root) in str(info.value)
    message = scrub(str(info.value), tmp_path)
    assert "sha256" in message.lower() or "sha-256" in message.lower()
    assert "SHA-1" in message


def test_reftable_repository_is_refused_clearly_or_works(tmp_path: pathlib.Path) -> None:
    try:
        repo = linear_repo(tmp_path / "repo", REVS, "--ref-format=reftable")
    except AssertionError as exc:  # git < 2.45
        pytest.skip(f"git cannot create reftable repositories: {exc}")
    try:
        chain = chain_of(repo.versions)
    except GitHistoryError as exc:
        assert not isinstance(exc, NotAGitRepositoryError), exc
        assert str(repo.root) in str(exc)
        assert "reftable" in scrub(str(exc), tmp_path), str(exc)
    else:
        assert chain == linear_chain(REVS)


# --------------------------------------------------------------------------- broken git data


def _tree_of(repo: Repo, commit: str) -> str:
    return repo.rev(f"{commit}^{{tree}}")


def test_missing_loose_tree_object(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    tree = _tree_of(repo, "HEAD~1")
    loose_object(repo, tree).unlink()
    with pytest.raises(GitHistoryError) as info:
        chain_of(repo.versions)
    message = str(info.value)
    assert tree in message
    assert "missing" in scrub(message, tmp_path)
    assert str(repo.root / ".git") in message


def test_missing_loose_commit_object(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    commit = repo.rev("HEAD~2")
    loose_object(repo, commit).unlink()
    with pytest.raises(GitHistoryError) as info:
        chain_of(repo.versions)
    assert commit in str(info.value)


def test_corrupt_loose_tree_object(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    tree = _tree_of(repo, "HEAD~1")
    path = loose_object(repo, tree)
    path.chmod(0o644)
    path.write_bytes(b"this is not zlib data at all")
    with pytest.raises(GitHistoryError) as info:
        chain_of(repo.versions)
    assert tree in str(info.value), str(info.value)
    assert says_damaged(scrub(str(info.value), tmp_path)), str(info.value)


def _packed_repo(tmp_path: pathlib.Path) -> tuple[Repo, pathlib.Path]:
    repo = linear_repo(tmp_path / "repo", REVS)
    repo.git("repack", "-a", "-d", "-q")
    repo.git("prune-packed")
    (pack,) = (repo.root / ".git" / "objects" / "pack").glob("*.pack")
    assert not list((repo.root / ".git" / "objects").glob("??/*"))
    pack.chmod(0o644)
    return repo, pack


def test_truncated_pack(tmp_path: pathlib.Path) -> None:
    repo, pack = _packed_repo(tmp_path)
    objects = set(repo.git("rev-list", "--objects", "--all").split())
    data = pack.read_bytes()
    pack.write_bytes(data[: len(data) // 2])
    with pytest.raises(GitHistoryError) as info:
        chain_of(repo.versions)
    message = str(info.value)
    assert str(repo.root / ".git") in message
    # Whichever object lies past the cut is named (by id) as unreadable.
    assert any(oid in message for oid in objects if len(oid) == 40), message
    assert says_damaged(scrub(message, tmp_path)), message


def _pack_rows(repo: Repo, pack: pathlib.Path) -> dict[str, list[str]]:
    """``git verify-pack -v`` rows by object id: type, size, size in pack, offset[, depth,
    base]."""
    listing = repo.git("verify-pack", "-v", str(pack.with_suffix(".idx")))
    rows = [line.split() for line in listing.splitlines()]
    return {row[0]: row[1:] for row in rows if len(row) >= 5 and len(row[0]) == 40}


def _garble(pack: pathlib.Path, row: list[str]) -> None:
    """Flip the bytes of one entry's compressed body, past its header."""
    size_in_pack, offset = int(row[2]), int(row[3])
    data = bytearray(pack.read_bytes())
    for index in range(offset + 4, offset + size_in_pack - 2):
        data[index] ^= 0x5A
    pack.write_bytes(bytes(data))


def _victim(repo: Repo, rows: dict[str, list[str]], which: str) -> str:
    if which == "tree":
        return _tree_of(repo, "HEAD~1")
    if which == "commit":
        return repo.rev("HEAD~2")
    bases = {row[5] for row in rows.values() if len(row) == 6}
    deltas = [
        oid for oid, row in rows.items() if row[0] == "tree" and len(row) == 6 and oid not in bases
    ]
    assert deltas, rows
    return deltas[0]


@pytest.mark.parametrize("which", ["tree", "commit", "delta"])
def test_corrupt_object_in_pack(tmp_path: pathlib.Path, which: str) -> None:
    """One damaged object midway through history fails the walk, naming that object."""
    repo, pack = _packed_repo(tmp_path)
    rows = _pack_rows(repo, pack)
    victim = _victim(repo, rows, which)
    _garble(pack, rows[victim])
    with pytest.raises(GitHistoryError) as info:
        chain_of(repo.versions)
    message = str(info.value)
    assert str(repo.root / ".git") in message
    assert victim in message, message
    assert says_damaged(scrub(message, tmp_path)), message


def test_corrupt_blob_in_pack_is_never_read(tmp_path: pathlib.Path) -> None:
    # Like `git log --name-only`, the walk reads commits and trees only.
    repo, pack = _packed_repo(tmp_path)
    rows = _pack_rows(repo, pack)
    for row in rows.values():
        if row[0] == "blob" and len(row) == 4:
            _garble(pack, row)
            break
    else:
        raise AssertionError(rows)
    assert chain_of(repo.versions) == linear_chain(REVS)


PACKINGS = {
    "ofs-deltas": [["repack", "-a", "-d", "-q"]],
    "ref-deltas": [["-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-q"]],
    "deep-chains": [["repack", "-a", "-d", "-f", "-q", "--depth=4000", "--window=250"]],
    "midx-bitmap": [["repack", "-a", "-d", "-q"], ["multi-pack-index", "write", "--bitmap"]],
    "gc-aggressive": [["gc", "-q", "--aggressive", "--prune=now"]],
}


@pytest.mark.parametrize("packing", list(PACKINGS.values()), ids=list(PACKINGS))
def test_pack_layouts(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, packing: list[list[str]]
) -> None:
    """However git packs the history, and into however many packs, the chain is the add
    order."""
    # Every walk must read the objects, not remember them from the walk before.
    monkeypatch.setenv(CACHE_ENV, "off")
    revisions = [f"{i:02x}{'ab'[i % 2]}" for i in range(24, 0, -1)]
    repo = Repo(tmp_path / "repo")
    for index, revision in enumerate(revisions):
        repo.add_dynamic(revision)
        if index in (8, 16):
            repo.git("repack", "-d", "-q")  # an incremental pack of the commits so far
    assert chain_of(repo.versions) == linear_chain(revisions)
    for command in packing:
        repo.git(*command)
    assert chain_of(repo.versions) == linear_chain(revisions)


def test_pack_index_version_1(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    repo.git("-c", "pack.indexVersion=1", "repack", "-a", "-d", "-q")
    repo.git("prune-packed")
    (idx,) = (repo.root / ".git" / "objects" / "pack").glob("*.idx")
    assert not idx.read_bytes().startswith(b"\xfftOc")
    assert chain_of(repo.versions) == linear_chain(REVS)


def test_pack_index_with_64_bit_offsets(tmp_path: pathlib.Path) -> None:
    repo, pack = _packed_repo(tmp_path)
    idx = pack.with_suffix(".idx")
    count = len(_pack_rows(repo, pack))
    idx.unlink()
    # Objects past offset 500 go to the 64-bit offset table, as in a pack over 2 GiB.
    repo.git("index-pack", "--index-version=2,500", "-o", str(idx), str(pack))
    assert idx.stat().st_size > 8 + 256 * 4 + count * 24 + 40
    assert chain_of(repo.versions) == linear_chain(REVS)


def test_objects_in_an_alternate(tmp_path: pathlib.Path) -> None:
    source, _ = _packed_repo(tmp_path)
    clone = tmp_path / "shared"
    git(tmp_path, "clone", "-q", "--shared", str(source.root), str(clone))
    assert (clone / ".git" / "objects" / "info" / "alternates").is_file()
    assert not list((clone / ".git" / "objects" / "pack").glob("*.pack"))
    assert chain_of(clone / "alembic" / "versions") == linear_chain(REVS)


def test_loose_and_packed_objects_mixed(tmp_path: pathlib.Path) -> None:
    repo, _ = _packed_repo(tmp_path)
    for revision in ["f6", "d4"]:
        repo.add_dynamic(revision)
    assert list((repo.root / ".git" / "objects").glob("??/*"))
    assert chain_of(repo.versions) == linear_chain([*REVS, "f6", "d4"])


# --------------------------------------------------------------------------- chain file


def _versions_with_chain_file(tmp_path: pathlib.Path, content: bytes) -> pathlib.Path:
    """A versions dir outside any repository, whose chain file holds *content*."""
    versions = tmp_path / "app" / "versions"
    versions.mkdir(parents=True)
    (versions / "a1_m.py").write_text(dynamic_source("a1"))
    (tmp_path / "app" / CHAIN_FILENAME).write_bytes(content)
    return versions


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(b'{"a1": null, "b2": "a', ["not valid JSON", "truncated"], id="truncated"),
        pytest.param(b'["a1", "b2"]', ["JSON object", "list"], id="list"),
        pytest.param(b'{"a1": null, "b2": 7}', ["'b2'", "string or null"], id="int-value"),
        pytest.param(b'{"a1": null, "b2": ["a1"]}', ["'b2'"], id="list-value"),
        pytest.param(b"", ["empty"], id="empty"),
        pytest.param(b" \n\t\n", ["empty"], id="blank"),
        pytest.param(b'{"a1": "\xff"}', ["UTF-8"], id="not-utf8"),
        pytest.param(b"null", ["JSON object"], id="null"),
    ],
)
def test_malformed_chain_file(tmp_path: pathlib.Path, content: bytes, words: list[str]) -> None:
    versions = _versions_with_chain_file(tmp_path, content)
    with pytest.raises(ChainFileError) as info:
        get_down_revision("a1", versions)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert str(tmp_path / "app" / CHAIN_FILENAME) in message
    for word in words:
        assert word in scrub(message, tmp_path)


def test_chain_file_that_is_a_directory(tmp_path: pathlib.Path) -> None:
    versions = tmp_path / "app" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "app" / CHAIN_FILENAME).mkdir()
    with pytest.raises(OSError) as info:
        get_down_revision("a1", versions)
    assert isinstance(info.value, MigrationFileReadError)
    assert str(tmp_path / "app" / CHAIN_FILENAME) in str(info.value)


def test_stale_chain_file_message_is_short(tmp_path: pathlib.Path) -> None:
    chain = {f"{i:012x}": (f"{i - 1:012x}" if i else None) for i in range(500)}
    versions = _versions_with_chain_file(tmp_path, json.dumps(chain).encode())
    (versions / "fedcba987654_new.py").write_text(dynamic_source("fedcba987654"))
    assert get_down_revision("0000000001f3", versions) == "0000000001f2"
    with pytest.raises(RevisionNotFoundError) as info:
        get_down_revision("fedcba987654", versions)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "fedcba987654" in message
    assert "stale" in scrub(message, tmp_path)
    assert f"alembic-git-revisions {versions}" in message
    assert str(tmp_path / "app" / CHAIN_FILENAME) in message
    assert len(message) < 400, message


# --------------------------------------------------------------------------- migration files


def _repo_with(
    tmp_path: pathlib.Path, name: str, content: str | bytes
) -> tuple[Repo, pathlib.Path]:
    """A repository with one good migration committed, plus *content* as *name*."""
    repo = Repo(tmp_path / "repo")
    repo.add_dynamic("a1")
    path = repo.write(name, content)
    repo.commit(f"add {name}")
    return repo, path


def test_syntax_error(tmp_path: pathlib.Path) -> None:
    repo, path = _repo_with(tmp_path, "b2_bad.py", 'revision = "b2"\ndown_revision = (\n')
    with pytest.raises(MigrationFileError, match="Cannot parse migration file") as info:
        chain_of(repo.versions)
    assert str(path) in str(info.value)


def test_non_utf8_bytes(tmp_path: pathlib.Path) -> None:
    content = b'revision = "b2"\ndown_revision = "a1"\n# caf\xe9\n'
    repo, path = _repo_with(tmp_path, "b2_latin1.py", content)
    with pytest.raises(MigrationFileError) as info:
        chain_of(repo.versions)
    assert f"Cannot parse migration file {path}" in str(info.value)
    assert "UTF-8" in str(info.value)


def test_utf8_bom_parses(tmp_path: pathlib.Path) -> None:
    repo, _ = _repo_with(tmp_path, "b2_bom.py", b"\xef\xbb\xbf" + dynamic_source("b2").encode())
    assert chain_of(repo.versions) == {"a1": None, "b2": "a1"}


def test_nul_bytes(tmp_path: pathlib.Path) -> None:
    repo, path = _repo_with(tmp_path, "b2_nul.py", b'revision = "b2"\x00\ndown_revision = None\n')
    with pytest.raises(MigrationFileError) as info:
        chain_of(repo.versions)
    assert f"Cannot parse migration file {path}" in str(info.value)
    assert "NUL" in str(info.value)


def test_crlf_line_endings(tmp_path: pathlib.Path) -> None:
    content = dynamic_source("b2").replace("\n", "\r\n").encode()
    repo, _ = _repo_with(tmp_path, "b2_crlf.py", content)
    assert chain_of(repo.versions) == {"a1": None, "b2": "a1"}


def test_twenty_megabyte_migration(tmp_path: pathlib.Path) -> None:
    row = "    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',\n"
    content = dynamic_source("b2") + "DATA = [\n" + row * (20_000_000 // len(row)) + "]\n"
    assert len(content) > 19_000_000
    repo, _ = _repo_with(tmp_path, "b2_data.py", content)
    start = time.monotonic()
    assert chain_of(repo.versions) == {"a1": None, "b2": "a1"}
    assert time.monotonic() - start < 120  # a hang guard, not a speed target


# Sources CPython itself refuses (SyntaxError, MemoryError, RecursionError), some over
# the native parser's size limit and some under it (where its own depth guard applies).
DEEP_SOURCES = {
    "parens": "x = " + "(" * 100_000 + ")" * 100_000,
    "brackets": "x = " + "[" * 100_000 + "]" * 100_000,
    "unary-minus": "x = " + "-" * 500_000 + "1",
    "unary-minus-small": "x = " + "-" * 200_000 + "1",
    "not-chain": "x = " + "not " * 200_000 + "1",
    "not-chain-small": "x = " + "not " * 60_000 + "1",
    "lambdas": "x = " + "lambda: " * 30_000 + "1",
    "attributes": "x = a" + ".b" * 100_000,
    "calls": "x = f" + "()" * 50_000,
    "subscripts": "x = a" + "[0]" * 50_000,
    "powers": "x = " + "2**" * 50_000 + "2",
    "sums": "x = " + "1+" * 100_000 + "1",
    "indentation": "".join(" " * i + "if x:\n" for i in range(120)) + " " * 120 + "pass",
}


@pytest.mark.parametrize("body", list(DEEP_SOURCES.values()), ids=list(DEEP_SOURCES))
def test_pathologically_deep_nesting(tmp_path: pathlib.Path, body: str) -> None:
    source = 'revision = "b2"\n' + body + "\n"
    with pytest.raises((SyntaxError, MemoryError, RecursionError)):
        ast.parse(source)
    repo, path = _repo_with(tmp_path, "b2_deep.py", source)
    with pytest.raises(MigrationFileError) as info:
        chain_of(repo.versions)
    assert f"Cannot parse migration file {path}" in str(info.value)


def test_pathologically_deep_nesting_all_at_once_in_a_subprocess(tmp_path: pathlib.Path) -> None:
    """Every deep file in one directory, parsed by parallel workers in a fresh interpreter:
    a stack overflow would kill it with a signal instead of failing a test."""
    repo = Repo(tmp_path / "repo")
    repo.add_dynamic("a1")
    for index, body in enumerate(DEEP_SOURCES.values()):
        repo.write(f"b{index:02d}_deep.py", f'revision = "b{index:02d}"\n{body}\n')
    repo.commit("deep files")
    code = (
        "import sys, alembic_git_revisions as a\n"
        "try:\n    a.build_chain(sys.argv[1])\n"
        "except a.MigrationFileError as e:\n    print('clean', e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(repo.versions)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.startswith(f"clean Cannot parse migration file {repo.versions}/b")


def test_duplicate_revision_ids(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.add_dynamic("a1", "a1_first.py")
    repo.add_dynamic("a1", "a1_second.py")
    with pytest.raises(ChainError) as info:
        chain_of(repo.versions)
    message = str(info.value)
    assert "a1_first.py" in message
    assert "a1_second.py" in message
    assert "'a1'" in message or '"a1"' in message
    assert str(repo.versions) in message


def test_static_parents_forming_a_cycle(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("a1_m.py", static_source("a1", "c3"))
    repo.write("b2_m.py", static_source("b2", "a1"))
    repo.write("c3_m.py", static_source("c3", "b2"))
    repo.write("d4_m.py", dynamic_source("d4"))
    repo.commit()
    with pytest.raises(ChainError) as info:
        chain_of(repo.versions)
    message = str(info.value)
    assert "cycle" in scrub(message, tmp_path)
    assert all(revision in message for revision in ("a1", "b2", "c3"))
    assert str(repo.versions) in message


def test_unusual_committed_file_names_follow_commit_order(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    names = {
        "d4": "d4_caf\u00e9 \u65e5\u672c.py",
        "c3": "c3_new\nline.py",
        "b2": 'b2_"quoted".py',
        "a1": "a1_with space.py",
        "e5": "e5_back\\slash\ttab.py",
    }
    # Committed in the reverse of file name order.
    for revision in ["e5", "d4", "c3", "b2", "a1"]:
        repo.add_dynamic(revision, names[revision])
    assert chain_of(repo.versions) == linear_chain(["e5", "d4", "c3", "b2", "a1"])
    files = parse_versions_dir(repo.versions)
    assert [f.filename for f in files] == [names[r] for r in ["e5", "d4", "c3", "b2", "a1"]]
    assert [f.git_sequence for f in files] == [0, 1, 2, 3, 4]


def test_symlinked_versions_dir(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = elsewhere / "versions"
    link.symlink_to(repo.versions, target_is_directory=True)
    assert chain_of(link) == linear_chain(REVS)
    generate_chain_file(link)
    written = elsewhere / CHAIN_FILENAME
    assert json.loads(written.read_text()) == linear_chain(REVS)
    assert not (repo.versions.parent / CHAIN_FILENAME).exists()


def test_symlink_loop_inside_versions_dir(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.add_dynamic("c3")
    (repo.versions / "a1_m.py").symlink_to("b2_m.py")
    (repo.versions / "b2_m.py").symlink_to("a1_m.py")
    with pytest.raises(MigrationFileReadError) as info:
        chain_of(repo.versions)
    assert isinstance(info.value, OSError)
    message = str(info.value)
    assert str(repo.versions / "a1_m.py") in message or str(repo.versions / "b2_m.py") in message


def test_dangling_symlink_migration(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.add_dynamic("c3")
    (repo.versions / "a1_m.py").symlink_to("nowhere.py")
    with pytest.raises(MigrationFileReadError) as info:
        chain_of(repo.versions)
    assert str(repo.versions / "a1_m.py") in str(info.value)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root bypasses file permissions",
)
def test_unreadable_migration(tmp_path: pathlib.Path) -> None:
    repo, path = _repo_with(tmp_path, "b2_m.py", dynamic_source("b2"))
    path.chmod(0)
    try:
        with pytest.raises(MigrationFileReadError) as info:
            chain_of(repo.versions)
        assert str(path) in str(info.value)
        assert "ermission" in str(info.value)
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root bypasses file permissions",
)
def test_unlistable_versions_dir(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    repo.versions.chmod(0o300)
    try:
        with pytest.raises(MigrationFileReadError) as info:
            chain_of(repo.versions)
        assert str(repo.versions) in str(info.value)
    finally:
        repo.versions.chmod(0o755)


def test_directory_named_like_a_migration(tmp_path: pathlib.Path) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    (repo.versions / "f6_oops.py").mkdir()
    # An OSError, as the reference's IsADirectoryError.
    with pytest.raises(MigrationFileReadError) as info:
        chain_of(repo.versions)
    assert str(repo.versions / "f6_oops.py") in str(info.value)
    assert "is a directory" in scrub(str(info.value), tmp_path)


def test_init_py_is_skipped(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("__init__.py", "this is not even python (\n")
    repo.commit("package marker")
    for revision in REVS:
        repo.add_dynamic(revision)
    assert chain_of(repo.versions) == linear_chain(REVS)
    assert "__init__.py" not in [f.filename for f in parse_versions_dir(repo.versions)]


def test_versions_dir_missing(tmp_path: pathlib.Path) -> None:
    """The API answers as the reference does (no files, empty chain); the command line,
    where a typo would ship an empty chain file, refuses and names the directory."""
    repo = linear_repo(tmp_path / "repo", REVS)
    missing = repo.root / "alembic" / "nope"
    assert chain_of(missing) == {}
    assert parse_versions_dir(missing) == []
    from alembic_git_revisions.cli import main

    assert main(["generate", str(missing)]) == 2  # a tool error (exit 1 is for findings)
    assert not (missing.parent / "revision_chain.json").exists()


def test_no_partial_result_after_a_failure(tmp_path: pathlib.Path) -> None:
    """A failed build is not cached: fixing the repository fixes the next call."""
    repo = linear_repo(tmp_path / "repo", REVS)
    bad = repo.write("f6_bad.py", "revision = (\n")
    with pytest.raises(MigrationFileError):
        build_chain(repo.versions)
    shutil.move(bad, tmp_path / "moved.py")
    assert build_chain(repo.versions) == linear_chain(REVS)


# --------------------------------------------------------------------------- persistent cache
# A cache can only make a build faster: an unusable, corrupt or outdated cache must give
# the same chain as no cache at all. (With a build that has no persistent cache these
# tests hold trivially.)


def _cache_files(repo: Repo) -> list[pathlib.Path]:
    folder = repo.root / ".git" / "alembic-git-revisions"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def test_unusable_cache_folder_is_not_fatal(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    assert chain_of(repo.versions) == linear_chain(REVS)
    assert chain_of(repo.versions) == linear_chain(REVS)
    assert blocker.read_text() == "not a directory\n"


@pytest.mark.parametrize("damage", ["garbled", "truncated", "empty", "directory"])
def test_damaged_cache_files_are_ignored(tmp_path: pathlib.Path, damage: str) -> None:
    repo = linear_repo(tmp_path / "repo", REVS)
    assert chain_of(repo.versions) == linear_chain(REVS)
    files = _cache_files(repo)
    if not files:
        pytest.skip("this build keeps no persistent cache in the git directory")
    for path in files:
        data = path.read_bytes()
        if damage == "garbled":
            path.write_bytes(bytes(b ^ 0x5A for b in data))
        elif damage == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif damage == "empty":
            path.write_bytes(b"")
        else:
            path.unlink()
            path.mkdir()
    assert chain_of(repo.versions) == linear_chain(REVS)
    assert chain_of(repo.versions) == linear_chain(REVS)


def test_cache_follows_changes_to_files_and_history(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    (repo.root / "README").write_text("root\n")
    root = repo.commit("root")
    for revision in ["a1", "b2", "c3"]:
        repo.add_dynamic(revision)
    # Files younger than a couple of seconds are never trusted from a cache ("racy
    # git"): let them age so that the next build does cache them.
    time.sleep(2.2)
    assert chain_of(repo.versions) == linear_chain(["a1", "b2", "c3"])
    assert chain_of(repo.versions) == linear_chain(["a1", "b2", "c3"])

    # Same size, same mtime, different content: b2 becomes a hybrid.
    path = repo.versions / "b2_m.py"
    before = path.stat()
    dynamic_line = "down_revision = get_down_revision(revision)"
    static_line = 'down_revision = "a1"  # hardcoded'.ljust(len(dynamic_line), ".")
    edited = dynamic_source("b2").replace(dynamic_line, static_line)
    assert len(edited.encode()) == before.st_size
    path.write_text(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert chain_of(repo.versions) == {"a1": None, "c3": "b2"}

    # A new, uncommitted file and a removed one.
    (repo.versions / "c3_m.py").unlink()
    repo.write("d4_m.py", dynamic_source("d4"))
    assert chain_of(repo.versions) == {"a1": None, "d4": "b2"}

    # History rewritten: the same files added in another order.
    (repo.versions / "d4_m.py").unlink()
    repo.git("reset", "-q", "--hard", root)
    repo.versions.mkdir(parents=True)  # git removed it with its last file
    for revision in ["c3", "b2", "a1"]:
        repo.add_dynamic(revision)
    assert chain_of(repo.versions) == linear_chain(["c3", "b2", "a1"])
