"""The shipped ``script.py.mako`` against Alembic's own, command for command.

Every scenario runs the same Alembic commands in two git repositories, one with
Alembic's stock template (the oracle) and one where ``alembic-git-revisions init``
installed ours, committing both after each command; Alembic must then report the same
graph for both (``heads``, ``heads --resolve-dependencies``, ``history``, ``branches``,
the database after ``upgrade heads``), and each file we generated must derive its
parent (``get_down_revision``) or hardcode Alembic's exactly as expected:

* plain ``alembic revision`` and ``--head`` on the end of the line: derived;
* merges (``merge heads``, ``merge r1 r2``), ``--branch-label``, ``--head`` on a
  revision that is not the end of the derived line, ``--splice``: hardcoded;
* ``--depends-on``: derived (dependencies never change ``down_revision``);
* where no file in that directory can express the request without changing existing
  migrations' parents (a second base, a branch off the middle of a derived line), our
  template refuses and Alembic writes nothing.

Each test runs with the newest Alembic and with the oldest one the package declares
(see ``alembic_envs``). ``template_down_revision`` is also checked directly, and its
prediction (``_decide.derive``: the core's chain builder on the directory's files with
the new one in place) against the core on generated directories.
"""

from __future__ import annotations

import pathlib
import random
import subprocess
import sys

import gitrepo
import pytest
from alembic_envs import AlembicEnv
from alembic_git_revisions import (
    ChainError,
    DownRevisionChoice,
    _decide,
    _native,
    build_chain,
    install_template,
    template_down_revision,
)
from alembic_projects import PLUGIN_VERSIONS, VERSIONS, Project, Twins, migration_text

IMPORT = "from alembic_git_revisions import get_down_revision"
A, B, C, D, E, F = (f"{c}{c}{c}{c}0000000{i}" for i, c in enumerate("abcdef", start=1))
ROOT, S1, S2, M, N, P, Q, X = (
    f"{c}{c}{c}{c}0000001{i}" for i, c in enumerate("0123456789"[:8], start=0)
)


@pytest.fixture
def twins(tmp_path: pathlib.Path, alembic_env: AlembicEnv) -> Twins:
    return Twins(tmp_path, alembic_env, "ours")


@pytest.fixture
def plugin_twins(tmp_path: pathlib.Path, alembic_env: AlembicEnv) -> Twins:
    """Two version locations: ``migrations/versions`` and ``plugin/versions``."""
    return Twins(tmp_path, alembic_env, "ours", plugin=True)


def kinds(project: Project, *revisions: str) -> list[str]:
    return [project.kind_of(r) for r in revisions]


# ---------------------------------------------------------------- scenarios


def test_one_line_with_head_depends_on_and_a_branch_label(twins: Twins) -> None:
    twins.alembic("revision", "-m", "first", "--rev-id", A)
    twins.alembic("revision", "-m", "second", "--rev-id", B)
    # --head naming the end of the line is the same request as no --head.
    twins.alembic("revision", "-m", "third", "--rev-id", C, "--head", B)
    # A dependency never changes down_revision: still derived.
    twins.alembic("revision", "-m", "fourth", "--rev-id", D, "--depends-on", A)
    # A labelled migration keeps Alembic's parent; the line then continues after it.
    twins.alembic("revision", "-m", "feature", "--rev-id", E, "--branch-label", "feature")
    twins.alembic("revision", "-m", "more", "--rev-id", F)
    assert kinds(twins.subject, A, B, C, D, E, F) == [*["dynamic"] * 4, "static", "dynamic"]
    labelled = twins.subject.migration(E).read_text()
    assert "# down_revision is hardcoded: branch label feature" in labelled
    assert f"Revises: {D}\n" in labelled
    assert f"down_revision = {D!r}" in labelled or f"None] = {D!r}" in labelled
    graph = twins.assert_same_graph()
    assert graph.heads == [f"{F} (feature) (head)"]
    assert graph.database == [F]


def test_uncommitted_migrations_follow_file_name_order(twins: Twins) -> None:
    """Files git has not seen come after all others, by name: a new migration whose name
    sorts before an uncommitted one cannot derive that one as its parent."""
    five, nine, one = "555555555555", "999999999999", "111111111111"
    twins.alembic("revision", "-m", "five", "--rev-id", five, commit=False)
    twins.alembic("revision", "-m", "nine", "--rev-id", nine, commit=False)
    twins.alembic("revision", "-m", "one", "--rev-id", one, commit=False)
    assert kinds(twins.subject, five, nine, one) == ["dynamic", "dynamic", "static"]
    comment = twins.subject.migration(one).read_text()
    assert (
        f"# down_revision is hardcoded: Alembic's parent is {nine}, but in the line derived\n"
        f"# from git history for {VERSIONS} it would be none (a base)\n"
    ) in comment
    twins.assert_same_graph()
    twins.commit("three migrations in one commit")
    graph = twins.assert_same_graph()
    assert graph.heads == [f"{one} (head)"]


def test_merges_and_splices_of_hardcoded_history(twins: Twins) -> None:
    """A project adopting the template mid-way: hardcoded migrations, then new ones."""
    for revision, parent in ((ROOT, None), (S1, ROOT), (S2, S1)):
        twins.write(f"{VERSIONS}/{revision}_m.py", migration_text(revision, parent, revision))
    twins.commit("hardcoded history")
    # A branch off S1: a second head, as Alembic asks.
    twins.alembic("revision", "-m", "side", "--rev-id", X, "--head", S1, "--splice")
    # Two heads: a derived parent would be ambiguous, so Alembic's S2 is kept.
    twins.alembic("revision", "-m", "on s2", "--rev-id", A, "--head", S2)
    twins.alembic("merge", "heads", "-m", "merge", "--rev-id", M)
    twins.alembic("revision", "-m", "after merge", "--rev-id", B)
    assert kinds(twins.subject, X, A, M, B) == ["static", "static", "static", "dynamic"]
    merge = twins.subject.migration(M).read_text()
    assert "# down_revision is hardcoded: a merge of" in merge
    graph = twins.assert_same_graph()
    assert graph.heads == [f"{B} (head)"]


def test_a_plugin_branch_in_its_own_version_location(plugin_twins: Twins) -> None:
    """Alembic's documented layout for independent branches: a second base with a branch
    label in a version location of its own; then dependencies, a parent in another
    location, an explicit merge, and the line continuing after it."""
    twins = plugin_twins
    twins.write(f"{VERSIONS}/{ROOT}_root.py", migration_text(ROOT, None, "root"))
    twins.commit("root")
    twins.alembic("revision", "-m", "first", "--rev-id", A)
    twins.alembic("revision", "-m", "second", "--rev-id", B)
    twins.alembic(
        "revision", "-m", "plugin", "--rev-id", P, "--head", "base",
        "--branch-label", "plugin", "--version-path", PLUGIN_VERSIONS,
    )  # fmt: skip
    twins.alembic("revision", "-m", "plugin two", "--rev-id", Q, "--head", "plugin@head")
    twins.alembic("revision", "-m", "third", "--rev-id", C, "--head", B)
    twins.alembic("revision", "-m", "needs q", "--rev-id", D, "--head", C, "--depends-on", Q)
    # Its parent in plugin/, the file in migrations/ (and P is no head any more).
    twins.alembic(
        "revision", "-m", "cross", "--rev-id", X, "--head", P, "--splice",
        "--version-path", VERSIONS,
    )  # fmt: skip
    twins.assert_same_graph()
    twins.alembic("merge", "-m", "join", "--rev-id", M, D, Q)
    twins.alembic("revision", "-m", "after join", "--rev-id", E, "--head", M)
    assert twins.subject.migration(Q).parent == twins.subject.path / PLUGIN_VERSIONS
    assert kinds(twins.subject, A, B, P, Q, C, D, X, M, E) == [
        *("dynamic", "dynamic", "static", "dynamic", "dynamic", "dynamic"),
        *("static", "static", "dynamic"),
    ]
    graph = twins.assert_same_graph()
    assert graph.heads == sorted([f"{E} (plugin) (head)", f"{X} (plugin) (head)"])


def refused(project: Project, *args: str) -> str:
    """Run ``alembic args`` expecting our template to refuse; its stderr."""
    before = project.revisions()
    outcome = project.run("alembic", *args, ok=False)
    assert outcome.status != 0, outcome
    assert project.revisions() == before, "nothing may be written"
    return outcome.err


def test_requests_a_derived_line_cannot_hold_are_refused(twins: Twins) -> None:
    twins.alembic("revision", "-m", "first", "--rev-id", A)
    twins.alembic("revision", "-m", "second", "--rev-id", B)
    expected = twins.assert_same_graph()
    for args, change in (
        # A second base in the same directory: A would chain after it.
        (("--head", "base", "--branch-label", "plugin"), f"{A}: (base) -> {X}"),
        # A branch off the middle of the line: it would slot in before B.
        (("--head", A, "--splice"), f"{B}: {A} -> {X}"),
    ):
        err = refused(twins.subject, "revision", "-m", "branch", "--rev-id", X, *args)
        assert "alembic-git-revisions: error: not writing" in err
        assert change in err
        assert "--version-path" in err
        assert twins.subject.graph() == expected
    # What Alembic would have done with its own template: a second head.
    twins.oracle.run("alembic", "revision", "-m", "branch", "--rev-id", X, "--head", A, "--splice")
    assert len(twins.oracle.graph().heads) == 2


# ------------------------------------------------------------ the helper


def test_template_down_revision_on_a_linear_history(tmp_path: pathlib.Path) -> None:
    repo = gitrepo.Repo(tmp_path / "repo")
    versions = repo.path / VERSIONS
    repo.commit({f"{VERSIONS}/{ROOT}_root.py": migration_text(ROOT, None, "root")})
    repo.commit({f"{VERSIONS}/{A}_a.py": gitrepo.migration_source(A, gitrepo.Dynamic())})
    repo.flush()
    new = versions / f"{B}_b.py"

    def choose(parent: str | tuple[str, ...] | None, **kw: object) -> DownRevisionChoice:
        return template_down_revision(parent, revision=B, path=new, **kw)  # type: ignore[arg-type]

    assert choose(A) == DownRevisionChoice(True)
    assert choose((A,)).dynamic, "a one-element tuple is one parent"
    labelled = choose([A], branch_labels="x")
    assert not labelled.dynamic and labelled.reason.startswith("branch label x")
    merge = choose((A, ROOT))
    assert not merge.dynamic and merge.reason.startswith(f"a merge of {A}, {ROOT}")
    assert merge.comment.startswith(f"# down_revision is hardcoded: a merge of {A}, {ROOT}")
    assert all(len(line) <= 88 for line in merge.comment.splitlines())
    # Hardcoded, a branch off ROOT would slot in before A; a second base would leave A
    # without a parent. Neither can be written.
    with pytest.raises(ChainError, match=f"{A}: {ROOT} -> {B}"):
        choose(ROOT)
    with pytest.raises(ChainError, match=f"{A} would lose its parent {ROOT}"):
        choose(None, branch_labels="plugin")
    assert not new.exists()
    assert build_chain(versions) == {A: ROOT}


def test_template_down_revision_never_fails_on_its_own_trouble(tmp_path: pathlib.Path) -> None:
    # No git repository: Alembic's value, saying why.
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / f"{A}_a.py").write_bytes(gitrepo.migration_source(A, None))
    choice = template_down_revision(A, revision=B, path=tmp_path / "versions" / f"{B}_b.py")
    assert not choice.dynamic
    assert "not inside a git repository" in choice.reason
    # Outside Alembic, without a path: Alembic's value.
    assert template_down_revision(A, revision=B).reason == (
        "could not tell which file Alembic is writing"
    )
    # An unparsable neighbour: Alembic's value, naming the file.
    repo = gitrepo.Repo(tmp_path / "repo")
    repo.commit({f"{VERSIONS}/{A}_a.py": b"revision = (\n"})
    repo.flush()
    choice = template_down_revision(A, revision=B, path=repo.path / VERSIONS / f"{B}_b.py")
    assert not choice.dynamic and f"{A}_a.py" in choice.reason


def test_template_renders_without_the_package(tmp_path: pathlib.Path) -> None:
    """If alembic_git_revisions cannot be imported, the template still renders, with
    Alembic's parent hardcoded and a comment saying why."""
    script = (
        "import builtins, sys\n"
        "from mako.template import Template\n"
        "real = builtins.__import__\n"
        "def fake(name, *args, **kwargs):\n"
        "    if name.startswith('alembic_git_revisions'):\n"
        "        raise ImportError('no module named alembic_git_revisions')\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = fake\n"
        "print(Template(filename=sys.argv[1]).render_unicode(\n"
        "    up_revision='bbbb', down_revision='aaaa', branch_labels=None, depends_on=None,\n"
        "    create_date='2024-01-01', message='m', imports='', upgrades='', downgrades='',\n"
        "    comma=lambda v: v if isinstance(v, str) else ', '.join(v)))\n"
    )
    template = pathlib.Path(_decide.__file__).parent / "templates" / "script.py.mako"
    proc = subprocess.run(
        [sys.executable, "-c", script, template], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "down_revision: Union[str, Sequence[str], None] = 'aaaa'\n" in proc.stdout
    assert "# down_revision is hardcoded: alembic-git-revisions cannot be imported" in proc.stdout
    assert "get_down_revision" not in proc.stdout
    compile(proc.stdout, "rendered.py", "exec")


# --------------------------------------------------- the prediction vs the core


def _random_directory(rng: random.Random) -> list[tuple[str, object, bool]]:
    """``(revision, down_revision, committed)`` rows: statics, dynamics, hybrids."""
    rows: list[tuple[str, object, bool]] = []
    for index in range(rng.randint(0, 7)):
        revision = f"{rng.getrandbits(48):012x}"
        known = [r for r, _, _ in rows]
        roll = rng.random()
        if roll < 0.5:
            down: object = gitrepo.Dynamic()
        elif roll < 0.7 or not known:
            down = None if not known or rng.random() < 0.3 else rng.choice(known)
        elif roll < 0.85:
            down = rng.choice(known)
        else:
            down = tuple(rng.sample(known, min(len(known), 2)))
        rows.append((revision, down, rng.random() < 0.7 or index == 0))
    return rows


@pytest.mark.parametrize("seed", range(12))
def test_prediction_matches_the_core(tmp_path: pathlib.Path, seed: int) -> None:
    """Adding a file to a directory: ``_decide`` predicts what the core then derives."""
    rng = random.Random(seed)
    repo = gitrepo.Repo(tmp_path / "repo")
    repo.commit({"README.md": "x\n"})
    versions = repo.path / VERSIONS
    rows = _random_directory(rng)
    pending = {}
    for revision, down, committed in rows:
        path = f"{VERSIONS}/{revision}_m.py"
        source = gitrepo.migration_source(revision, down)  # type: ignore[arg-type]
        if committed:
            repo.commit({path: source})
        else:
            pending[path] = source
    repo.flush()
    repo.write_worktree(pending)
    versions.mkdir(parents=True, exist_ok=True)
    for trial in range(4):
        try:
            directory = _decide.read_directory(versions)
        except _decide.Unchecked:
            return  # duplicate ids or cycles: the core refuses, nothing to predict
        entries = directory.entries
        revision = f"{rng.getrandbits(48):012x}"
        known = [e.revision for e in entries]
        parents = tuple(rng.sample(known, min(len(known), rng.randint(0, 2)))) if known else ()
        dynamic = rng.random() < 0.5
        request = _decide.Request(revision, versions / f"{revision}_new.py", parents, ())
        predicted = directory.derive(_decide.with_request(request, entries, dynamic=dynamic))
        down = gitrepo.Dynamic() if dynamic else (parents or None)
        if len(parents) == 1 and not dynamic:
            down = parents[0]
        request.path.write_bytes(gitrepo.migration_source(revision, down))  # type: ignore[arg-type]
        build_chain.cache_clear()
        (analysis,) = _native.analyze([versions])
        unchained = analysis.unchained.revision if analysis.unchained else None
        assert predicted == _decide.Derived(dict(analysis.chain), unchained), (seed, trial)
        if rng.random() < 0.5:
            repo.git("add", "-A")
            repo.git("commit", "-q", "-m", f"trial {trial}")


# --------------------------------------------------------------------- init

#: The template alembic-git-revisions-rs 0.1 shipped: every parent derived.
EARLIER_TEMPLATE = '''\
"""${message}

Revision ID: ${up_revision}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from alembic_git_revisions import get_down_revision
${imports if imports else ""}

# revision identifiers, used by Alembic. down_revision is derived from git history:
# the migration added just before this one (see alembic-git-revisions-rs).
revision: str = ${repr(up_revision)}
down_revision: Union[str, None] = get_down_revision(revision)
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
'''


def test_init_replaces_the_template_of_an_earlier_version(tmp_path: pathlib.Path) -> None:
    mako = tmp_path / "script.py.mako"
    mako.write_text(EARLIER_TEMPLATE, encoding="utf-8")
    assert install_template(tmp_path) == [
        f"{mako}: replaced the template of an earlier alembic-git-revisions-rs"
    ]
    shipped = pathlib.Path(_decide.__file__).parent / "templates" / "script.py.mako"
    assert mako.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8")
    assert install_template(tmp_path) == []


def test_init_refuses_a_template_without_down_revision(tmp_path: pathlib.Path) -> None:
    mako = tmp_path / "script.py.mako"
    mako.write_text("revision = ${repr(up_revision)}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"has no `down_revision = \.\.\.` line"):
        install_template(tmp_path)
    assert mako.read_text(encoding="utf-8") == "revision = ${repr(up_revision)}\n"


def test_init_on_a_customised_template(tmp_path: pathlib.Path) -> None:
    """Every line kept, the import sorted into the group that imports alembic."""
    custom = (
        "# ACME migrations\n"
        '"""${message}"""\n'
        "import datetime\n\n"
        "from alembic import op\n"
        "from sqlalchemy.dialects import postgresql\n"
        "import sqlalchemy as sa\n\n"
        "revision = ${repr(up_revision)}\n"
        "down_revision = ${repr(down_revision)}  # keep\n"
    )
    (tmp_path / "script.py.mako").write_text(custom, encoding="utf-8")
    assert len(install_template(tmp_path)) == 3
    installed = (tmp_path / "script.py.mako").read_text(encoding="utf-8")
    assert set(custom.splitlines()) <= set(installed.splitlines())
    assert installed.endswith(
        "\n# ACME migrations\n"
        '"""${message}"""\n'
        "import datetime\n\n"
        "import sqlalchemy as sa\n"
        "from alembic import op\n"
        f"% if agr.dynamic:\n{IMPORT}\n% endif\n"
        "from sqlalchemy.dialects import postgresql\n\n"
        "revision = ${repr(up_revision)}\n"
        "% if agr.dynamic:\n"
        "down_revision = get_down_revision(revision)\n"
        "% else:\n"
        "${agr.comment}\n"
        "down_revision = ${repr(down_revision)}  # keep\n"
        "% endif\n"
    )
