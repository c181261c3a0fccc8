"""Pull requests as hosted CI sees them, on real git repositories.

:func:`build_origin` makes the "origin" of issue 10's scenario with git (fixed dates):
``feat`` adds F from the root; ``main`` adds M, which is deployed (tag ``deployed``);
``feat`` is brought up to date with GitHub's "Update branch" (``main`` merged into
it). Merging that pull request with a merge commit gives M a new parent (F), so a
database at M would never run F. Pull request 2 (``safe``, branched after M) only
appends. Like GitHub, the origin holds each pull request's test merge (the base branch
first, the head second) as ``refs/pull/N/merge``.

:func:`checkout_like_actions` and :func:`checkout_like_gitlab` make workspaces the way
``actions/checkout`` and GitLab's runner fetch them.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

from gitrepo import Dynamic, Repo, migration_filename, migration_source, run_git

ROOT_REV = "a00000000001"
FEATURE_REV = "f00000000002"
DEPLOYED_REV = "b00000000003"
SAFE_REV = "c00000000004"
VERSIONS = "migrations/versions"


def _migration(revision: str, down: object) -> dict[str, bytes]:
    return {f"{VERSIONS}/{migration_filename(revision)}": migration_source(revision, down)}


def alembic_project(work: pathlib.Path) -> dict[str, bytes]:
    """The files ``alembic init migrations`` writes (the real Alembic command)."""
    subprocess.run(
        [sys.executable, "-m", "alembic", "init", "migrations"],
        cwd=work,
        check=True,
        capture_output=True,
    )
    return {
        path.relative_to(work).as_posix(): path.read_bytes()
        for path in sorted(work.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def build_origin(path: pathlib.Path, project: dict[str, bytes]) -> pathlib.Path:
    """The remote repository, with pull requests 1 (unsafe) and 2 (safe)."""
    repo = Repo(path)
    repo.commit({**project, **_migration(ROOT_REV, None)}, "init")
    repo.branch("feat")
    repo.checkout("feat")
    repo.commit(_migration(FEATURE_REV, Dynamic()), "feature migration")
    repo.checkout("main")
    repo.commit(_migration(DEPLOYED_REV, Dynamic()), "main migration (deployed)")
    repo.branch("safe")
    repo.checkout("safe")
    repo.commit(_migration(SAFE_REV, Dynamic()), "safe migration")
    repo.checkout("feat")
    repo.merge("main", message="Update branch")  # GitHub's button: main into feat
    for number, branch in ((1, "feat"), (2, "safe")):
        # GitHub's test merge: the base branch first, the pull request's head second.
        repo.branch(f"pull-{number}", "main")
        repo.checkout(f"pull-{number}")
        repo.merge(branch, message=f"Merge pull request #{number}")
    repo.checkout("main")
    repo.flush()
    for number in (1, 2):
        repo.git("update-ref", f"refs/pull/{number}/merge", f"refs/heads/pull-{number}")
        repo.git("branch", "-D", f"pull-{number}")
    repo.git("tag", "deployed", "main")
    return repo.path


def checkout_like_actions(
    origin: pathlib.Path,
    dest: pathlib.Path,
    *,
    pull: int,
    fetch_depth: int = 0,
    branches: bool = True,
) -> pathlib.Path:
    """What ``actions/checkout`` does for a ``pull_request`` event.

    ``fetch-depth: 0`` fetches every branch and tag, then the test merge; the default
    (1) fetches the test merge alone, shallow. *branches* False leaves the base branch
    out, as a checkout of the merge ref alone would.
    """
    dest.mkdir(parents=True)
    run_git(dest, "init", "-q")
    run_git(dest, "remote", "add", "origin", origin.as_uri())
    merge_ref = f"+refs/pull/{pull}/merge:refs/remotes/pull/{pull}/merge"
    if fetch_depth:
        run_git(dest, "fetch", "-q", "--no-tags", f"--depth={fetch_depth}", "origin", merge_ref)
    else:
        if branches:
            run_git(
                dest,
                "fetch",
                "-q",
                "--prune",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            )
        run_git(dest, "fetch", "-q", "origin", merge_ref)
    run_git(dest, "checkout", "-q", "--force", f"refs/remotes/pull/{pull}/merge")
    return dest


def checkout_like_gitlab(origin: pathlib.Path, dest: pathlib.Path, *, branch: str) -> str:
    """What GitLab's runner does for a merge request pipeline with ``GIT_DEPTH: 0``:
    fetch the source branch alone and check its tip out, detached. Returns the tip."""
    dest.mkdir(parents=True)
    run_git(dest, "init", "-q")
    run_git(dest, "remote", "add", "origin", origin.as_uri())
    refspec = f"+refs/heads/{branch}:refs/remotes/origin/{branch}"
    run_git(dest, "fetch", "-q", "--prune", "origin", refspec)
    sha = run_git(dest, "rev-parse", f"refs/remotes/origin/{branch}").decode().strip()
    run_git(dest, "checkout", "-q", "--force", sha)
    return sha
