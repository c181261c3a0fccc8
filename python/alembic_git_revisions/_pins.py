"""Pinned chains: ``revision_pins.json`` keeps deployed migrations' parents fixed.

A derived parent follows the shape of git history, so a later merge can give a
deployed migration another parent, and Alembic then skips the migration slotted in
before it. ``alembic-git-revisions pin`` records, at a release, the parent of every
dynamic migration in the chain; with the file committed beside the versions directory,
pinned migrations keep those parents whatever the history, and unpinned ones are
chained after them in git order. Reading, validating and applying the file happen in
the native core (every path that derives a chain honours it); this module writes it.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from alembic_git_revisions import _chain, _native
from alembic_git_revisions._native import Pin

#: The pin file's name; it lives beside the versions directory, as ``revision_chain.json``.
PINS_FILENAME = "revision_pins.json"

StrPath = str | os.PathLike[str]


@dataclasses.dataclass(frozen=True)
class PinResult:
    """What :func:`pin_chain` did."""

    pin_file: pathlib.Path
    #: Full id of the commit pinned at.
    commit: str
    #: The pins added by this call (in chain order), empty if all were pinned already.
    added: tuple[Pin, ...]
    #: Every pin in the file.
    pins: tuple[Pin, ...]


def read_pins(versions_dir: StrPath) -> tuple[Pin, ...]:
    """The pins in ``revision_pins.json`` beside *versions_dir* (empty without one).

    The file is validated strictly: ``ChainFileError`` naming it when malformed,
    ``MigrationFileReadError`` when it cannot be read.
    """
    found = _native.read_pins(versions_dir)
    return () if found is None else found.pins


def pin_chain(
    versions_dir: StrPath, at: str = "HEAD", *, scope: _native.Scope = "flat"
) -> PinResult:
    """Pin the chain of *versions_dir* as it is at commit *at* (tag, branch, id).

    Appends a pin for every dynamic migration of that chain not pinned yet to
    ``revision_pins.json`` beside the directory (creating it), and never changes an
    existing pin: if the chain at *at* gives a pinned migration another parent, or
    lacks it, ``ChainError`` says which and why, and nothing is written. The chain is
    computed from git objects at *at*, honouring the pin file committed there; the
    file written is the one in the working tree. Commit it. With ``scope="recursive"``,
    the chain of a recursive version location (its pin file still beside it).
    """
    return write_plan(plan(versions_dir, at, scope=scope))


def plan(versions_dir: StrPath, at: str, *, scope: _native.Scope = "flat") -> _native.PinPlan:
    """What :func:`pin_chain` would write; nothing is written."""
    path = pathlib.Path(versions_dir)
    if not path.is_dir():
        # The core answers an empty chain for a missing directory; pinning nothing
        # beside a mistyped path would only hide the typo.
        what = "is not a directory" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{path} {what}")
    return _native.plan_pins(path, at, scope=scope)


def write_plan(planned: _native.PinPlan) -> PinResult:
    """Write what :func:`plan` planned (only if it changes the file)."""
    pin_file = pathlib.Path(planned.pin_file)
    if planned.added or not planned.exists:
        _chain._write_atomically(pin_file, planned.text)
        _chain._CACHE.clear()
    pins = planned.pins
    return PinResult(
        pin_file=pin_file,
        commit=planned.commit,
        added=pins[len(pins) - planned.added :],
        pins=pins,
    )


__all__ = ["PINS_FILENAME", "Pin", "PinResult", "pin_chain", "read_pins"]
