"""The installed distribution: what a user gets from ``pip install``.

pytest runs from the repository, but ``alembic_git_revisions`` is imported from the
installed wheel (``./dev test`` installs it), so these tests see exactly what ships.
With ``$AGR_WHEEL`` naming that wheel, ``scripts/check_wheel.py`` also checks its tags,
size and linkage.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import os
import pathlib
import re
import subprocess
import sys
import sysconfig
import zipfile

import alembic_git_revisions
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHECK_WHEEL = ROOT / "scripts" / "check_wheel.py"
DISTRIBUTION = "alembic-git-revisions-rs"
SCRIPT = "alembic-git-revisions"
PACKAGE_DIR = pathlib.Path(alembic_git_revisions.__file__).parent


def _run(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [os.fspath(a) for a in args], capture_output=True, text=True, check=False, timeout=120
    )


def test_version_is_the_distributions() -> None:
    assert alembic_git_revisions.__version__ == importlib.metadata.version(DISTRIBUTION)


@pytest.mark.parametrize("resource", ["py.typed", "_core.pyi", "templates/script.py.mako"])
def test_package_data_ships(resource: str) -> None:
    path = importlib.resources.files("alembic_git_revisions").joinpath(resource)
    assert path.is_file(), f"{resource} is missing from the installed package"


def test_template_uses_get_down_revision() -> None:
    template = importlib.resources.files("alembic_git_revisions").joinpath(
        "templates/script.py.mako"
    )
    text = template.read_text(encoding="utf-8")
    assert "from alembic_git_revisions import get_down_revision" in text
    # Plain or annotated (`down_revision: Union[str, None] = ...`): either is dynamic.
    assert re.search(r"^down_revision\b[^=\n]*= get_down_revision\(revision\)$", text, re.M)


def test_console_script_is_declared() -> None:
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name=SCRIPT)
    assert entry.value == "alembic_git_revisions.cli:main"
    assert entry.dist is not None and entry.dist.name == DISTRIBUTION


def test_console_script_help() -> None:
    exe = SCRIPT + (".exe" if sys.platform == "win32" else "")
    # The interpreter's own scripts directory: PATH need not include the venv.
    script = pathlib.Path(sysconfig.get_path("scripts")) / exe
    assert script.is_file(), f"{script} was not installed"
    proc = _run(script, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: alembic-git-revisions" in proc.stdout


def test_python_dash_m_help() -> None:
    proc = _run(sys.executable, "-m", "alembic_git_revisions", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage: alembic-git-revisions" in proc.stdout


def test_package_never_runs_git() -> None:
    """The native module reads repositories itself: no git binary, no subprocess."""
    sources = sorted(PACKAGE_DIR.rglob("*.py"))
    assert sources, f"no Python sources under {PACKAGE_DIR}"
    offenders = []
    for source in sources:
        text = source.read_text(encoding="utf-8")
        for pattern in (r"subprocess", r"""shutil\.which\(\s*["']git["']\s*\)"""):
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{source.relative_to(PACKAGE_DIR)}:{line}: {match[0]}")
    assert not offenders, "the installed package mentions subprocess/git:\n" + "\n".join(offenders)


@pytest.fixture(scope="module")
def wheel() -> pathlib.Path:
    value = os.environ.get("AGR_WHEEL")
    if not value:
        pytest.skip("AGR_WHEEL is not set (./dev test sets it to the wheel it installed)")
    path = pathlib.Path(value)
    assert path.is_file(), f"AGR_WHEEL={value} is not a file"
    return path


def test_agr_wheel_is_the_installed_one(wheel: pathlib.Path) -> None:
    version = wheel.name.split("-")[1]
    assert version == importlib.metadata.version(DISTRIBUTION)


def test_check_wheel_passes(wheel: pathlib.Path) -> None:
    proc = _run(sys.executable, CHECK_WHEEL, wheel)
    assert proc.returncode == 0, f"check_wheel.py failed:\n{proc.stdout}{proc.stderr}"
    assert f"OK: {wheel.name}" in proc.stdout


def test_check_wheel_rejects_a_bad_wheel(tmp_path: pathlib.Path) -> None:
    """The checker fails loudly: wrong ABI tag, unaudited platform tag, grafted libraries."""
    bad = tmp_path / "alembic_git_revisions_rs-0.1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("alembic_git_revisions/__init__.py", "")
        archive.writestr("alembic_git_revisions_rs.libs/libz-0123abcd.so.1", "")
    proc = _run(sys.executable, CHECK_WHEEL, bad)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "interpreter/ABI tag is cp311-cp311, expected cp311-abi3" in proc.stderr
    if sys.platform.startswith("linux"):
        assert "linux_x86_64 are not manylinux_*/musllinux_*" in proc.stderr
        assert "grafted into the wheel: alembic_git_revisions_rs.libs/libz" in proc.stderr


def test_works_without_git_on_path(tmp_path: pathlib.Path) -> None:
    """As in a slim Docker image: no git binary, yet both a chain file and a real git
    repository (read through libgit2) give the chain, and the source tree is not on
    the child's path (the installed wheel answers)."""
    from gitrepo import Dynamic, Repo, migration_source

    repo = Repo(tmp_path / "repo")
    repo.commit({"app/versions/000000000001_root.py": migration_source("000000000001", None)})
    repo.commit({"app/versions/000000000002_a.py": migration_source("000000000002", Dynamic())})
    repo.flush()
    shipped = tmp_path / "shipped" / "versions"
    shipped.mkdir(parents=True)
    (shipped.parent / "revision_chain.json").write_text('{"abc": "def"}\n')
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {"PATH": str(empty_bin), "HOME": str(tmp_path), "ALEMBIC_GIT_REVISIONS_CACHE": "off"}
    code = (
        "import sys, alembic_git_revisions as m; "
        "print(m.build_chain(sys.argv[1]), m.build_chain(sys.argv[2]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(repo.path / "app" / "versions"), str(shipped)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'000000000002': '000000000001'} {'abc': 'def'}"
