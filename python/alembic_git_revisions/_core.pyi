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
