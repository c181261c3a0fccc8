"""Pinned chains: ``revision_pins.json`` keeps deployed migrations' parents fixed.

A derived parent follows the shape of git history, so a later merge can give a
deployed migration another parent and Alembic then skips the migration slotted in
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
import tempfile

from alembic_git_revisions import _chain, _native

PINS_FILENAME = "revision_pins.json"

StrPath = str | os.PathLike[str]


@dataclasses.dataclass(frozen=True)
class Pin:
    """One pinned migration."""

    revision: str
    #: Its pinned parent; None for the root of a history with no static migration.
    down_revision: str | None
    #: The migration's file name when it was pinned.
    file: str
    #: Full id of the commit it was pinned at.
    pinned_at: str


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


def _pin(row: _native.Pin) -> Pin:
    return Pin(row.revision, row.down_revision, row.file, row.pinned_at)


def read_pins(versions_dir: StrPath) -> tuple[Pin, ...]:
    """The pins in ``revision_pins.json`` beside *versions_dir* (empty without one).

    The file is validated strictly: ``ChainFileError`` naming it when malformed.
    """
    found = _native.read_pins(versions_dir)
    return () if found is None else tuple(_pin(row) for row in found[1])


def pin_chain(versions_dir: StrPath, at: str = "HEAD") -> PinResult:
    """Pin the chain of *versions_dir* as it is at commit *at* (tag, branch, id).

    Appends a pin for every dynamic migration of that chain not pinned yet to
    ``revision_pins.json`` beside the directory (creating it), and never changes an
    existing pin: if the chain at *at* gives a pinned migration another parent, or
    lacks it, ``ChainError`` says which and why, and nothing is written. The chain is
    computed from git objects at *at*, honouring the pin file committed there; the
    file written is the one in the working tree. Commit it.
    """
    path = pathlib.Path(versions_dir)
    if not path.is_dir():
        # The core answers an empty chain for a missing directory; pinning nothing
        # beside a mistyped path would only hide the typo.
        raise FileNotFoundError(f"{path} is not a directory")
    plan = _native.plan_pins(path, at)
    pin_file = pathlib.Path(plan.pin_file)
    if plan.added or not plan.exists:
        _write_atomically(pin_file, plan.text)
        _chain._CACHE.forget(path)
    pins = tuple(_pin(row) for row in plan.pins)
    return PinResult(
        pin_file=pin_file,
        commit=plan.commit,
        added=pins[len(pins) - plan.added :],
        pins=pins,
    )


def _write_atomically(target: pathlib.Path, text: str) -> None:
    """A temp file in the same directory, then a rename: readers see old or new."""
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


__all__ = ["PINS_FILENAME", "Pin", "PinResult", "pin_chain", "read_pins"]
