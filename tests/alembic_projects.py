"""Alembic projects in git repositories, in pairs: one as the oracle, one under test.

A :class:`Project` is a git repository (isolated from the user's configuration, fixed
dates) holding ``alembic init migrations`` on SQLite, driven by one Alembic
installation (:class:`alembic_envs.AlembicEnv`), with one of three templates:

* ``"stock"``: Alembic's own ``script.py.mako``, untouched;
* ``"ours"``: the project after ``alembic-git-revisions init migrations``;
* ``"hook"``: the stock template plus ``alembic-git-revisions rewrite`` as a post-write
  hook.

:class:`Twins` runs the same Alembic commands (fixed ``--rev-id`` values) in a stock
project, the oracle, and in a project under test, committing both after each step the
way a team commits migrations. :meth:`Twins.assert_same_graph` then compares what
Alembic reports of both (``heads``, ``heads --resolve-dependencies``, ``history``,
``branches``) and the databases after ``upgrade heads``.
"""

from __future__ import annotations

import ast
import concurrent.futures
import dataclasses
import json
import os
import pathlib
import re
import subprocess

import gitrepo
from alembic_envs import AlembicEnv, Outcome

VERSIONS = "migrations/versions"
PLUGIN_VERSIONS = "plugin/versions"


def migration_text(revision: str, parent: str | tuple[str, ...] | None, message: str) -> str:
    """A hardcoded migration as a team that used the stock template would have it."""
    return (
        f'"""{message}\n\nRevision ID: {revision}\n"""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {parent!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade():\n"
        f"    op.create_table('t_{revision}', sa.Column('id', sa.Integer, primary_key=True))\n"
        "\n\n"
        "def downgrade():\n"
        f"    op.drop_table('t_{revision}')\n"
    )


def down_revision_kind(path: pathlib.Path) -> str:
    """``"dynamic"`` for ``get_down_revision(...)``, else ``"static"`` (a literal)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        value = None
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id == "down_revision":
                value = node.value
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "down_revision" for t in node.targets
        ):
            value = node.value
        if value is None:
            continue
        if isinstance(value, ast.Call):
            assert ast.unparse(value) == "get_down_revision(revision)", ast.unparse(value)
            return "dynamic"
        ast.literal_eval(value)
        return "static"
    raise AssertionError(f"no down_revision in {path}")


def declared_revision(path: pathlib.Path) -> str:
    """The ``revision = ...`` a migration file declares."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "revision" and node.value is not None:
            value = ast.literal_eval(node.value)
            assert isinstance(value, str), path
            return value
    raise AssertionError(f"no revision in {path}")


@dataclasses.dataclass(frozen=True)
class Graph:
    """What Alembic reports about a project's revisions, order-independent."""

    heads: list[str]
    resolved_heads: list[str]
    history: list[str]
    branches: list[str]
    database: list[str]


class Project:
    """An Alembic project on SQLite in its own git repository."""

    def __init__(
        self, path: pathlib.Path, env: AlembicEnv, kind: str, *, plugin: bool = False
    ) -> None:
        assert kind in ("stock", "ours", "hook"), kind
        self.path, self.env, self.kind = path, env, kind
        self.clock = gitrepo.EPOCH
        path.mkdir(parents=True)
        self.git("-c", "init.defaultBranch=main", "init", "-q")
        self.git("config", "commit.gpgsign", "false")
        self.run("alembic", "init", "migrations")
        ini = path / "alembic.ini"
        text = ini.read_text(encoding="utf-8")
        url = "sqlalchemy.url = sqlite:///%(here)s/app.db"
        text, count = re.subn(r"^sqlalchemy\.url = .*$", url, text, flags=re.M)
        assert count == 1
        if plugin:
            # Both Alembic generations' inis set an `os` path separator; Alembic 1.7.0
            # writes it with an inline comment that it then cannot parse.
            text = text.replace(
                "version_path_separator = os  # default: use os.pathsep",
                "version_path_separator = os",
            )
            locations = os.pathsep.join(f"%(here)s/{d}" for d in (VERSIONS, PLUGIN_VERSIONS))
            setting = rf"\1\nversion_locations = {locations}"
            text, count = re.subn(r"^(script_location = .*)$", setting, text, flags=re.M)
            assert count == 1
            (path / PLUGIN_VERSIONS).mkdir(parents=True)
            (path / PLUGIN_VERSIONS / ".keep").touch()
        if kind == "hook":
            hook = (
                "[post_write_hooks]\nhooks = agr\nagr.type = console_scripts\n"
                "agr.entrypoint = alembic-git-revisions\n"
                "agr.options = rewrite REVISION_SCRIPT_FILENAME\n"
            )
            assert text.count("[post_write_hooks]\n") == 1
            text = text.replace("[post_write_hooks]\n", hook)
        ini.write_text(text, encoding="utf-8")
        (path / ".gitignore").write_text("*.db\n__pycache__/\n", encoding="utf-8")
        if kind == "ours":
            self.run("agr", "init", "migrations")
        self.commit("alembic init")

    # ------------------------------------------------------------------ running

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

    def run(self, *argv: str, ok: bool = True) -> Outcome:
        """``alembic ...``, ``agr ...`` or any command, in the project directory."""
        outcome = self.env.run(self.path, *argv)
        if ok:
            assert outcome.status == 0, f"{self.kind}: {' '.join(argv)}:\n{outcome}"
        return outcome

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        if self.git("status", "--porcelain").strip():
            self.git("commit", "-q", "-m", message)

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def _files(self) -> list[pathlib.Path]:
        """Every migration file, at any depth (a recursive location's date layout)."""
        return [p for d in (VERSIONS, PLUGIN_VERSIONS) for p in (self.path / d).rglob("*.py")]

    def migration(self, revision: str) -> pathlib.Path:
        """The file of *revision* (generated with ``--rev-id``), in any version location:
        its name starts with the id, or holds it as a ``_``-separated word (the cookbook's
        ``%%(day).2d_%%(hour).2d%%(minute).2d_%%(second).2d_%%(rev)s_%%(slug)s``)."""
        (path,) = [p for p in self._files() if revision in p.name.split("_")[:-1]]
        return path

    def kind_of(self, revision: str) -> str:
        return down_revision_kind(self.migration(revision))

    def revisions(self) -> list[str]:
        return sorted(declared_revision(p) for p in self._files())

    def graph(self) -> Graph:
        """Alembic's view of the project, from its own command functions in one process
        (one interpreter start instead of five); the database is then removed."""
        proc = self.run("python", "-c", _GRAPH_SCRIPT)
        report = json.loads(proc.out.splitlines()[-1])
        (self.path / "app.db").unlink()
        return Graph(**report)


#: ``alembic upgrade heads``, ``heads``, ``heads --resolve-dependencies``, ``history``,
#: ``branches`` through ``alembic.command`` (what the CLI calls), each with its own
#: ``Config`` whose stdout is captured, as one JSON line.
_GRAPH_SCRIPT = """\
import io, json, sqlite3
from alembic import command
from alembic.config import Config

def lines(name, **kw):
    out = io.StringIO()
    getattr(command, name)(Config("alembic.ini", stdout=out), **kw)
    return sorted(line.strip() for line in out.getvalue().splitlines())

command.upgrade(Config("alembic.ini"), "heads")
db = sqlite3.connect("app.db")
rows = sorted(v for (v,) in db.execute("SELECT version_num FROM alembic_version"))
db.close()
print(json.dumps(dict(
    heads=lines("heads"),
    resolved_heads=lines("heads", resolve_dependencies=True),
    history=lines("history"),
    branches=lines("branches"),
    database=rows,
)))
"""


class Twins:
    """A stock project (the oracle) and a project under test, driven in lockstep."""

    def __init__(
        self, root: pathlib.Path, env: AlembicEnv, kind: str, *, plugin: bool = False
    ) -> None:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            oracle = pool.submit(Project, root / "oracle", env, "stock", plugin=plugin)
            self.subject = Project(root / kind, env, kind, plugin=plugin)
            self.oracle = oracle.result()

    def alembic(self, *args: str, commit: bool = True) -> Outcome:
        """Run ``alembic args`` in both at once (both must succeed); the subject's outcome."""
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            oracle = pool.submit(self.oracle.run, "alembic", *args)
            outcome = self.subject.run("alembic", *args)
            oracle.result()
        if commit:
            self.commit(" ".join(args))
        return outcome

    def commit(self, message: str) -> None:
        self.oracle.commit(message)
        self.subject.commit(message)

    def write(self, relative: str, text: str) -> None:
        self.oracle.write(relative, text)
        self.subject.write(relative, text)

    def assert_same_graph(self) -> Graph:
        """Alembic sees the same revision graph in both; returns it."""
        assert self.subject.revisions() == self.oracle.revisions()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            oracle = pool.submit(self.oracle.graph)
            actual = self.subject.graph()
            expected = oracle.result()
        assert actual == expected
        return actual
