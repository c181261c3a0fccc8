"""A versions directory's derived state, in the working tree or at any commit.

:func:`chain_state` computes every migration with its derived parents and the commit
that first added it; with a ref, from git objects alone, without a checkout.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from alembic_git_revisions import _native

StrPath = str | os.PathLike[str]


@dataclasses.dataclass(frozen=True)
class Migration:
    """One migration as derived at some revision, with where it was first added."""

    revision: str
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

    def parents(self) -> dict[str, tuple[str, ...]]:
        return {m.revision: m.parents for m in self.migrations}

    def by_revision(self) -> dict[str, Migration]:
        return {m.revision: m for m in self.migrations}


def _state(
    versions_dir: pathlib.Path, ref: str | None, analysis: _native.DirAnalysis
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
    return ChainState(versions_dir, ref, migrations, chain)


def chain_state(versions_dir: StrPath, ref: str | None = None) -> ChainState:
    """The derived state of *versions_dir* in the working tree, or at commit *ref*.

    With *ref*, files are read from the tree at that commit and history is cut at it;
    nothing is checked out. ``revision_chain.json`` is never consulted.
    """
    path = pathlib.Path(versions_dir)
    if ref is None:
        (analysis,) = _native.analyze([path])
    else:
        analysis = _native.analyze_at(path, ref)
    return _state(path, ref, analysis)


def build_chain_at(versions_dir: StrPath, ref: str) -> dict[str, str | None]:
    """``build_chain`` as it would be at commit *ref*, computed from git objects."""
    return chain_state(versions_dir, ref).chain


def describe(versions_dir: StrPath, commits: list[str]) -> dict[str, tuple[str, str, str]]:
    """``{commit: (short id, author date, author)}`` for display."""
    unique = sorted(set(commits))
    described = _native.describe_commits(versions_dir, unique)
    return dict(zip(unique, described, strict=True))


def fmt_parents(parents: tuple[str, ...]) -> str:
    """Parents for messages: comma-separated, or ``(root)``."""
    return ", ".join(parents) if parents else "(root)"
