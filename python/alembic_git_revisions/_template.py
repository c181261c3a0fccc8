"""Alembic templates: the decision the shipped ``script.py.mako`` makes for each new
migration (:func:`template_down_revision`), installing that template into a project
(:func:`install_template`) and rewriting freshly generated migrations, as an Alembic
post-write hook (:func:`rewrite_migration`).

Both the template and ``rewrite`` write ``get_down_revision(revision)`` only where the
parent derived from git is exactly the one Alembic computed and deriving it changes no
other migration's parent (see ``_decide``); everything else keeps Alembic's parents.
"""

from __future__ import annotations

import ast
import hashlib
import os
import pathlib
import re
import sys
from typing import Any

from alembic_git_revisions import _decide, _imports, _native
from alembic_git_revisions._decide import DownRevisionChoice, RevisionArg

StrPath = str | os.PathLike[str]

_IMPORT = "from alembic_git_revisions import get_down_revision"
_DERIVED = "get_down_revision(revision)"
_OURS = pathlib.Path(__file__).parent / "templates" / "script.py.mako"
#: sha256 of the templates earlier versions of this package shipped (always derived):
#: ``init`` replaces them with the current one.
_EARLIER_TEMPLATES = frozenset({"906f7d466159822699a53e75adcf79da3893e7e9f83b66f4427544516ec23ab2"})

#: The frames of Alembic's ``template_to_file(template_file, dest, ...)`` (every Alembic
#: since 1.0) and ``ScriptDirectory._generate_template(src, dest, ...)``: ``dest`` is the
#: migration being rendered.
_RENDERERS = frozenset({"template_to_file", "_generate_template"})


def _destination() -> pathlib.Path | None:
    """The file Alembic is rendering its template into, read from the call stack."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if frame.f_code.co_name in _RENDERERS and module.startswith("alembic."):
            dest = frame.f_locals.get("dest")
            if isinstance(dest, str | os.PathLike):
                return pathlib.Path(dest).absolute()
        frame = frame.f_back
    return None


def template_down_revision(
    down_revision: RevisionArg,
    *,
    revision: str | None = None,
    branch_labels: RevisionArg = None,
    path: StrPath | None = None,
) -> DownRevisionChoice:
    """Decide how the migration Alembic is generating names its parent.

    Called by the shipped ``script.py.mako`` with Alembic's template arguments
    (``down_revision``, ``up_revision``, ``branch_labels``); *path* is the file being
    written, found on Alembic's call stack when not given. The answer is dynamic
    (``down_revision = get_down_revision(revision)``) exactly when Alembic asks for a
    single parent, no branch label, and that parent is what git history derives for the
    new file (the end of its directory's line, ``--head`` included), with no other
    migration's parent changing. Otherwise Alembic's own value is hardcoded, with the
    reason as a comment: merges, branch labels, ``--head`` on a revision that is not the
    end of the line, ``--splice``. ``--depends-on`` never changes ``down_revision``, so
    it plays no part.

    Never fails for want of information: when git history cannot be read, or anything
    else goes wrong, the answer is Alembic's value, hardcoded, saying why. It raises
    ``ChainError`` (and prints why to stderr, since Alembic shows only "Template
    rendering failed") in one case: when even the hardcoded file would change the
    derived parents of migrations already in the directory (a second base, or a
    branch off an earlier revision of a derived line). Alembic then writes nothing.
    """
    try:
        target = pathlib.Path(path).absolute() if path is not None else _destination()
        if target is None:
            return DownRevisionChoice(False, "could not tell which file Alembic is writing")
        if not revision:
            return DownRevisionChoice(False, "Alembic did not pass the new revision id")
        request = _decide.Request(
            revision=revision,
            path=target,
            parents=_decide.to_tuple(down_revision),
            branch_labels=_decide.to_tuple(branch_labels),
        )
        directory = _decide.read_directory_of(target, sys._getframe(1))
        reason = _decide.dynamic_reason(request, directory)
        if reason is None:
            return DownRevisionChoice(True)
        changes = _decide.static_changes(request, directory)
    except _decide.Unchecked as exc:
        # The reason lands in a file that gets committed: no absolute paths.
        where = str(pathlib.Path.cwd()) + os.sep
        return DownRevisionChoice(False, str(exc).replace(where, ""))
    except Exception as exc:  # a bug here must not fail `alembic revision`
        return DownRevisionChoice(
            False, f"alembic-git-revisions failed ({exc!r}); please report it"
        )
    if changes:
        message = _refusal(request, changes, directory.path)
        print(f"alembic-git-revisions: error: {message}", file=sys.stderr)
        raise _native.ChainError(message)
    return DownRevisionChoice(False, reason)


def _refusal(request: _decide.Request, changes: list[str], directory: pathlib.Path) -> str:
    asked = ", ".join(request.parents) or "none (a new base)"
    return (
        f"not writing {request.path.name}: with the parent(s) Alembic asked for ({asked}) "
        f"it would change the derived parents of migrations already in "
        f"{directory} ({'; '.join(changes)}). A line derived from git history "
        "cannot hold a second base or branch off an earlier revision in the same "
        "directory: put the new branch in a version location of its own (list it in "
        "version_locations and pass --version-path)"
    )


# --------------------------------------------------------------------------- init


_DOWN_LINE = re.compile(
    r"^down_revision\b(?P<annotation>[ \t]*:[^=\n]+?)?[ \t]*=[ \t]*(?P<value>.*?)[ \t]*$",
    re.MULTILINE,
)
_IMPORT_LINE = re.compile(rf"^{re.escape(_IMPORT)}[ \t]*$", re.MULTILINE)
_SIMPLE_IMPORT = re.compile(r"^(import [\w.]+( as \w+)?|from [\w.]+ import [\w, ]+)$")


def _setup_block() -> str:
    """The lines of our template up to its ``agr = template_down_revision(...)`` line."""
    lines = _OURS.read_text(encoding="utf-8").splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if line.startswith("<% agr ="))
    return "".join(lines[: end + 1])


def _conditional(*lines: str) -> str:
    return "% if agr.dynamic:\n" + "".join(f"{line}\n" for line in lines) + "% endif\n"


def _with_import(text: str) -> str:
    """*text* with the conditional import placed where ruff would put it in the output:
    in the group importing ``alembic`` or ``sqlalchemy``, sorted."""
    if _IMPORT_LINE.search(text):
        return _IMPORT_LINE.sub(_conditional(_IMPORT).rstrip("\n"), text, count=1)
    lines = text.splitlines(keepends=True)
    anchor = next(
        (
            i
            for i, line in enumerate(lines)
            if re.match(r"^(from (alembic|sqlalchemy)\b|import (alembic|sqlalchemy)\b)", line)
        ),
        None,
    )
    if anchor is None:
        at = next(
            (i for i, line in enumerate(lines) if re.match(r"^(\$\{imports|revision\b)", line)),
            len(lines),
        )
        lines[at:at] = [_conditional(_IMPORT)]
        return "".join(lines)
    first = last = anchor
    while first > 0 and _SIMPLE_IMPORT.match(lines[first - 1].rstrip("\n")):
        first -= 1
    while last + 1 < len(lines) and _SIMPLE_IMPORT.match(lines[last + 1].rstrip("\n")):
        last += 1
    group = [line.rstrip("\n") for line in lines[first : last + 1]]
    keyed = sorted([*group, _IMPORT], key=_imports.line_sort_key)
    rendered = [_conditional(line).rstrip("\n") if line == _IMPORT else line for line in keyed]
    lines[first : last + 1] = [line + "\n" for line in rendered]
    return "".join(lines)


def install_template(alembic_dir: StrPath) -> list[str]:
    """Make an Alembic project's ``script.py.mako`` decide per migration.

    A missing template gets ours, and so does one an earlier version of this package
    installed (it derived every parent). A customised one keeps everything of its own and
    gains: the decision block at the top (:func:`template_down_revision`); its
    ``down_revision`` line, as ``get_down_revision(revision)`` when the migration is
    dynamic and as it was (Alembic's value) otherwise; the import, only in dynamic
    migrations, sorted into the group that imports ``alembic``. Returns what changed
    (nothing when the template already decides).
    """
    target = pathlib.Path(alembic_dir) / "script.py.mako"
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent} is not a directory (expected an Alembic dir)")
    if not target.exists():
        target.write_text(_OURS.read_text(encoding="utf-8"), encoding="utf-8")
        return [f"wrote {target}"]
    text = target.read_text(encoding="utf-8")
    if "template_down_revision" in text:
        return []
    if hashlib.sha256(text.encode()).hexdigest() in _EARLIER_TEMPLATES:
        target.write_text(_OURS.read_text(encoding="utf-8"), encoding="utf-8")
        return [f"{target}: replaced the template of an earlier alembic-git-revisions-rs"]
    match = _DOWN_LINE.search(text)
    if match is None:
        raise ValueError(
            f"{target} has no `down_revision = ...` line at the start of a line; add "
            f"`down_revision = ${{repr(down_revision)}}` and run init again, or copy {_OURS}"
        )
    annotation = match.group("annotation") or ""
    value = match.group("value")
    if _DERIVED in value:  # this package's earlier template: always derived
        value = "${repr(down_revision)}"
    block = (
        "% if agr.dynamic:\n"
        f"down_revision{annotation} = {_DERIVED}\n"
        "% else:\n"
        "${agr.comment}\n"
        f"down_revision{annotation} = {value}\n"
        "% endif"
    )
    text = text[: match.start()] + block + text[match.end() :]
    text = _setup_block() + _with_import(text)
    target.write_text(text, encoding="utf-8")
    return [
        f"{target}: down_revision is derived from git history when the new migration "
        "extends its directory's line, else hardcoded as Alembic computes it",
        f"{target}: added: {_IMPORT} (in migrations that derive their parent)",
        f"{target}: added: the template_down_revision block at the top",
    ]


# --------------------------------------------------------------------------- rewrite


def _module_assignment(tree: ast.Module, name: str) -> ast.Assign | ast.AnnAssign | None:
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id == name and node.value is not None:
                return node
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node
    return None


def _is_derived(value: ast.expr) -> bool:
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    return (isinstance(func, ast.Name) and func.id == "get_down_revision") or (
        isinstance(func, ast.Attribute) and func.attr == "get_down_revision"
    )


def _imports_get_down_revision(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "alembic_git_revisions"
        and any(a.name == "get_down_revision" and a.asname is None for a in node.names)
        for node in tree.body
    )


def _literal(tree: ast.Module, name: str) -> tuple[bool, Any]:
    """``(found, value)`` of a module-level literal assignment; non-literals raise."""
    node = _module_assignment(tree, name)
    if node is None or node.value is None:
        return False, None
    return True, ast.literal_eval(node.value)


def _why_left(tree: ast.Module, target: pathlib.Path) -> str | None:
    """Why *target* keeps its hardcoded ``down_revision``, or ``None`` to derive it."""
    try:
        found, down = _literal(tree, "down_revision")
        _, labels = _literal(tree, "branch_labels")
        _, revision = _literal(tree, "revision")
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return "down_revision, revision or branch_labels is not a literal"
    if not found:
        return "it has no down_revision assignment"
    if isinstance(down, tuple | list):
        return f"a merge of {', '.join(map(str, down))} (a derived parent is one revision)"
    if labels:
        shown = labels if isinstance(labels, str) else ", ".join(map(str, labels))
        return f"branch label {shown} (a labelled migration keeps the parent it was given)"
    if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
        return "revision or down_revision is not a string"
    request = _decide.Request(revision, target.absolute(), (down,) if down else (), ())
    try:
        return _decide.dynamic_reason(request, _decide.read_directory_of(request.path))
    except _decide.Unchecked as exc:
        return str(exc)


def _moved_by(tree: ast.Module, target: pathlib.Path) -> list[str]:
    """A warning when the hardcoded file, as written, changes the derived parents of the
    other migrations of its directory (Alembic wrote it before the hook ran)."""
    try:
        _, revision = _literal(tree, "revision")
        directory = _decide.read_directory_of(target.absolute())
        name = directory.name_of(target.absolute())
        others = [e for e in directory.entries if e.filename != name]
        changes = _decide.changed_parents(
            directory.derive(others), directory.current, ignore=str(revision)
        )
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, _decide.Unchecked):
        return []
    if not changes:
        return []
    return [
        f"{target}: warning: as written it changes the derived parents of migrations "
        f"already in {directory.path} ({'; '.join(changes)}); a line derived from git "
        "history cannot hold a second base or branch off an earlier revision in the same "
        "directory: move it to a version location of its own"
    ]


def rewrite_migration(path: StrPath) -> list[str]:
    """Rewrite a freshly generated migration to use ``get_down_revision``, when that
    changes nothing in the revision graph.

    Meant as an Alembic ``post_write_hooks`` step (see the README). Left as they are,
    with a line saying why: merge migrations, branch-labelled ones, and any whose
    hardcoded parent is not what git history would derive for it (``--head`` on an
    older revision, ``--splice``) or whose change would move other migrations. The
    module docstring and leading comments stay; the import joins the third-party
    group, sorted as ruff sorts. Returns what was done.
    """
    target = pathlib.Path(path)
    text = target.read_text(encoding="utf-8")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise _native.MigrationFileError(
            f"Cannot parse migration file {target}: {exc.msg} (line {exc.lineno})"
        ) from None
    node = _module_assignment(tree, "down_revision")
    changes = []
    if node is None or node.value is None or not _is_derived(node.value):
        reason = _why_left(tree, target)
        if reason is not None:
            return [f"{target}: left as is: {reason}", *_moved_by(tree, target)]
        assert node is not None and node.value is not None
        annotation = ""
        if isinstance(node, ast.AnnAssign):
            annotation = f": {ast.get_source_segment(text, node.annotation)}"
        lines = text.splitlines(keepends=True)
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        rest = lines[last][node.end_col_offset or 0 :]
        line = f"down_revision{annotation} = {_DERIVED}"
        lines[first : last + 1] = [line + (rest if rest.strip() else "\n")]
        text = "".join(lines)
        changes.append(f"down_revision now reads: {line}")
        tree = ast.parse(text)
    if isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
        pass  # `module.get_down_revision(...)`: its import is the module's
    elif not _imports_get_down_revision(tree):
        text = _imports.add_import(text, _IMPORT)
        changes.append(f"added: {_IMPORT}")
    if changes:
        target.write_text(text, encoding="utf-8")
    return [f"{target}: {c}" for c in changes]
