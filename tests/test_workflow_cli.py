"""The workflow commands end to end: ``check``, ``chain``, ``graph``, ``init``, ``rewrite``.

* Real Alembic on SQLite: a project whose migrations derive ``down_revision`` is
  merged safely (one head, every table created) and unsafely (a fast-forward onto a
  feature-first merge slots a new migration before deployed ones; ``alembic upgrade
  head`` then silently skips it, which is what ``check`` exists to prevent).
* Real checkouts as the oracle: ``chain --at REF`` must equal ``build_chain`` on a
  worktree of REF, and ``check`` must fail exactly when a revision present at the
  base got another parent, on generated histories with merges in both parent orders,
  fast-forwards and renames.
* Each failure ``check`` promises (stale chain file, duplicate ids, several heads, a
  dangling parent, a shallow clone), ``graph`` output, ``init`` and the post-write hook
  on a stock ``alembic init`` project, and ``--config`` with several version locations.

Git runs isolated from the user's configuration with fixed dates (see ``gitrepo``).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import json
import os
import pathlib
import random
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence

import gitrepo
import pytest
from alembic_git_revisions import (
    ChainError,
    ShallowCloneError,
    build_chain,
    build_chain_at,
    check_append_only,
    generate_chain_file,
)
from alembic_git_revisions.cli import main as agr_main
from gitrepo import Dynamic, Repo, migration_source

BIN = pathlib.Path(sys.executable).parent
AGR = BIN / "alembic-git-revisions"
ALEMBIC = BIN / "alembic"

ROOT = "1a2b3c4d5e6f"
A = "aaaa00000001"
B = "bbbb00000002"
F = "ffff00000003"
X = "cccc00000004"
Y = "dddd00000005"

#: The versions directory of the Alembic projects below, relative to the repository.
PROJECT_VERSIONS = "migrations/versions"


@pytest.fixture(autouse=True)
def _fresh_chains() -> Iterator[None]:
    """``build_chain`` caches per directory and process: start and end each test empty."""
    build_chain.cache_clear()
    yield
    build_chain.cache_clear()


# ------------------------------------------------------------------------- running


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: int
    out: str
    err: str


def agr(*args: str | os.PathLike[str]) -> Outcome:
    """``alembic-git-revisions args`` in this process (fast); its status and output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = agr_main([os.fspath(a) for a in args])
    return Outcome(status, out.getvalue(), err.getvalue())


def _env() -> dict[str, str]:
    # No bytecode: a checkout can change a migration within one mtime tick.
    return gitrepo.git_env(PYTHONDONTWRITEBYTECODE="1")


def run(cwd: pathlib.Path, *argv: str | os.PathLike[str]) -> Outcome:
    """Run a command of the virtualenv (or git) as a user would, in *cwd*."""
    proc = subprocess.run(
        [os.fspath(a) for a in argv],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def alembic(project: pathlib.Path, *args: str) -> str:
    """The ``alembic`` command in *project*; its stdout. Fails the test on an error."""
    result = run(project, ALEMBIC, *args)
    assert result.status == 0, f"alembic {' '.join(args)}:\n{result.out}{result.err}"
    return result.out


def tables(database: pathlib.Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows} - {"alembic_version"}


def db_version(database: pathlib.Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]


class GitWorkdir:
    """A repository driven by real git commands, one minute apart from a fixed date."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.clock = gitrepo.EPOCH
        path.mkdir(parents=True)
        self.git("-c", "init.defaultBranch=main", "init", "-q")
        for key, value in (
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
            ("core.autocrlf", "false"),
            ("gc.auto", "0"),
        ):
            self.git("config", key, value)

    def git(self, *args: str) -> str:
        self.clock += 60
        stamp = f"@{self.clock} +0000"
        proc = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=gitrepo.git_env(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp),
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"git {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
        return proc.stdout

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write *files*, ``git add -A && git commit``; the new commit's id."""
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


# ------------------------------------------------------------ an Alembic project

ENV_PY = """\
from alembic import context
from sqlalchemy import create_engine

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/migrations
path_separator = os
sqlalchemy.url = sqlite:///%(here)s/app.db
"""


def table_migration(
    revision: str, table: str, parent: str | None = None, *, dynamic: bool = True
) -> str:
    """A migration creating table *table*; dynamic unless *dynamic* is false."""
    if dynamic:
        imports = "from alembic_git_revisions import get_down_revision\n"
        down = "get_down_revision(revision)"
    else:
        imports = ""
        down = repr(parent)
    return (
        f'"""create {table}"""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n"
        f"{imports}\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down}\n\n\n"
        "def upgrade() -> None:\n"
        f"    op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True))\n\n\n"
        "def downgrade() -> None:\n"
        f"    op.drop_table({table!r})\n"
    )


def migration_file(revision: str, table: str) -> dict[str, str]:
    """A dynamic migration creating *table*, as a ``{path: text}`` to commit."""
    return {f"{PROJECT_VERSIONS}/{revision}_create_{table}.py": table_migration(revision, table)}


def alembic_project(path: pathlib.Path) -> GitWorkdir:
    """A repository holding an Alembic project whose static root creates ``root``."""
    work = GitWorkdir(path)
    work.commit(
        {
            ".gitignore": "*.db\n__pycache__/\n",
            "alembic.ini": ALEMBIC_INI,
            "migrations/env.py": ENV_PY,
            f"{PROJECT_VERSIONS}/{ROOT}_create_root.py": table_migration(
                ROOT, "root", None, dynamic=False
            ),
        },
        "Initial schema",
    )
    return work


def deployed_project(path: pathlib.Path) -> tuple[GitWorkdir, pathlib.Path]:
    """main: root, then A and B (dynamic), tagged ``deployed``, with a database upgraded
    to it; branch ``feature`` forked before A. The working tree is at ``main``."""
    work = alembic_project(path)
    work.git("branch", "feature")
    work.commit(migration_file(A, "a"), "Add a")
    work.commit(migration_file(B, "b"), "Add b")
    work.git("tag", "deployed")
    database = path / "app.db"
    alembic(path, "upgrade", "head")
    assert tables(database) == {"root", "a", "b"}
    assert db_version(database) == [B]
    return work, database


# ---------------------------------------------------------------- 1. real Alembic


def test_no_ff_merges_of_two_feature_branches_give_one_head(tmp_path: pathlib.Path) -> None:
    work = alembic_project(tmp_path / "proj")
    work.git("checkout", "-q", "-b", "feature-x")
    work.commit(migration_file(X, "x"), "Add x")
    work.git("checkout", "-q", "-b", "feature-y", "main")
    work.commit(migration_file(Y, "y"), "Add y")
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--no-ff", "--no-edit", "feature-x")
    work.git("merge", "-q", "--no-ff", "--no-edit", "feature-y")

    # Both branches hardcoded nothing; git order (reversed --topo-order) is x, then y.
    assert build_chain(work.path / PROJECT_VERSIONS) == {X: ROOT, Y: X}
    assert alembic(work.path, "heads").split() == [Y, "(head)"]
    alembic(work.path, "upgrade", "head")
    assert tables(work.path / "app.db") == {"root", "x", "y"}
    assert db_version(work.path / "app.db") == [Y]


def test_fast_forward_onto_a_feature_first_merge_is_caught(tmp_path: pathlib.Path) -> None:
    work, database = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    # The feature branch (forked before A) adds F and merges main into itself with
    # itself as first parent; main is then fast-forwarded onto that merge.
    work.git("checkout", "-q", "feature")
    f_commit = work.commit(migration_file(F, "f"), "Add f")
    work.git("merge", "-q", "--no-edit", "main")
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--ff-only", "feature")

    # Git order is now root, F, A, B: A's parent moved from the root to F.
    assert build_chain(versions) == {F: ROOT, A: F, B: A}

    result = check_append_only(versions, base="deployed")
    assert not result.ok
    assert [
        (f.kind, f.revision, f.old_parents, f.new_parents, f.inserted, f.commit)
        for f in result.findings
    ] == [
        ("parent-changed", A, (ROOT,), (F,), F, f_commit),
    ]
    assert result.summary == f"{versions}: 1 problem found"

    cli = run(work.path, AGR, "check", PROJECT_VERSIONS, "--base", "deployed")
    assert cli.status == 1, cli
    assert cli.out == ""
    assert f"{PROJECT_VERSIONS}: 1 problem found" in cli.err
    assert f"[parent-changed] {A} ({A}_create_a.py): parent changed {ROOT} -> {F}" in cli.err
    assert f"new migration {F} was inserted before it" in cli.err
    assert f"first added in commit {f_commit[:10]}" in cli.err

    # The danger, concretely: the database at `deployed` believes F already ran.
    assert alembic(work.path, "heads").split() == [B, "(head)"]
    alembic(work.path, "upgrade", "head")
    assert db_version(database) == [B]
    assert tables(database) == {"root", "a", "b"}, "F's table must be missing: the bug"


def test_no_ff_merge_with_main_first_passes_check(tmp_path: pathlib.Path) -> None:
    work, database = deployed_project(tmp_path / "proj")
    versions = work.path / PROJECT_VERSIONS
    work.git("checkout", "-q", "feature")
    work.commit(migration_file(F, "f"), "Add f")
    work.git("checkout", "-q", "main")
    work.git("merge", "-q", "--no-ff", "--no-edit", "feature")

    # Merged the other way round, F lands after the deployed migrations.
    assert build_chain(versions) == {A: ROOT, B: A, F: B}
    result = check_append_only(versions, base="deployed")
    assert result.ok, result.findings
    summary = f"{versions}: OK, 4 migrations, 1 head, append-only over deployed"
    assert result.summary == summary

    cli = run(work.path, AGR, "check", versions, "--base", "deployed")
    assert (cli.status, cli.out, cli.err) == (0, summary + "\n", "")

    alembic(work.path, "upgrade", "head")
    assert db_version(database) == [F]
    assert tables(database) == {"root", "a", "b", "f"}


# ------------------------------------------------------- generated histories

GEN_VERSIONS = "app/migrations/versions"
GEN_ROOT = "0123456789ab"
SEEDS = range(10)


@dataclasses.dataclass
class History:
    """A generated repository and the chains of its commits as real checkouts see them."""

    seed: int
    repo: Repo
    worktrees: pathlib.Path
    _chains: dict[str, dict[str, str | None]] = dataclasses.field(default_factory=dict)

    @property
    def versions(self) -> pathlib.Path:
        return self.repo.path / GEN_VERSIONS

    def checkout(self, sha: str) -> pathlib.Path:
        """The versions directory in a linked worktree checked out at *sha*."""
        worktree = self.worktrees / sha[:12]
        if not worktree.exists():
            self.repo.git("worktree", "add", "-q", "--detach", worktree, sha)
        return worktree / GEN_VERSIONS

    def chain_at(self, sha: str) -> dict[str, str | None]:
        """``build_chain`` on a real checkout of *sha* (memoized)."""
        if sha not in self._chains:
            self._chains[sha] = dict(build_chain(self.checkout(sha)))
        return self._chains[sha]


def generate_history(path: pathlib.Path, seed: int) -> Repo:
    """Branches adding dynamic migrations, renames, and merges of every kind.

    The first commit predates the versions directory, the second adds only the static
    root. Merges pick ``--no-ff`` or a fast-forward, and either parent order (the
    feature-first order followed by a fast-forward is the one that reorders).
    """
    rng = random.Random(seed)
    repo = Repo(path)
    repo.commit({"README.md": f"seed {seed}\n"}, "Initial commit")
    repo.commit(
        {f"{GEN_VERSIONS}/{GEN_ROOT}_initial.py": migration_source(GEN_ROOT, None)},
        "Initial schema",
    )
    branches = ["main"]
    styles = ("plain", "annotated", "alias")
    for step in range(rng.randint(14, 22)):
        branch = rng.choice(branches)
        repo.checkout(branch)
        roll = rng.random()
        if roll < 0.2 and len(branches) < 4:
            name = f"feature-{step}"
            repo.branch(name)
            branches.append(name)
        elif roll < 0.6:
            revision = f"{rng.getrandbits(48):012x}"
            source = migration_source(revision, Dynamic(rng.choice(styles)))
            repo.commit({f"{GEN_VERSIONS}/{revision}_step{step}.py": source}, f"Add {revision}")
        elif roll < 0.7:
            # Renaming to a fixed name: two branches renaming one file cannot duplicate it.
            movable = sorted(
                p
                for p in repo.tree()
                if p.startswith(GEN_VERSIONS + "/")
                and GEN_ROOT not in p
                and not p.endswith("_renamed.py")
            )
            if movable:
                source_path = rng.choice(movable)
                revision = pathlib.PurePosixPath(source_path).name.split("_")[0]
                repo.mv(source_path, f"{GEN_VERSIONS}/{revision}_renamed.py")
        elif roll < 0.75:
            repo.commit({"notes.txt": f"step {step}\n"}, f"Notes {step}")
        else:
            others = [b for b in branches if b != branch]
            if others:
                repo.merge(
                    rng.choice(others),
                    no_ff=rng.random() < 0.6,
                    order=rng.choice(("ours-first", "theirs-first")),
                )
    repo.checkout("main")
    for other in branches[1:]:
        repo.merge(
            other, no_ff=rng.random() < 0.6, order=rng.choice(("ours-first", "theirs-first"))
        )
    repo.flush()
    return repo


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> list[History]:
    base = tmp_path_factory.mktemp("histories")
    return [
        History(seed, generate_history(base / f"repo-{seed}", seed), base / f"worktrees-{seed}")
        for seed in SEEDS
    ]


def _sample_refs(history: History) -> list[int]:
    """Marks to look at: the root-only commit, a few random ones, and main's tip."""
    rng = random.Random(1000 + history.seed)
    marks = sorted(history.repo.commits)
    picked = {2, history.repo.tip("main")}
    picked.update(rng.sample(marks[2:], min(3, len(marks) - 2)))
    return sorted(m for m in picked if m is not None)


def test_chain_at_equals_a_real_checkout(histories: list[History]) -> None:
    compared = 0
    fewer_files = 0
    for history in histories:
        head_chain = history.chain_at(history.repo.sha("main"))
        for mark in _sample_refs(history):
            sha = history.repo.sha(mark)
            expected = history.chain_at(sha)
            result = agr("chain", history.versions, "--at", sha, "--format", "revision-chain")
            context = f"seed {history.seed}, commit {mark} ({sha})"
            assert result.status == 0, f"{context}: {result.err}"
            assert result.err == "", context
            assert result.out == json.dumps(expected, indent=2, sort_keys=True) + "\n", context
            document = json.loads(
                agr("chain", history.versions, "--at", sha, "--format", "json").out
            )
            (entry,) = document["directories"]
            assert (entry["path"], entry["ref"]) == (str(history.versions), sha), context
            assert entry["chain"] == expected, context
            assert build_chain_at(history.versions, sha) == expected, context
            compared += 1
            fewer_files += len(expected) < len(head_chain)
    assert compared >= 4 * len(SEEDS)
    assert fewer_files >= len(SEEDS), "every history has a commit with fewer migrations"


def test_chain_at_ref_before_the_versions_dir_existed(histories: list[History]) -> None:
    """Before the directory existed there were no migrations: an empty chain, not an
    error, so that ``check --base`` against such a commit passes (all is appended)."""
    history = histories[0]
    first = history.repo.sha(1)
    assert not history.checkout(first).exists()
    result = agr("chain", history.versions, "--at", first, "--format", "revision-chain")
    assert (result.status, result.out, result.err) == (0, "{}\n", "")
    assert build_chain_at(history.versions, first) == {}
    check = agr("check", history.versions, "--base", first)
    assert (check.status, check.err) == (0, "")


def _bases(history: History) -> list[int]:
    """Ancestors of main's tip (the deployed commit is one) from the root-only one on."""
    tip = history.repo.tip("main")
    assert tip is not None
    ancestors = sorted(m for m in history.repo.ancestors(tip) if m >= 2)
    rng = random.Random(2000 + history.seed)
    return sorted({2, *rng.sample(ancestors, min(4, len(ancestors)))})


def test_check_fails_exactly_when_a_deployed_parent_changes(
    histories: list[History], tmp_path: pathlib.Path
) -> None:
    outcomes: list[bool] = []
    for history in histories:
        head = history.chain_at(history.repo.sha("main"))
        for mark in _bases(history):
            sha = history.repo.sha(mark)
            base = history.chain_at(sha)
            changed = sorted(r for r, parent in base.items() if head.get(r, "<gone>") != parent)
            expected_ok = not changed
            context = f"seed {history.seed}, base commit {mark}: changed {changed}"

            by_base = check_append_only(history.versions, base=sha)
            assert by_base.ok == expected_ok, f"{context}: {by_base.findings}"
            assert sorted(f.revision for f in by_base.findings) == changed, context
            assert {f.kind for f in by_base.findings} <= {"parent-changed", "renamed"}, context
            for finding in by_base.findings:
                # A renamed finding is a parent change that a rename since the base caused.
                assert (finding.kind == "renamed") == (finding.old_filename is not None), context
                assert finding.old_parents == (base[finding.revision],), context
                assert finding.new_parents == (head[finding.revision],), context

            # The same check against a chain file generated at the base commit.
            base_versions = history.checkout(sha)
            with contextlib.redirect_stdout(io.StringIO()):
                generate_chain_file(base_versions)
            generated = base_versions.parent / "revision_chain.json"
            previous = tmp_path / f"chain-{history.seed}-{mark}.json"
            previous.write_bytes(generated.read_bytes())
            generated.unlink()
            assert json.loads(previous.read_text()) == base, context
            by_file = check_append_only(history.versions, previous_chain=previous)
            assert by_file.ok == expected_ok, f"{context}: {by_file.findings}"
            assert sorted(f.revision for f in by_file.findings) == changed, context

            status = 0 if expected_ok else 1
            assert agr("check", history.versions, "--base", sha).status == status, context
            cli = agr("check", history.versions, "--previous-chain", previous)
            assert cli.status == status, context
            for revision in changed:
                assert f"[parent-changed] {revision} " in cli.err, context
            outcomes.append(expected_ok)
    # The generator must produce both safe and reordering histories to prove anything.
    assert outcomes.count(True) >= 3 and outcomes.count(False) >= 3, outcomes


# ------------------------------------------------------------- check failures


def _repo(path: pathlib.Path, files: dict[str, bytes | str]) -> pathlib.Path:
    """A repository with one commit of *files* under ``m/versions``; that directory."""
    repo = Repo(path)
    repo.commit({f"m/versions/{name}": source for name, source in files.items()})
    repo.flush()
    return path / "m" / "versions"


def test_check_fails_on_a_stale_chain_file(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            f"m/versions/{ROOT}_root.py": migration_source(ROOT, None),
            f"m/versions/{A}_a.py": migration_source(A, Dynamic()),
        }
    )
    repo.flush()
    versions = repo.path / "m" / "versions"
    with contextlib.redirect_stdout(io.StringIO()):
        generate_chain_file(versions)
    assert agr("check", versions).status == 0
    repo.commit({f"m/versions/{B}_b.py": migration_source(B, Dynamic())})
    repo.flush()

    result = check_append_only(versions)
    assert [f.kind for f in result.findings] == ["stale-chain-file"]
    cli = agr("check", versions)
    assert cli.status == 1
    chain_file = repo.path / "m" / "revision_chain.json"
    assert (
        f"[stale-chain-file] {chain_file} disagrees with git history on 1 revision "
        f"(first: {B}); regenerate it with: alembic-git-revisions {versions}" in cli.err
    )


def test_check_fails_on_duplicate_revision_ids(tmp_path: pathlib.Path) -> None:
    versions = _repo(
        tmp_path / "repo",
        {
            f"{ROOT}_root.py": migration_source(ROOT, None),
            f"{A}_first.py": migration_source(A, Dynamic()),
            f"{B}_second.py": migration_source(A, Dynamic()),
        },
    )
    with pytest.raises(ChainError, match=rf"{A}_first\.py.*{B}_second\.py"):
        check_append_only(versions)
    cli = agr("check", versions)
    assert cli.status == 2
    assert cli.out == ""
    assert cli.err.startswith("alembic-git-revisions: error: ")
    assert f"{A}_first.py" in cli.err and f"{B}_second.py" in cli.err
    assert A in cli.err


def test_check_fails_on_two_static_roots(tmp_path: pathlib.Path) -> None:
    versions = _repo(
        tmp_path / "repo",
        {
            f"{ROOT}_root.py": migration_source(ROOT, None),
            f"{X}_other_root.py": migration_source(X, None),
            f"{Y}_child.py": migration_source(Y, X),
        },
    )
    result = check_append_only(versions)
    assert [f.kind for f in result.findings] == ["multiple-heads"]
    cli = agr("check", versions)
    assert cli.status == 1
    assert f"[multiple-heads] {versions} has 2 heads ({ROOT}, {Y}); Alembic will refuse" in cli.err


def test_check_fails_on_a_dangling_static_parent(tmp_path: pathlib.Path) -> None:
    # A typo in a hardcoded parent: that migration hangs off nothing, a second head.
    versions = _repo(
        tmp_path / "repo",
        {
            f"{ROOT}_root.py": migration_source(ROOT, None),
            f"{X}_x.py": migration_source(X, ROOT),
            f"{Y}_y.py": migration_source(Y, "deadbeef0000"),
        },
    )
    result = check_append_only(versions)
    assert [(f.kind, f.revision) for f in result.findings] == [
        ("dangling-parent", Y),
        ("multiple-heads", None),
    ]
    cli = agr("check", versions)
    assert cli.status == 1
    assert cli.out == ""
    assert (
        f"[dangling-parent] {Y}_y.py: down_revision 'deadbeef0000' is not a "
        f"revision in {versions}." in cli.err
    )
    assert f"[multiple-heads] {versions} has 2 heads ({X}, {Y})" in cli.err


def test_check_fails_on_a_shallow_clone(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "full")
    repo.commit({f"m/versions/{ROOT}_root.py": migration_source(ROOT, None)})
    repo.commit({f"m/versions/{A}_a.py": migration_source(A, Dynamic())})
    repo.flush()
    clone = tmp_path / "shallow"
    gitrepo.run_git(tmp_path, "clone", "-q", "--depth", "1", repo.path.as_uri(), clone)
    versions = clone / "m" / "versions"
    with pytest.raises(ShallowCloneError):
        check_append_only(versions)
    cli = run(tmp_path, AGR, "check", versions)
    assert cli.status == 2
    assert cli.out == ""
    assert "shallow clone" in cli.err
    assert "git fetch --unshallow" in cli.err
    assert "Traceback" not in cli.err


# -------------------------------------------------------------------- graph


def unsafe_history(path: pathlib.Path) -> tuple[Repo, pathlib.Path]:
    """The fast-forward scenario of the README, built by the model; tag ``deployed``."""
    repo = Repo(path)
    versions = "m/versions"
    repo.commit({f"{versions}/{ROOT}_root.py": migration_source(ROOT, None)})
    repo.branch("feature")
    repo.commit({f"{versions}/{A}_a.py": migration_source(A, Dynamic())})
    deployed = repo.commit({f"{versions}/{B}_b.py": migration_source(B, Dynamic())})
    repo.checkout("feature")
    repo.commit({f"{versions}/{F}_f.py": migration_source(F, Dynamic())})
    repo.merge("main")
    repo.checkout("main")
    repo.fast_forward("feature")
    repo.flush()
    repo.git("tag", "deployed", repo.sha(deployed))
    return repo, path / versions


MERMAID_EDGE = re.compile(r"^ {4}r_(\w+) (-->|==>|-\.->\|base\|) r_(\w+)$")
DOT_EDGE = re.compile(r"^ {2}r_(\w+) -> r_(\w+)( \[.*\])?;$")


def mermaid_edges(text: str) -> list[tuple[str, str, str]]:
    return [(m[1], m[2], m[3]) for m in map(MERMAID_EDGE.match, text.splitlines()) if m]


def dot_edges(text: str) -> list[tuple[str, str, str]]:
    return [(m[1], m[3] or "", m[2]) for m in map(DOT_EDGE.match, text.splitlines()) if m]


def test_graph_mermaid_has_one_edge_per_derived_parent(tmp_path: pathlib.Path) -> None:
    _, versions = unsafe_history(tmp_path / "repo")
    chain = build_chain(versions)
    assert chain == {F: ROOT, A: F, B: A}

    result = agr("graph", versions)
    assert result.status == 0
    assert result.out.startswith(("flowchart", "graph"))
    edges = mermaid_edges(result.out)
    assert sorted(edges) == sorted((child, "-->", parent) for child, parent in chain.items())
    for revision in (ROOT, A, B, F):
        assert re.search(rf"^ {{8}}r_{revision}\[", result.out, re.MULTILINE), revision

    at_deployed = agr("graph", versions, "--at", "deployed")
    assert sorted(mermaid_edges(at_deployed.out)) == [(A, "-->", ROOT), (B, "-->", A)]

    with_base = agr("graph", versions, "--base", "deployed")
    assert with_base.status == 0
    assert sorted(mermaid_edges(with_base.out)) == sorted([*edges, (A, "-.->|base|", ROOT)])


def test_graph_dot(tmp_path: pathlib.Path) -> None:
    _, versions = unsafe_history(tmp_path / "repo")
    result = agr("graph", versions, "--format", "dot")
    assert result.status == 0
    assert result.out.startswith("digraph")
    assert result.out.rstrip().endswith("}")
    edges = dot_edges(result.out)
    assert sorted(edges) == sorted([(F, "", ROOT), (A, "", F), (B, "", A)])

    with_base = agr("graph", versions, "--format", "dot", "--base", "deployed")
    assert sorted(dot_edges(with_base.out)) == sorted(
        [*edges, (A, ' [style=dashed,label="base"]', ROOT)]
    )


def test_graph_draws_hardcoded_parents_apart(tmp_path: pathlib.Path) -> None:
    versions = _repo(
        tmp_path / "repo",
        {
            f"{ROOT}_root.py": migration_source(ROOT, None),
            f"{X}_x.py": migration_source(X, ROOT),
            f"{A}_a.py": migration_source(A, Dynamic()),
        },
    )
    assert build_chain(versions) == {A: X}
    edges = mermaid_edges(agr("graph", versions).out)
    assert sorted(edges) == [(A, "-->", X), (X, "==>", ROOT)]


# --------------------------------------------------------------------- init


def stock_project(path: pathlib.Path) -> GitWorkdir:
    """``alembic init migrations`` in a fresh repository, on SQLite, committed."""
    work = GitWorkdir(path)
    alembic(path, "init", "migrations")
    ini = path / "alembic.ini"
    text = ini.read_text(encoding="utf-8")
    text, count = re.subn(
        r"^sqlalchemy\.url = .*$",
        "sqlalchemy.url = sqlite:///%(here)s/app.db",
        text,
        flags=re.MULTILINE,
    )
    assert count == 1
    ini.write_text(text, encoding="utf-8")
    work.write({".gitignore": "*.db\n__pycache__/\n"})
    work.git("add", "-A")
    work.git("commit", "-q", "-m", "alembic init")
    return work


def generated(project: pathlib.Path, message: str) -> pathlib.Path:
    """The migration ``alembic revision -m message`` just generated."""
    (path,) = (project / PROJECT_VERSIONS).glob(f"*_{message}.py")
    return path


def down_revision_value(path: pathlib.Path) -> ast.expr:
    """The value assigned to ``down_revision`` at module level (plain or annotated)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id == "down_revision" and node.value is not None:
                return node.value
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "down_revision" for t in node.targets
        ):
            return node.value
    raise AssertionError(f"no down_revision in {path}")


def assert_derived(path: pathlib.Path) -> None:
    value = down_revision_value(path)
    assert ast.dump(value) == ast.dump(ast.parse("get_down_revision(revision)").body[0].value)
    text = path.read_text(encoding="utf-8")
    assert text.count("from alembic_git_revisions import get_down_revision\n") == 1


DERIVED_LINE = "down_revision: Union[str, Sequence[str], None] = get_down_revision(revision)"
IMPORT_LINE = "from alembic_git_revisions import get_down_revision"


def test_init_installs_the_template_into_a_stock_project(tmp_path: pathlib.Path) -> None:
    work = stock_project(tmp_path / "proj")
    mako = work.path / "migrations" / "script.py.mako"
    stock = mako.read_text(encoding="utf-8")
    stock_line = "down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}"
    assert stock_line in stock

    result = agr("init", work.path / "migrations")
    assert result.status == 0, result.err
    assert result.out == (
        f"{mako}: down_revision is derived from git history when the new migration extends "
        "its directory's line, else hardcoded as Alembic computes it\n"
        f"{mako}: added: {IMPORT_LINE} (in migrations that derive their parent)\n"
        f"{mako}: added: the template_down_revision block at the top\n"
    )
    # Every line of the stock template is kept (Alembic's down_revision line for the
    # migrations that hardcode it); the derived line and the import are conditional.
    installed = mako.read_text(encoding="utf-8")
    assert set(stock.splitlines()) <= set(installed.splitlines())
    assert (
        f"% if agr.dynamic:\n{DERIVED_LINE}\n% else:\n${{agr.comment}}\n{stock_line}\n% endif\n"
    ) in installed
    assert f"from alembic import op\n% if agr.dynamic:\n{IMPORT_LINE}\n% endif\n" in installed

    again = agr("init", work.path / "migrations")
    assert again.status == 0
    assert again.out == "script.py.mako already uses it\n"
    assert mako.read_text(encoding="utf-8") == installed

    alembic(work.path, "revision", "-m", "first")
    assert_derived(generated(work.path, "first"))


def test_alembic_revision_after_a_committed_dynamic_migration(tmp_path: pathlib.Path) -> None:
    """``alembic revision`` loads the existing migrations (building the chain) and then
    the one it just wrote, in one process: the new revision must still be found."""
    work = stock_project(tmp_path / "proj")
    assert agr("init", work.path / "migrations").status == 0
    work.git("add", "-A")
    work.git("commit", "-q", "-m", "Install the template")
    alembic(work.path, "revision", "-m", "first")
    first = generated(work.path, "first")
    work.git("add", "-A")
    work.git("commit", "-q", "-m", "first")

    alembic(work.path, "revision", "-m", "second")
    second = generated(work.path, "second")
    assert_derived(second)
    work.git("add", "-A")
    work.git("commit", "-q", "-m", "second")

    first_rev = first.name.split("_")[0]
    second_rev = second.name.split("_")[0]
    # No static migration: the first dynamic one is the root.
    assert build_chain(work.path / PROJECT_VERSIONS) == {first_rev: None, second_rev: first_rev}
    alembic(work.path, "upgrade", "head")
    assert db_version(work.path / "app.db") == [second_rev]


def test_post_write_hook_rewrites_generated_migrations(tmp_path: pathlib.Path) -> None:
    work = stock_project(tmp_path / "proj")
    ini = work.path / "alembic.ini"
    text = ini.read_text(encoding="utf-8")
    hook = (
        "[post_write_hooks]\n"
        "hooks = agr\n"
        "agr.type = exec\n"
        f"agr.executable = {AGR}\n"
        "agr.options = rewrite REVISION_SCRIPT_FILENAME\n"
    )
    assert text.count("[post_write_hooks]\n") == 1
    ini.write_text(text.replace("[post_write_hooks]\n", hook), encoding="utf-8")
    work.git("commit", "-q", "-am", "Add the hook")

    out = alembic(work.path, "revision", "-m", "hooked")
    migration = generated(work.path, "hooked")
    # Alembic ignores a failing exec hook: what the command printed shows it ran.
    assert "Running post write hook 'agr'" in out
    assert f"{migration}: down_revision now reads: {DERIVED_LINE}\n" in out
    assert f"{migration}: added: {IMPORT_LINE}\n" in out
    assert_derived(migration)
    source = migration.read_text(encoding="utf-8")
    assert f"{DERIVED_LINE}\n" in source
    assert "from alembic import op\n" + IMPORT_LINE + "\n" in source
    # One down_revision assignment, and no other mention besides get_down_revision.
    assert source.count("down_revision") == 1 + source.count("get_down_revision")

    # Rewriting an already rewritten migration changes nothing and says nothing.
    before = migration.read_bytes()
    again = agr("rewrite", migration)
    assert (again.status, again.out, again.err) == (0, "", "")
    assert migration.read_bytes() == before


# ----------------------------------------------------------- --config


def config_repo(path: pathlib.Path, dirs: Sequence[str]) -> Repo:
    """Each of *dirs* gets a static root and two dynamic migrations of its own."""
    repo = Repo(path)
    for index, directory in enumerate(dirs):
        root, first, second = (f"{index + 1:x}" * 2 + f"{n:010x}" for n in (0, 1, 2))
        repo.commit({f"{directory}/{root}_root.py": migration_source(root, None)})
        repo.commit({f"{directory}/{first}_one.py": migration_source(first, Dynamic())})
        repo.commit({f"{directory}/{second}_two.py": migration_source(second, Dynamic())})
    repo.flush()
    return repo


def chains_of(document: dict) -> dict[str, dict[str, str | None]]:
    """``{path: chain}`` of a ``chain --format json`` document, in document order."""
    assert document["version"] == 1
    return {entry["path"]: entry["chain"] for entry in document["directories"]}


def test_config_with_two_version_locations(tmp_path: pathlib.Path) -> None:
    repo = config_repo(tmp_path / "repo", ["db/versions", "extra/versions"])
    ini = repo.path / "alembic.ini"
    ini.write_text(
        "[alembic]\n"
        "script_location = %(here)s/db\n"
        "path_separator = os\n"
        f"version_locations = %(here)s/db/versions{os.pathsep}%(here)s/extra/versions\n",
        encoding="utf-8",
    )
    first, second = repo.path / "db" / "versions", repo.path / "extra" / "versions"
    chains = [build_chain(first), build_chain(second)]
    assert [len(c) for c in chains] == [2, 2] and chains[0] != chains[1]

    result = agr("chain", "--config", ini, "--format", "json")
    assert result.status == 0, result.err
    assert chains_of(json.loads(result.out)) == {str(first): chains[0], str(second): chains[1]}
    text = agr("chain", "--config", ini)
    assert text.status == 0
    assert [line for line in text.out.splitlines() if line.startswith("#")] == [
        f"# {first}",
        f"# {second}",
    ]
    for chain in chains:
        for revision in chain:
            assert revision in text.out

    # Alembic loads both locations into one revision graph: two unrelated roots make
    # two heads there (see test_check_findings for the graph checks in full).
    check = agr("check", "--config", ini)
    assert check.status == 1, check.err
    assert check.out.splitlines() == [f"{first}: OK, 3 migrations", f"{second}: OK, 3 migrations"]
    assert f"{ini} [alembic]: revision graph of 2 version locations: 1 problem found" in check.err
    assert "[graph-heads] the 2 version locations form one revision graph with 2 heads" in (
        check.err
    )


def test_config_with_recursive_version_locations(tmp_path: pathlib.Path) -> None:
    """A recursive location is one chain over its subdirectories, not one per directory
    (see test_alembic_recursive.py for real Alembic on the date layout)."""
    repo = Repo(tmp_path / "repo")
    root, one, two, three = (f"{n:012x}" for n in (0xA0, 0xA1, 0xA2, 0xA3))
    repo.commit({f"db/versions/{root}_root.py": migration_source(root, None)})
    repo.commit({f"db/versions/2024/11/{one}_one.py": migration_source(one, Dynamic())})
    repo.commit({f"db/versions/2024/12/{two}_two.py": migration_source(two, Dynamic())})
    repo.commit({f"db/versions/2025/01/{three}_three.py": migration_source(three, Dynamic())})
    repo.flush()
    ini = repo.path / "alembic.ini"
    ini.write_text(
        "[alembic]\n"
        "script_location = %(here)s/db\n"
        "path_separator = os\n"
        "version_locations = %(here)s/db/versions\n"
        "recursive_version_locations = true\n",
        encoding="utf-8",
    )
    top = repo.path / "db" / "versions"
    expected = {one: root, two: one, three: two}
    assert build_chain(top, scope="recursive") == expected
    # Read flat, the top directory alone holds only the root.
    assert build_chain(top) == {}

    result = agr("chain", "--config", ini, "--format", "json")
    assert result.status == 0, result.err
    document = json.loads(result.out)
    assert chains_of(document) == {str(top): expected}
    assert [entry["scope"] for entry in document["directories"]] == ["recursive"]
    assert [m["filename"] for m in document["directories"][0]["migrations"]] == [
        f"{root}_root.py",
        f"2024/11/{one}_one.py",
        f"2024/12/{two}_two.py",
        f"2025/01/{three}_three.py",
    ]
    # The same location given on the command line.
    result = agr("chain", top, "--recursive", "--format", "json")
    assert chains_of(json.loads(result.out)) == {str(top): expected}
    check = agr("check", "--config", ini)
    assert check.status == 0, check.err
    assert check.out.splitlines() == [
        f"{top}: OK, 4 migrations",
        f"{ini} [alembic]: revision graph of 1 version location: OK, 1 head",
    ]
