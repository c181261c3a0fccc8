"""Alembic installations to run tests against: the newest and the oldest supported.

* ``newest_alembic``: the test virtualenv itself (``./dev test`` installs the newest
  Alembic and SQLAlchemy there, next to the wheel under test).
* ``oldest_alembic``: a virtualenv built once per test session with the oldest Alembic
  that ``alembic-git-revisions-rs`` declares (``alembic>=X`` in its metadata), a
  SQLAlchemy of that era and the wheel under test: ``$AGR_WHEEL``, which ``./dev test``
  sets, or else the newest wheel in ``target/wheels`` (rebuild it after a change). pip
  runs from the test virtualenv (``pip --python``), so the new one needs no pip.
* ``alembic_env``: both, as a parametrized fixture.

Everything runs through :meth:`AlembicEnv.run`: the project's own ``alembic`` script
and ``python -m alembic_git_revisions``, with git isolated (``gitrepo.git_env``).

``conftest.py`` registers the fixtures for every test module (``pytest_plugins``).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys
import sysconfig

import gitrepo
import pytest

DISTRIBUTION = "alembic-git-revisions-rs"
WHEELS = pathlib.Path(__file__).resolve().parent.parent / "target" / "wheels"

#: SQLAlchemy for an Alembic release, by the first Alembic minor that supports the
#: next SQLAlchemy major: Alembic before 1.9 predates SQLAlchemy 2.0.
_SQLALCHEMY_FOR_OLD_ALEMBIC = "sqlalchemy>=1.4,<2"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A finished command: its exit status and output."""

    status: int
    out: str
    err: str


@dataclasses.dataclass(frozen=True)
class AlembicEnv:
    """One Python environment with Alembic and the package under test."""

    #: ``"newest"`` or ``"oldest"``.
    name: str
    #: ``alembic.__version__`` in that environment.
    version: str
    python: pathlib.Path
    scripts: pathlib.Path

    @property
    def alembic(self) -> pathlib.Path:
        return self.scripts / "alembic"

    def run(self, cwd: pathlib.Path, *argv: str | os.PathLike[str]) -> Outcome:
        """Run *argv* in *cwd*; ``alembic``, ``agr`` and ``python`` as the first word name
        this environment's ``alembic``, ``python -m alembic_git_revisions`` and Python."""
        head, *rest = (os.fspath(a) for a in argv)
        if head == "alembic":
            command = [os.fspath(self.alembic), *rest]
        elif head == "agr":
            command = [os.fspath(self.python), "-m", "alembic_git_revisions", *rest]
        elif head == "python":
            command = [os.fspath(self.python), *rest]
        else:
            command = [head, *rest]
        # No bytecode: a test may rewrite a migration within one mtime tick.
        env = gitrepo.git_env(PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
        )
        return Outcome(proc.returncode, proc.stdout, proc.stderr)


def declared_minimum() -> str:
    """The oldest Alembic the installed distribution declares (``alembic>=X``)."""
    for requirement in importlib.metadata.requires(DISTRIBUTION) or []:
        match = re.fullmatch(r"alembic\s*>=\s*([\w.]+)", requirement.split(";")[0].strip())
        if match:
            return match.group(1)
    raise AssertionError(f"{DISTRIBUTION} declares no alembic>=X requirement")


def _version_in(python: pathlib.Path) -> str:
    proc = subprocess.run(
        [python, "-c", "import alembic; print(alembic.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def newest() -> AlembicEnv:
    """The test virtualenv (whatever Alembic ``./dev test`` installed: the newest)."""
    python = pathlib.Path(sys.executable)
    return AlembicEnv(
        "newest", _version_in(python), python, pathlib.Path(sysconfig.get_path("scripts"))
    )


def _release(version: str) -> tuple[int, ...]:
    """``"1.7"`` and ``"1.7.0"`` alike: the numeric release, trailing zeros dropped."""
    parts = [int(part) for part in re.findall(r"\d+", version)[:3]]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def wheel_under_test() -> pathlib.Path:
    """``$AGR_WHEEL``, or the newest wheel ``maturin build`` left in ``target/wheels``."""
    value = os.environ.get("AGR_WHEEL")
    if value:
        return pathlib.Path(value)
    wheels = sorted(WHEELS.glob("*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise RuntimeError(f"no wheel to test: set AGR_WHEEL or build one into {WHEELS}")
    return wheels[-1]


def build(path: pathlib.Path, alembic_version: str) -> AlembicEnv:
    """A virtualenv at *path* with ``alembic==alembic_version`` and the wheel under test."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    python = path / "bin" / "python"
    requirements = [os.fspath(wheel_under_test()), f"alembic=={alembic_version}"]
    if _release(alembic_version) < (1, 9):
        requirements.append(_SQLALCHEMY_FOR_OLD_ALEMBIC)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"could not build an Alembic {alembic_version} env:\n{proc.stderr}")
    env = AlembicEnv("oldest", _version_in(python), python, path / "bin")
    assert _release(env.version) == _release(alembic_version), env
    return env


@pytest.fixture(scope="session")
def newest_alembic() -> AlembicEnv:
    return newest()


@pytest.fixture(scope="session")
def oldest_alembic(tmp_path_factory: pytest.TempPathFactory) -> AlembicEnv:
    return build(tmp_path_factory.mktemp("alembic-oldest") / "venv", declared_minimum())


@pytest.fixture(scope="session", params=["newest", "oldest"])
def alembic_env(request: pytest.FixtureRequest) -> AlembicEnv:
    """Each test using it runs once per Alembic: the newest, then the oldest declared."""
    return request.getfixturevalue(f"{request.param}_alembic")
