"""The pre-commit hooks (``.pre-commit-hooks.yaml``), run by pre-commit itself.

A project made with the real ``alembic init`` lists this repository in its
``.pre-commit-config.yaml`` (``repo:`` a local git repository holding the manifest
under test, ``rev:`` its commit), runs ``pre-commit install``, and commits with
``git commit``: pre-commit clones the hook repository, reads the manifest, stashes
unstaged changes and runs the hook, exactly as for a user.

* ``alembic-git-revisions-check-installed`` (``language: system``) runs the command
  of the environment, here the installed wheel under test. Fast: these run always.
* ``alembic-git-revisions-check`` (``language: python``) makes pre-commit ``pip
  install`` this repository, which builds the Rust extension from source: minutes, so
  that one runs with ``--run-slow`` only, against a clone of this repository.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import pytest
from gitrepo import Dynamic, migration_filename, migration_source, run_git

ROOT = pathlib.Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
SCRIPTS = pathlib.Path(sysconfig.get_path("scripts"))
VERSIONS = "migrations/versions"
REVISIONS = ["a00000000001", "b00000000002", "c00000000003"]


def _pre_commit_env(home: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ)
    # The venv first: its pre-commit, and the alembic-git-revisions under test.
    env["PATH"] = os.pathsep.join([str(SCRIPTS), env.get("PATH", "")])
    env["PRE_COMMIT_HOME"] = str(home)
    # pre-commit's own colours and the terminal's width would change the output.
    env["PRE_COMMIT_COLOR"] = "never"
    env.pop("SKIP", None)
    return env


def _run(
    cwd: pathlib.Path, *args: str | os.PathLike[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [os.fspath(a) for a in args],
        cwd=cwd,
        env=env,
        # git runs hooks with their output on stderr: one stream, in order.
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def _hook_repo(path: pathlib.Path, source: pathlib.Path | None = None) -> tuple[pathlib.Path, str]:
    """A git repository whose HEAD holds the manifest under test; (path, commit)."""
    if source is None:
        path.mkdir(parents=True)
        run_git(path, "init", "-q")
    else:
        run_git(path.parent, "clone", "-q", "--no-hardlinks", source, path)
    shutil.copy(MANIFEST, path / ".pre-commit-hooks.yaml")
    run_git(path, "add", ".pre-commit-hooks.yaml")
    if run_git(path, "status", "--porcelain").strip():
        run_git(path, "commit", "-q", "-m", "the manifest under test")
    return path, run_git(path, "rev-parse", "HEAD").decode().strip()


def _project(
    path: pathlib.Path, hook_repo: pathlib.Path, rev: str, hook: str, env: dict[str, str]
) -> pathlib.Path:
    """An Alembic project (``alembic init``) with three committed migrations and the hook."""
    path.mkdir(parents=True)
    run_git(path, "init", "-q")
    proc = _run(path, sys.executable, "-m", "alembic", "init", "migrations", env=env)
    assert proc.returncode == 0, proc.stderr
    for number, revision in enumerate(REVISIONS):
        down = None if number == 0 else Dynamic()
        (path / VERSIONS / migration_filename(revision)).write_bytes(
            migration_source(revision, down)
        )
    (path / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {hook_repo.as_posix()}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        f"      - id: {hook}\n"
        f"        args: [{VERSIONS}]\n"
    )
    run_git(path, "add", "-A")
    run_git(path, "commit", "-q", "-m", "project with three migrations")
    proc = _run(path, "pre-commit", "install", env=env)
    assert proc.returncode == 0, proc.stdout
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One pre-commit home per module: the hook repository is cloned once."""
    return _pre_commit_env(tmp_path_factory.mktemp("pre-commit-home"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> pathlib.Path:
    work = tmp_path_factory.mktemp("precommit")
    hook_repo, rev = _hook_repo(work / "hooks")
    return _project(work / "project", hook_repo, rev, "alembic-git-revisions-check-installed", env)


@pytest.fixture
def project(tmp_path: pathlib.Path, template: pathlib.Path) -> pathlib.Path:
    """A fresh copy of the installed project (its git hook included) for each test."""
    return pathlib.Path(shutil.copytree(template, tmp_path / "project", symlinks=True))


def _commit(project: pathlib.Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run(project, "git", "commit", "-m", "change", env=env)


def _head(project: pathlib.Path) -> str:
    return run_git(project, "rev-parse", "HEAD").decode().strip()


def test_manifest_is_valid(env: dict[str, str]) -> None:
    proc = _run(ROOT, "pre-commit", "validate-manifest", MANIFEST, env=env)
    assert proc.returncode == 0, proc.stdout


def test_new_migration_is_committed(project: pathlib.Path, env: dict[str, str]) -> None:
    revision = "d00000000004"
    (project / VERSIONS / migration_filename(revision)).write_bytes(
        migration_source(revision, Dynamic())
    )
    run_git(project, "add", "-A")
    before = _head(project)
    proc = _commit(project, env)
    assert proc.returncode == 0, proc.stdout
    assert "alembic-git-revisions check (installed)" in proc.stdout
    assert "Passed" in proc.stdout
    assert _head(project) != before


def test_renaming_a_committed_migration_is_refused(
    project: pathlib.Path, env: dict[str, str]
) -> None:
    """git mv moves a migration to the end of the chain: its child gets a new parent."""
    old = migration_filename(REVISIONS[1])
    run_git(project, "mv", f"{VERSIONS}/{old}", f"{VERSIONS}/renamed_{old}")
    before = _head(project)
    proc = _commit(project, env)
    assert proc.returncode != 0, proc.stdout
    assert "Failed" in proc.stdout
    assert "[parent-changed]" in proc.stdout or "[renamed]" in proc.stdout, proc.stdout
    assert REVISIONS[1] in proc.stdout
    assert _head(project) == before, "the commit went through"


def test_deleting_a_committed_migration_is_refused(
    project: pathlib.Path, env: dict[str, str]
) -> None:
    """A deletion alone: pre-commit passes no file for it, the hook must run anyway."""
    run_git(project, "rm", "-q", f"{VERSIONS}/{migration_filename(REVISIONS[1])}")
    before = _head(project)
    proc = _commit(project, env)
    assert proc.returncode != 0, proc.stdout
    assert "[removed]" in proc.stdout
    assert REVISIONS[1] in proc.stdout
    assert _head(project) == before


def test_unstaged_changes_are_not_checked(project: pathlib.Path, env: dict[str, str]) -> None:
    """pre-commit stashes what is not staged: the check sees the staged tree."""
    (project / "README.md").write_text("docs\n")
    run_git(project, "add", "README.md")
    # Unstaged: a deletion that would fail the check if it were committed.
    (project / VERSIONS / migration_filename(REVISIONS[1])).unlink()
    proc = _commit(project, env)
    assert proc.returncode == 0, proc.stdout
    assert "Passed" in proc.stdout
    assert not (project / VERSIONS / migration_filename(REVISIONS[1])).exists()


@pytest.mark.slow
def test_python_hook_builds_from_source(tmp_path: pathlib.Path) -> None:
    """``language: python``: pre-commit pip-installs this repository (a Rust build).

    The hook repository is a clone of this one at HEAD, with the manifest under test.
    ``$CARGO_TARGET_DIR``, when set, is passed on, so the build can reuse compiled
    dependencies.
    """
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: pre-commit needs to clone this repository")
    env = _pre_commit_env(tmp_path / "pre-commit-home")
    hook_repo, rev = _hook_repo(tmp_path / "hooks", source=ROOT)
    project = _project(tmp_path / "project", hook_repo, rev, "alembic-git-revisions-check", env)
    run_git(project, "rm", "-q", f"{VERSIONS}/{migration_filename(REVISIONS[1])}")
    proc = _run(project, "git", "commit", "-m", "change", env=env, timeout=1800)
    assert proc.returncode != 0, proc.stdout
    assert "[removed]" in proc.stdout, proc.stdout
    # The command that ran is the one pre-commit built, in its own environment.
    built = sorted((tmp_path / "pre-commit-home").glob("repo*/py_env-*/bin/alembic-git-revisions"))
    assert built, "pre-commit did not install the package into its environment"
    run_git(project, "reset", "-q", "--hard")
    (project / "README.md").write_text("docs\n")
    run_git(project, "add", "README.md")
    proc = _run(project, "git", "commit", "-m", "docs", env=env)
    assert proc.returncode == 0, proc.stdout
