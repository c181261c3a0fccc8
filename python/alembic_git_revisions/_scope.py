"""Which chain answers a migration that does not say: the scope rule.

A dynamic migration writes ``down_revision = get_down_revision(revision)`` and names
no directory; its parent comes from the chain of the versions directory it belongs to.
For a flat layout that is the file's own directory (the reference's rule). With
Alembic's ``recursive_version_locations = true`` it is the whole version location:
the date layout ``versions/2024/01/...`` is one chain, not one per month. The rule,
for a migration's directory (or one given to ``get_down_revision`` explicitly):

1. **Alembic is loading it**: a ``ScriptDirectory`` is on the call stack (every
   ``alembic`` command, ``alembic.command``, tools built on them, and the template
   while ``alembic revision`` renders it). Its version locations and its own
   ``recursive_version_locations`` decide: the recursive location holding the
   directory, at any depth, or the directory itself, flat.
2. **The configuration on disk**: ``$ALEMBIC_CONFIG`` when set (as ``alembic`` reads
   it), and the nearest ``alembic.ini`` (or ``pyproject.toml`` with
   ``[tool.alembic]``) in the directory or above it, up to the top of its git working
   tree. Every section that names a ``script_location`` counts, read by Alembic's own
   ``Config`` with relative paths taken from the configuration file's directory.
3. Otherwise the directory itself, flat: the reference's rule.

Never a chain that depends on how the file was loaded: when 1 and 2 both answer and
differ, or 2 answers two ways, :class:`ChainError` says so and names both. When the
configuration cannot be read, Alembic's answer stands while Alembic is loading; outside
Alembic it is an error too. The answer for a file is made at its first
``get_down_revision`` call in a process and kept (the fast path).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import sys
import threading
from typing import Any

from alembic_git_revisions import _native

TYPE_CHECKING = False
if TYPE_CHECKING:
    from alembic_git_revisions._native import Scope

#: The environment variable ``alembic`` reads its configuration file from.
ALEMBIC_CONFIG = "ALEMBIC_CONFIG"


@dataclasses.dataclass(frozen=True)
class Location:
    """The versions directory whose chain answers, and how far it reaches."""

    #: A flat directory as given, or a recursive location as its source names it.
    directory: pathlib.Path
    scope: Scope
    #: What decided, for messages: Alembic, a configuration file, or the default.
    source: str

    def same_as(self, other: Location) -> bool:
        return self.scope == other.scope and _same_directory(self.directory, other.directory)

    def describe(self) -> str:
        if self.scope == "recursive":
            return f"part of the recursive version location {self.directory}"
        return f"the flat versions directory {self.directory}"


def _same_directory(a: pathlib.Path, b: pathlib.Path) -> bool:
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _holds(location: pathlib.Path, directory: pathlib.Path, recursive: bool) -> bool:
    """Whether *directory* is *location*, or (recursive) lies anywhere below it;
    compared as given and with symbolic links resolved (Alembic loads files by their
    resolved paths but names its locations unresolved)."""
    pairs = [(pathlib.Path(os.path.abspath(location)), pathlib.Path(os.path.abspath(directory)))]
    try:
        pairs.append((location.resolve(), directory.resolve()))
    except OSError:
        pass
    for top, inner in pairs:
        if top == inner or (recursive and inner.is_relative_to(top)):
            return True
    return False


# --------------------------------------------------------------------------- Alembic


def _loading_script_directory(frame: Any) -> Any | None:
    """The ``ScriptDirectory`` of the Alembic code on the call stack above *frame*, if
    any: ``Script._from_path(scriptdir, ...)`` while Alembic loads a migration,
    ``ScriptDirectory.generate_revision(self, ...)`` while it writes one (and the same
    locals in Alembic's older ``_from_filename``)."""
    base = sys.modules.get("alembic.script.base")
    script_directory = getattr(base, "ScriptDirectory", None)
    if not isinstance(script_directory, type):
        return None
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if isinstance(module, str) and module.startswith("alembic."):
            found = frame.f_locals
            for name in ("scriptdir", "self"):
                candidate = found.get(name)
                if isinstance(candidate, script_directory):
                    return candidate
        frame = frame.f_back
    return None


def _alembic_answer(script: Any, directory: pathlib.Path) -> Location | None:
    """Where the Alembic that is running loads *directory*'s migrations from."""
    try:
        locations = [pathlib.Path(path) for path in script._version_locations]
    except Exception:  # an Alembic whose internals differ: no answer from it
        return None
    # Alembic < 1.10 has no such setting (and loads every location flat).
    recursive = bool(getattr(script, "recursive_version_locations", False))
    holders = [loc for loc in locations if _holds(loc, directory, recursive)]
    if not holders:
        return None
    source = "Alembic (the configuration it runs with)"
    if not recursive:
        return Location(directory, "flat", source)
    return _one_recursive(holders, directory, source)


def _one_recursive(holders: list[pathlib.Path], directory: pathlib.Path, source: str) -> Location:
    distinct: list[pathlib.Path] = []
    for holder in holders:
        if not any(_same_directory(holder, seen) for seen in distinct):
            distinct.append(holder)
    if len(distinct) > 1:
        error = _native.ChainError(
            f"{directory} lies in the recursive version locations "
            f"{' and '.join(map(str, distinct))} at once ({source}): Alembic loads its "
            "migrations from the first and warns about the second, and no single chain "
            "can be derived for them. Do not nest recursive version locations"
        )
        error.path = os.fspath(directory)
        raise error
    return Location(distinct[0], "recursive", source)


# --------------------------------------------------------------------------- on disk


class _Unreadable(Exception):
    """The configuration that applies cannot be read."""


_MEMO_LOCK = threading.Lock()
#: abspath of a directory -> the configuration files that apply to it.
_NEAREST: dict[str, tuple[pathlib.Path, ...]] = {}
#: a configuration file -> its version locations, or why they cannot be read.
_READ: dict[pathlib.Path, tuple[Any, ...] | _Unreadable] = {}


#: (directory as given, id of the ScriptDirectory loading it or 0) -> that
#: ScriptDirectory (kept, so its id is not reused) and the answer: every migration of
#: a directory that Alembic loads asks the same question.
_LOCATED: dict[tuple[str, int], tuple[Any, Location]] = {}


def clear() -> None:
    """Forget every configuration read (``build_chain.cache_clear()`` calls it)."""
    with _MEMO_LOCK:
        _NEAREST.clear()
        _READ.clear()
        _LOCATED.clear()


def _configures_alembic(toml: pathlib.Path) -> bool:
    from alembic_git_revisions import _config

    try:
        return _config.supports_toml() and bool(_config.configured_sections(toml))
    except (_config.ConfigError, ImportError):
        # A pyproject.toml that does not parse is not this rule's to judge, unless it
        # is the file Alembic reads (then Alembic itself fails on it).
        return False


def _nearest(directory: pathlib.Path) -> pathlib.Path | None:
    """The nearest ``alembic.ini``, or ``pyproject.toml`` with ``[tool.alembic]``, in
    *directory* or above, up to the top of its git working tree."""
    for candidate in (directory, *directory.parents):
        ini = candidate / "alembic.ini"
        if ini.is_file():
            return ini
        toml = candidate / "pyproject.toml"
        if toml.is_file() and _configures_alembic(toml):
            return toml
        if (candidate / ".git").exists():
            return None
    return None


def _config_files(directory: pathlib.Path) -> tuple[pathlib.Path, ...]:
    key = os.path.abspath(directory)
    with _MEMO_LOCK:
        known = _NEAREST.get(key)
    if known is not None:
        return known
    found: list[pathlib.Path] = []
    named = os.environ.get(ALEMBIC_CONFIG)
    if named:
        found.append(pathlib.Path(os.path.abspath(named)))
    nearest = _nearest(pathlib.Path(key))
    if nearest is not None and not any(_same_directory(nearest, f) for f in found):
        found.append(nearest)
    files = tuple(found)
    with _MEMO_LOCK:
        _NEAREST[key] = files
    return files


def _locations_of(config_file: pathlib.Path) -> tuple[Any, ...]:
    """Every version location *config_file* configures, in any of its sections."""
    with _MEMO_LOCK:
        known = _READ.get(config_file)
    if known is None:
        known = _read(config_file)
        with _MEMO_LOCK:
            _READ[config_file] = known
    if isinstance(known, _Unreadable):
        raise known
    return known


def _read(config_file: pathlib.Path) -> tuple[Any, ...] | _Unreadable:
    from alembic_git_revisions import _config

    try:
        sections = _config.configured_sections(config_file)
        if not sections:
            return ()
        configs = _config.read_config(
            [config_file], sections=sections, anchor=config_file.absolute().parent
        )
    except _config.ConfigError as exc:
        return _Unreadable(str(exc))
    except ImportError as exc:
        # No Alembic to read it with: nothing can load these migrations the way it does.
        if exc.name is not None and exc.name.split(".")[0] == "alembic":
            return ()
        return _Unreadable(f"{config_file}: {exc}")
    return tuple(location for config in configs for location in config.locations)


def _configured_answer(directory: pathlib.Path) -> Location | None:
    """Where the configuration on disk puts *directory*'s migrations; None when no
    configuration applies or none lists it."""
    answers: list[Location] = []
    for config_file in _config_files(directory):
        source = os.fspath(config_file)
        holders = []
        for location in _locations_of(config_file):
            if _holds(location.path, directory, location.recursive):
                holders.append(location)
        recursive = [loc.path for loc in holders if loc.recursive]
        if recursive:
            answers.append(_one_recursive(recursive, directory, source))
        elif holders:
            answers.append(Location(directory, "flat", source))
    for answer in answers[1:]:
        if not answer.same_as(answers[0]):
            raise _disagreement(directory, answers[0], answer)
    return answers[0] if answers else None


# --------------------------------------------------------------------------- the rule


def _disagreement(directory: pathlib.Path, first: Location, second: Location) -> Exception:
    error = _native.ChainError(
        f"cannot tell which chain the migrations in {directory} belong to: "
        f"{first.source} loads them as {first.describe()}, but {second.source} reads them "
        f"as {second.describe()}. Their parents would then depend on how they are loaded "
        "(an `alembic` command, or a test importing them). Make the two configurations "
        "agree on version_locations and recursive_version_locations"
    )
    error.path = os.fspath(directory)
    return error


def locate(directory: str | os.PathLike[str], frame: Any) -> Location:
    """The chain that answers for migrations in *directory*, called from *frame*.

    Raises :class:`ChainError` when the rules disagree, when recursive locations nest,
    and, outside Alembic, when the configuration that applies cannot be read. The
    answer for a directory is worked out once per ``ScriptDirectory`` (or once outside
    Alembic): Alembic asks it for every migration file it loads.
    """
    script = _loading_script_directory(frame)
    key = (os.fspath(directory), 0 if script is None else id(script))
    with _MEMO_LOCK:
        known = _LOCATED.get(key)
    if known is not None and known[0] is script:
        return known[1]
    found = _locate(pathlib.Path(directory), script)
    with _MEMO_LOCK:
        _LOCATED[key] = (script, found)
    return found


def _locate(given: pathlib.Path, script: Any | None) -> Location:
    """:func:`locate` itself, with *script* the ``ScriptDirectory`` loading, if any."""
    absolute = pathlib.Path(os.path.abspath(given))
    alembic = _alembic_answer(script, absolute) if script is not None else None
    try:
        configured = _configured_answer(absolute)
    except _Unreadable as exc:
        if alembic is None:
            error = _native.ChainError(
                f"cannot tell whether {given} is part of a recursive version location: "
                f"{exc}. Fix the configuration (Alembic cannot read it either)"
            )
            error.path = os.fspath(given)
            raise error from None
        # Alembic is loading with a configuration of its own: its answer stands.
        configured = None
    if alembic is not None and configured is not None and not alembic.same_as(configured):
        raise _disagreement(given, alembic, configured)
    found = alembic or configured
    if found is None or found.scope == "flat":
        # Flat: the directory as given, the reference's rule (and its spelling).
        return Location(given, "flat", found.source if found else "its own directory")
    return found
