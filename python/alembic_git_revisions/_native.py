"""The one door to the native core: every call into ``_core`` goes through here.

The rest of the package sees the core's typed results (:class:`DirAnalysis`,
:class:`MigrationRecord`, :class:`Unchained`, :class:`Declaration`, :class:`Pin`,
:class:`PinFile`, :class:`PinPlan`, :class:`OrderCause`, :class:`MergeOrder`) and the
public exception classes, re-exported from ``_core``; this module adds only the
CPython fallback parser that the core hands the files it does not read itself.
"""

from __future__ import annotations

import os

from alembic_git_revisions import _core
from alembic_git_revisions._core import (
    ChainError,
    ChainFileError,
    Declaration,
    DirAnalysis,
    GitHistoryError,
    InternalError,
    MergeOrder,
    MigrationFileError,
    MigrationFileReadError,
    MigrationRecord,
    NotAGitRepositoryError,
    OrderCause,
    Pin,
    PinFile,
    PinPlan,
    RevisionNotFoundError,
    ShallowCloneError,
    Unchained,
)

# `typing` costs milliseconds to import and is needed by type checkers only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Literal, TypeVar

    _E = TypeVar("_E", bound=BaseException)

    #: How far a versions directory's migrations reach: ``"flat"``, the files directly
    #: in it (the reference's); ``"recursive"``, it and every directory below it, as
    #: Alembic loads a version location with ``recursive_version_locations = true``.
    Scope = Literal["flat", "recursive"]

StrPath = str | os.PathLike[str]


VERSION: str = _core.__version__


def python_fallback(source: str) -> tuple[str | None, bool, tuple[str, ...]]:
    """Parse one module the native parser hands back, with CPython's ``ast``."""
    from alembic_git_revisions import _pyparse  # imports `ast`: only when needed

    return _pyparse.read_module_source(source, "<unknown>")


def analyze(
    dirs: Sequence[StrPath], *, with_files: bool = True, scope: Scope = "flat"
) -> list[DirAnalysis]:
    """Analyse versions directories (each in *scope*) at ``HEAD``: one history walk per
    repository.

    With ``with_files=False`` each analysis's ``files`` is left empty: ``build_chain``
    needs only the chain, and converting thousands of rows is most of a warm call.
    """
    return _core.analyze(list(dirs), python_fallback, with_files=with_files, scope=scope)


def analyze_at(versions_dir: StrPath, ref: str, *, scope: Scope = "flat") -> DirAnalysis:
    """Analyse one versions directory (in *scope*) as it is at commit *ref*, from git
    objects only."""
    return _core.analyze_at(versions_dir, ref, python_fallback, scope=scope)


def list_migrations(versions_dir: StrPath, *, scope: Scope = "flat") -> list[str]:
    """The migrations of *versions_dir* in *scope*, as the analysis lists them: file
    names, or ``/``-separated paths relative to it when recursive; sorted."""
    return _core.list_migrations(versions_dir, scope=scope)


def describe_commits(versions_dir: StrPath, oids: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(short id, author date, author name)`` for each commit id."""
    return _core.describe_commits(versions_dir, list(oids))


def declare_file(path: StrPath) -> Declaration:
    """What one migration file declares, read as the core reads every file."""
    return _core.declare_file(path, python_fallback)


def read_pins(versions_dir: StrPath) -> PinFile | None:
    """The ``revision_pins.json`` beside *versions_dir*, or None without one."""
    return _core.read_pins(versions_dir)


def plan_pins(versions_dir: StrPath, ref: str, *, scope: Scope = "flat") -> PinPlan:
    """What re-pinning *versions_dir* (in *scope*) at commit *ref* would write (nothing is
    written)."""
    return _core.plan_pins(versions_dir, ref, python_fallback, scope=scope)


def explain_order(
    versions_dir: StrPath, ref: str | None, pairs: Sequence[tuple[str, str]]
) -> list[OrderCause | None]:
    """For each ``(first, second)`` commit pair, why git's order at *ref* (``HEAD`` when
    None) lists *first* before *second*; None where it does not."""
    return _core.explain_order(versions_dir, ref, list(pairs))


def build_chain_from(
    versions_dir: StrPath, records: Sequence[MigrationRecord], pins: PinFile | None = None
) -> DirAnalysis:
    """The product's chain builder on *records* (any order) and *pins*, without git."""
    return _core.build_chain_from(versions_dir, list(records), pins)


def amended(error: _E, message: str) -> _E:
    """*error* with another message: same class, same attributes (``path``, ...)."""
    new = type(error)(message)
    new.__dict__.update(error.__dict__)
    if isinstance(error, OSError) and isinstance(new, OSError):
        # OSError keeps errno in a slot, not in __dict__.
        new.errno = error.errno
    return new


__all__ = [
    "VERSION",
    "ChainError",
    "ChainFileError",
    "Declaration",
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
    "PinFile",
    "PinPlan",
    "RevisionNotFoundError",
    "Scope",
    "ShallowCloneError",
    "Unchained",
    "amended",
    "analyze",
    "analyze_at",
    "build_chain_from",
    "declare_file",
    "describe_commits",
    "explain_order",
    "list_migrations",
    "plan_pins",
    "python_fallback",
    "read_pins",
]
