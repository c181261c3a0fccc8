"""Recursive version locations with real Alembic, on SQLite, in real git repositories.

Alembic's cookbook layout is ``recursive_version_locations = true`` with a
``file_template`` that starts with ``%%(year)d/%%(month).2d/``: ``alembic revision``
writes each migration into a directory per month, and Alembic loads every directory
below the version location. Derived parents must then form ONE line over the whole
location, across months and years: one head for ``alembic heads``, every table after
``alembic upgrade head``, whatever ``alembic`` command loads the files, and the same
answer when a test imports a migration outside Alembic (the scope rule, see README
"Alembic features"). Also: branches adding migrations in different months, deeper
nesting, a flat location beside a recursive one, ``check --config`` (a reordering, two
heads), ``chain --at``, the chain file without git, the rule's refusal when Alembic and
the configuration on disk disagree, and Alembic 1.7 (the oldest declared), which has no
``recursive_version_locations``.

``alembic revision`` names files after the clock: :data:`_ALEMBIC_AT` runs Alembic's own
command line (``alembic.config.main``, what the ``alembic`` script calls) with the
clock of ``ScriptDirectory`` set, so that months and years pass in a test.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import pathlib
import re
import shutil
import sqlite3
import types

from alembic_envs import AlembicEnv
from alembic_git_revisions import build_chain, build_chain_at
from alembic_projects import VERSIONS, Project, migration_text

#: Alembic's own suggestion for date-based subdirectories (its ``alembic.ini`` template).
COOKBOOK = (
    "%%(year)d/%%(month).2d/%%(day).2d_%%(hour).2d%%(minute).2d_%%(second).2d_%%(rev)s_%%(slug)s"
)
#: A layout four directories deep.
DEEP = "%%(year)d/%%(month).2d/%%(day).2d/%%(hour).2d/%%(rev)s_%%(slug)s"

#: ``alembic ARGS`` at the time ``sys.argv[1]`` (ISO 8601) for ``alembic revision``.
_ALEMBIC_AT = """\
import datetime, sys
from alembic.config import main
from alembic.script.base import ScriptDirectory
when = datetime.datetime.fromisoformat(sys.argv[1])
ScriptDirectory._generate_create_date = lambda self: when
main(argv=sys.argv[2:], prog="alembic")
"""

_IMPORT = """\
import importlib.util, sys
spec = importlib.util.spec_from_file_location("migration", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(module.down_revision)
"""


# ------------------------------------------------------------------ helpers


def configure(
    project: Project,
    *,
    template: str | None = COOKBOOK,
    recursive: bool = True,
    section: str = "alembic",
    ini: str = "alembic.ini",
) -> None:
    """Set ``recursive_version_locations`` and ``file_template`` in *section*, commit."""
    path = project.path / ini
    lines = [f"recursive_version_locations = {str(recursive).lower()}"]
    if template is not None:
        lines.append(f"file_template = {template}")
    text = path.read_text(encoding="utf-8")
    head = f"[{section}]\n"
    assert text.count(head) == 1, text
    start = text.index(head) + len(head)
    text = text[:start] + "".join(f"{line}\n" for line in lines) + text[start:]
    path.write_text(text, encoding="utf-8")
    project.commit(f"configure {section}")


def revision(
    project: Project, when: str, rev: str, message: str, *, name: str = "alembic"
) -> pathlib.Path:
    """``alembic -n NAME revision`` at *when*, with a table of its own; committed."""
    argv = ["-n", name, "revision", "--rev-id", rev, "-m", message]
    project.run("python", "-c", _ALEMBIC_AT, when, *argv)
    (path,) = [p for p in project.path.rglob(f"*{rev}_*.py") if "__pycache__" not in p.parts]
    text = path.read_text(encoding="utf-8")
    for function, body in [
        ("upgrade", f"op.create_table('t_{rev}', sa.Column('id', sa.Integer, primary_key=True))"),
        ("downgrade", f"op.drop_table('t_{rev}')"),
    ]:
        pattern = rf'(def {function}\(\)[^\n]*:\n(?:    """[^\n]*"""\n)?)    pass\n'
        text, count = re.subn(pattern, rf"\g<1>    {body}\n", text, count=1)
        assert count == 1, text
    path.write_text(text, encoding="utf-8")
    project.commit(f"add {message}")
    return path


def alembic(project: Project, *args: str, ok: bool = True) -> list[str]:
    outcome = project.run("alembic", *args, ok=ok)
    return [line.strip() for line in outcome.out.splitlines() if line.strip()]


def history_of(line: list[tuple[str, str]]) -> list[str]:
    """``alembic history`` of one line of (revision, message), newest first."""
    lines = []
    for index, (rev, message) in enumerate(line):
        parent = line[index - 1][0] if index else "<base>"
        head = " (head)" if index == len(line) - 1 else ""
        lines.append(f"{parent} -> {rev}{head}, {message}")
    return lines[::-1]


def tables(database: pathlib.Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows} - {"alembic_version"}


def versions_of(database: pathlib.Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return [row[0] for row in db.execute("SELECT version_num FROM alembic_version")]


def upgrade_creates(project: Project, line: list[str]) -> None:
    """``alembic upgrade head`` on a new database creates every table, at the last one."""
    database = project.path / "app.db"
    database.unlink(missing_ok=True)
    alembic(project, "upgrade", "head")
    assert tables(database) == {f"t_{rev}" for rev in line}
    assert versions_of(database) == [line[-1]]


def agr_json(project: Project, *args: str) -> dict:
    outcome = project.run("agr", *args, "--format", "json")
    return json.loads(outcome.out)


def imported_down_revision(project: Project, path: pathlib.Path) -> str:
    """``down_revision`` of *path* imported outside Alembic (a test importing it)."""
    return project.run("python", "-c", _IMPORT, path).out.strip()


def git_add_order(project: Project, location: str) -> list[str]:
    """The files of *location* (any depth) in the order ``git log`` first adds them:
    the reference's command, read from the repository's top."""
    out = project.git(
        "log", "--reverse", "--diff-filter=A", "--no-renames", "--topo-order",
        "--name-only", "--format=",
    )  # fmt: skip
    return [line for line in out.splitlines() if line.startswith(f"{location}/")]


# ------------------------------------------------------------------ the date layout

#: (when, revision, message): months and a new year; the first before the layout.
_DATES = [
    ("2024-11-03T10:00:00", "0002", "users"),
    ("2024-11-20T08:30:00", "0003", "orders"),
    ("2024-12-31T23:59:59", "0004", "invoices"),
    ("2025-01-01T00:00:00", "0005", "refunds"),
    ("2025-02-14T12:00:00", "0006", "coupons"),
]


def date_layout(path: pathlib.Path, env: AlembicEnv, kind: str = "ours") -> Project:
    """A project that starts flat (``0001`` in the location itself), then adopts the
    cookbook layout; ``deployed`` is tagged after ``0004``, the last of 2024."""
    project = Project(path, env, kind)
    revision(project, "2024-10-30T09:00:00", "0001", "start")
    configure(project)
    for when, rev, message in _DATES:
        revision(project, when, rev, message)
        if rev == "0004":
            project.git("tag", "deployed")
    return project


LINE = [("0001", "start"), *((rev, message) for _, rev, message in _DATES)]
REVISIONS = [rev for rev, _ in LINE]


def test_date_layout_is_one_line(tmp_path: pathlib.Path, newest_alembic: AlembicEnv) -> None:
    project = date_layout(tmp_path / "p", newest_alembic)
    top = project.path / VERSIONS
    files = [project.migration(rev).relative_to(top).as_posix() for rev in REVISIONS]
    assert files == [
        "0001_start.py",
        "2024/11/03_1000_00_0002_users.py",
        "2024/11/20_0830_00_0003_orders.py",
        "2024/12/31_2359_59_0004_invoices.py",
        "2025/01/01_0000_00_0005_refunds.py",
        "2025/02/14_1200_00_0006_coupons.py",
    ]
    assert [project.kind_of(rev) for rev in REVISIONS] == ["dynamic"] * len(REVISIONS)

    # What Alembic loads: one line, one head, every table.
    assert alembic(project, "heads") == ["0006 (head)"]
    assert alembic(project, "history") == history_of(LINE)
    upgrade_creates(project, REVISIONS)
    # Downgrading walks the same line back across the years.
    alembic(project, "downgrade", "0003")
    assert tables(project.path / "app.db") == {"t_0001", "t_0002", "t_0003"}

    # Outside Alembic, a migration imported by a test gets the same parent.
    assert imported_down_revision(project, project.migration("0005")) == "0004"
    assert imported_down_revision(project, project.migration("0002")) == "0001"

    # The command line reads the configuration the same way.
    expected = {"0001": None} | {rev: parent for parent, rev in itertools.pairwise(REVISIONS)}
    assert build_chain(top, scope="recursive") == expected
    document = agr_json(project, "chain", "--config", "alembic.ini")
    (entry,) = document["directories"]
    assert (entry["path"], entry["scope"], entry["chain"]) == (str(top), "recursive", expected)
    assert [m["filename"] for m in entry["migrations"]] == files
    check = project.run("agr", "check", "--config", "alembic.ini")
    assert check.out.splitlines() == [
        f"{top}: OK, 6 migrations",
        "alembic.ini [alembic]: revision graph of 1 version location: OK, 1 head",
    ]
    assert check.err == ""

    # chain --at: the tree at the tag, listed recursively (2025 did not exist yet).
    at = agr_json(project, "chain", "--config", "alembic.ini", "--at", "deployed")
    deployed = {rev: expected[rev] for rev in REVISIONS[:4]}
    assert [e["chain"] for e in at["directories"]] == [deployed]
    assert build_chain_at(top, "deployed", scope="recursive") == deployed
    assert project.run("agr", "check", "--config", "alembic.ini", "--base", "deployed").status == 0


def test_the_rewrite_hook_on_the_date_layout(
    tmp_path: pathlib.Path, newest_alembic: AlembicEnv
) -> None:
    """Alembic's own template with ``rewrite`` as a post-write hook: the same line."""
    project = date_layout(tmp_path / "p", newest_alembic, "hook")
    assert [project.kind_of(rev) for rev in REVISIONS] == ["dynamic"] * len(REVISIONS)
    assert alembic(project, "heads") == ["0006 (head)"]
    assert alembic(project, "history") == history_of(LINE)
    upgrade_creates(project, REVISIONS)


def test_branches_in_different_months_merge_to_one_head(
    tmp_path: pathlib.Path, newest_alembic: AlembicEnv
) -> None:
    project = Project(tmp_path / "p", newest_alembic, "ours")
    configure(project)
    revision(project, "2024-11-03T10:00:00", "0001", "start")
    project.git("branch", "feature")
    revision(project, "2025-03-02T10:00:00", "0002", "on_main")
    project.git("checkout", "-q", "feature")
    revision(project, "2025-04-07T10:00:00", "0003", "on_feature")
    # On the feature branch alone, its migration follows 0001.
    assert alembic(project, "heads") == ["0003 (head)"]
    project.git("checkout", "-q", "main")
    project.git("merge", "-q", "--no-ff", "--no-edit", "feature")

    # git's order (the reference's command) decides the line, across both months.
    order = git_add_order(project, VERSIONS)
    assert sorted(order) == sorted(
        project.migration(rev).relative_to(project.path).as_posix()
        for rev in ("0001", "0002", "0003")
    )
    line = [re.findall(r"_(000\d)_", name)[0] for name in order]
    assert line[0] == "0001"
    assert alembic(project, "heads") == [f"{line[-1]} (head)"]
    messages = {"0001": "start", "0002": "on_main", "0003": "on_feature"}
    assert alembic(project, "history") == history_of([(rev, messages[rev]) for rev in line])
    upgrade_creates(project, line)
    # The next migration, in yet another month, continues the merged line.
    revision(project, "2025-05-01T09:00:00", "0004", "after_merge")
    assert alembic(project, "heads") == ["0004 (head)"]
    upgrade_creates(project, [*line, "0004"])


def test_deep_nesting_and_a_flat_location_beside(
    tmp_path: pathlib.Path, newest_alembic: AlembicEnv, reference: types.ModuleType
) -> None:
    """Four directory levels in one section; another section's flat location keeps the
    reference's chain, and its subdirectories stay out of it, as out of Alembic."""
    project = Project(tmp_path / "p", newest_alembic, "ours")
    configure(project, template=DEEP)
    project.run("alembic", "init", "audit")
    project.run("agr", "init", "audit")
    ini = project.path / "alembic.ini"
    ini.write_text(
        ini.read_text(encoding="utf-8") + "\n[audit]\nscript_location = %(here)s/audit\n"
        "path_separator = os\nsqlalchemy.url = sqlite:///%(here)s/audit.db\n",
        encoding="utf-8",
    )
    project.commit("audit section")
    deep = [
        ("2024-12-30T22:00:00", "0001", "start"),
        ("2025-01-02T03:00:00", "0002", "next"),
        ("2025-01-02T04:00:00", "0003", "same_day"),
        ("2026-06-01T00:00:00", "0004", "later"),
    ]
    for when, rev, message in deep:
        revision(project, when, rev, message)
    for n, when in enumerate(["2025-01-01T00:00:00", "2025-02-01T00:00:00", "2025-03-01"]):
        revision(project, when, f"a00{n + 1}", f"audit{n + 1}", name="audit")
    # A file in a subdirectory of the flat location: neither Alembic nor the chain reads it.
    stray = project.path / "audit/versions/old/a009_stray.py"
    stray.parent.mkdir()
    stray.write_text(migration_text("a009", "a001", "stray"), encoding="utf-8")
    project.commit("stray")

    top = project.path / VERSIONS
    assert project.migration("0003").relative_to(top).as_posix() == (
        "2025/01/02/04/0003_same_day.py"
    )
    assert alembic(project, "heads") == ["0004 (head)"]
    assert alembic(project, "history") == history_of([(r, m) for _, r, m in deep])
    upgrade_creates(project, [rev for _, rev, _ in deep])

    audit = project.path / "audit" / "versions"
    assert alembic(project, "--name", "audit", "heads") == ["a003 (head)"]
    reference.build_chain.cache_clear()
    chain = {"a001": None, "a002": "a001", "a003": "a002"}
    assert build_chain(audit) == chain
    # The reference's chain, but for the first dynamic migration with no parent, which it
    # leaves out (README "Differences", 1); a009 in old/ is in neither.
    assert reference.build_chain(audit) == {"a002": "a001", "a003": "a002"}
    both = agr_json(project, "chain", "-c", "alembic.ini", "-n", "alembic", "-n", "audit")
    assert [(e["path"], e["scope"]) for e in both["directories"]] == [
        (str(top), "recursive"),
        (str(audit), "flat"),
    ]
    assert both["directories"][1]["chain"] == build_chain(audit)
    check = project.run("agr", "check", "-c", "alembic.ini", "-n", "alembic", "-n", "audit")
    assert check.out.splitlines() == [
        f"{top}: OK, 4 migrations",
        f"{audit}: OK, 3 migrations",
        "alembic.ini [alembic]: revision graph of 1 version location: OK, 1 head",
        "alembic.ini [audit]: revision graph of 1 version location: OK, 1 head",
    ]


# ------------------------------------------------------------------ check --config


def test_check_config_catches_a_reordering(
    tmp_path: pathlib.Path, newest_alembic: AlembicEnv
) -> None:
    """A feature branch that merged ``main`` into itself ("Update branch") lands its
    migration before deployed ones of earlier months: ``check`` says which."""
    project = Project(tmp_path / "p", newest_alembic, "ours")
    configure(project)
    revision(project, "2024-11-03T10:00:00", "0001", "start")
    project.git("branch", "feature")
    revision(project, "2024-12-01T10:00:00", "0002", "a")
    revision(project, "2025-01-05T10:00:00", "0003", "b")
    project.git("tag", "deployed")
    project.git("checkout", "-q", "feature")
    revision(project, "2025-02-10T10:00:00", "0004", "f")
    project.git("merge", "-q", "--no-edit", "main")
    project.git("checkout", "-q", "main")
    project.git("merge", "-q", "--no-ff", "--no-edit", "feature")

    top = project.path / VERSIONS
    chain = build_chain(top, scope="recursive")
    assert chain == {"0001": None, "0004": "0001", "0002": "0004", "0003": "0002"}
    check = project.run("agr", "check", "--config", "alembic.ini", "--base", "deployed", ok=False)
    assert check.status == 1, check
    assert "[parent-changed] 0002 (2024/12/01_1000_00_0002_a.py)" in check.err
    assert "0004" in check.err
    document = json.loads(
        project.run(
            "agr", "check", "-c", "alembic.ini", "--base", "deployed", "--format", "json", ok=False
        ).out
    )
    findings = [f for d in document["directories"] for f in d["findings"]]
    assert [(f["kind"], f["revision"], f["inserted"]) for f in findings] == [
        ("parent-changed", "0002", "0004")
    ]


def test_check_config_catches_two_heads(tmp_path: pathlib.Path, newest_alembic: AlembicEnv) -> None:
    """Hardcoded migrations of different months that fork are two heads of the one
    location, as ``alembic heads`` says, not one head per month."""
    project = Project(tmp_path / "p", newest_alembic, "ours")
    configure(project)
    for relative, rev, parent in [
        ("2024/11/0001_root.py", "0001", None),
        ("2024/12/0002_a.py", "0002", "0001"),
        ("2025/01/0003_b.py", "0003", "0001"),
    ]:
        project.write(f"{VERSIONS}/{relative}", migration_text(rev, parent, relative))
        project.commit(relative)
    assert sorted(alembic(project, "heads")) == ["0002 (head)", "0003 (head)"]

    check = project.run("agr", "check", "--config", "alembic.ini", ok=False)
    assert check.status == 1, check
    top = project.path / VERSIONS
    assert check.out.splitlines() == [f"{top}: OK, 3 migrations"]
    assert "alembic.ini [alembic]: revision graph of 1 version location: 1 problem found" in (
        check.err
    )
    assert "[graph-heads]" in check.err and "2 heads" in check.err, check.err


# ------------------------------------------------------------------ no git, the rule


def test_chain_file_beside_the_location_without_git(
    tmp_path: pathlib.Path, newest_alembic: AlembicEnv
) -> None:
    project = date_layout(tmp_path / "p", newest_alembic)
    generate = project.run("agr", "generate", "--config", "alembic.ini")
    chain_file = project.path / "migrations" / "revision_chain.json"
    assert f"Generated {chain_file} with 6 revisions" in generate.out
    assert json.loads(chain_file.read_text(encoding="utf-8")) == build_chain(
        project.path / VERSIONS, scope="recursive"
    )
    # No chain file inside the location or its subdirectories.
    assert not list((project.path / VERSIONS).rglob("revision_chain.json"))

    # An image without .git: Alembic and the command line read the file.
    image = tmp_path / "image"
    shutil.copytree(project.path, image, ignore=shutil.ignore_patterns(".git", "app.db"))
    shipped = Project.__new__(Project)
    shipped.path, shipped.env, shipped.kind = image, project.env, "ours"
    assert alembic(shipped, "heads") == ["0006 (head)"]
    assert alembic(shipped, "history") == history_of(LINE)
    upgrade_creates(shipped, REVISIONS)
    assert imported_down_revision(shipped, shipped.migration("0005")) == "0004"
    chain = shipped.run("agr", "chain", "--config", "alembic.ini", "--format", "json")
    assert json.loads(chain.out)["directories"][0]["chain"] == json.loads(
        chain_file.read_text(encoding="utf-8")
    )
    assert "revision_chain.json" in chain.err


def test_the_scope_rule_refuses_when_alembic_and_the_configuration_disagree(
    tmp_path: pathlib.Path, newest_alembic: AlembicEnv
) -> None:
    """``alembic -c flat.ini`` loads the location flat while the project's alembic.ini
    reads it recursively: the parent of ``0001`` would depend on which file Alembic was
    started with, so it is refused, not guessed."""
    project = date_layout(tmp_path / "p", newest_alembic)
    flat = (project.path / "alembic.ini").read_text(encoding="utf-8")
    flat = flat.replace("recursive_version_locations = true\n", "")
    (project.path / "flat.ini").write_text(flat, encoding="utf-8")
    refused = project.run("alembic", "-c", "flat.ini", "heads", ok=False)
    assert refused.status != 0, refused
    assert "cannot tell which chain the migrations in" in refused.err
    assert "part of the recursive version location" in refused.err
    assert "the flat versions directory" in refused.err
    # With the project's own configuration, the same command works.
    assert alembic(project, "heads") == ["0006 (head)"]


# ------------------------------------------------------------------ Alembic 1.7


def test_oldest_alembic_has_no_recursive_locations(
    tmp_path: pathlib.Path, oldest_alembic: AlembicEnv
) -> None:
    """Alembic before 1.10 ignores ``recursive_version_locations`` and loads the location
    flat (nor does it create ``file_template`` directories); ``--config`` reads the
    location as that Alembic does, so what the chain holds is what Alembic loads.
    ``--recursive`` still reads a location recursively on request."""
    project = Project(tmp_path / "p", oldest_alembic, "ours")
    configure(project, template=None)
    revision(project, "2024-11-03T10:00:00", "0001", "start")
    revision(project, "2024-12-01T10:00:00", "0002", "next")
    moved = project.path / VERSIONS / "2024" / "12" / project.migration("0002").name
    moved.parent.mkdir(parents=True)
    project.migration("0002").rename(moved)
    revision(project, "2025-01-01T10:00:00", "0003", "after")

    # Alembic 1.7 never sees 0002: 0003 follows 0001 in the line it loads.
    assert alembic(project, "heads") == ["0003 (head)"]
    assert alembic(project, "history") == history_of([("0001", "start"), ("0003", "after")])
    upgrade_creates(project, ["0001", "0003"])
    top = project.path / VERSIONS
    document = agr_json(project, "chain", "--config", "alembic.ini")
    (entry,) = document["directories"]
    assert (entry["scope"], entry["chain"]) == ("flat", {"0001": None, "0003": "0001"})
    check = project.run("agr", "check", "--config", "alembic.ini")
    assert check.out.splitlines()[-1] == (
        "alembic.ini [alembic]: revision graph of 1 version location: OK, 1 head"
    )
    explicit = agr_json(project, "chain", str(top), "--recursive")
    assert explicit["directories"][0]["chain"] == {"0001": None, "0002": "0001", "0003": "0002"}
