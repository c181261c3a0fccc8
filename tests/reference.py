"""The reference package, alembic-git-revisions 13, as a test oracle.

The wheel is downloaded once into ``tests/.reference/`` with pip and checked against a
pinned hash. Files land there by atomic rename, so parallel test runs (pytest-xdist,
several checkouts of CI) never see a half-written file; at worst two of them download
the same wheel and the second rename replaces the first with identical bytes. A failed
download is an error, never a skip: a differential test without its oracle proves
nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
import subprocess
import sys
import tempfile
import types
import zipfile

REFERENCE_REQUIREMENT = "alembic-git-revisions==13"
REFERENCE_WHEEL = "alembic_git_revisions-13-py3-none-any.whl"
REFERENCE_SHA256 = "73916abd87727398bd3db44805dd3bf24b8a7b556439a88983c4b043f5c8d740"
REFERENCE_DIR = pathlib.Path(__file__).resolve().parent / ".reference"

# Module name the reference's ``_chain.py`` is loaded under: distinct from the package
# under test so both can be imported in one process.
REFERENCE_CHAIN_MODULE = "_agr_reference_chain"


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomically(target: pathlib.Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates files readable by their owner only
        os.replace(tmp, target)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def reference_wheel() -> pathlib.Path:
    """Path of the reference wheel, downloading it on first use.

    Raises ``RuntimeError`` if pip fails or the wheel's hash is not the pinned one.
    """
    wheel = REFERENCE_DIR / REFERENCE_WHEEL
    if wheel.is_file() and _sha256(wheel) == REFERENCE_SHA256:
        return wheel
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=REFERENCE_DIR, prefix=".download-") as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            REFERENCE_REQUIREMENT,
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--dest",
            tmp,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        downloaded = pathlib.Path(tmp) / REFERENCE_WHEEL
        if result.returncode != 0 or not downloaded.is_file():
            msg = f"could not download {REFERENCE_REQUIREMENT}:\n{result.stdout}{result.stderr}"
            raise RuntimeError(msg)
        digest = _sha256(downloaded)
        if digest != REFERENCE_SHA256:
            msg = f"{REFERENCE_WHEEL} has sha256 {digest}, expected {REFERENCE_SHA256}"
            raise RuntimeError(msg)
        os.replace(downloaded, wheel)
    return wheel


def reference_file(member: str) -> pathlib.Path:
    """Extract ``alembic_git_revisions/<member>`` from the reference wheel; return its path."""
    target = REFERENCE_DIR / "alembic_git_revisions" / member
    with zipfile.ZipFile(reference_wheel()) as archive:
        data = archive.read(f"alembic_git_revisions/{member}")
    if not target.is_file() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, data)
    return target


def load_reference_chain() -> types.ModuleType:
    """The reference's ``_chain`` module, imported as ``_agr_reference_chain``."""
    loaded = sys.modules.get(REFERENCE_CHAIN_MODULE)
    if loaded is not None:
        return loaded
    path = reference_file("_chain.py")
    spec = importlib.util.spec_from_file_location(REFERENCE_CHAIN_MODULE, path)
    if spec is None or spec.loader is None:
        msg = f"cannot load {path}"
        raise RuntimeError(msg)
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the module up in sys.modules while the class body is built.
    sys.modules[REFERENCE_CHAIN_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[REFERENCE_CHAIN_MODULE]
        raise
    return module
