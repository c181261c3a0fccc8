"""Our git add order against git's own, on random commit graphs.

The order the whole chain rests on is the one alembic-git-revisions 13 reads from

    git log --reverse --diff-filter=A --no-renames --topo-order --format= --name-only

run in the versions directory's parent: each ``*.py`` basename of the directory, at its
first line (after stripping), with basenames added elsewhere in the repository counting
too. ``gitrepo.git_log_order`` runs exactly that; here the ``git_sequence`` of every file
``parse_versions_dir`` returns must be its index there (files git never added share
the index one past the end), on random DAGs: merges with 2 to 4 parents in any order,
several roots, commit dates out of order and tied, merges that drop or add files, the
same basename added on several branches and in other directories, with and without a
``commit-graph`` file (which changes the algorithm git uses for ``--topo-order``).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import random
import tempfile
import types
from collections.abc import Sequence

import alembic_git_revisions as ours
import gitrepo
import pytest
from gitrepo import Dynamic, Repo, migration_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("AGR_DIFF_EXAMPLES", "60"))
ORDER_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VERSIONS = "db/alembic/versions"
#: Where the same basenames are also added: other directories, repository root, a
#: trailing space the reference strips, a path git prints quoted.
ELSEWHERE = ("docs/examples/{}", "{}", "docs/examples/{} ", " {}", "docs/ünï/{}")
#: Basenames: a small pool, so branches add the same file independently.
NAMES = (*(f"{n:04x}_m{n}.py" for n in range(10)), "0010_café.py", '0011_say_"hi".py')


def dag_source(name: str) -> bytes:
    revision = name.split("_", 1)[0]
    return migration_source(revision, Dynamic())


@dataclasses.dataclass(frozen=True)
class DagCommit:
    """One commit of a random graph: parent indexes (in order), date and changes."""

    parents: tuple[int, ...]
    date: int
    adds: tuple[tuple[int, int], ...]  # (name index, where: -1 versions dir, else ELSEWHERE)
    deletes: tuple[int, ...]
    #: For a merge: its tree is every parent's files (else only the first parent's,
    #: as ``git merge -s ours`` leaves it).
    union: bool


@dataclasses.dataclass(frozen=True)
class Dag:
    commits: tuple[DagCommit, ...]
    #: Permutation key for a final octopus merge of every tip (``None``: HEAD is the
    #: last commit, and commits it does not reach are left out).
    final_octopus: int | None
    uncommitted: tuple[int, ...]


@st.composite
def dags(draw: st.DrawFn, max_commits: int = 40) -> Dag:
    count = draw(st.integers(1, max_commits))
    commits = []
    for index in range(count):
        shape = (
            "root"
            if index == 0
            else draw(st.sampled_from(("line",) * 6 + ("merge",) * 3 + ("root",)))
        )
        if shape == "root":
            parents: tuple[int, ...] = ()
        elif shape == "line":
            parents = (draw(st.integers(max(0, index - 5), index - 1)),)
        else:
            width = draw(st.integers(2, min(4, index))) if index >= 2 else 1
            parents = tuple(
                draw(
                    st.lists(st.integers(0, index - 1), min_size=width, max_size=width, unique=True)
                )
            )
        # Roughly increasing, with ties and commits dated before their parents.
        date = (
            gitrepo.EPOCH
            + index * 600
            + draw(st.sampled_from((0, 0, 0, 1, -1, -7200, 3600, -86_400)))
        )
        adds = tuple(
            draw(
                st.lists(
                    st.tuples(
                        st.integers(0, len(NAMES) - 1),
                        st.sampled_from((-1, -1, -1, *range(len(ELSEWHERE)))),
                    ),
                    max_size=3,
                )
            )
        )
        deletes = tuple(draw(st.lists(st.integers(0, len(NAMES) - 1), max_size=1)))
        commits.append(DagCommit(parents, date, adds, deletes, draw(st.booleans())))
    final = draw(st.one_of(st.none(), st.integers(0, 24)))
    uncommitted = tuple(draw(st.lists(st.integers(0, len(NAMES) - 1), max_size=2)))
    return Dag(tuple(commits), final, uncommitted)


def build_dag(repo: Repo, dag: Dag, names: Sequence[str] = NAMES) -> None:
    """Write *dag* (its name indexes into *names*) with fast-import; check it out."""
    marks: list[int] = []
    for commit in dag.commits:
        parents = [marks[p] for p in commit.parents]
        tree: dict[str, tuple[str, bytes]] = {}
        if parents:
            sources = parents if commit.union else parents[:1]
            for parent in reversed(sources):
                tree.update(repo.commits[parent].tree)
        files: dict[str, gitrepo.Content | None] = {}
        for name_index in commit.deletes:
            files[f"{VERSIONS}/{names[name_index]}"] = None
        for name_index, where in commit.adds:
            name = names[name_index]
            path = f"{VERSIONS}/{name}" if where < 0 else ELSEWHERE[where].format(name)
            files[path] = dag_source(name)
        marks.append(
            repo.commit(files, f"c{len(marks)}", date=commit.date, parents=parents, tree=tree)
        )
    if dag.final_octopus is not None:
        referenced = {p for c in dag.commits for p in c.parents}
        tips = [marks[i] for i in range(len(marks)) if i not in referenced]
        if len(tips) > 1:
            random.Random(dag.final_octopus).shuffle(tips)
            tree = {}
            for tip in reversed(tips):
                tree.update(repo.commits[tip].tree)
            repo.commit({}, "octopus of every tip", parents=tips, tree=tree)
    repo.flush()
    repo.write_worktree({f"{VERSIONS}/{names[i]}": dag_source(names[i]) for i in dag.uncommitted})
    (repo.path / VERSIONS).mkdir(parents=True, exist_ok=True)


def assert_order_is_gits(versions_dir: pathlib.Path) -> list[str]:
    """``parse_versions_dir``'s ``git_sequence`` is the file's index in git's order."""
    order = gitrepo.git_log_order(versions_dir, unquoted=True)
    files = ours.parse_versions_dir(versions_dir)
    position = {name: index for index, name in enumerate(order)}
    for f in files:
        assert f.git_sequence == position.get(f.filename, len(order)), (f, order)
    assert [f.filename for f in files if f.filename in position] == order
    assert sorted(f.filename for f in files) == sorted(p.name for p in versions_dir.glob("*.py"))
    assert [(f.git_sequence, f.filename) for f in files] == sorted(
        (f.git_sequence, f.filename) for f in files
    )
    return order


def check_with_and_without_commit_graph(
    repo: Repo, versions_dir: pathlib.Path, *, split: bool = False
) -> None:
    without = assert_order_is_gits(versions_dir)
    # git's --topo-order walks another way with generation numbers; the output is the
    # same, and ours (libgit2 reads the graph too) must follow.
    repo.commit_graph(write=True, split=split)
    assert assert_order_is_gits(versions_dir) == without
    repo.commit_graph(write=False)


@ORDER_SETTINGS
@given(dag=dags())
def test_random_dags(dag: Dag) -> None:
    with tempfile.TemporaryDirectory(prefix="agr-order-") as tmp:
        repo = Repo(pathlib.Path(tmp) / "repo")
        build_dag(repo, dag)
        split = len(dag.commits) % 2 == 1
        check_with_and_without_commit_graph(repo, repo.path / VERSIONS, split=split)


def test_reference_command_is_ours(reference: types.ModuleType, tmp_path: pathlib.Path) -> None:
    """``gitrepo.git_log_order`` is the reference's own reading of git."""
    repo = Repo(tmp_path / "repo")
    build_dag(repo, _seeded_dag(seed=7, commits=200))
    versions_dir = repo.path / VERSIONS
    assert gitrepo.git_log_order(versions_dir) == reference._get_git_commit_order(versions_dir)


def _seeded_dag(*, seed: int, commits: int, names: int = len(NAMES)) -> Dag:
    """A large random DAG, without hypothesis (its example size is bounded)."""
    rng = random.Random(seed)
    out = []
    for index in range(commits):
        roll = rng.random()
        if index == 0 or roll < 0.005:
            parents: tuple[int, ...] = ()
        elif roll < 0.25 and index >= 2:
            width = rng.randint(2, min(4, index))
            window = range(max(0, index - 60), index)
            parents = tuple(rng.sample(window, min(width, len(window))))
        else:
            parents = (rng.randrange(max(0, index - 8), index),)
        date = gitrepo.EPOCH + index * 300 + rng.choice((0, 0, 1, -1, -3600, 600, -2 * 86_400))
        adds = tuple(
            (rng.randrange(names), rng.choice((-1, -1, -1, -1, 0, 2, 4)))
            for _ in range(rng.choice((0, 0, 1, 1, 2)))
        )
        deletes = (rng.randrange(names),) if rng.random() < 0.05 else ()
        out.append(DagCommit(parents, date, adds, deletes, rng.random() < 0.8))
    return Dag(tuple(out), rng.randrange(25), ())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_large_random_dags(tmp_path: pathlib.Path, seed: int) -> None:
    """Thousands of commits, a few hundred files, merges of 2-4 parents."""
    names = tuple(f"{n:04x}_m{n}.py" for n in range(300))
    repo = Repo(tmp_path / "repo")
    build_dag(repo, _seeded_dag(seed=seed, commits=3000, names=len(names)), names)
    check_with_and_without_commit_graph(repo, repo.path / VERSIONS, split=seed == 2)


def test_date_order_is_not_add_order(tmp_path: pathlib.Path) -> None:
    """INC-1342's shape: a feature's migration committed before main's, merged after.

    Topological order puts the feature's add after main's (it is reached through the
    merge's second parent), whatever the dates say.
    """
    repo = Repo(tmp_path / "repo")
    repo.commit({f"{VERSIONS}/0000_base.py": migration_source("0000", None)}, date=gitrepo.EPOCH)
    repo.checkout("feature", create=True)
    repo.commit({f"{VERSIONS}/0001_feature.py": dag_source("0001_x")}, date=gitrepo.EPOCH + 60)
    repo.checkout("main")
    repo.commit({f"{VERSIONS}/0002_main.py": dag_source("0002_x")}, date=gitrepo.EPOCH + 3600)
    repo.merge("feature", date=gitrepo.EPOCH + 7200)
    repo.flush()
    versions_dir = repo.path / VERSIONS
    order = assert_order_is_gits(versions_dir)
    assert order == ["0000_base.py", "0002_main.py", "0001_feature.py"]
    check_with_and_without_commit_graph(repo, versions_dir)


def test_uncommitted_files_sort_by_name_after_committed(tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({f"{VERSIONS}/ffff_last_added.py": dag_source("ffff_x")})
    repo.flush()
    repo.write_worktree(
        {
            f"{VERSIONS}/0002_b.py": dag_source("0002_b"),
            f"{VERSIONS}/0001_a.py": dag_source("0001_a"),
            f"{VERSIONS}/0010_café.py": dag_source("0010_c"),
        }
    )
    files = ours.parse_versions_dir(repo.path / VERSIONS)
    assert [f.filename for f in files] == [
        "ffff_last_added.py",
        "0001_a.py",
        "0002_b.py",
        "0010_café.py",
    ]
    assert [f.git_sequence for f in files] == [0, 1, 1, 1]
