"""The one door to the native core: every call into ``_core`` goes through here.

The rest of the package sees the core's typed results (:class:`DirAnalysis`,
:class:`MigrationRecord`, :class:`Unchained`, :class:`Declaration`) and the public
exception classes, re-exported from ``_core``; this module adds only the CPython
fallback parser that the core hands the files it does not read itself.
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
    MigrationFileError,
    MigrationFileReadError,
    MigrationRecord,
    NotAGitRepositoryError,
    RevisionNotFoundError,
    ShallowCloneError,
    Unchained,
)

# `typing` costs milliseconds to import and is needed by type checkers only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TypeVar

    _E = TypeVar("_E", bound=BaseException)

StrPath = str | os.PathLike[str]

VERSION: str = _core.__version__


def python_fallback(source: str) -> tuple[str | None, bool, tuple[str, ...]]:
    """Parse one module the native parser hands back, with CPython's ``ast``."""
    from alembic_git_revisions import _pyparse  # imports `ast`: only when needed

    return _pyparse.read_module_source(source, "<unknown>")


def analyze(dirs: Sequence[StrPath], *, with_files: bool = True) -> list[DirAnalysis]:
    """Analyse versions directories at ``HEAD``: one history walk per repository.

    With ``with_files=False`` each analysis's ``files`` is left empty: ``build_chain``
    needs only the chain, and converting thousands of rows is most of a warm call.
    """
    return _core.analyze(list(dirs), python_fallback, with_files=with_files)


def analyze_at(versions_dir: StrPath, ref: str) -> DirAnalysis:
    """Analyse one versions directory as it is at commit *ref*, from git objects only."""
    return _core.analyze_at(versions_dir, ref, python_fallback)


def describe_commits(versions_dir: StrPath, oids: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(short id, author date, author name)`` for each commit id."""
    return _core.describe_commits(versions_dir, list(oids))


def declare_file(path: StrPath) -> Declaration:
    """What one migration file declares, read as the core reads every file."""
    return _core.declare_file(path, python_fallback)


def amended(error: _E, message: str) -> _E:
    """*error* with another message: same class, same attributes (``path``, ...)."""
    new = type(error)(message)
    new.__dict__.update(error.__dict__)
    return new


__all__ = [
    "VERSION",
    "ChainError",
    "ChainFileError",
    "Declaration",
    "DirAnalysis",
    "GitHistoryError",
    "InternalError",
    "MigrationFileError",
    "MigrationFileReadError",
    "MigrationRecord",
    "NotAGitRepositoryError",
    "RevisionNotFoundError",
    "ShallowCloneError",
    "Unchained",
    "amended",
    "analyze",
    "analyze_at",
    "declare_file",
    "describe_commits",
    "python_fallback",
]
