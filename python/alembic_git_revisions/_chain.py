"""The public API: derive each dynamic migration's ``down_revision`` from git.

The heavy lifting (history walk, parsing, chain building) happens in the native
core (through ``_native``); this module adds the per-process caches, the
``revision_chain.json`` fallback and the exceptions' context.
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock

from alembic_git_revisions import _native

# Importing this module is what every migration file pays (through
# `from alembic_git_revisions import get_down_revision`): the standard library modules
# that only some paths need (json, tempfile, pathlib, warnings, typing) are imported
# where used, and `parse_versions_dir` with its dataclass (`dataclasses` imports
# `inspect`, tens of milliseconds) lives in `_records`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import pathlib
    from typing import Any

    from alembic_git_revisions import _scope
    from alembic_git_revisions._native import Scope

CHAIN_FILENAME = "revision_chain.json"

_MISSING: Any = object()

StrPath = str | os.PathLike[str]


class StaleChainFileWarning(UserWarning):
    """``revision_chain.json`` lacks a revision that git history has; git was used.

    Issued once per chain file and process by :func:`get_down_revision`. Filter it into
    an error (``warnings.filterwarnings("error", category=StaleChainFileWarning)``) to
    insist on the file, as alembic-git-revisions 13 does.
    """


# --------------------------------------------------------------------------- chain file


def _chain_file_of(versions_dir: pathlib.Path) -> pathlib.Path:
    return versions_dir.parent / CHAIN_FILENAME


def regenerate_command(versions_dir: StrPath, scope: Scope = "flat") -> str:
    """The command that writes the chain file of *versions_dir* (read in *scope*)."""
    if scope == "recursive":
        return f"alembic-git-revisions generate --recursive {versions_dir}"
    return f"alembic-git-revisions {versions_dir}"


def _chain_file_error(chain_file: pathlib.Path, message: str) -> _native.ChainFileError:
    """A ``ChainFileError`` naming *chain_file* (its ``path``), as the core's are."""
    error = _native.ChainFileError(message)
    error.path = os.fspath(chain_file)
    return error


def _load_chain_file(chain_file: pathlib.Path) -> dict[str, str | None]:
    """Read and validate a ``revision_chain.json``."""
    import json

    try:
        text = chain_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _chain_file_error(
            chain_file, f"{chain_file} is not UTF-8 text; regenerate it"
        ) from None
    except OSError as exc:
        unreadable = _native.MigrationFileReadError(
            f"cannot read {chain_file}: {exc.strerror or exc}"
        )
        unreadable.path, unreadable.errno = os.fspath(chain_file), exc.errno
        raise unreadable from exc
    if not text.strip():
        raise _chain_file_error(
            chain_file,
            f"{chain_file} is empty; regenerate it with: alembic-git-revisions "
            f"{chain_file.parent / 'versions'}",
        )
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _chain_file_error(
            chain_file,
            f"{chain_file} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}); it may be truncated. Regenerate it",
        ) from None
    except (ValueError, RecursionError) as exc:
        # Numbers past int's digit limit, arrays nested past the recursion limit.
        raise _chain_file_error(
            chain_file,
            f"{chain_file} is not a chain file ({type(exc).__name__}: {str(exc)[:80]}); "
            "regenerate it",
        ) from None
    if not isinstance(data, dict):
        raise _chain_file_error(
            chain_file,
            f"{chain_file} must hold a JSON object mapping revision to down_revision, "
            f"not a {type(data).__name__}",
        )
    for key, value in data.items():
        if not isinstance(value, str) and value is not None:
            raise _chain_file_error(
                chain_file,
                f"{chain_file}: the down_revision of {key!r} must be a string or null, "
                f"not {json.dumps(value)[:40]}",
            )
    return data


def _write_chain_file(chain_file: pathlib.Path, chain: dict[str, str | None]) -> None:
    """Write a ``revision_chain.json`` atomically."""
    import json

    _write_atomically(chain_file, json.dumps(chain, indent=2, sort_keys=True) + "\n")


def _write_atomically(target: pathlib.Path, text: str) -> None:
    """A temp file in the same directory, then a rename: readers see old or new."""
    import tempfile

    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


# --------------------------------------------------------------------------- chains


class _Resolved:
    """A versions directory's chain and where it came from."""

    __slots__ = ("chain", "chain_file", "scope", "unchained", "versions_dir")

    def __init__(
        self,
        versions_dir: pathlib.Path,
        chain: dict[str, str | None],
        chain_file: pathlib.Path | None,
        unchained: _native.Unchained | None,
        scope: Scope = "flat",
    ) -> None:
        self.versions_dir = versions_dir
        self.chain = chain
        self.chain_file = chain_file
        self.unchained = unchained
        self.scope = scope


class _ChainCache:
    """Per-process cache of resolved chains, built at most once per directory."""

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._by_dir: dict[Any, _Resolved] = {}
        self._building: dict[Any, Any] = {}
        # co_filename of a calling migration -> its directory's chain, for the
        # get_down_revision fast path.
        self.by_caller: dict[str, dict[str, str | None]] = {}
        # A versions_dir given to get_down_revision -> where the scope rule put it,
        # decided at its first call and kept, as for a calling file.
        self.located: dict[str, _scope.Location] = {}

    def get(self, versions_dir: Any, scope: Scope = "flat") -> _Resolved:
        resolved = self._by_dir.get((versions_dir, scope))
        if resolved is not None:
            return resolved
        # Spellings of one directory share one build ("d", Path("d"), "d/"); symlinks
        # are not resolved, since a symlinked path keeps its own chain file.
        key = (os.path.abspath(os.fspath(versions_dir)), scope)
        resolved = self._by_dir.get(key)
        if resolved is not None:
            self._by_dir[(versions_dir, scope)] = resolved
            return resolved
        with self._lock:
            gate = self._building.setdefault(key, allocate_lock())
        with gate:
            resolved = self._by_dir.get(key)
            if resolved is None:
                import pathlib

                resolved = _resolve(pathlib.Path(versions_dir), scope)
                self._by_dir[key] = resolved
        self._by_dir[(versions_dir, scope)] = resolved
        return resolved

    def forget(self, versions_dir: Any, scope: Scope = "flat") -> None:
        """Drop one directory's chain (under every spelling) so the next use rebuilds."""
        key = (os.path.abspath(os.fspath(versions_dir)), scope)
        with self._lock:
            stale = self._by_dir.get(key)
            for name, resolved in list(self._by_dir.items()):
                if resolved is stale:
                    del self._by_dir[name]
            if stale is not None:
                for caller, chain in list(self.by_caller.items()):
                    if chain is stale.chain:
                        del self.by_caller[caller]

    def replace(self, stale: _Resolved, fresh: _Resolved) -> None:
        """Answer every spelling of *stale*'s directory with *fresh* from now on."""
        with self._lock:
            for name, resolved in list(self._by_dir.items()):
                if resolved is stale:
                    self._by_dir[name] = fresh
            for caller, chain in list(self.by_caller.items()):
                if chain is stale.chain:
                    self.by_caller[caller] = fresh.chain

    def clear(self) -> None:
        with self._lock:
            self._by_dir.clear()
            self._building.clear()
            self.by_caller.clear()
            self.located.clear()


_CACHE = _ChainCache()


def _resolve(versions_dir: pathlib.Path, scope: Scope = "flat") -> _Resolved:
    chain_file = _chain_file_of(versions_dir)
    if chain_file.exists():
        return _Resolved(versions_dir, _load_chain_file(chain_file), chain_file, None, scope)
    try:
        (analysis,) = _native.analyze([versions_dir], with_files=False, scope=scope)
    except _native.NotAGitRepositoryError as exc:
        raise _native.amended(
            exc,
            f"{exc} and {chain_file} does not exist. Generate it from a full clone with: "
            f"{regenerate_command(versions_dir, scope)}",
        ) from None
    except _native.ShallowCloneError as exc:
        raise _native.amended(exc, f"{exc}; {chain_file} does not exist") from None
    return _Resolved(versions_dir, analysis.chain, None, analysis.unchained, scope)


class _CachedBuildChain:
    """``build_chain`` with the ``cache_clear()`` of ``functools.cache``."""

    def __call__(self, versions_dir: StrPath, *, scope: Scope = "flat") -> dict[str, str | None]:
        """The revision chain of *versions_dir*: ``{revision: down_revision}``.

        A ``revision_chain.json`` beside the directory wins over git (it is what
        Docker images and shallow CI clones ship). Built once per directory per
        process; ``build_chain.cache_clear()`` forgets. A ``None`` parent marks the
        first migration of a history that has no static migration. With
        ``scope="recursive"``, one chain over *versions_dir* and every directory below
        it (Alembic's ``recursive_version_locations``).
        """
        return _CACHE.get(versions_dir, scope).chain

    @staticmethod
    def cache_clear() -> None:
        """Forget every chain built so far in this process (and every configuration
        the scope rule read)."""
        _CACHE.clear()
        from alembic_git_revisions import _scope

        _scope.clear()


build_chain: _CachedBuildChain = _CachedBuildChain()

_PACKAGE_DIRS: frozenset[pathlib.Path] = frozenset()


def _discover_versions_dir(frame: Any) -> pathlib.Path:
    """The directory of the first caller outside this package (the migration file)."""
    import pathlib

    global _PACKAGE_DIRS
    if not _PACKAGE_DIRS:
        here = pathlib.Path(__file__)
        _PACKAGE_DIRS = frozenset({here.absolute().parent, here.resolve().parent})
    while frame is not None:
        directory = pathlib.Path(frame.f_code.co_filename).absolute().parent
        if directory not in _PACKAGE_DIRS:
            return directory
        frame = frame.f_back
    raise RuntimeError(
        "Cannot auto-discover versions directory: no caller outside alembic_git_revisions "
        "was found on the call stack; pass versions_dir explicitly."
    )


def get_down_revision(revision: str, versions_dir: StrPath | None = None) -> str | None:
    """The ``down_revision`` of *revision*, derived from git history.

    Without *versions_dir*, the directory of the calling migration file is used, so a
    migration just writes ``down_revision = get_down_revision(revision)``. When that
    directory (or *versions_dir*) lies in a version location Alembic reads with
    ``recursive_version_locations = true``, the chain is that location's, over all of
    its subdirectories: see the README ("Alembic features") for how that is decided.
    """
    caller = sys._getframe(1)
    if versions_dir is None:
        chain = _CACHE.by_caller.get(caller.f_code.co_filename)
        if chain is not None:
            parent = chain.get(revision, _MISSING)
            if parent is not _MISSING:
                return parent
        from alembic_git_revisions import _scope

        own = _discover_versions_dir(caller)
        where = _scope.locate(own, caller)
        resolved = _CACHE.get(where.directory, where.scope)
        filename = caller.f_code.co_filename
        import pathlib

        if os.path.isabs(filename) and pathlib.Path(filename).parent == own:
            _CACHE.by_caller[filename] = resolved.chain
    else:
        key = os.fspath(versions_dir)
        where = _CACHE.located.get(key)
        if where is None:
            from alembic_git_revisions import _scope

            where = _CACHE.located.setdefault(key, _scope.locate(versions_dir, caller))
        resolved = _CACHE.get(where.directory, where.scope)
    directory = where.directory
    if revision not in resolved.chain and resolved.chain_file is not None:
        fresh, warning = _over_stale_chain_file(resolved, revision)
        if fresh is not None:
            _CACHE.replace(resolved, fresh)
            resolved = fresh
        if warning is not None:
            import warnings

            warnings.warn(warning, StaleChainFileWarning, stacklevel=2)
    elif revision not in resolved.chain and resolved.chain_file is None:
        # A migration written after the chain was built in this process (as in
        # `alembic revision`, which loads the existing migrations first): rebuild
        # once, which the persistent cache makes cheap.
        unchained = resolved.unchained is not None and resolved.unchained.revision == revision
        if not unchained:
            _CACHE.forget(directory, where.scope)
            resolved = _CACHE.get(directory, where.scope)
    try:
        return resolved.chain[revision]
    except KeyError:
        raise _native.RevisionNotFoundError(_not_found_message(revision, resolved)) from None


_STALE_WARNED: set[pathlib.Path] = set()
_STALE_LOCK = allocate_lock()


def _over_stale_chain_file(
    resolved: _Resolved, revision: str
) -> tuple[_Resolved | None, str | None]:
    """Git's chain in place of a chain file that lacks *revision*, and the warning to
    issue (once per file and process), or ``(None, None)`` to keep the file's answer.

    Only when git agrees with the file on every revision both hold: answers already
    given from the file in this process then stay true, so Alembic never sees a graph
    mixed from two different chains. Otherwise the file is stale in a way git cannot
    paper over, and the caller reports it.
    """
    assert resolved.chain_file is not None
    try:
        (analysis,) = _native.analyze(
            [resolved.versions_dir], with_files=False, scope=resolved.scope
        )
    except (_native.NotAGitRepositoryError, _native.ShallowCloneError):
        return None, None
    if revision not in analysis.chain:
        return None, None
    if any(
        rev in analysis.chain and analysis.chain[rev] != parent
        for rev, parent in resolved.chain.items()
    ):
        return None, None
    fresh = _Resolved(
        resolved.versions_dir, analysis.chain, None, analysis.unchained, resolved.scope
    )
    with _STALE_LOCK:
        if resolved.chain_file in _STALE_WARNED:
            return fresh, None
        _STALE_WARNED.add(resolved.chain_file)
    return fresh, (
        f"{resolved.chain_file} is stale: it lacks revision {revision!r}, so the chain "
        f"of {resolved.versions_dir} comes from git history instead (it agrees with the "
        "file on every revision the file holds). Regenerate the file with: "
        f"{regenerate_command(resolved.versions_dir, resolved.scope)}, or delete it (it is "
        "meant for "
        "environments without git; keep it out of version control)"
    )


def _disagreement(resolved: _Resolved) -> str:
    """Where git history disagrees with a chain file, for the stale-file message."""
    try:
        (analysis,) = _native.analyze(
            [resolved.versions_dir], with_files=False, scope=resolved.scope
        )
    except (_native.GitHistoryError, ValueError, OSError):
        return ""
    for rev, parent in resolved.chain.items():
        if rev in analysis.chain and analysis.chain[rev] != parent:
            return (
                f" Git history cannot stand in for it: it gives {rev!r} the parent "
                f"{analysis.chain[rev]!r} where the file says {parent!r}."
            )
    return ""


def _not_found_message(revision: str, resolved: _Resolved) -> str:
    if resolved.chain_file is not None:
        return (
            f"Revision {revision!r} is not in {resolved.chain_file}, which holds "
            f"{plural(len(resolved.chain), 'revision')}: the file is stale. Regenerate it "
            f"with: {regenerate_command(resolved.versions_dir, resolved.scope)}"
            + _disagreement(resolved)
        )
    if resolved.unchained is not None and resolved.unchained.revision == revision:
        heads = resolved.unchained.heads
        if resolved.unchained.reason == "multiple-static-heads":
            return (
                f"Revision {revision!r} is the first dynamic migration of "
                f"{resolved.versions_dir}, but the hardcoded migrations there have "
                f"{len(heads)} heads ({', '.join(heads)}), so where the dynamic chain "
                "starts is ambiguous. Add a merge migration joining those heads."
            )
        return (
            f"Revision {revision!r} is the first dynamic migration of "
            f"{resolved.versions_dir}, but no hardcoded migration there is a head (their "
            "parents live elsewhere), so it has no parent to chain to. Give it a "
            "hardcoded down_revision."
        )
    where = "that directory" if resolved.scope == "flat" else "that version location"
    return (
        f"Revision {revision!r} not found in the migration chain of "
        f"{resolved.versions_dir} ({plural(len(resolved.chain), 'dynamic revision')}). Is the "
        "migration a dynamic one (down_revision = get_down_revision(revision)) living "
        f"in {where}?"
    )


def generate_chain_file(versions_dir: StrPath, *, scope: Scope = "flat") -> None:
    """Write ``revision_chain.json`` beside *versions_dir*, derived from git history.

    Run it where the full history is available (CI, before building a Docker image)
    so that environments without git read the chain from the file. The write is
    atomic: concurrent runs leave one complete file. With ``scope="recursive"``, the
    chain of the whole recursive version location, still beside it.
    """
    import pathlib

    versions_dir = pathlib.Path(versions_dir)
    (analysis,) = _native.analyze([versions_dir], with_files=False, scope=scope)
    chain_file = _chain_file_of(versions_dir)
    _write_chain_file(chain_file, analysis.chain)
    print(f"Generated {chain_file} with {plural(len(analysis.chain), 'revision')}")


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``"1 revision"``, ``"2 revisions"``: a count with its noun agreeing."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_form or noun + 's'}"


__all__ = [
    "CHAIN_FILENAME",
    "StaleChainFileWarning",
    "build_chain",
    "generate_chain_file",
    "get_down_revision",
]
