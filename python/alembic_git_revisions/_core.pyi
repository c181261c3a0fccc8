"""Native core of alembic-git-revisions-rs (built from Rust with pyo3)."""

from collections.abc import Callable, Sequence
from os import PathLike

__version__: str

FileRow = tuple[str, str, int, bool, list[str], str | None]
Link = tuple[str, str | None]
Unchained = tuple[str, str, list[str]]

def analyze(
    dirs: Sequence[str | PathLike[str]],
    fallback: Callable[[str], tuple[str | None, bool, tuple[str, ...]]],
    *,
    with_files: bool = True,
) -> list[tuple[list[FileRow], list[Link], Unchained | None]]:
    """Analyse versions directories with one history walk per repository.

    Per directory: file rows ``(revision, filename, git_sequence, is_dynamic,
    static_parents, first_add_commit)`` in add order, the chain links in chain order,
    and the first dynamic revision left without a parent (with why), if any.
    ``fallback(source)`` parses the files the native parser leaves to CPython. With
    ``with_files=False`` the file rows are left out.
    """

def analyze_at(
    versions_dir: str | PathLike[str],
    rev: str,
    fallback: Callable[[str], tuple[str | None, bool, tuple[str, ...]]],
) -> tuple[list[FileRow], list[Link], Unchained | None]:
    """Analyse one versions directory as it is at commit *rev*, from git objects only."""

def describe_commits(
    versions_dir: str | PathLike[str], oids: Sequence[str]
) -> list[tuple[str, str, str]]:
    """``(short id, author date, author name)`` for each commit id."""

PinRow = tuple[str, str | None, str, str]
MergeRow = tuple[str, str, int, int, int, str, str]

def read_pins(versions_dir: str | PathLike[str]) -> tuple[str, list[PinRow]] | None:
    """The pin file beside the directory and its ``(revision, down_revision, file,
    pinned_at)`` rows in chain order, or None without a pin file."""

def plan_pins(
    versions_dir: str | PathLike[str],
    rev: str,
    fallback: Callable[[str], tuple[str | None, bool, tuple[str, ...]]],
) -> tuple[str, str, list[PinRow], int, bool, str]:
    """``(pin file, commit, rows, added, exists, text)`` of re-pinning at *rev*."""

def explain_order(
    versions_dir: str | PathLike[str], rev: str | None, pairs: Sequence[tuple[str, str]]
) -> list[tuple[str, MergeRow | None] | None]:
    """Why git's order at *rev* lists the first commit of each pair before the second:
    ``("ancestor", None)``, ``("merge", (merge, subject, parents, first's parent index,
    second's parent index, landing commit, its subject))``, or None."""

def parse_module_source(
    source: str, major: int, minor: int
) -> tuple[str, str | None, bool, tuple[str, ...]] | tuple[str, str]:
    """``("parsed", revision, is_dynamic, parents)`` or ``("delegate", reason)``."""

class GitHistoryError(RuntimeError): ...
class NotAGitRepositoryError(GitHistoryError): ...
class ShallowCloneError(GitHistoryError): ...
class MigrationFileError(ValueError): ...
class MigrationFileReadError(OSError): ...
class ChainError(ValueError): ...
class ChainFileError(ValueError): ...
class RevisionNotFoundError(ValueError): ...
class InternalError(RuntimeError): ...
