"""Alembic templates: install ``get_down_revision`` into ``script.py.mako`` and rewrite
freshly generated migrations (an Alembic post-write hook).
"""

from __future__ import annotations

import os
import pathlib
import re

StrPath = str | os.PathLike[str]

_IMPORT = "from alembic_git_revisions import get_down_revision"
_DOWN_LINE = re.compile(r"^down_revision(\s*:\s*[^=]+?)?\s*=.*$", re.MULTILINE)


def _rewrite_down_revision(text: str, replacement: str) -> tuple[str, list[str]]:
    changes = []
    match = _DOWN_LINE.search(text)
    if match and "get_down_revision(" not in match.group(0):
        annotation = match.group(1) or ""
        text = (
            text[: match.start()]
            + f"down_revision{annotation} = {replacement}"
            + text[match.end() :]
        )
        changes.append(f"down_revision now reads: down_revision{annotation} = {replacement}")
    if _IMPORT not in text:
        anchor = re.search(r"^from alembic import op\s*$", text, re.MULTILINE)
        if anchor:
            text = text[: anchor.end()] + "\n" + _IMPORT + text[anchor.end() :]
        else:
            doc = re.match(r'\s*(""".*?"""|\'\'\'.*?\'\'\')\s*\n', text, re.DOTALL)
            at = doc.end() if doc else 0
            text = text[:at] + _IMPORT + "\n" + text[at:]
        changes.append(f"added: {_IMPORT}")
    return text, changes


def install_template(alembic_dir: StrPath) -> list[str]:
    """Make an Alembic project's ``script.py.mako`` generate self-chaining migrations.

    A missing template gets ours; a customised one only has its ``down_revision``
    line and import changed. Returns what was changed.
    """
    target = pathlib.Path(alembic_dir) / "script.py.mako"
    ours = pathlib.Path(__file__).parent / "templates" / "script.py.mako"
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent} is not a directory (expected an Alembic dir)")
    if not target.exists():
        target.write_text(ours.read_text(encoding="utf-8"), encoding="utf-8")
        return [f"wrote {target}"]
    text = target.read_text(encoding="utf-8")
    new, changes = _rewrite_down_revision(text, "get_down_revision(revision)")
    if changes:
        target.write_text(new, encoding="utf-8")
    return [f"{target}: {c}" for c in changes]


def rewrite_migration(path: StrPath) -> list[str]:
    """Rewrite a freshly generated migration to use ``get_down_revision``.

    Meant as an Alembic ``post_write_hooks`` step (see the README).
    """
    target = pathlib.Path(path)
    text = target.read_text(encoding="utf-8")
    new, changes = _rewrite_down_revision(text, "get_down_revision(revision)")
    if changes:
        target.write_text(new, encoding="utf-8")
    return [f"{target}: {c}" for c in changes]
