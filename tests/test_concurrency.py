"""Concurrent use: many processes writing the chain file, many threads asking for a
chain that is not built yet, and Ctrl-C in the middle of a long history walk.

Histories are written with one ``git fast-import`` run each, with fixed dates, and git
isolated from the user's and the system's configuration.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from alembic_git_revisions import CHAIN_FILENAME, _native, build_chain, get_down_revision

EPOCH = 1_600_000_000
ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


def git(cwd: pathlib.Path, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        env=git_env(),
        input=stdin,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout


def migration(revision: str) -> bytes:
    return (
        "from alembic_git_revisions import get_down_revision\n\n"
        f'revision = "{revision}"\n'
        "down_revision = get_down_revision(revision)\n"
    ).encode()


class Stream:
    """A ``git fast-import`` stream of commits on ``main``."""

    def __init__(self, first_date: int = EPOCH) -> None:
        self.parts: list[bytes] = []
        self.date = first_date

    def commit(self, commands: bytes, *, parent: bytes | None = None) -> None:
        self.date += 1
        message = b"commit %d" % self.date
        self.parts.append(
            b"commit refs/heads/main\n"
            b"author T <t@example.com> %d +0000\n"
            b"committer T <t@example.com> %d +0000\n"
            b"data %d\n%s\n" % (self.date, self.date, len(message), message)
        )
        if parent is not None:
            self.parts.append(b"from " + parent + b"\n")
        self.parts.append(commands)

    def run(self, root: pathlib.Path) -> None:
        git(root, "fast-import", "--quiet", "--done", stdin=b"".join([*self.parts, b"done\n"]))


def inline_file(path: str, content: bytes) -> bytes:
    return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(content), content)


def migrations_repo(root: pathlib.Path, count: int) -> tuple[pathlib.Path, dict[str, str | None]]:
    """*count* dynamic migrations, one commit each, checked out; and their chain.

    Revision ids are in reverse file name order, so a chain by name would differ.
    """
    root.mkdir(parents=True)
    git(root, "init", "-q")
    stream = Stream()
    revisions = [f"{count - i:04x}aa" for i in range(count)]
    for revision in revisions:
        stream.commit(inline_file(f"alembic/versions/{revision}_m.py", migration(revision)))
    stream.run(root)
    git(root, "checkout", "-q", "-f", "main")
    chain = {rev: (revisions[i - 1] if i else None) for i, rev in enumerate(revisions)}
    return root / "alembic" / "versions", chain


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    build_chain.cache_clear()
    yield
    build_chain.cache_clear()


# --------------------------------------------------------------------------- processes

GENERATE = (
    "import sys\n"
    "from alembic_git_revisions import generate_chain_file\n"
    "generate_chain_file(sys.argv[1])\n"
)


def test_parallel_generate_chain_file_processes(tmp_path: pathlib.Path) -> None:
    versions, expected = migrations_repo(tmp_path / "repo", 300)
    chain_file = versions.parent / CHAIN_FILENAME
    for _round in range(2):
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", GENERATE, str(versions)],
                env=git_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(8)
        ]
        # Meanwhile, every read of the file sees a whole chain, never a partial one.
        while any(process.poll() is None for process in processes):
            try:
                text = chain_file.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = None
            if text is not None:
                assert json.loads(text) == expected
            time.sleep(0.002)
        for process in processes:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err.decode()
            assert b"300 revisions" in out
        assert json.loads(chain_file.read_text(encoding="utf-8")) == expected
        assert sorted(p.name for p in chain_file.parent.iterdir()) == [CHAIN_FILENAME, "versions"]
    assert build_chain(versions) == expected


# --------------------------------------------------------------------------- threads


def _counting_analyze(monkeypatch: pytest.MonkeyPatch) -> list[list[pathlib.Path]]:
    calls: list[list[pathlib.Path]] = []
    real = _native.analyze

    def counting(dirs: list[pathlib.Path], **options: bool) -> list[_native.DirAnalysis]:
        calls.append(list(dirs))
        # Widen the window in which other threads find the directory still cold.
        time.sleep(0.05)
        return real(dirs, **options)

    monkeypatch.setattr(_native, "analyze", counting)
    return calls


def _run_threads(
    count: int, target: Callable[[int], object]
) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = target(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    return results, errors


def test_threads_on_a_cold_directory_build_once(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions, expected = migrations_repo(tmp_path / "repo", 40)
    revision = list(expected)[20]
    calls = _counting_analyze(monkeypatch)
    results, errors = _run_threads(16, lambda _i: get_down_revision(revision, versions))
    assert errors == []
    assert results == [expected[revision]] * 16
    assert len(calls) == 1


def test_threads_naming_one_directory_differently_build_once(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``str``, ``Path`` and a trailing slash name the same directory: one build."""
    versions, expected = migrations_repo(tmp_path / "repo", 40)
    revision = list(expected)[20]
    spellings: list[str | pathlib.Path] = [versions, str(versions), f"{versions}/"]
    calls = _counting_analyze(monkeypatch)
    results, errors = _run_threads(
        12, lambda i: get_down_revision(revision, spellings[i % len(spellings)])
    )
    assert errors == []
    assert results == [expected[revision]] * 12
    assert len(calls) == 1, calls


def test_threads_on_different_directories(tmp_path: pathlib.Path) -> None:
    repos = [migrations_repo(tmp_path / f"repo{i}", 20 + 7 * i) for i in range(4)]
    results, errors = _run_threads(8, lambda i: dict(build_chain(repos[i % 4][0])))
    assert errors == []
    assert results == [repos[i % 4][1] for i in range(8)]


def test_threads_on_directories_sharing_one_repository(tmp_path: pathlib.Path) -> None:
    """Two versions directories of one repository, built at once (each build walks the
    history and writes the repository's cache)."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    stream = Stream()
    order: dict[str, list[str]] = {"one": [], "two": []}
    for index in range(30):
        directory = "one" if index % 3 else "two"
        revision = f"{999 - index:03x}{directory[0]}"
        order[directory].append(revision)
        stream.commit(inline_file(f"{directory}/versions/{revision}_m.py", migration(revision)))
    stream.run(root)
    git(root, "checkout", "-q", "-f", "main")
    expected = {
        name: {rev: (revs[i - 1] if i else None) for i, rev in enumerate(revs)}
        for name, revs in order.items()
    }
    names = ["one", "two"] * 4
    results, errors = _run_threads(
        len(names), lambda i: dict(build_chain(root / names[i] / "versions"))
    )
    assert errors == []
    assert results == [expected[name] for name in names]
    build_chain.cache_clear()
    assert dict(build_chain(root / "one" / "versions")) == expected["one"]
    assert dict(build_chain(root / "two" / "versions")) == expected["two"]


# --------------------------------------------------------------------------- Ctrl-C

COMMITS = 20_000
WIDTH = 1_000


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A 20k-commit history whose walk takes seconds: each commit swaps a 1000-entry tree.

    Two fast-import runs: the first creates the two trees, the second alternates
    between them by id, so writing the history costs little while walking it diffs
    two large trees per commit.
    """
    root = tmp_path_factory.mktemp("big") / "repo"
    root.mkdir()
    git(root, "init", "-q")
    first = Stream()
    first.commit(
        inline_file("alembic/versions/a1_m.py", migration("a1"))
        + b"".join(b"M 100644 inline data/x%d.txt\ndata 1\nx\n" % i for i in range(WIDTH))
    )
    first.commit(
        b"D data\n"
        + b"".join(b"M 100644 inline data/y%d.txt\ndata 1\ny\n" % i for i in range(WIDTH))
    )
    first.run(root)
    trees = [git(root, "rev-parse", spec).strip() for spec in ("main~1:data", "main:data")]
    second = Stream(first.date)
    for index in range(COMMITS - 2):
        parent = b"refs/heads/main^0" if index == 0 else None
        second.commit(b"M 040000 %s data\n" % trees[index % 2], parent=parent)
    second.run(root)
    assert git(root, "rev-list", "--count", "main").strip() == str(COMMITS).encode()
    # Only the versions directory is needed on disk; skip checking out the data files.
    git(root, "symbolic-ref", "HEAD", "refs/heads/main")
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (versions / "a1_m.py").write_bytes(migration("a1"))
    return versions


BUILD = (
    "import sys\n"
    "from alembic_git_revisions import build_chain\n"
    "print('ready', flush=True)\n"
    "build_chain(sys.argv[1])\n"
    "print('finished', flush=True)\n"
)


CLI = (
    "import sys\n"
    "from alembic_git_revisions import cli\n"
    "print('ready', flush=True)\n"
    "sys.exit(cli.main(['generate', sys.argv[1]]))\n"
)


def _default_sigint() -> None:
    # A test runner started in the background by a shell without job control inherits
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler: the child
    # must see Ctrl-C as a terminal's user would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(code: str, versions: pathlib.Path) -> tuple[subprocess.Popen[str], str, str, float]:
    """Run *code*, wait for its ``ready``, SIGINT it 0.05 s later; time the exit."""
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(versions)],
        env={**git_env(), "ALEMBIC_GIT_REVISIONS_CACHE": "off"},
        preexec_fn=_default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        time.sleep(0.05)
        assert process.poll() is None, (
            "the walk ended within 0.05 s, before it could be interrupted: make big_repo's "
            "history heavier to walk"
        )
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        return process, out, err, time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_ctrl_c_during_a_long_walk(big_repo: pathlib.Path) -> None:
    process, out, err, elapsed = _interrupt(BUILD, big_repo)
    assert "finished" not in out
    assert "KeyboardInterrupt" in err, err
    assert process.returncode == -signal.SIGINT, (process.returncode, err)
    assert elapsed < 5.0, f"took {elapsed:.2f} s to stop after SIGINT (a hang?)"


def test_ctrl_c_during_generate_leaves_no_file(big_repo: pathlib.Path) -> None:
    process, _out, err, elapsed = _interrupt(CLI, big_repo)
    assert process.returncode == 130, (process.returncode, err)
    assert "interrupted" in err
    assert elapsed < 5.0, f"took {elapsed:.2f} s to stop after SIGINT (a hang?)"
    leftovers = [p.name for p in big_repo.parent.iterdir() if p.name != "versions"]
    assert leftovers == []
