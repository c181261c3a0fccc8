"""``rewrite`` (the post-write hook): a parent is derived only where that changes nothing.

* Real Alembic, stock template plus the hook, against the stock template alone (twin
  projects, newest and oldest declared Alembic): plain revisions become dynamic;
  merges, branch labels, ``--splice`` and ``--head`` on a revision that is not the end
  of the derived line are left as they are, with a line saying why, and Alembic reports
  the same graph for both projects.
* The files ``rewrite`` writes pass ``ruff check --select I`` (import sorting) and keep
  their docstring and leading comments: stock Alembic output, a licence header with no
  ``from alembic import op``, ``from __future__`` imports, several import groups, and
  more; a licensed template still shows its message in ``alembic history``.
* Messages for files it leaves alone, and a warning when a hardcoded file, as Alembic
  wrote it, changes the derived parents of the migrations already there.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import sysconfig

import gitrepo
import pytest
from alembic_envs import AlembicEnv
from alembic_git_revisions import MigrationFileError, rewrite_migration
from alembic_projects import VERSIONS, Twins, down_revision_kind, migration_text

ROOT, S1, S2, X, M = (f"{c}{c}{c}{c}0000002{i}" for i, c in enumerate("01234"))
A, B, C, D = (f"{c}{c}{c}{c}0000000{i}" for i, c in enumerate("abcd", start=1))
NEW = "eeee00000099"
IMPORT = "from alembic_git_revisions import get_down_revision"
RUFF = pathlib.Path(sysconfig.get_path("scripts")) / "ruff"


# ------------------------------------------------------------ real Alembic


@pytest.fixture
def hooked(tmp_path: pathlib.Path, alembic_env: AlembicEnv) -> Twins:
    """The stock template in both projects, plus the rewrite hook in the subject."""
    return Twins(tmp_path, alembic_env, "hook")


def test_hook_rewrites_only_what_keeps_the_graph(hooked: Twins) -> None:
    twins = hooked
    for revision, parent in ((ROOT, None), (S1, ROOT), (S2, S1)):
        twins.write(f"{VERSIONS}/{revision}_m.py", migration_text(revision, parent, revision))
    twins.commit("hardcoded history")
    outputs = {
        X: twins.alembic("revision", "-m", "side", "--rev-id", X, "--head", S1, "--splice"),
        A: twins.alembic("revision", "-m", "on s2", "--rev-id", A, "--head", S2),
        M: twins.alembic("merge", "heads", "-m", "merge", "--rev-id", M),
        B: twins.alembic("revision", "-m", "after merge", "--rev-id", B),
        C: twins.alembic("revision", "-m", "label", "--rev-id", C, "--branch-label", "feature"),
        D: twins.alembic("revision", "-m", "more", "--rev-id", D),
    }
    kinds = {r: down_revision_kind(twins.subject.migration(r)) for r in outputs}
    assert kinds == {X: "static", A: "static", M: "static", B: "dynamic", C: "static", D: "dynamic"}
    path = twins.subject.migration
    assert f"{path(X)}: left as is: Alembic's parent is {S1}" in outputs[X].out
    assert f"{path(A)}: left as is: Alembic's parent is {S2}" in outputs[A].out
    assert f"{path(M)}: left as is: a merge of" in outputs[M].out
    assert f"{path(C)}: left as is: branch label feature" in outputs[C].out
    assert f"{path(D)}: added: {IMPORT}" in outputs[D].out
    graph = twins.assert_same_graph()
    assert graph.heads == [f"{D} (feature) (head)"]


def test_a_licensed_template_keeps_its_message(hooked: Twins) -> None:
    """A template with a licence header and no ``from alembic import op``: the import
    goes below the docstring, so ``alembic history`` still shows the message."""
    twins = hooked
    for project in (twins.oracle, twins.subject):
        mako = project.path / "migrations" / "script.py.mako"
        text = mako.read_text(encoding="utf-8").replace("from alembic import op\n", "")
        mako.write_text("# Copyright 2024 ACME Corp.\n# SPDX-License-Identifier: MIT\n" + text)
    twins.commit("licensed template")
    twins.alembic("revision", "-m", "add users", "--rev-id", A)
    twins.alembic("revision", "-m", "add orders", "--rev-id", B)
    migration = twins.subject.migration(B)
    text = migration.read_text(encoding="utf-8")
    assert text.startswith("# Copyright 2024 ACME Corp.\n# SPDX-License-Identifier: MIT\n")
    assert ast.get_docstring(ast.parse(text), clean=False).startswith("add orders")  # type: ignore[union-attr]
    assert down_revision_kind(migration) == "dynamic"
    graph = twins.assert_same_graph()
    assert f"{A} -> {B} (head), add orders" in graph.history


# ------------------------------------------------------- import placement


FILES = {
    "stock alembic": '''"""{message}

Revision ID: {revision}
Revises: {parent}
Create Date: 2024-01-01 00:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '{revision}'
down_revision: Union[str, Sequence[str], None] = '{parent}'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass
''',
    "licence, no op import": '''# Copyright 2024 ACME Corp.
# SPDX-License-Identifier: Apache-2.0
"""{message}

Revision ID: {revision}
"""
import sqlalchemy as sa

revision = "{revision}"
down_revision = "{parent}"


def upgrade():
    sa.text("select 1")
''',
    "shebang, encoding, licence, no imports": '''#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright 2024 ACME Corp.

"""{message}"""
revision = "{revision}"
down_revision = "{parent}"  # set by Alembic
''',
    "__future__ imports": '''"""{message}"""
from __future__ import annotations

import datetime

from alembic import op
import sqlalchemy as sa

revision = "{revision}"
down_revision = "{parent}"
''',
    "several groups": '''"""{message}"""
from __future__ import annotations

import datetime
import os

# Alembic first
from alembic import op
from sqlalchemy.dialects import postgresql
import sqlalchemy as sa

from myapp.models import Base

from . import helpers

revision = "{revision}"
down_revision = "{parent}"
''',
    "a def right after the imports": '''"""{message}"""
from alembic import op


def helper():
    return op


revision = "{revision}"
down_revision = "{parent}"
''',
    "no docstring": """# revision identifiers, used by Alembic.
import sqlalchemy as sa
revision = "{revision}"
down_revision = "{parent}"
""",
}


def test_rewritten_files_pass_ruff_import_sorting(tmp_path: pathlib.Path) -> None:
    """Each file is a new migration whose hardcoded parent is its directory's root."""
    repo = gitrepo.Repo(tmp_path / "repo")
    directories = {name: f"case{i}/versions" for i, name in enumerate(FILES)}
    for directory in directories.values():
        repo.commit({f"{directory}/{ROOT}_root.py": migration_text(ROOT, None, "root")})
    repo.flush()
    rewritten = []
    for name, template in FILES.items():
        path = repo.path / directories[name] / f"{NEW}_new.py"
        source = template.format(message=f"{name} case", revision=NEW, parent=ROOT)
        path.write_text(source, encoding="utf-8")
        target = "down_revision: Union[str, Sequence[str], None]" if "Union" in source else ""
        assert rewrite_migration(path) == [
            f"{path}: down_revision now reads: {target or 'down_revision'} = "
            "get_down_revision(revision)",
            f"{path}: added: {IMPORT}",
        ], name
        text = path.read_text(encoding="utf-8")
        assert down_revision_kind(path) == "dynamic", name
        assert text.count(IMPORT) == 1, name
        # The docstring and every line above it are kept as they were.
        head = source.split('"""')[0] if '"""' in source else source.splitlines()[0]
        assert text.startswith(head), name
        assert ast.get_docstring(ast.parse(text)) == ast.get_docstring(ast.parse(source)), name
        # Only the down_revision line and the imports changed.
        derived = "get_down_revision(revision)"
        assert _non_import_lines(text) == [
            line.replace(f"'{ROOT}'", derived).replace(f'"{ROOT}"', derived)
            for line in _non_import_lines(source)
        ], name
        rewritten.append(path)
    ruff = subprocess.run(
        [RUFF, "check", "--isolated", "--select", "I", "--output-format", "concise",
         "--config", "lint.isort.known-first-party = ['myapp']", *rewritten],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    for path in rewritten:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


def _non_import_lines(text: str) -> list[str]:
    """The lines that are not imports or blank, ``Revises:`` aside."""
    return [
        line
        for line in text.splitlines()
        if line.strip() and not line.startswith(("import ", "from ")) and "Revises" not in line
    ]


# --------------------------------------------------------------- messages


@pytest.fixture
def line(tmp_path: pathlib.Path) -> pathlib.Path:
    """A versions directory: static root, then dynamic A and B, committed."""
    repo = gitrepo.Repo(tmp_path / "repo")
    repo.commit({f"{VERSIONS}/{ROOT}_root.py": migration_text(ROOT, None, "root")})
    for revision in (A, B):
        source = gitrepo.migration_source(revision, gitrepo.Dynamic())
        repo.commit({f"{VERSIONS}/{revision}_m.py": source})
    repo.flush()
    return repo.path / VERSIONS


def write(directory: pathlib.Path, source: str | bytes) -> pathlib.Path:
    path = directory / f"{NEW}_new.py"
    path.write_bytes(source.encode() if isinstance(source, str) else source)
    return path


@pytest.mark.parametrize(
    ("down", "labels", "reason"),
    [
        ((B, S1), None, f"a merge of {B}, {S1} (a derived parent is one revision)"),
        ([B], None, f"a merge of {B} (a derived parent is one revision)"),
        (B, "feature", "branch label feature (a labelled migration keeps the parent"),
        (A, None, f"Alembic's parent is {A}, but in the line derived from git history for"),
    ],
)
def test_left_as_is(line: pathlib.Path, down: object, labels: object, reason: str) -> None:
    source = migration_text(NEW, down, "new").replace(  # type: ignore[arg-type]
        "branch_labels = None", f"branch_labels = {labels!r}"
    )
    path = write(line, source)
    (first, *rest) = rewrite_migration(path)
    assert first.startswith(f"{path}: left as is: {reason}")
    assert path.read_text(encoding="utf-8") == source
    if down == A:
        # A branch off A, as Alembic wrote it, slots in before B.
        assert rest == [
            f"{path}: warning: as written it changes the derived parents of migrations already "
            f"in {line} ({B}: {A} -> {NEW}); a line derived from git history cannot hold a "
            "second base or branch off an earlier revision in the same directory: move it "
            "to a version location of its own"
        ]
    else:
        assert rest == []


def test_second_base_is_left_with_a_warning(line: pathlib.Path) -> None:
    path = write(line, migration_text(NEW, None, "plugin"))
    assert rewrite_migration(path) == [
        f"{path}: left as is: Alembic's parent is none (a base), but in the line derived from "
        f"git history for {line.name} it would be {B}",
        f"{path}: warning: as written it changes the derived parents of migrations already in "
        f"{line} ({A} would lose its parent {ROOT}); a line derived from git history cannot "
        "hold a second base or branch off an earlier revision in the same directory: move it "
        "to a version location of its own",
    ]


def test_already_derived_files(line: pathlib.Path) -> None:
    # Derived, import missing: the import is added.
    source = migration_text(NEW, B, "new").replace(f"{B!r}", "get_down_revision(revision)")
    path = write(line, source)
    assert rewrite_migration(path) == [f"{path}: added: {IMPORT}"]
    assert rewrite_migration(path) == []
    # Derived through a module alias: nothing to do.
    aliased = gitrepo.migration_source(NEW, gitrepo.Dynamic("alias"))
    write(line, aliased)
    assert rewrite_migration(path) == []
    assert path.read_bytes() == aliased


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ('revision = "x"\n', "it has no down_revision assignment"),
        ('revision = "x"\ndown_revision = P\n', "down_revision, revision or branch_labels is not"),
    ],
)
def test_files_it_cannot_judge(line: pathlib.Path, source: str, reason: str) -> None:
    path = write(line, source)
    message, warning = rewrite_migration(path)
    assert message.startswith(f"{path}: left as is: {reason}")
    # The core reads either as a second hardcoded base: A would chain after it.
    assert f"({A} would lose its parent {ROOT})" in warning
    assert path.read_text() == source


def test_unparsable_file(line: pathlib.Path) -> None:
    path = write(line, "revision = (\n")
    with pytest.raises(MigrationFileError, match=f"Cannot parse migration file {path}"):
        rewrite_migration(path)


def test_no_git_history(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, migration_text(NEW, ROOT, "new"))
    (message,) = rewrite_migration(path)
    assert message.startswith(f"{path}: left as is: cannot read the derived line of {tmp_path}")
    assert "not inside a git repository" in message


def test_cli_prints_what_it_did(line: pathlib.Path) -> None:
    merge = write(line, migration_text(NEW, (B, S1), "merge"))
    proc = subprocess.run(
        [sys.executable, "-m", "alembic_git_revisions", "rewrite", merge],
        capture_output=True, text=True, check=False, env=gitrepo.git_env(),
    )  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith(f"{merge}: left as is: a merge of {B}, {S1}")
