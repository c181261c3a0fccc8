"""Whether a migration may derive its parent from git, or must hardcode Alembic's.

A dynamic migration (``down_revision = get_down_revision(revision)``) always gets the
last migration of its directory's derived line as its parent, so it can only express
"extend the line". Its directory is the one ``get_down_revision`` will read: a recursive
version location when the new file goes below one (the scope rule, see ``_scope``;
:func:`read_directory_of`). Alembic asks for more: a merge (several parents), a branch label,
``--head`` on a revision that is not the end of the line, ``--splice``. This module
answers, before anything is written, what the core would derive for the directory
once the new file exists (:func:`derive` runs the product's own chain builder on the
directory's files with the new one in place, honouring its ``revision_pins.json``)
and so whether the migration Alembic asked for is a dynamic one
(:func:`dynamic_reason` finds no reason against), a hardcoded one, or one that no file
in this directory can express without changing the parents of migrations that already
exist (:func:`static_changes` lists them; the template then refuses to write it).

Used by the ``script.py.mako`` template (through ``template_down_revision``) and by
``rewrite``.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

from alembic_git_revisions import _native, _scope

StrPath = str | os.PathLike[str]

#: What ``down_revision`` / ``branch_labels`` look like in Alembic's template arguments.
RevisionArg = str | Sequence[str] | None


@dataclasses.dataclass(frozen=True)
class DownRevisionChoice:
    """How a new migration names its parent, as :func:`template_down_revision` decides.

    ``dynamic``: write ``down_revision = get_down_revision(revision)``; the parent
    derived from git is exactly the one Alembic computed. Otherwise write Alembic's
    own value, hardcoded, and ``reason`` says why (``comment`` is the same as
    ``#`` lines for the generated file).
    """

    dynamic: bool
    reason: str = ""

    @property
    def comment(self) -> str:
        """``reason`` as comment lines for the generated file; empty when dynamic."""
        if self.dynamic:
            return ""
        return "\n".join(
            textwrap.wrap(
                f"down_revision is hardcoded: {self.reason}",
                width=88,
                initial_indent="# ",
                subsequent_indent="# ",
                break_on_hyphens=False,
                break_long_words=False,
            )
        )


@dataclasses.dataclass(frozen=True)
class Entry:
    """One migration file as the chain builder sees it."""

    revision: str
    #: Its name in the directory: the path relative to a recursive location.
    filename: str
    #: Index in the directory's git add order; never-committed files share one past
    #: the last committed index.
    sequence: int
    dynamic: bool
    #: Hardcoded parents (empty for dynamic migrations and static roots).
    parents: tuple[str, ...]
    #: Whether git has seen the file (the others sort after all committed ones).
    committed: bool = True


@dataclasses.dataclass(frozen=True)
class Derived:
    """What the chain builder derives for a set of files."""

    #: ``{revision: parent}`` for each dynamic migration that got a parent.
    links: dict[str, str | None]
    #: The first dynamic migration when it could not be given a parent.
    unchained: str | None


def derive(
    entries: Iterable[Entry], pins: _native.PinFile | None = None, *, versions_dir: StrPath = "."
) -> Derived:
    """The derived parents of a directory holding *entries* (and pinned by *pins*): the
    product's chain builder (``migrations::chain::build``) on plain data.

    Dynamic migrations are chained in git add order after the single head of the purely
    static migrations; a hybrid (a static migration with a dynamic parent) is slotted in
    right after that parent, and later dynamic migrations chain after it. A dynamic
    migration first in line gets ``None`` when no static migration is present, and is
    left unchained when the static ones have no single head. Pinned migrations keep
    their pinned parents. Raises :class:`Unchecked` where the builder refuses the
    files (duplicate ids, cyclic parents, files that contradict the pins).
    """
    records = [
        _native.MigrationRecord(e.revision, e.filename, e.sequence, e.dynamic, e.parents, None)
        for e in entries
    ]
    try:
        built = _native.build_chain_from(versions_dir, records, pins)
    except _native.ChainError as exc:
        raise Unchecked(f"the derived line of {versions_dir} cannot be built ({exc})") from exc
    return Derived(dict(built.chain), built.unchained.revision if built.unchained else None)


def to_tuple(value: RevisionArg) -> tuple[str, ...]:
    """Alembic's ``util.to_tuple``: ``None`` -> ``()``, a string -> a 1-tuple."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


class Unchecked(Exception):
    """The derived line of a directory could not be read; hardcode Alembic's value."""


@dataclasses.dataclass(frozen=True)
class Directory:
    """A versions directory as the chain builder sees it."""

    path: pathlib.Path
    #: Its files, in add order.
    entries: list[Entry]
    #: Its ``revision_pins.json``, if any: predictions honour it as the core does.
    pins: _native.PinFile | None
    #: What the core derives for it now.
    current: Derived
    #: ``"recursive"`` for a recursive version location.
    scope: _native.Scope = "flat"

    def derive(self, entries: Iterable[Entry]) -> Derived:
        """What the core would derive for this directory holding *entries*."""
        return derive(entries, self.pins, versions_dir=self.path)

    def name_of(self, path: pathlib.Path) -> str:
        """The name the core gives the migration at *path* in this directory: its file
        name, or its ``/``-separated path relative to a recursive location."""
        if self.scope == "flat":
            return path.name
        for top, inner in ((self.path, path), (self.path.resolve(), path.resolve())):
            try:
                return inner.relative_to(top).as_posix()
            except ValueError:
                continue
        return path.name


def read_directory_of(target: pathlib.Path, frame: Any = None) -> Directory:
    """The directory whose derived line a new migration at *target* joins, as
    ``get_down_revision`` will read it (the scope rule, called from *frame*).

    Raises :class:`Unchecked` where :func:`read_directory` does, and when the scope rule
    refuses (its reason is the message).
    """
    try:
        where = _scope.locate(target.parent, frame)
    except _native.ChainError as exc:
        raise Unchecked(str(exc)) from exc
    return read_directory(pathlib.Path(where.directory), where.scope)


def read_directory(versions_dir: pathlib.Path, scope: _native.Scope = "flat") -> Directory:
    """The directory's files as entries, its pins and what the core derives for them.

    Raises :class:`Unchecked` when git history or the pin file cannot be read, or when
    the files given back to the chain builder do not give the core's chain (then the
    prediction cannot be trusted).
    """
    if not versions_dir.is_dir():
        # Alembic creates the directory just before writing (or a date subdirectory
        # that does not exist yet): nothing in it to derive from.
        return Directory(versions_dir, [], None, Derived({}, None), scope)
    try:
        (analysis,) = _native.analyze([versions_dir], scope=scope)
        pins = _native.read_pins(versions_dir)
    except (RuntimeError, ValueError, OSError) as exc:
        raise Unchecked(f"cannot read the derived line of {versions_dir} ({exc})") from exc
    entries = [
        Entry(
            revision=r.revision,
            filename=os.fsdecode(r.filename),
            sequence=r.git_sequence,
            dynamic=r.is_dynamic,
            parents=tuple(r.static_down_revisions),
            committed=r.commit is not None,
        )
        for r in analysis.files
    ]
    core = Derived(
        dict(analysis.chain), analysis.unchained.revision if analysis.unchained else None
    )
    directory = Directory(versions_dir, entries, pins, core, scope)
    if directory.derive(entries) != core:
        raise Unchecked(
            f"alembic-git-revisions could not predict the derived line of {versions_dir} "
            "(an internal mismatch; please report it)"
        )
    return directory


def display(path: pathlib.Path) -> str:
    """*path* for a generated file's comments: relative to the working directory (Alembic
    runs in the project), else its name; never this machine's absolute path."""
    try:
        return os.fspath(path.relative_to(pathlib.Path.cwd()))
    except ValueError:
        return path.name


def _shown(parents: Sequence[str | None]) -> str:
    return ", ".join(p or "none (a base)" for p in parents) if parents else "none (a base)"


def changed_parents(before: Derived, after: Derived, *, ignore: str) -> list[str]:
    """How the parents of migrations other than *ignore* differ between two derivations."""
    changes = []
    for revision, parent in before.links.items():
        if revision == ignore:
            continue
        if revision == after.unchained:
            changes.append(f"{revision} would lose its parent {parent or '(base)'}")
        elif after.links.get(revision, parent) != parent:
            changes.append(f"{revision}: {parent or '(base)'} -> {after.links[revision]}")
    return changes


@dataclasses.dataclass(frozen=True)
class Request:
    """A migration as Alembic wants it: its id, its file and Alembic's parents."""

    revision: str
    path: pathlib.Path
    parents: tuple[str, ...]
    branch_labels: tuple[str, ...]


def dynamic_reason(request: Request, directory: Directory) -> str | None:
    """``None`` when deriving *request*'s parent from git gives exactly Alembic's parent
    and leaves every other migration's parent alone; otherwise why not."""
    if len(request.parents) > 1:
        return f"a merge of {', '.join(request.parents)} (a derived parent is one revision)"
    if request.branch_labels:
        labels = ", ".join(request.branch_labels)
        return f"branch label {labels} (a labelled migration keeps the parent it was given)"
    wanted = request.parents[0] if request.parents else None
    name = directory.name_of(request.path)
    after = directory.derive(with_request(request, directory.entries, dynamic=True, name=name))
    if request.revision not in after.links:
        return (
            f"Alembic's parent is {_shown([wanted])}, but in the line derived from git history "
            f"for {display(directory.path)} it would be ambiguous (the hardcoded "
            "migrations there have no single head)"
        )
    derived = after.links[request.revision]
    if derived != wanted:
        return (
            f"Alembic's parent is {_shown([wanted])}, but in the line derived from git history "
            f"for {display(directory.path)} it would be {_shown([derived])}"
        )
    if changed_parents(directory.current, after, ignore=request.revision):
        return "deriving it would change the parents of other migrations"
    return None


def static_changes(request: Request, directory: Directory) -> list[str]:
    """How writing *request* with Alembic's parents hardcoded would change the derived
    parents of the migrations already in its directory (empty: it would not)."""
    name = directory.name_of(request.path)
    after = directory.derive(with_request(request, directory.entries, dynamic=False, name=name))
    return changed_parents(directory.current, after, ignore=request.revision)


def with_request(
    request: Request, entries: list[Entry], *, dynamic: bool, name: str | None = None
) -> list[Entry]:
    """*entries* with the requested migration in place: an existing file keeps its add
    position, a new one is uncommitted (after every committed file, then by name).
    *name* is the file's name in the directory (its file name when not given)."""
    name = request.path.name if name is None else name
    own = next((e for e in entries if e.filename == name), None)
    others = [e for e in entries if e is not own and e.revision != request.revision]
    if own is not None:
        sequence, committed = own.sequence, own.committed
    else:
        # Never-committed files share the index one past the committed ones.
        sequence, committed = sum(1 for e in entries if e.committed), False
    parents = () if dynamic else request.parents
    placed = Entry(request.revision, name, sequence, dynamic, parents, committed)
    return [*others, placed]
