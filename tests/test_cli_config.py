"""``--config``: Alembic configurations read the way Alembic reads them.

Every layout is checked twice: our directories must be exactly the directories whose
migrations real ``alembic history --verbose`` loads for the same configuration (the
oracle), and the chains we print must be those of ``build_chain`` on each directory.
The newest Alembic (the test environment's) covers ``path_separator`` in each form,
``version_path_separator``, the legacy split, ``%(here)s`` and ``[DEFAULT]``
interpolation, the default ``<script_location>/versions``, ``pyproject.toml``
(``[tool.alembic]``, alone and beside an ``alembic.ini``), ``-n`` sections and
``package:path`` locations. The oldest Alembic the package declares runs the same
through its own virtualenv (built once per session). Every error names the file and
what is wrong, and never shows a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
from collections.abc import Sequence

import gitrepo
import pytest
from alembic_envs import AlembicEnv
from alembic_git_revisions import build_chain
from alembic_git_revisions.cli import main as agr_main
from gitrepo import Dynamic, Repo, migration_source

BIN = pathlib.Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _fresh_chains() -> None:
    build_chain.cache_clear()


@pytest.fixture(scope="session")
def old_python(oldest_alembic: AlembicEnv) -> pathlib.Path:
    """The Python of the oldest declared Alembic's virtualenv (``alembic_envs`` builds
    it once per session, with the wheel under test)."""
    OLD_VERSION[oldest_alembic.python] = oldest_alembic.version
    return oldest_alembic.python


#: The Alembic version of each old virtualenv.
OLD_VERSION: dict[pathlib.Path, str] = {}


NEW = pathlib.Path(sys.executable)


def run(python: pathlib.Path, cwd: pathlib.Path, *args: str | os.PathLike[str]):
    """``python args`` in *cwd*: (status, stdout, stderr). Our command under this test
    process's Python runs in-process (the same code, without a second start-up)."""
    if python == NEW and args[:2] == ("-m", "alembic_git_revisions"):
        return _in_process(cwd, [os.fspath(a) for a in args[2:]])
    proc = subprocess.run(
        [python, *map(os.fspath, args)],
        cwd=cwd,
        env=gitrepo.git_env(PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _in_process(cwd: pathlib.Path, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = agr_main(argv)
    finally:
        os.chdir(saved)
    return status, out.getvalue(), err.getvalue()


def agr_json(python: pathlib.Path, cwd: pathlib.Path, *args: str | os.PathLike[str]) -> dict:
    status, out, err = run(
        python, cwd, "-m", "alembic_git_revisions", "chain", *args, "--format", "json"
    )
    assert status == 0, err
    assert "Traceback" not in err
    return json.loads(out)


def agr_error(python: pathlib.Path, cwd: pathlib.Path, *args: str | os.PathLike[str]) -> str:
    """The one-line error of a command that must fail with exit 2."""
    status, out, err = run(python, cwd, "-m", "alembic_git_revisions", *args)
    assert status == 2, (status, out, err)
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("alembic-git-revisions: error: ")
    return lines[0].removeprefix("alembic-git-revisions: error: ")


def alembic_dirs(python: pathlib.Path, cwd: pathlib.Path, *args: str) -> list[pathlib.Path]:
    """The directories whose migrations real Alembic loads (``history --verbose``)."""
    status, out, err = run(python, cwd, "-m", "alembic", *args, "history", "--verbose")
    assert status == 0, err
    paths = re.findall(r"^\s*Path: (.+\.py)$", out, re.MULTILINE)
    assert paths, out
    return sorted({pathlib.Path(p).parent for p in paths})


# --------------------------------------------------------------------- projects


def project(path: pathlib.Path, dirs: Sequence[str], extra: dict[str, str] | None = None) -> Repo:
    """A repository where each of *dirs* holds a root and two dynamic migrations, all
    revision ids distinct, plus *extra* files."""
    repo = Repo(path)
    files: dict[str, str | bytes] = dict(extra or {})
    for index, directory in enumerate(dirs):
        root, first, second = (f"{index + 1:02x}" + f"{n:010x}" for n in (0, 1, 2))
        repo.commit({f"{directory}/{root}_root.py": migration_source(root, None)})
        repo.commit({f"{directory}/{first}_one.py": migration_source(first, Dynamic())})
        repo.commit({f"{directory}/{second}_two.py": migration_source(second, Dynamic())})
    if files:
        repo.commit(files)
    repo.flush()
    return repo


def assert_same_as_alembic(
    python: pathlib.Path,
    cwd: pathlib.Path,
    config_args: Sequence[str],
    expected: Sequence[pathlib.Path],
) -> None:
    """Our directories = Alembic's = *expected*; each chain = ``build_chain``'s."""
    document = agr_json(python, cwd, *config_args)
    ours = [pathlib.Path(entry["path"]) for entry in document["directories"]]
    assert ours == list(expected)
    assert sorted(ours) == alembic_dirs(python, cwd, *config_args)
    for entry in document["directories"]:
        assert entry["chain"] == build_chain(entry["path"]), entry["path"]
        assert len(entry["chain"]) == 2


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


TWO = ("db/one", "db/two")


def _ini_with_locations(repo: Repo, separator_line: str, locations: str) -> None:
    write(
        repo.path / "alembic.ini",
        f"[alembic]\nscript_location = %(here)s/db\n{separator_line}\n"
        f"version_locations = {locations}\n",
    )


SEPARATORS = {
    # setting line: how to join the two locations
    "path_separator = os": os.pathsep,
    "path_separator = space": " ",
    "path_separator = :": ":",
    "path_separator = ;": ";",
    "path_separator = newline": "\n    ",
    "version_path_separator = os": os.pathsep,
    "version_path_separator = space": " ",
    "version_path_separator = ;": ";",
    # No separator at all: Alembic's legacy split on spaces and commas.
    "": ", ",
}


@pytest.mark.parametrize("setting", list(SEPARATORS), ids=lambda s: s or "legacy")
def test_version_locations_with_each_separator(tmp_path: pathlib.Path, setting: str) -> None:
    repo = project(tmp_path / "repo", TWO)
    joined = SEPARATORS[setting].join(f"%(here)s/{d}" for d in TWO)
    _ini_with_locations(repo, setting, joined)
    expected = [repo.path / d for d in TWO]
    assert_same_as_alembic(NEW, repo.path, ["--config", "alembic.ini"], expected)


def test_interpolation_from_defaults_and_relative_locations(tmp_path: pathlib.Path) -> None:
    repo = project(tmp_path / "repo", ["db/versions", "plugins/versions"])
    write(
        repo.path / "alembic.ini",
        """\
        [DEFAULT]
        root = %(here)s

        [alembic]
        script_location = %(root)s/db
        path_separator = os
        plugins = plugins/versions
        version_locations = %(here)s/db/versions:%(plugins)s
        """,
    )
    # "plugins/versions" is relative: to the current directory, as for alembic.
    expected = [repo.path / "db/versions", repo.path / "plugins/versions"]
    assert_same_as_alembic(NEW, repo.path, ["-c", "alembic.ini"], expected)


def test_default_versions_directory(tmp_path: pathlib.Path) -> None:
    repo = project(tmp_path / "repo", ["migrations/versions"])
    write(repo.path / "alembic.ini", "[alembic]\nscript_location = migrations\n")
    assert_same_as_alembic(
        NEW, repo.path, ["--config", "alembic.ini"], [repo.path / "migrations/versions"]
    )


def test_pyproject_layout_of_alembic_init(tmp_path: pathlib.Path) -> None:
    """``alembic init --template pyproject``: settings in pyproject.toml, the ini keeps
    the database URL and logging. Either file given finds the other beside it."""
    repo = project(tmp_path / "repo", ["migrations/versions"])
    status, _, err = run(
        NEW, repo.path, "-m", "alembic", "init", "--template", "pyproject", "scaffold"
    )
    assert status == 0, err
    toml = (repo.path / "pyproject.toml").read_text(encoding="utf-8")
    assert 'script_location = "%(here)s/scaffold"' in toml
    (repo.path / "pyproject.toml").write_text(
        toml.replace("%(here)s/scaffold", "%(here)s/migrations"), encoding="utf-8"
    )
    ini = (repo.path / "alembic.ini").read_text(encoding="utf-8")
    assert "script_location" not in ini.replace("# script_location", "")
    expected = [repo.path / "migrations/versions"]
    for args in (
        ["-c", "pyproject.toml"],
        ["-c", "alembic.ini"],
        ["-c", "alembic.ini", "-c", "pyproject.toml"],
    ):
        assert_same_as_alembic(NEW, repo.path, args, expected)
    # From elsewhere: the companion is found beside the file given.
    document = agr_json(NEW, tmp_path, "--config", repo.path / "alembic.ini")
    assert [e["path"] for e in document["directories"]] == [str(expected[0])]


def alembic_files(python: pathlib.Path, cwd: pathlib.Path, *args: str) -> list[pathlib.Path]:
    """The migration files real Alembic loads (``history --verbose``)."""
    status, out, err = run(python, cwd, "-m", "alembic", *args, "history", "--verbose")
    assert status == 0, err
    return sorted(pathlib.Path(p) for p in re.findall(r"^\s*Path: (.+\.py)$", out, re.MULTILINE))


def test_pyproject_version_locations_and_recursion(tmp_path: pathlib.Path) -> None:
    """With recursive_version_locations, each location is one chain over every
    directory below it, holding exactly the files Alembic loads."""
    repo = Repo(tmp_path / "repo")
    ids = iter(f"{n:012x}" for n in range(0xB0, 0xC0))
    root, extra_root = next(ids), next(ids)
    repo.commit({f"db/versions/{root}_root.py": migration_source(root, None)})
    repo.commit({f"extra/{extra_root}_root.py": migration_source(extra_root, None)})
    line: dict[str, list[str]] = {"db/versions": [root], "extra": [extra_root]}
    for location, below in [
        ("db/versions", "2024/01"),
        ("extra", "deep/er/still"),
        ("db/versions", "2024/02"),
        ("db/versions", "2025/01"),
        ("extra", "x"),
    ]:
        revision = next(ids)
        repo.commit({f"{location}/{below}/{revision}_m.py": migration_source(revision, Dynamic())})
        line[location].append(revision)
    # Not migrations to Alembic: an __init__.py, a __pycache__ directory's files.
    repo.commit(
        {
            "db/versions/2024/__init__.py": "",
            "db/versions/2024/__pycache__/abcdef000000_cached.py": "revision = 'x'\n",
        }
    )
    repo.flush()
    write(
        repo.path / "pyproject.toml",
        """\
        [project]
        name = "app"

        [tool.alembic]
        script_location = "%(here)s/db"
        version_locations = ["%(here)s/db/versions", "%(here)s/extra"]
        recursive_version_locations = true
        """,
    )
    document = agr_json(NEW, repo.path, "-c", "pyproject.toml")
    locations = [repo.path / "db/versions", repo.path / "extra"]
    entries = document["directories"]
    assert [pathlib.Path(e["path"]) for e in entries] == locations
    assert [e["scope"] for e in entries] == ["recursive", "recursive"]
    ours = sorted(pathlib.Path(e["path"], m["filename"]) for e in entries for m in e["migrations"])
    assert ours == alembic_files(NEW, repo.path, "-c", "pyproject.toml")
    for entry, location in zip(entries, ["db/versions", "extra"], strict=True):
        assert entry["chain"] == build_chain(entry["path"], scope="recursive")
        expected = dict(zip(line[location][1:], line[location][:-1], strict=True))
        assert entry["chain"] == expected


def test_sections_with_name(tmp_path: pathlib.Path) -> None:
    repo = project(tmp_path / "repo", ["main/versions", "audit/versions"])
    write(
        repo.path / "alembic.ini",
        """\
        [alembic]
        script_location = %(here)s/main

        [audit]
        script_location = %(here)s/audit
        """,
    )
    main, audit = repo.path / "main/versions", repo.path / "audit/versions"
    assert_same_as_alembic(NEW, repo.path, ["-c", "alembic.ini"], [main])
    assert_same_as_alembic(NEW, repo.path, ["-c", "alembic.ini", "-n", "audit"], [audit])
    both = agr_json(NEW, repo.path, "-c", "alembic.ini", "-n", "alembic", "-n", "audit")
    assert [e["path"] for e in both["directories"]] == [str(main), str(audit)]
    message = agr_error(NEW, repo.path, "chain", "-c", "alembic.ini", "-n", "audti")
    assert message == (
        "alembic.ini has no [audti] section (sections with a script_location: alembic, "
        "audit; use -n)"
    )
    assert "--name selects a section" in agr_error(NEW, repo.path, "check", "-n", "audit")


def test_package_resource_script_location(tmp_path: pathlib.Path) -> None:
    repo = project(tmp_path / "repo", ["app/migrations/versions"], {"app/__init__.py": ""})
    write(
        repo.path / "alembic.ini",
        "[alembic]\nscript_location = app:migrations\nprepend_sys_path = .\npath_separator = os\n",
    )
    assert_same_as_alembic(
        NEW, repo.path, ["-c", "alembic.ini"], [repo.path / "app/migrations/versions"]
    )


# ----------------------------------------------------------------------- errors


def _errors_project(tmp_path: pathlib.Path) -> Repo:
    return project(tmp_path / "repo", ["migrations/versions"])


ERRORS = {
    "missing file": ("nothere.ini", None, "Alembic configuration nothere.ini does not exist"),
    "no section": (
        "alembic.ini",
        "[loggers]\nkeys = root\n",
        "alembic.ini has no [alembic] section",
    ),
    "no script_location": (
        "alembic.ini",
        "[alembic]\nsqlalchemy.url = sqlite://\n",
        "alembic.ini: no script_location in [alembic]",
    ),
    "unparsable ini": (
        "alembic.ini",
        "script_location = migrations\n",
        "cannot parse alembic.ini: File contains no section headers.",
    ),
    "missing script location": (
        "alembic.ini",
        "[alembic]\nscript_location = %(here)s/nowhere\n",
        "alembic.ini: script_location {root}/nowhere does not exist",
    ),
    "missing version location": (
        "alembic.ini",
        "[alembic]\nscript_location = migrations\npath_separator = os\n"
        "version_locations = %(here)s/migrations/versions:%(here)s/gone\n",
        "alembic.ini: version location {root}/gone does not exist",
    ),
    "bad separator": (
        "alembic.ini",
        "[alembic]\nscript_location = migrations\npath_separator = comma\n"
        "version_locations = migrations/versions\n",
        "alembic.ini: 'comma' is not a valid value for path_separator",
    ),
    "bad interpolation": (
        "alembic.ini",
        "[alembic]\nscript_location = %(hree)s/migrations\n",
        "alembic.ini: Bad value substitution",
    ),
    "unparsable toml": (
        "pyproject.toml",
        "[tool.alembic\nscript_location = 'migrations'\n",
        "cannot parse pyproject.toml: Expected ']' at the end of a table declaration",
    ),
    "no tool.alembic": (
        "pyproject.toml",
        "[project]\nname = 'x'\n",
        "pyproject.toml has no [tool.alembic] table",
    ),
    "toml locations as a string": (
        "pyproject.toml",
        "[tool.alembic]\nscript_location = 'migrations'\n"
        "version_locations = 'migrations/versions'\n",
        "pyproject.toml: [tool.alembic] version_locations must be a list of strings",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_configuration_errors(tmp_path: pathlib.Path, case: str) -> None:
    repo = _errors_project(tmp_path)
    name, text, expected = ERRORS[case]
    if text is not None:
        (repo.path / name).write_text(text, encoding="utf-8")
    message = agr_error(NEW, repo.path, "check", "--config", name)
    assert message.startswith(expected.format(root=repo.path)), message


def test_a_location_without_migrations_is_an_error(tmp_path: pathlib.Path) -> None:
    repo = _errors_project(tmp_path)
    (repo.path / "migrations/empty").mkdir()
    write(
        repo.path / "alembic.ini",
        "[alembic]\nscript_location = migrations\npath_separator = os\n"
        "version_locations = %(here)s/migrations/versions:%(here)s/migrations/empty\n",
    )
    for command in ("check", "chain", "graph"):
        message = agr_error(NEW, repo.path, command, "-c", "alembic.ini")
        assert message == f"{repo.path}/migrations/empty holds no migrations"


# ------------------------------------------------------------ the oldest Alembic


def test_oldest_alembic_separators_interpolation_and_defaults(
    tmp_path: pathlib.Path, old_python: pathlib.Path
) -> None:
    """Alembic 1.7 knows ``version_path_separator`` (no ``path_separator``, no newline,
    no recursion); each setting it knows means what it means there."""
    for setting in (
        "version_path_separator = os",
        "version_path_separator = space",
        "version_path_separator = ;",
        "",
    ):
        repo = project(tmp_path / f"repo{len(setting)}", TWO)
        joined = SEPARATORS[setting].join(f"%(here)s/{d}" for d in TWO)
        _ini_with_locations(repo, setting, joined)
        assert_same_as_alembic(
            old_python, repo.path, ["-c", "alembic.ini"], [repo.path / d for d in TWO]
        )

    repo = project(tmp_path / "default", ["migrations/versions"], {"pkg/__init__.py": ""})
    write(
        repo.path / "alembic.ini",
        "[alembic]\nscript_location = migrations\n[other]\nscript_location = pkg:m\n",
    )
    assert_same_as_alembic(
        old_python, repo.path, ["-c", "alembic.ini"], [repo.path / "migrations/versions"]
    )


def test_oldest_alembic_package_resource_and_sections(
    tmp_path: pathlib.Path, old_python: pathlib.Path
) -> None:
    repo = project(
        tmp_path / "repo", ["main/versions", "app/migrations/versions"], {"app/__init__.py": ""}
    )
    write(
        repo.path / "alembic.ini",
        """\
        [alembic]
        script_location = %(here)s/main

        [plugin]
        script_location = app:migrations
        prepend_sys_path = .
        """,
    )
    assert_same_as_alembic(
        old_python, repo.path, ["-c", "alembic.ini"], [repo.path / "main/versions"]
    )
    assert_same_as_alembic(
        old_python,
        repo.path,
        ["-c", "alembic.ini", "-n", "plugin"],
        [repo.path / "app/migrations/versions"],
    )


def test_oldest_alembic_errors(tmp_path: pathlib.Path, old_python: pathlib.Path) -> None:
    repo = _errors_project(tmp_path)
    for case in ("no section", "no script_location", "unparsable ini", "missing script location"):
        name, text, expected = ERRORS[case]
        assert text is not None
        (repo.path / name).write_text(text, encoding="utf-8")
        message = agr_error(old_python, repo.path, "chain", "--config", name)
        assert message.startswith(expected.format(root=repo.path)), (case, message)
    write(repo.path / "pyproject.toml", "[tool.alembic]\nscript_location = 'migrations'\n")
    message = agr_error(old_python, repo.path, "chain", "--config", "pyproject.toml")
    assert message == (
        "pyproject.toml: reading [tool.alembic] from pyproject.toml needs Alembic 1.16 or "
        f"newer; Alembic {OLD_VERSION[old_python]} is installed"
    )
