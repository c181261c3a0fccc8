"""A versions directory's derived state, in the working tree or at any commit.

:func:`chain_state` computes every migration with its derived parents and the commit
that first added it; with a ref, from git objects alone, without a checkout. Where
there is no git history (a Docker image without ``.git``, a shallow clone), the working
tree's state is read from ``revision_chain.json`` instead, and says so.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import pathlib
from collections.abc import Iterator

from alembic_git_revisions import _chain, _native, _records
from alembic_git_revisions._chain import plural

TYPE_CHECKING = False
if TYPE_CHECKING:
    from alembic_git_revisions._native import Scope

__all__ = [
    "ChainState",
    "Migration",
    "build_chain_at",
    "chain_state",
    "describe",
    "fmt_parents",
    "plural",
    "recording",
]

StrPath = str | os.PathLike[str]


@dataclasses.dataclass(frozen=True)
class Migration:
    """One migration as derived at some revision, with where it was first added."""

    revision: str
    #: The file name; in a recursive location, the path relative to it.
    filename: str
    git_sequence: int
    is_dynamic: bool
    static_down_revisions: tuple[str, ...]
    #: The derived (dynamic) or hardcoded (static) parents.
    parents: tuple[str, ...]
    #: Full id of the commit that first added the file, or None if never committed.
    commit: str | None


@dataclasses.dataclass(frozen=True)
class ChainState:
    """Everything derived for one versions directory at one revision."""

    versions_dir: pathlib.Path
    ref: str | None
    #: Migrations in add order.
    migrations: list[Migration]
    #: ``build_chain``'s mapping.
    chain: dict[str, str | None]
    #: The ``revision_chain.json`` the chain was read from because there is no git
    #: history; None when it was derived from git.
    chain_file: pathlib.Path | None = None
    #: ``"recursive"`` for a recursive version location (one chain over every
    #: directory below it), else ``"flat"``.
    scope: Scope = "flat"

    def parents(self) -> dict[str, tuple[str, ...]]:
        return {m.revision: m.parents for m in self.migrations}

    def by_revision(self) -> dict[str, Migration]:
        return {m.revision: m for m in self.migrations}


def _state(
    versions_dir: pathlib.Path, ref: str | None, analysis: _native.DirAnalysis, scope: Scope
) -> ChainState:
    chain = analysis.chain
    migrations = []
    for record in analysis.files:
        if record.is_dynamic:
            parent = chain.get(record.revision)
            parents: tuple[str, ...] = (parent,) if parent else ()
        else:
            parents = record.static_down_revisions
        migrations.append(
            Migration(
                revision=record.revision,
                filename=record.filename,
                git_sequence=record.git_sequence,
                is_dynamic=record.is_dynamic,
                static_down_revisions=record.static_down_revisions,
                parents=parents,
                commit=record.commit,
            )
        )
    return ChainState(versions_dir, ref, migrations, chain, scope=scope)


def _state_from_chain_file(
    versions_dir: pathlib.Path, chain_file: pathlib.Path, scope: Scope
) -> ChainState:
    """The working tree's state with dynamic parents from *chain_file* (no git).

    Files are listed as the core lists them (Alembic's rules, recursively for a
    recursive location) and parsed as always; without history, ``git_sequence`` is the
    index in file-name order and ``commit`` is None. A dynamic migration the file lacks
    means the file is stale, as ``get_down_revision`` would find: an error.
    """
    chain = _chain._load_chain_file(chain_file)
    migrations = []
    for index, name in enumerate(_native.list_migrations(versions_dir, scope=scope)):
        declared = _native.declare_file(versions_dir / name)
        record = _records.MigrationFile(
            revision=declared.revision,
            filename=name,
            git_sequence=index,
            is_dynamic=declared.is_dynamic,
            static_down_revisions=declared.static_down_revisions,
        )
        if record.is_dynamic:
            if record.revision not in chain:
                raise _native.RevisionNotFoundError(
                    f"Revision {record.revision!r} ({name}) is not in {chain_file}, "
                    f"and there is no git history to derive it from: the file is stale. "
                    "Regenerate it from a full clone with: "
                    f"{_chain.regenerate_command(versions_dir, scope)}"
                )
            parent = chain[record.revision]
            parents: tuple[str, ...] = (parent,) if parent else ()
        else:
            parents = record.static_down_revisions
        migrations.append(
            Migration(
                revision=record.revision,
                filename=record.filename,
                git_sequence=record.git_sequence,
                is_dynamic=record.is_dynamic,
                static_down_revisions=record.static_down_revisions,
                parents=parents,
                commit=None,
            )
        )
    return ChainState(versions_dir, None, migrations, chain, chain_file, scope)


#: States computed in this context, for callers that need to know where a result of a
#: higher-level function (``check_append_only``) came from; see :func:`recording`.
_RECORDER: contextvars.ContextVar[list[ChainState] | None] = contextvars.ContextVar(
    "alembic_git_revisions_chain_states", default=None
)


@contextlib.contextmanager
def recording() -> Iterator[list[ChainState]]:
    """Collect every :class:`ChainState` that :func:`chain_state` returns in the block."""
    seen: list[ChainState] = []
    token = _RECORDER.set(seen)
    try:
        yield seen
    finally:
        _RECORDER.reset(token)


def chain_state(
    versions_dir: StrPath, ref: str | None = None, *, scope: Scope = "flat"
) -> ChainState:
    """The derived state of *versions_dir* in the working tree, or at commit *ref*.

    With *ref*, files are read from the tree at that commit and history is cut at it;
    nothing is checked out. Without *ref*, git history wins over ``revision_chain.json``;
    only where there is none (not a repository, a shallow clone) is the chain read from
    that file, and :attr:`ChainState.chain_file` names it. With ``scope="recursive"``,
    *versions_dir* is a recursive version location: one chain over it and every
    directory below it.
    """
    path = pathlib.Path(versions_dir)
    if ref is None:
        try:
            (analysis,) = _native.analyze([path], scope=scope)
        except (_native.NotAGitRepositoryError, _native.ShallowCloneError) as exc:
            chain_file = _chain._chain_file_of(path)
            if not chain_file.is_file():
                raise _native.amended(
                    exc, f"{exc}, and {chain_file} does not exist to read the chain from"
                ) from None
            state = _state_from_chain_file(path, chain_file, scope)
        else:
            state = _state(path, ref, analysis, scope)
    else:
        state = _state(path, ref, _native.analyze_at(path, ref, scope=scope), scope)
    recorder = _RECORDER.get()
    if recorder is not None:
        recorder.append(state)
    return state


def build_chain_at(
    versions_dir: StrPath, ref: str, *, scope: Scope = "flat"
) -> dict[str, str | None]:
    """``build_chain`` as it would be at commit *ref*, computed from git objects."""
    return chain_state(versions_dir, ref, scope=scope).chain


def describe(versions_dir: StrPath, commits: list[str]) -> dict[str, tuple[str, str, str]]:
    """``{commit: (short id, author date, author)}`` for display."""
    unique = sorted(set(commits))
    described = _native.describe_commits(versions_dir, unique)
    return dict(zip(unique, described, strict=True))


def fmt_parents(parents: tuple[str, ...]) -> str:
    """Parents for messages: comma-separated, or ``(root)``."""
    return ", ".join(parents) if parents else "(root)"
