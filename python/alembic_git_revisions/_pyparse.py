"""Pure-Python reading of a migration's top-level ``revision`` / ``down_revision``.

The native parser hands a module here whenever its answer could differ from CPython's
(syntax errors, unusual escapes, very large or deeply nested files...). This is the
behaviour the native parser reproduces: only statements directly in the module body
count, the last assignment to a name wins, and nothing is executed.
"""

from __future__ import annotations

import ast
import re

__all__ = ["read_branch_labels", "read_module_source"]

_DYNAMIC_FUNCTION = "get_down_revision"

#: Lines that may assign ``branch_labels`` at module level, and those that assign None.
_LABELS = re.compile(rb"^branch_labels\b", re.MULTILINE)
_NO_LABELS = re.compile(
    rb"^branch_labels[ \t]*(?::[^=\n]*)?=[ \t]*None[ \t]*(?:#[^\n]*)?\r?$", re.MULTILINE
)


def read_module_source(source: str, filename: str) -> tuple[str | None, bool, tuple[str, ...]]:
    """Return ``(revision, is_dynamic, static_parents)`` declared at the top of *source*.

    ``revision`` is the last module-level ``revision`` if it is a ``str`` literal, else
    ``None``. ``is_dynamic`` says whether the last ``down_revision`` is a call to
    ``get_down_revision`` (bare or as an attribute); otherwise ``static_parents`` holds
    the ``str`` literals it names, directly or as elements of a tuple or list.

    Errors from :func:`ast.parse` (``SyntaxError``, ``ValueError``, ``RecursionError``,
    ``MemoryError``) propagate unchanged.
    """
    values: dict[str, ast.expr] = {}
    for statement in ast.parse(source, filename=filename).body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = statement.value
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.value is not None
        ):
            values[statement.target.id] = statement.value

    revision = _str_literal(values.get("revision"))
    down_revision = values.get("down_revision")
    if isinstance(down_revision, ast.Call) and _names_dynamic_function(down_revision.func):
        return revision, True, ()
    single = _str_literal(down_revision)
    if single is not None:
        return revision, False, (single,)
    if isinstance(down_revision, (ast.Tuple, ast.List)):
        parents = tuple(
            value for element in down_revision.elts if (value := _str_literal(element)) is not None
        )
        return revision, False, parents
    return revision, False, ()


def _str_literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _names_dynamic_function(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == _DYNAMIC_FUNCTION
    return isinstance(func, ast.Attribute) and func.attr == _DYNAMIC_FUNCTION


def read_branch_labels(raw: bytes) -> tuple[str, ...]:
    """The labels a module declares in its top-level ``branch_labels``: the last
    assignment, a ``str`` literal or a tuple or list of them (others are skipped).
    Empty when there is none, when it is not a literal, or when the module does not
    parse: nothing is executed, and bad source never raises here.
    """
    text = raw.removeprefix(b"\xef\xbb\xbf")
    # Alembic's template writes `branch_labels = None` into every migration: when that
    # is all there is, no parse is needed (check reads every file of every location).
    if len(_LABELS.findall(text)) == len(_NO_LABELS.findall(text)):
        return ()
    try:
        body = ast.parse(raw).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    value: ast.expr | None = None
    for statement in body:
        if isinstance(statement, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == "branch_labels" for t in statement.targets):
                value = statement.value
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and statement.target.id == "branch_labels"
            and statement.value is not None
        ):
            value = statement.value
    if value is None:
        return ()
    try:
        labels = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return ()
    if isinstance(labels, str):
        return (labels,)
    if isinstance(labels, tuple | list):
        return tuple(label for label in labels if isinstance(label, str))
    return ()
