"""Native core of alembic-git-revisions-rs (built from Rust with pyo3).

Only ``_native`` imports this module; the rest of the package and its users see the
classes below through ``_native`` and the exceptions through ``alembic_git_revisions``.
"""

from collections.abc import Callable, Sequence
from os import PathLike
from typing import Final, Literal, final

__version__: Final[str]
__all__ = [
    "ChainError",
    "ChainFileError",
    "Declaration",
    "DelegatedModule",
    "DirAnalysis",
    "GitHistoryError",
    "InternalError",
    "MergeOrder",
    "MigrationFileError",
    "MigrationFileReadError",
    "MigrationRecord",
    "NotAGitRepositoryError",
    "OrderCause",
    "ParsedModule",
    "Pin",
    "PinFile",
    "PinPlan",
    "RevisionNotFoundError",
    "ShallowCloneError",
    "Unchained",
    "__version__",
    "analyze",
    "analyze_at",
    "build_chain_from",
    "declare_file",
    "describe_commits",
    "explain_order",
    "list_migrations",
    "parse_module_source",
    "plan_pins",
    "read_pins",
]

_Fallback = Callable[[str], tuple[str | None, bool, tuple[str, ...]]]
"""Parses a module's source with CPython's ``ast`` (the files the native parser leaves
to CPython): ``(revision, is_dynamic, static_parents)``, raising ``SyntaxError``,
``ValueError``, ``RecursionError`` or ``MemoryError`` for a file it cannot parse."""

_Scope = Literal["flat", "recursive"]
"""How far a versions directory's migrations reach: ``"flat"``, the files directly in
it (the reference's); ``"recursive"``, it and every directory below it, as Alembic
loads a version location with ``recursive_version_locations = true`` (file names are
then paths relative to it, ``/``-separated)."""

# --------------------------------------------------------------------------- results

@final
class MigrationRecord:
    """One migration file as the core classified it. Frozen, hashable."""

    def __new__(
        cls,
        revision: str,
        filename: str,
        git_sequence: int,
        is_dynamic: bool,
        static_down_revisions: Sequence[str],
        commit: str | None,
    ) -> MigrationRecord: ...
    @property
    def revision(self) -> str: ...
    @property
    def filename(self) -> str:
        """The file name, decoded as ``os.fsdecode`` decodes it."""
    @property
    def git_sequence(self) -> int:
        """Index in the directory's git add order; never-added files share the next."""
    @property
    def is_dynamic(self) -> bool:
        """``down_revision = get_down_revision(...)``."""
    @property
    def static_down_revisions(self) -> tuple[str, ...]:
        """Hardcoded parents (empty for a dynamic migration or a root)."""
    @property
    def commit(self) -> str | None:
        """Full id of the commit that first added the file, or None if never added."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Unchained:
    """The first dynamic migration of a directory, left without a parent, and why."""

    def __new__(
        cls,
        revision: str,
        reason: Literal["multiple-static-heads", "no-static-head"],
        heads: Sequence[str],
    ) -> Unchained: ...
    @property
    def revision(self) -> str: ...
    @property
    def reason(self) -> Literal["multiple-static-heads", "no-static-head"]: ...
    @property
    def heads(self) -> tuple[str, ...]:
        """The static heads, for ``"multiple-static-heads"``."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class DirAnalysis:
    """What the core derived for one versions directory. Frozen."""

    def __new__(
        cls,
        versions_dir: str | PathLike[str],
        files: Sequence[MigrationRecord],
        chain: dict[str, str | None],
        unchained: Unchained | None,
    ) -> DirAnalysis: ...
    @property
    def versions_dir(self) -> str:
        """The directory as given (``os.fspath``)."""
    @property
    def files(self) -> list[MigrationRecord]:
        """Migrations sorted by ``(git_sequence, filename)``; empty with ``with_files=False``."""
    @property
    def chain(self) -> dict[str, str | None]:
        """``{revision: down_revision}`` for the dynamic migrations, in chain order."""
    @property
    def unchained(self) -> Unchained | None: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Declaration:
    """What one migration file declares (``declare_file``). Frozen, hashable."""

    @property
    def revision(self) -> str:
        """The literal ``revision``, else the hex id the file name starts with."""
    @property
    def filename(self) -> str: ...
    @property
    def is_dynamic(self) -> bool: ...
    @property
    def static_down_revisions(self) -> tuple[str, ...]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ParsedModule:
    """A module the native parser read itself (``parse_module_source``)."""

    @property
    def revision(self) -> str | None: ...
    @property
    def is_dynamic(self) -> bool: ...
    @property
    def static_down_revisions(self) -> tuple[str, ...]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class DelegatedModule:
    """A module the native parser leaves to CPython (``parse_module_source``)."""

    @property
    def reason(self) -> str:
        """Why, in a few words."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Pin:
    """One entry of a ``revision_pins.json``. Frozen, hashable."""

    def __new__(
        cls, revision: str, down_revision: str | None, file: str, pinned_at: str
    ) -> Pin: ...
    @property
    def revision(self) -> str: ...
    @property
    def down_revision(self) -> str | None:
        """The pinned parent; None for the root of a history with no static migration."""
    @property
    def file(self) -> str:
        """The migration's file name when it was pinned."""
    @property
    def pinned_at(self) -> str:
        """Full id of the commit it was pinned at."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class PinFile:
    """A pin file and its pins, in chain order. Frozen."""

    def __new__(cls, path: str | PathLike[str], pins: Sequence[Pin]) -> PinFile: ...
    @property
    def path(self) -> str:
        """Where the pins were read from: a path, or ``REF:path`` for a file in a commit."""
    @property
    def pins(self) -> tuple[Pin, ...]:
        """The pins, parents first."""
    def __eq__(self, value: object, /) -> bool: ...

@final
class PinPlan:
    """What re-pinning a versions directory at a commit would write (``plan_pins``)."""

    @property
    def pin_file(self) -> str:
        """The pin file in the working tree."""
    @property
    def commit(self) -> str:
        """Full id of the commit pinned at."""
    @property
    def pins(self) -> tuple[Pin, ...]:
        """Every pin, the existing ones first; the last ``added`` are new."""
    @property
    def added(self) -> int: ...
    @property
    def exists(self) -> bool:
        """Whether the pin file exists already."""
    @property
    def text(self) -> str:
        """The file's new text."""

@final
class MergeOrder:
    """The merge that put one commit before another in git's order. Frozen, hashable."""

    @property
    def merge(self) -> str:
        """Full id of the deciding merge."""
    @property
    def merge_subject(self) -> str: ...
    @property
    def merge_parents(self) -> int: ...
    @property
    def first_side(self) -> int:
        """Index (0 = first parent) of the merge's parent on the side of the commit listed
        first."""
    @property
    def second_side(self) -> int:
        """Index of the parent on the side of the commit listed second."""
    @property
    def landing(self) -> str:
        """The commit of the tip's first-parent line that brought the merge in (the merge
        itself when it is on that line)."""
    @property
    def landing_subject(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class OrderCause:
    """Why git lists one commit before another (``explain_order``). Frozen, hashable."""

    @property
    def kind(self) -> Literal["ancestor", "merge"]: ...
    @property
    def merge(self) -> MergeOrder | None:
        """The deciding merge, for ``"merge"``."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

# --------------------------------------------------------------------------- functions

def analyze(
    dirs: Sequence[str | PathLike[str]],
    fallback: _Fallback,
    *,
    with_files: bool = True,
    scope: _Scope = "flat",
) -> list[DirAnalysis]:
    """Analyse versions directories (each in *scope*) at ``HEAD``, one history walk per
    repository.

    ``fallback`` parses the files the native parser leaves to CPython. With
    ``with_files=False`` each analysis's ``files`` is empty.
    """

def analyze_at(
    versions_dir: str | PathLike[str],
    rev: str,
    fallback: _Fallback,
    *,
    scope: _Scope = "flat",
) -> DirAnalysis:
    """Analyse one versions directory (in *scope*) as it is at commit *rev*, from git
    objects only."""

def describe_commits(
    versions_dir: str | PathLike[str], oids: Sequence[str]
) -> list[tuple[str, str, str]]:
    """``(short id, author date, author name)`` for each commit id."""

def declare_file(path: str | PathLike[str], fallback: _Fallback) -> Declaration:
    """Read and classify one migration file as the analysis reads every file.

    Raises :class:`MigrationFileReadError` or :class:`MigrationFileError`.
    """

def list_migrations(versions_dir: str | PathLike[str], *, scope: _Scope = "flat") -> list[str]:
    """The migrations of *versions_dir* in *scope* as the analysis lists them: file names,
    or paths relative to it when recursive; sorted; none for a missing directory.

    Raises :class:`MigrationFileReadError` for a directory that cannot be read.
    """

def parse_module_source(source: str, major: int, minor: int) -> ParsedModule | DelegatedModule:
    """The native parser alone, for Python *major*.*minor*'s grammar."""

def read_pins(versions_dir: str | PathLike[str]) -> PinFile | None:
    """The ``revision_pins.json`` beside the directory, or None without one.

    Raises :class:`ChainFileError` (malformed) or :class:`MigrationFileReadError`.
    """

def plan_pins(
    versions_dir: str | PathLike[str], rev: str, fallback: _Fallback, *, scope: _Scope = "flat"
) -> PinPlan:
    """What re-pinning *versions_dir* at commit *rev* would write; nothing is written.

    Raises :class:`ChainError` when it would not be a pure append.
    """

def explain_order(
    versions_dir: str | PathLike[str], rev: str | None, pairs: Sequence[tuple[str, str]]
) -> list[OrderCause | None]:
    """For each ``(first, second)`` pair of commit ids, why git's order at *rev* (``HEAD``
    when None) lists *first* before *second*; None where it does not."""

def build_chain_from(
    versions_dir: str | PathLike[str],
    records: Sequence[MigrationRecord],
    pins: PinFile | None = None,
) -> DirAnalysis:
    """The product's chain builder on plain data: *records* (any order) and *pins*, for
    a directory named *versions_dir* in errors. Raises :class:`ChainError`."""

# --------------------------------------------------------------------------- exceptions
# Shown as ``alembic_git_revisions.<Name>``. Attributes the core cannot fill are None
# (or empty).

class GitHistoryError(RuntimeError):
    """Git history cannot be read, so no chain can be derived from it."""

    #: The repository's git directory.
    git_dir: str | None
    #: The directory or path the error is about (the search start, a bare repository's
    #: versions directory, a path at a revision...).
    path: str | None
    #: Full id of the git object (commit or tree) that is missing or damaged.
    oid: str | None
    #: The revision the caller named (``analyze_at``), when it is the problem.
    rev: str | None

class NotAGitRepositoryError(GitHistoryError):
    """The versions directory is not inside a git repository (``path``), or
    ``$GIT_DIR`` names none (``git_dir``)."""

class ShallowCloneError(GitHistoryError):
    """The repository (``git_dir``) is a shallow clone: its history is incomplete."""

class MigrationFileError(ValueError):
    """A migration file (``path``) cannot be parsed or carries no revision id."""

    path: str | None

class MigrationFileReadError(OSError):
    """A versions directory or migration file (``path``) cannot be read; ``errno`` is
    the OS error's, when there is one."""

    path: str | None

class ChainError(ValueError):
    """The migrations of a versions directory (``path``) cannot be chained, or they
    contradict their pin file (``pin_file``), or re-pinning it was refused."""

    path: str | None
    #: The revision id two files declare (then ``files`` names them), or the pinned
    #: migration at fault.
    revision: str | None
    files: tuple[str, ...]
    #: The revisions around a cycle of hardcoded (or pinned) parents, the first
    #: repeated last.
    cycle: tuple[str, ...]
    #: The ``revision_pins.json`` the error is about.
    pin_file: str | None

class ChainFileError(ValueError):
    """``revision_chain.json`` or ``revision_pins.json`` (``path``) is malformed, or
    ``revision_chain.json`` is stale."""

    path: str | None

class RevisionNotFoundError(ValueError):
    """A revision is not part of the derived chain."""

class InternalError(RuntimeError):
    """A bug in alembic-git-revisions-rs; please report it."""
