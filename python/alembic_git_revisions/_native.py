"""The one door to the native core: every call into ``_core`` goes through here.

The rest of the package sees typed results (:class:`DirAnalysis`,
:class:`MigrationRecord`, :class:`Unchained`) and the public exception classes,
never positional tuples or string tags.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NamedTuple

from alembic_git_revisions import _core, _pyparse
from alembic_git_revisions._core import (
    ChainError,
    ChainFileError,
    GitHistoryError,
    InternalError,
    MigrationFileError,
    MigrationFileReadError,
    NotAGitRepositoryError,
    RevisionNotFoundError,
    ShallowCloneError,
)

StrPath = str | os.PathLike[str]

VERSION: str = _core.__version__


class MigrationRecord(NamedTuple):
    """One migration file as the core classified it."""

    revision: str
    filename: str
    git_sequence: int
    is_dynamic: bool
    static_down_revisions: tuple[str, ...]
    #: Full id of the commit that first added the file, or None if never committed.
    commit: str | None


class Unchained(NamedTuple):
    """The first dynamic migration of a directory, left without a parent, and why."""

    revision: str
    #: ``"multiple-static-heads"`` or ``"no-static-head"``.
    reason: str
    #: The static heads, for ``"multiple-static-heads"``.
    heads: tuple[str, ...]


class DirAnalysis(NamedTuple):
    """What the core derived for one versions directory."""

    versions_dir: str
    #: Migrations sorted by ``(git_sequence, filename)``; empty with ``with_files=False``.
    files: list[MigrationRecord]
    #: ``{revision: down_revision}`` for the dynamic migrations, in chain order.
    chain: dict[str, str | None]
    unchained: Unchained | None


def python_fallback(source: str) -> tuple[str | None, bool, tuple[str, ...]]:
    """Parse one module the native parser hands back, with CPython's ``ast``."""
    return _pyparse.read_module_source(source, "<unknown>")


def _convert(versions_dir: StrPath, row: tuple) -> DirAnalysis:
    files, links, unchained = row
    return DirAnalysis(
        versions_dir=os.fspath(versions_dir),
        files=[MigrationRecord(r, os.fspath(n), s, d, tuple(p), c) for (r, n, s, d, p, c) in files],
        chain=dict(links),
        unchained=None
        if unchained is None
        else Unchained(unchained[0], unchained[1], tuple(unchained[2])),
    )


def analyze(dirs: Sequence[StrPath], *, with_files: bool = True) -> list[DirAnalysis]:
    """Analyse versions directories at ``HEAD``: one history walk per repository."""
    paths = [os.fspath(d) for d in dirs]
    rows = _core.analyze(paths, python_fallback, with_files=with_files)
    return [_convert(path, row) for path, row in zip(paths, rows, strict=True)]


def analyze_at(versions_dir: StrPath, ref: str) -> DirAnalysis:
    """Analyse one versions directory as it is at commit *ref*, from git objects only."""
    row = _core.analyze_at(os.fspath(versions_dir), ref, python_fallback)
    return _convert(versions_dir, row)


def describe_commits(versions_dir: StrPath, oids: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(short id, author date, author name)`` for each commit id."""
    return _core.describe_commits(os.fspath(versions_dir), list(oids))


class Pin(NamedTuple):
    """One entry of a ``revision_pins.json``."""

    revision: str
    #: The pinned parent; None for the root of a history with no static migration.
    down_revision: str | None
    #: The migration's file name when it was pinned.
    file: str
    #: Full id of the commit it was pinned at.
    pinned_at: str


class PinPlan(NamedTuple):
    """What re-pinning a versions directory at a commit would write."""

    pin_file: str
    #: Full id of the commit pinned at.
    commit: str
    #: Every pin, the existing ones first.
    pins: list[Pin]
    #: How many pins are new (the last ones of ``pins``).
    added: int
    #: Whether the pin file exists already.
    exists: bool
    #: The file's new text.
    text: str


class MergeOrder(NamedTuple):
    """The merge that put one commit before another in git's order."""

    merge: str
    merge_subject: str
    merge_parents: int
    #: Index (0 = first parent) of the side of the commit listed first.
    first_side: int
    #: Index of the side of the commit listed second.
    second_side: int
    #: The commit of the tip's first-parent line that brought the merge in (the
    #: merge itself when it is on that line).
    landing: str
    landing_subject: str


class OrderCause(NamedTuple):
    """Why git lists one commit before another."""

    #: ``"ancestor"`` or ``"merge"``.
    kind: str
    merge: MergeOrder | None


def read_pins(versions_dir: StrPath) -> tuple[str, list[Pin]] | None:
    """The pin file beside *versions_dir* and its pins, or None without one."""
    found = _core.read_pins(os.fspath(versions_dir))
    if found is None:
        return None
    source, rows = found
    return os.fspath(source), [Pin(*row) for row in rows]


def plan_pins(versions_dir: StrPath, ref: str) -> PinPlan:
    """What re-pinning *versions_dir* at commit *ref* would write (nothing is written)."""
    file, commit, rows, added, exists, text = _core.plan_pins(
        os.fspath(versions_dir), ref, python_fallback
    )
    return PinPlan(os.fspath(file), commit, [Pin(*row) for row in rows], added, exists, text)


def explain_order(
    versions_dir: StrPath, ref: str | None, pairs: Sequence[tuple[str, str]]
) -> list[OrderCause | None]:
    """For each ``(first, second)`` commit pair, why git's order at *ref* (HEAD when
    None) lists ``first`` before ``second``; None where it does not."""
    rows = _core.explain_order(os.fspath(versions_dir), ref, list(pairs))
    return [
        None if row is None else OrderCause(row[0], None if row[1] is None else MergeOrder(*row[1]))
        for row in rows
    ]


def declare_source(path: StrPath, raw: bytes) -> tuple[str | None, bool, tuple[str, ...]]:
    """``(revision, is_dynamic, static_parents)`` declared by one file's bytes."""
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MigrationFileError(
            f"Cannot parse migration file {path}: not valid UTF-8 at byte {exc.start}"
        ) from None
    source = source.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in source:
        raise MigrationFileError(f"Cannot parse migration file {path}: the file contains NUL bytes")
    outcome = _core.parse_module_source(source, sys.version_info[0], sys.version_info[1])
    if outcome[0] == "parsed":
        return outcome[1], outcome[2], tuple(outcome[3])
    try:
        return python_fallback(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        message = str(exc) or f"{type(exc).__name__} (the file is too deeply nested)"
        raise MigrationFileError(f"Cannot parse migration file {path}: {message}") from exc


__all__ = [
    "VERSION",
    "ChainError",
    "ChainFileError",
    "DirAnalysis",
    "GitHistoryError",
    "InternalError",
    "MergeOrder",
    "MigrationFileError",
    "MigrationFileReadError",
    "MigrationRecord",
    "NotAGitRepositoryError",
    "OrderCause",
    "Pin",
    "PinPlan",
    "RevisionNotFoundError",
    "ShallowCloneError",
    "Unchained",
    "analyze",
    "analyze_at",
    "declare_source",
    "describe_commits",
    "explain_order",
    "plan_pins",
    "python_fallback",
    "read_pins",
]
